//! Restoring to the original places (`--to-original`): for each planned
//! entry, what is on disk now decides the action. Missing entries are
//! created, identical files (same metadata, then same chunk ids; nothing
//! rewritten) are left alone, different ones are replaced only with `--overwrite`, and with
//! `--delete` entries the snapshot does not have (and that are newer than
//! it) are removed. Everything
//! about to be replaced or removed is listed for the preserve snapshot,
//! which is taken before anything is touched.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::archiver::content_ids;
use crate::error::Result;
use crate::format::{Node, NodeKind};
use crate::fs::fsmeta::{self, Identity};
use crate::repo::Repository;

use super::plan::{Plan, Planned};
use super::{Action, Decided};

/// Why an entry that differs is left alone; the caller adds how to allow
/// overwriting (counted in `Decided::needs_overwrite`).
const OVERWRITE_HINT: &str = "left as it is: overwriting was not allowed";

/// `delete_newer_than`: with `--delete`, the snapshot's time (seconds).
pub fn decide(repo: &Repository, plan: Plan, overwrite: bool, delete_newer_than: Option<i64>) -> Result<Decided> {
    let mut d = Decided { original: true, ..Decided::default() };
    // Folders that cannot be restored block everything below them.
    let mut blocked: Vec<PathBuf> = Vec::new();
    let is_blocked = |blocked: &[PathBuf], p: &Path| blocked.iter().any(|b| p.starts_with(b));
    for entry in plan.dirs {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => {
                blocked.push(entry.path.clone());
                Action::Skip(format!("cannot be examined: {e}"))
            }
            Ok(md) if md.is_dir() => Action::Unchanged,
            // A folder only on the way to a selected path holds much that no
            // snapshot covers: what is there now is never replaced.
            Ok(_) if !entry.selected => {
                blocked.push(entry.path.clone());
                Action::Skip(
                    "a file or symlink is where the snapshot has a folder on the way to the selected paths; \
                     it is never replaced (move it away and run the restore again)"
                        .to_string(),
                )
            }
            Ok(md) if overwrite => {
                d.preserve.push(entry.path.clone());
                d.seen.insert(entry.path.clone(), Identity::of(&md));
                Action::Replace
            }
            Ok(_) => {
                blocked.push(entry.path.clone());
                needs_overwrite(&mut d, "a file is where the snapshot has a folder")
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
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
            Ok(md) if md.is_file() && same_file(repo, &entry, &md) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, &md, &entry.path, &mut d),
        };
        d.files.push((entry, action));
    }
    hard_link_groups(overwrite, &mut d);
    for entry in plan.others {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
            Ok(md) if md.file_type().is_symlink() && same_link(&entry) => Action::Unchanged,
            Ok(md) if same_special(&entry, &md) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, &md, &entry.path, &mut d),
        };
        d.others.push((entry, action));
    }
    Ok(d)
}

/// Hard links: the names of one snapshot inode are left alone only while
/// they are still one inode on disk and all as in the snapshot (missing
/// names are then linked to them). Otherwise every name present is
/// replaced (with `--overwrite`), so that all are written again as one
/// inode: an unchanged name left alone would stay a separate file beside
/// the rewritten ones.
fn hard_link_groups(overwrite: bool, d: &mut Decided) {
    let mut groups: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, (entry, _)) in d.files.iter().enumerate() {
        if entry.node.nlink > 1 {
            groups.entry((entry.node.device, entry.node.inode)).or_default().push(i);
        }
    }
    let mut broken: Vec<usize> = Vec::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        let mut inodes_on_disk = HashSet::new();
        let mut all_unchanged = true;
        for &i in members {
            match &d.files[i].1 {
                Action::Unchanged => {
                    if let Ok(md) = fs::symlink_metadata(&d.files[i].0.path) {
                        inodes_on_disk.insert((md.dev(), md.ino()));
                    }
                }
                Action::Create => {}
                _ => all_unchanged = false,
            }
        }
        if !all_unchanged || inodes_on_disk.len() > 1 {
            broken.extend(members.iter().copied().filter(|&i| d.files[i].1 == Action::Unchanged));
        }
    }
    broken.sort_unstable();
    for i in broken {
        let path = d.files[i].0.path.clone();
        let action = match fs::symlink_metadata(&path) {
            Ok(md) if overwrite => replace_or_skip(true, &md, &path, d),
            Ok(_) => needs_overwrite(
                d,
                "same contents, but no longer hard-linked to the other names of its snapshot inode as it was",
            ),
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
        };
        d.files[i].1 = action;
    }
}

fn replace_or_skip(overwrite: bool, md: &fs::Metadata, path: &Path, d: &mut Decided) -> Action {
    if overwrite {
        d.preserve.push(path.to_path_buf());
        d.seen.insert(path.to_path_buf(), Identity::of(md));
        Action::Replace
    } else if md.is_dir() {
        needs_overwrite(d, "a folder is where the snapshot has a file")
    } else {
        needs_overwrite(d, "differs from the snapshot")
    }
}

/// Leaves an entry that differs as it is, counting it for the caller's hint.
fn needs_overwrite(d: &mut Decided, what: &str) -> Action {
    d.needs_overwrite += 1;
    Action::Skip(format!("{what}; {OVERWRITE_HINT}"))
}

/// The file is as in the snapshot: the metadata a restore sets (cheap, so
/// first), then the same size, then the same chunk ids. A file whose mode,
/// mtime, owner or xattrs alone changed differs too: leaving it alone would
/// leave it unlike the snapshot, which is what the restore was asked for.
fn same_file(repo: &Repository, entry: &Planned, md: &fs::Metadata) -> bool {
    let NodeKind::File { size, content } = &entry.node.kind else { return false };
    same_metadata(&entry.node, md, &entry.path)
        && *size == md.len()
        && content_ids(repo, &entry.path).is_ok_and(|ids| &ids == content)
}

/// Whether an existing folder's mode, mtime, xattrs or owner differ from
/// the snapshot's (then they are applied again: the folder itself and what
/// is in it stay, so nothing needs preserving).
pub fn folder_metadata_differs(path: &Path, node: &Node) -> bool {
    fs::symlink_metadata(path).is_ok_and(|md| md.is_dir() && !same_metadata(node, &md, path))
}

/// Mode, mtime, xattrs and (where the restore can set it, as root) owner.
fn same_metadata(node: &Node, md: &fs::Metadata, path: &Path) -> bool {
    let owner = !fsmeta::can_chown() || (node.uid, node.gid) == (md.uid(), md.gid());
    owner
        && node.mode == md.mode() & 0o7777
        && (node.mtime.seconds, i64::from(node.mtime.nanos)) == (md.mtime(), md.mtime_nsec())
        && fsmeta::read_xattrs(path) == node.xattrs
}

fn same_link(entry: &Planned) -> bool {
    let NodeKind::Symlink { target } = &entry.node.kind else { return false };
    fs::read_link(&entry.path).is_ok_and(|t| t.as_os_str().as_bytes() == target.as_slice())
}

/// A fifo, socket or device node as in the snapshot: same kind, device
/// number and metadata. (Without this, every such entry "differed", and a
/// restore of a tree holding one failed unless given --overwrite.)
fn same_special(entry: &Planned, md: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let same_kind = match entry.node.kind {
        NodeKind::Fifo => ft.is_fifo(),
        NodeKind::Socket => ft.is_socket(),
        NodeKind::CharDevice { rdev } => ft.is_char_device() && md.rdev() == rdev,
        NodeKind::BlockDevice { rdev } => ft.is_block_device() && md.rdev() == rdev,
        _ => false,
    };
    same_kind && same_metadata(&entry.node, md, &entry.path)
}

/// With `--delete`: entries of a restored folder that the snapshot lacks and
/// that came into being after it (by their birth time, or ctime where the
/// filesystem records none). Older ones were left out of the snapshot on
/// purpose (excluded, e.g. node_modules) and are kept, however much changed
/// inside them since; so is anything on another device (a mount point).
fn extra_entries(repo: &Repository, dir: &Planned, since: i64, d: &mut Decided) -> Result<()> {
    let NodeKind::Dir { subtree } = &dir.node.kind else { return Ok(()) };
    let Ok(dir_md) = fs::symlink_metadata(&dir.path) else { return Ok(()) };
    if !dir_md.is_dir() {
        return Ok(());
    }
    let tree = repo.load_tree(subtree)?;
    let known: HashSet<&[u8]> = tree.nodes.iter().map(|n| n.name.as_slice()).collect();
    let Ok(entries) = fs::read_dir(&dir.path) else { return Ok(()) };
    let mut extra: Vec<(PathBuf, fs::Metadata)> = entries
        .flatten()
        .filter(|e| !known.contains(e.file_name().as_bytes()))
        .filter_map(|e| fs::symlink_metadata(e.path()).ok().map(|md| (e.path(), md)))
        .filter(|(_, md)| md.dev() == dir_md.dev())
        .filter(|(path, _)| fsmeta::birth_time(path).is_ok_and(|born| born >= since))
        .collect();
    extra.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, md) in extra {
        d.preserve.push(path.clone());
        d.seen.insert(path.clone(), Identity::of(&md));
        d.deletions.push(path);
    }
    Ok(())
}
