//! One meaning of a snapshot and a path, for every command that takes both
//! (`ls`, `diff`, `restore`, `history`, `find`, `dump`).
//!
//! - Positional arguments: the leading ones written as a snapshot reference
//!   (`latest`, `latest~N`, 4 to 64 hex digits) are snapshots, the rest are
//!   paths ([`split_positionals`]). A path that reads like a reference is
//!   written `./abcd`. Paths are unescaped (`crate::names`) and made
//!   absolute as the shell means them.
//! - `latest`, `latest~N` and `--at TIME` choose among the snapshots that
//!   cover every path given (hold it, or a folder above it): `latest` is the
//!   newest of them, `latest~N` the one N before it *among those*, `--at`
//!   the newest of them taken at or before TIME ([`choose`]). A snapshot of
//!   other paths taken later does not hide the older one that holds the
//!   path: `diff latest ~/projects` compares with the last snapshot of
//!   `~/projects`, never with one that left it out.
//! - A snapshot named by id is taken as named, but must cover the paths.
//! - When nothing covers a path, the error ([`Error::NotCovered`]) names
//!   the path and the snapshots nearest to it, so no command answers "0
//!   changes" or "nothing found" about a path no snapshot holds.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::names;
use crate::repo::Repository;
use crate::snapshot::select::covers;
use crate::snapshot::snapshots::{self, Filter, Selector, SnapshotEntry, looks_like_reference};
use crate::snapshot::timefmt;

/// Positional arguments split into snapshot references and paths.
#[derive(Debug, Default, PartialEq)]
pub struct Positionals {
    pub snapshots: Vec<String>,
    /// Absolute, escapes decoded.
    pub paths: Vec<PathBuf>,
}

/// Splits `args`: up to `max_snapshots` leading arguments written as a
/// snapshot reference are snapshots; every other one is a path. Give
/// `max_snapshots` 0 when the snapshot comes from elsewhere (`--at`).
pub fn split_positionals(args: &[OsString], max_snapshots: usize) -> Result<Positionals> {
    let mut out = Positionals::default();
    for arg in args {
        match arg.to_str() {
            Some(text) if out.paths.is_empty() && out.snapshots.len() < max_snapshots && looks_like_reference(text) => {
                out.snapshots.push(text.to_string())
            }
            _ => out.paths.push(user_path(arg)?),
        }
    }
    Ok(out)
}

/// The error when a command needs a snapshot and `args` (its positional
/// arguments) name none: the first one was most likely meant as one.
/// `time_flag` is the command's alternative (`--at`, `--from`).
pub fn no_snapshot_named(args: &[OsString], time_flag: &str) -> Error {
    let how = format!("name a snapshot (`latest`, `latest~N`, an id or 4+ hex digits of one) or give {time_flag} TIME");
    match args.first() {
        Some(first) => Error::InvalidArgument(format!(
            "\"{}\" is not a snapshot reference: {how}, then the path",
            names::escape(first.as_encoded_bytes())
        )),
        None => Error::InvalidArgument(how),
    }
}

/// A path as the user typed it: escapes decoded, made absolute as the
/// shell means it (`..` goes up from the current folder).
pub fn user_path(typed: &std::ffi::OsStr) -> Result<PathBuf> {
    crate::fs::path::absolute(&names::unescape_path(typed))
}

/// The snapshot `selector` names among those matching `filter`'s host and
/// tags that cover every one of `filter.paths` (see the module comment).
pub fn choose(repo: &Repository, selector: &Selector, filter: &Filter) -> Result<SnapshotEntry> {
    let back = match selector {
        Selector::Reference(r) => snapshots::latest_back(r)?,
        Selector::At(_) => None,
    };
    if let (Selector::Reference(reference), None) = (selector, back) {
        let entry = snapshots::resolve(repo, reference)?;
        if let Some(path) = filter.paths.iter().find(|p| !covers(&entry, p)) {
            let (all, _) = snapshots::list(repo)?;
            return Err(named_does_not_cover(&entry, path, &candidates(all, filter)));
        }
        return Ok(entry);
    }
    let (all, _) = snapshots::list(repo)?;
    let candidates = candidates(all, filter);
    if candidates.is_empty() {
        return Err(Error::NoSnapshots);
    }
    if let Some(path) = filter.paths.iter().find(|p| !candidates.iter().any(|e| covers(e, p))) {
        return Err(not_covered(&candidates, path));
    }
    let covering: Vec<SnapshotEntry> = candidates.into_iter().filter(|e| filter.matches(&e.snapshot)).collect();
    if covering.is_empty() {
        let shown: Vec<String> = filter.paths.iter().map(|p| names::escape_path(p).into_owned()).collect();
        return Err(Error::NotCovered {
            message: format!("no one snapshot covers all of {}; give them one at a time", shown.join(", ")),
            path: filter.paths[0].clone(),
            closest_in: None,
        });
    }
    match selector {
        Selector::At(at) => snapshots::at_or_before(&covering, at).cloned(),
        Selector::Reference(reference) => snapshots::nth_newest(covering, back.unwrap_or(0), reference),
    }
}

/// The folder an absolute glob is anchored in: its names before the first
/// one holding a glob character (`/h/projects/**/x` → `/h/projects`);
/// `None` for a glob that is not absolute or starts with a wildcard.
pub fn glob_anchor(glob: &str) -> Option<PathBuf> {
    let rest = glob.strip_prefix('/')?;
    let literal: Vec<&str> =
        rest.split('/').take_while(|n| !n.is_empty() && !n.contains(['*', '?', '[', '{', '\\'])).collect();
    let anchor = PathBuf::from("/").join(literal.join("/"));
    // A last name without glob characters is the whole pattern: its folder.
    let whole = literal.len() == rest.split('/').count();
    let anchor = if whole { anchor.parent().map(Path::to_path_buf)? } else { anchor };
    (anchor != Path::new("/")).then_some(anchor)
}

/// Whether `entry` may hold something below `folder`: it covers the folder,
/// or one of its paths lies inside it.
pub fn may_hold_below(entry: &SnapshotEntry, folder: &Path) -> bool {
    covers(entry, folder)
        || entry.snapshot.paths.iter().any(|p| crate::snapshot::tree::name_to_path(p).starts_with(folder))
}

/// The snapshots matching `filter`'s host and tags, whatever their paths.
fn candidates(all: Vec<SnapshotEntry>, filter: &Filter) -> Vec<SnapshotEntry> {
    let any_path = Filter { paths: Vec::new(), ..filter.clone() };
    all.into_iter().filter(|e| any_path.matches(&e.snapshot)).collect()
}

/// The error for a path none of `candidates` (oldest first) covers: it
/// names the snapshots whose paths are nearest to it (sharing the longest
/// leading folders), or, when none shares any, what the newest ones hold.
pub fn not_covered(candidates: &[SnapshotEntry], path: &Path) -> Error {
    let shown = names::escape_path(path);
    let nearness = |e: &SnapshotEntry| {
        e.snapshot.paths.iter().map(|p| shared_folders(crate::snapshot::tree::name_to_path(p), path)).max().unwrap_or(0)
    };
    let best = candidates.iter().map(nearness).max().unwrap_or(0);
    let near: Vec<&SnapshotEntry> = newest_per_path_set(candidates.iter().rev().filter(|e| nearness(e) == best));
    let message = match (best, near.is_empty()) {
        (_, true) => format!("no snapshot covers {shown} (the repository holds no snapshot yet)"),
        (0, false) => format!("no snapshot covers {shown}; the newest hold {}", describe(&near)),
        _ => format!("no snapshot covers {shown}; the nearest: {}", describe(&near)),
    };
    Error::NotCovered { message, path: path.to_path_buf(), closest_in: near.first().map(|e| e.snapshot.tree) }
}

/// The error for a snapshot named by id that does not cover `path`,
/// naming the newest of `candidates` that does, if any.
fn named_does_not_cover(entry: &SnapshotEntry, path: &Path, candidates: &[SnapshotEntry]) -> Error {
    let mut message = format!(
        "snapshot {} ({}) does not cover {}: it holds {}",
        entry.id.short(),
        timefmt::local(&entry.snapshot.time),
        names::escape_path(path),
        held(entry)
    );
    if let Some(newest) = candidates.iter().rev().find(|e| covers(e, path)) {
        message.push_str(&format!(
            "; the newest snapshot that covers it is {} ({})",
            newest.id.short(),
            timefmt::local(&newest.snapshot.time)
        ));
    }
    Error::NotCovered { message, path: path.to_path_buf(), closest_in: Some(entry.snapshot.tree) }
}

/// How many leading names (below `/`) two absolute paths share.
fn shared_folders(a: &Path, b: &Path) -> usize {
    let names = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                _ => None,
            })
            .collect()
    };
    names(a).iter().zip(names(b).iter()).take_while(|(x, y)| x == y).count()
}

/// The first (newest) snapshot of each distinct set of paths, at most three.
fn newest_per_path_set<'a>(newest_first: impl Iterator<Item = &'a SnapshotEntry>) -> Vec<&'a SnapshotEntry> {
    let mut seen: Vec<&Vec<serde_bytes::ByteBuf>> = Vec::new();
    let mut out = Vec::new();
    for e in newest_first {
        if !seen.contains(&&e.snapshot.paths) {
            seen.push(&e.snapshot.paths);
            out.push(e);
            if out.len() == 3 {
                break;
            }
        }
    }
    out
}

/// `1a2b3c4d (2026-11-24 02:00:13) holds /a, /b; …`
fn describe(entries: &[&SnapshotEntry]) -> String {
    let one = |e: &&SnapshotEntry| format!("{} ({}) holds {}", e.id.short(), timefmt::local(&e.snapshot.time), held(e));
    entries.iter().map(one).collect::<Vec<_>>().join("; ")
}

fn held(entry: &SnapshotEntry) -> String {
    let paths: Vec<String> = entry.snapshot.paths.iter().map(|p| names::escape(p).into_owned()).collect();
    paths.join(", ")
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
