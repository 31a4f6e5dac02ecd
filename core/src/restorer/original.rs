//! Restoring to the original places (`--to-original`): for each planned
//! entry, what is on disk now decides the action. Missing entries are
//! created, identical files (compared by chunk ids, nothing rewritten) are
//! left alone, different ones are replaced only with `--overwrite`, and with
//! `--delete` entries the snapshot does not have are removed. Everything
//! about to be replaced or removed is listed for the preserve snapshot,
//! which is taken before anything is touched.

use std::collections::HashSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::diff::content_ids;
use crate::error::Result;
use crate::format::NodeKind;
use crate::repo::Repository;

use super::plan::{Plan, Planned};
use super::{Action, Decided};

const OVERWRITE_HINT: &str = "pass --overwrite to replace it (the current version is saved in a snapshot first)";

/// `delete_newer_than`: with `--delete`, the snapshot's time (seconds).
pub fn decide(repo: &Repository, plan: Plan, overwrite: bool, delete_newer_than: Option<i64>) -> Result<Decided> {
    let mut d = Decided::default();
    // Folders that cannot be restored block everything below them.
    let mut blocked: Vec<PathBuf> = Vec::new();
    let is_blocked = |blocked: &[PathBuf], p: &Path| blocked.iter().any(|b| p.starts_with(b));
    for entry in plan.dirs {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            Err(_) => Action::Create,
            Ok(md) if md.is_dir() => Action::Unchanged,
            Ok(_) if overwrite => {
                d.preserve.push(entry.path.clone());
                Action::Replace
            }
            Ok(_) => {
                blocked.push(entry.path.clone());
                Action::Skip(format!("a file is where the snapshot has a folder; {OVERWRITE_HINT}"))
            }
        };
        // Only folders inside a selected path are made to match: the folders
        // on the way to it (up to `/`) hold much that no snapshot path covers.
        if let Some(since) = delete_newer_than
            && entry.selected
            && matches!(action, Action::Unchanged | Action::Replace)
        {
            extra_entries(repo, &entry, since, &mut d)?;
        }
        d.dirs.push((entry, action));
    }
    for entry in plan.files {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            Err(_) => Action::Create,
            Ok(md) if md.is_file() && same_file(repo, &entry, md.len()) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, md.is_dir(), &entry.path, &mut d.preserve),
        };
        d.files.push((entry, action));
    }
    for entry in plan.others {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            Err(_) => Action::Create,
            Ok(md) if md.file_type().is_symlink() && same_link(&entry) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, md.is_dir(), &entry.path, &mut d.preserve),
        };
        d.others.push((entry, action));
    }
    Ok(d)
}

fn replace_or_skip(overwrite: bool, is_dir: bool, path: &Path, preserve: &mut Vec<PathBuf>) -> Action {
    if overwrite {
        preserve.push(path.to_path_buf());
        Action::Replace
    } else if is_dir {
        Action::Skip(format!("a folder is where the snapshot has a file; {OVERWRITE_HINT}"))
    } else {
        Action::Skip(format!("differs from the snapshot; {OVERWRITE_HINT}"))
    }
}

/// Same contents as the snapshot's file: same size, then same chunk ids.
fn same_file(repo: &Repository, entry: &Planned, size_now: u64) -> bool {
    let NodeKind::File { size, content } = &entry.node.kind else { return false };
    *size == size_now && content_ids(repo, &entry.path).is_ok_and(|ids| &ids == content)
}

fn same_link(entry: &Planned) -> bool {
    let NodeKind::Symlink { target } = &entry.node.kind else { return false };
    fs::read_link(&entry.path).is_ok_and(|t| t.as_os_str().as_bytes() == target.as_slice())
}

/// With `--delete`: entries of a restored folder that the snapshot lacks and
/// that appeared after it (changed since, by their ctime). Older ones were
/// left out of the snapshot on purpose (excluded, e.g. node_modules) and
/// are kept.
fn extra_entries(repo: &Repository, dir: &Planned, since: i64, d: &mut Decided) -> Result<()> {
    let NodeKind::Dir { subtree } = &dir.node.kind else { return Ok(()) };
    let tree = repo.load_tree(subtree)?;
    let known: HashSet<&[u8]> = tree.nodes.iter().map(|n| n.name.as_slice()).collect();
    let Ok(entries) = fs::read_dir(&dir.path) else { return Ok(()) };
    let mut extra: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !known.contains(e.file_name().as_bytes()))
        .filter(|e| fs::symlink_metadata(e.path()).is_ok_and(|md| md.ctime() >= since))
        .map(|e| e.path())
        .collect();
    extra.sort();
    for path in extra {
        d.preserve.push(path.clone());
        d.deletions.push(path);
    }
    Ok(())
}
