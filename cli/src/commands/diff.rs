//! `cairn diff A [B] [PATH...]`: what changed between two snapshots, or
//! between a snapshot and the live files.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, bail};
use cairn_core::Repository;
use cairn_core::browse::diff::{self, CONTENT_LIMIT, Change, ChangeKind, Contents, PathFilter};
use cairn_core::snapshot::snapshots::{self, Selector, SnapshotEntry};

use crate::args::{DiffArgs, Global};
use crate::output::outln;
use crate::{output, password, timefmt};

pub fn run(g: &Global, a: &DiffArgs) -> Result<u8> {
    let repo = password::open(g)?;
    let (refs, paths) = split_args(&a.args);
    let filter = PathFilter {
        paths: paths.iter().map(|p| cairn_core::fs::path::absolute(p).unwrap_or_else(|_| p.clone())).collect(),
    };
    let snapshot_filter = a.snapshot_filter();
    let pick = |r: Option<&String>, t: Option<&String>| -> Result<Option<SnapshotEntry>> {
        let selector = match (r, t) {
            (Some(r), None) => Selector::Reference(r.clone()),
            (None, Some(t)) => Selector::At(timefmt::parse(t)?),
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => bail!("give a snapshot or a time for each side, not both"),
        };
        Ok(Some(snapshots::select(&repo, &selector, &snapshot_filter)?))
    };
    let mut refs = refs.into_iter();
    let old = pick(if a.from.is_some() { None } else { refs.next() }.as_ref(), a.from.as_ref())?;
    let new = pick(if a.to.is_some() { None } else { refs.next() }.as_ref(), a.to.as_ref())?;
    if let Some(extra) = refs.next() {
        // Each side is a snapshot or a time: a snapshot left over after
        // --from/--to would otherwise be dropped without a word.
        bail!("{extra:?} and --from/--to name the same side: give a snapshot or a time for each side, not both");
    }
    let Some(old) = old else { bail!("name the snapshot to compare (an id, latest, latest~N) or give --from TIME") };
    let changes = match &new {
        Some(new) => diff::diff_trees(&repo, &old.snapshot.tree, &new.snapshot.tree, &filter)?,
        None => {
            let roots: Vec<PathBuf> = old.snapshot.paths.iter().map(|p| PathBuf::from(bytes_to_os(p))).collect();
            diff::diff_live(&repo, &old.snapshot.tree, &roots, &filter)?
        }
    };
    // The totals of the text's last line, for the JSON too.
    let mut totals = [0u64; 5];
    let (mut added_bytes, mut removed_bytes) = (0u64, 0u64);
    for c in &changes {
        let (old_size, new_size) = (c.old.as_ref().map(diff::size_of), c.new.as_ref().map(diff::size_of));
        added_bytes += new_size.unwrap_or(0).saturating_sub(old_size.unwrap_or(0));
        removed_bytes += old_size.unwrap_or(0).saturating_sub(new_size.unwrap_or(0));
        totals[c.kind as usize] += 1;
    }
    if g.json {
        let items: Vec<_> = changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "path": c.path.to_string_lossy(),
                    "change": c.kind.letter().to_string(),
                    "type": c.new.as_ref().or(c.old.as_ref()).map(diff::type_name),
                    "old_size": c.old.as_ref().map(diff::size_of),
                    "new_size": c.new.as_ref().map(diff::size_of),
                })
            })
            .collect();
        let totals = serde_json::json!({
            "added": totals[0], "deleted": totals[1], "modified": totals[2], "type_changed": totals[3],
            "metadata": totals[4], "bytes_added": added_bytes, "bytes_removed": removed_bytes,
        });
        outln!("{}", serde_json::json!({ "changes": items, "totals": totals }))?;
        return Ok(0);
    }
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for c in &changes {
        outln!("{}", line(c, a.stat, colour))?;
        if a.content {
            content(&repo, c, new.is_none())?;
        }
    }
    if !g.quiet {
        outln!(
            "{} added, {} deleted, {} modified, {} type changed, {} metadata only; +{} -{}",
            totals[0],
            totals[1],
            totals[2],
            totals[3],
            totals[4],
            output::bytes(added_bytes),
            output::bytes(removed_bytes)
        )?;
    }
    Ok(0)
}

/// Leading arguments that look like snapshot references, then paths.
fn split_args(args: &[String]) -> (Vec<String>, Vec<PathBuf>) {
    let mut refs = Vec::new();
    let mut paths = Vec::new();
    for arg in args {
        let looks_like_ref = snapshots::looks_like_reference(arg);
        if paths.is_empty() && refs.len() < 2 && looks_like_ref {
            refs.push(arg.clone());
        } else {
            paths.push(PathBuf::from(arg));
        }
    }
    (refs, paths)
}

fn bytes_to_os(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

fn line(c: &Change, stat: bool, colour: bool) -> String {
    let letter = c.kind.letter();
    let is_dir = c.new.as_ref().or(c.old.as_ref()).is_some_and(|n| diff::type_name(n) == "dir");
    let path = format!("{}{}", c.path.display(), if is_dir { "/" } else { "" });
    let sizes = match (c.old.as_ref().map(diff::size_of), c.new.as_ref().map(diff::size_of), is_dir) {
        (_, _, true) => String::new(),
        (None, Some(n), _) => output::bytes(n),
        (Some(o), None, _) => output::bytes(o),
        (Some(o), Some(n), _) if o == n => output::bytes(n),
        (Some(o), Some(n), _) => format!("{} → {}", output::bytes(o), output::bytes(n)),
        _ => String::new(),
    };
    let stat_part = if stat && !is_dir {
        let (o, n) = (c.old.as_ref().map_or(0, diff::size_of) as i64, c.new.as_ref().map_or(0, diff::size_of) as i64);
        format!("  {:+} bytes", n - o)
    } else {
        String::new()
    };
    let code = match c.kind {
        ChangeKind::Added => "32",
        ChangeKind::Deleted => "31",
        ChangeKind::Modified => "33",
        ChangeKind::TypeChanged => "35",
        ChangeKind::Metadata => "36",
    };
    let head = if colour { format!("\x1b[{code}m{letter}\x1b[0m") } else { letter.to_string() };
    if sizes.is_empty() {
        format!("{head}  {path}{stat_part}")
    } else {
        format!("{head}  {path}  ({sizes}){stat_part}")
    }
}

/// Prints a unified diff of a changed text file.
fn content(repo: &Repository, c: &Change, live: bool) -> Result<()> {
    if !matches!(c.kind, ChangeKind::Added | ChangeKind::Deleted | ChangeKind::Modified) {
        return Ok(());
    }
    let empty = || Contents::Text(String::new());
    let old = match &c.old {
        Some(n) => diff::contents(repo, n, CONTENT_LIMIT)?,
        None => empty(),
    };
    let new = match &c.new {
        Some(_) if live => diff::live_contents(&c.path, CONTENT_LIMIT)?,
        Some(n) => diff::contents(repo, n, CONTENT_LIMIT)?,
        None => empty(),
    };
    use std::io::Write as _;
    write!(std::io::stdout().lock(), "{}", output::text_diff(&c.path.display().to_string(), old, new))?;
    Ok(())
}
