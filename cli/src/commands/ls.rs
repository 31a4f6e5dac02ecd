//! `cairn ls (SNAPSHOT | --at TIME) [PATH] [--recursive] [--long]`: a
//! snapshot's entries at a path, streamed as they are read.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cairn_core::browse::{hints, listing};
use cairn_core::format::Node;
use cairn_core::fs::path as paths;
use cairn_core::snapshot::select;
use cairn_core::snapshot::snapshots::SnapshotEntry;
use cairn_core::{Error, Repository};

use crate::args::{Global, LsArgs};
use crate::{output, password};

pub fn run(g: &Global, a: &LsArgs) -> Result<u8> {
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    // With --at, a lone positional argument is the path.
    let (reference, path) = match (&a.select.at, &a.snapshot, &a.path) {
        (Some(_), Some(only), None) => (None, Some(PathBuf::from(only))),
        _ => (a.snapshot.as_deref(), a.path.clone()),
    };
    let path = path.map(|p| paths::absolute(&p)).transpose()?;
    let wanted: Vec<PathBuf> = path.iter().cloned().collect();
    // Prefer a snapshot that covers the path; if none does, use the one
    // named anyway, so the error below can name the paths it does hold.
    let entry = match a.select.choose(&repo, reference, &wanted) {
        Err(e) if !wanted.is_empty() && matches!(e.downcast_ref(), Some(Error::NoSnapshots)) => {
            a.select.choose(&repo, reference, &[])?
        }
        chosen => chosen?,
    };
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
            writeln!(out, "{}", p.display())
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
fn not_found(repo: &Repository, entry: &SnapshotEntry, path: &Path) -> Result<u8> {
    let close = hints::closest_paths(repo, &entry.snapshot.tree, path, 3);
    let mut msg = format!(
        "{} is not in snapshot {} ({})",
        path.display(),
        entry.id.short(),
        output::local_time(&entry.snapshot.time)
    );
    if !close.is_empty() {
        let shown: Vec<String> = close.iter().map(|p| p.display().to_string()).collect();
        msg.push_str(&format!("; closest existing paths: {}", shown.join(", ")));
    }
    if !select::covers(entry, path) {
        let held: Vec<String> = entry.snapshot.paths.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
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
        path.display()
    );
    if let Some(target) = listing::link_target(node) {
        line.push_str(" -> ");
        line.push_str(&target);
    }
    line
}

/// One `ls --json` entry (a struct, so the fields keep this order).
#[derive(serde::Serialize)]
struct JsonEntry<'a> {
    path: std::borrow::Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    size: u64,
    mode: String,
    mtime: String,
    target: Option<String>,
}

fn json_entry<'a>(path: &'a Path, node: &Node) -> JsonEntry<'a> {
    JsonEntry {
        path: path.to_string_lossy(),
        kind: listing::type_name(node),
        size: listing::size(node),
        mode: listing::octal_mode(node),
        mtime: output::rfc3339(&listing::mtime(node)),
        target: listing::link_target(node),
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
