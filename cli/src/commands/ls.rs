//! `cairn ls (SNAPSHOT | --at TIME) [PATH] [--recursive] [--long]`: a
//! snapshot's entries at a path, streamed as they are read.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cairn_core::browse::{hints, listing};
use cairn_core::format::Node;
use cairn_core::snapshot::snapshots::SnapshotEntry;
use cairn_core::snapshot::{resolve, select};
use cairn_core::{Error, Repository, names};

use crate::args::{Global, LsArgs};
use crate::{output, password};

pub fn run(g: &Global, a: &LsArgs) -> Result<u8> {
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    // The one reading of positional arguments (`snapshot::resolve`): with
    // --at, both are paths.
    let args = resolve::split_positionals(&a.args, if a.select.at.is_some() { 0 } else { 1 })?;
    if args.paths.len() > 1 {
        bail!("ls lists one path at a time; {} were given", args.paths.len());
    }
    let path = args.paths.into_iter().next();
    let path = crate::given::as_stored(&repo, path.into_iter().collect(), g.quiet)?.pop();
    let wanted: Vec<PathBuf> = path.iter().cloned().collect();
    if args.snapshots.is_empty() && a.select.at.is_none() {
        return Err(resolve::no_snapshot_named(&a.args, "--at").into());
    }
    let entry = a.select.choose(&repo, args.snapshots.first().map(String::as_str), &wanted)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    let result = listing::list(&repo, &entry.snapshot, path.as_deref(), a.recursive, &mut |p, node| {
        let written = if g.json {
            out.write_all(if count == 0 { b"[\n" } else { b",\n" })
                .and_then(|()| serde_json::to_writer(&mut out, &json_entry(p, node)).map_err(std::io::Error::from))
        } else if a.long {
            writeln!(out, "{}", long_line(p, node))
        } else {
            writeln!(out, "{}", names::escape_path(p))
        };
        count += 1;
        written.map_err(stdout_error)
    });
    let result = result.and_then(|()| {
        let end: &[u8] = match (g.json, count) {
            (true, 0) => b"[]\n",
            (true, _) => b"\n]\n",
            (false, _) => b"",
        };
        out.write_all(end).and_then(|()| out.flush()).map_err(stdout_error)
    });
    if let Some(note) = repo.header_scan_note() {
        output::note(note);
    }
    match result {
        Ok(()) => Ok(0),
        Err(Error::PathNotInSnapshot(_)) => match &path {
            Some(p) => not_found(&repo, &entry, p),
            None => bail!("a path of snapshot {} is missing from its tree", entry.id.short()),
        },
        Err(e) => Err(e.into()),
    }
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::io("standard output", e)
}

/// The error for a path the snapshot lacks, naming the closest ones.
pub(crate) fn not_found(repo: &Repository, entry: &SnapshotEntry, path: &Path) -> Result<u8> {
    let close = hints::closest_paths(repo, &entry.snapshot.tree, path, 3);
    let mut msg = format!(
        "{} is not in snapshot {} ({})",
        names::escape_path(path),
        entry.id.short(),
        output::local_time(&entry.snapshot.time)
    );
    if !close.is_empty() {
        let shown: Vec<String> = close.iter().map(|p| names::escape_path(p).into_owned()).collect();
        msg.push_str(&format!("; closest existing paths: {}", shown.join(", ")));
    }
    if !select::covers(entry, path) {
        let held: Vec<String> = entry.snapshot.paths.iter().map(|p| names::escape(p).into_owned()).collect();
        msg.push_str(&format!("; the snapshot holds {}", held.join(", ")));
    }
    bail!(msg)
}

fn long_line(path: &Path, node: &Node) -> String {
    let mut line = format!(
        "{} {:>12} {} {}",
        listing::mode_string(node),
        listing::size(node),
        output::local_time(&listing::mtime(node)),
        names::escape_path(path)
    );
    if let Some(target) = symlink_target(node) {
        line.push_str(" -> ");
        line.push_str(&names::escape(target));
    }
    line
}

/// The raw target of a symbolic link.
fn symlink_target(node: &Node) -> Option<&[u8]> {
    match &node.kind {
        cairn_core::format::NodeKind::Symlink { target } => Some(&target[..]),
        _ => None,
    }
}

/// One `ls --json` entry (a struct, so the fields keep this order). A
/// name that is not UTF-8 is `path` decoded lossily plus its exact bytes
/// in `path_bytes` (see `output::json_bytes`); `target` likewise.
#[derive(serde::Serialize)]
struct JsonEntry<'a> {
    path: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<Vec<u8>>,
    #[serde(rename = "type")]
    kind: &'static str,
    size: u64,
    mode: String,
    mtime: String,
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_bytes: Option<Vec<u8>>,
}

fn json_entry<'a>(path: &'a Path, node: &Node) -> JsonEntry<'a> {
    use std::os::unix::ffi::OsStrExt;
    JsonEntry {
        path: path.to_string_lossy(),
        path_bytes: names::bytes_if_not_utf8(path.as_os_str().as_bytes()),
        kind: listing::type_name(node),
        size: listing::size(node),
        mode: listing::octal_mode(node),
        mtime: output::rfc3339(&listing::mtime(node)),
        target: listing::link_target(node),
        target_bytes: symlink_target(node).and_then(names::bytes_if_not_utf8),
    }
}

/// A closed pipe (`cairn ls | head`) ends the output quietly: the reader
/// has all it wants.
pub(crate) fn ignore_broken_pipe(result: Result<u8>) -> Result<u8> {
    match result {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(0)
        }
        other => other,
    }
}
