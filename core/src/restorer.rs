//! The restorer: recreates a snapshot's files (or a selection of paths)
//! under a target folder at their full original paths, contents byte for
//! byte, then metadata: mode, ownership (as root), xattrs, mtimes, hard
//! links, symlinks and special files. Folder metadata is applied last,
//! deepest first, so writing children does not disturb it.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::format::{Node, NodeKind, Snapshot, Tree};
use crate::fsmeta;
use crate::id::Id;
use crate::repo::Repository;
use crate::tree::{PathTrie, lookup, name_to_path};

#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    pub target: PathBuf,
    /// Absolute paths inside the snapshot to restore; empty for all.
    pub paths: Vec<PathBuf>,
    pub overwrite: bool,
}

#[derive(Debug, Default)]
pub struct RestoreOutcome {
    pub files: u64,
    pub dirs: u64,
    pub others: u64,
    pub bytes: u64,
    /// One line per entry that could not be restored; the rest was.
    pub errors: Vec<String>,
}

/// Everything to create, gathered from the trees before anything is written.
#[derive(Default)]
struct Plan {
    dirs: Vec<(PathBuf, Node)>,
    files: Vec<(PathBuf, Node)>,
    others: Vec<(PathBuf, Node)>,
}

pub fn restore(repo: &Repository, snapshot: &Snapshot, opts: &RestoreOptions) -> Result<RestoreOutcome> {
    // Check the selection before writing anything.
    for p in &opts.paths {
        if lookup(repo, &snapshot.tree, p)?.is_none() && p != Path::new("/") {
            return Err(Error::PathNotInSnapshot(p.display().to_string()));
        }
    }
    prepare_target(&opts.target, opts.overwrite)?;
    let trie = if opts.paths.is_empty() {
        PathTrie { selected: true, ..PathTrie::default() }
    } else {
        PathTrie::from_paths(&opts.paths)
    };
    let mut plan = Plan::default();
    let root = repo.load_tree(&snapshot.tree)?;
    plan_tree(repo, &root, &opts.target, &trie, trie.selected, &mut plan)?;

    let mut outcome = RestoreOutcome::default();
    for (path, _) in &plan.dirs {
        if let Err(e) = create_dir(path) {
            outcome.errors.push(format!("{}: {e}", path.display()));
        }
    }
    outcome.dirs = plan.dirs.len() as u64;

    let chown = fsmeta::can_chown();
    // Hard links: the first path of each (device, inode) is written, the
    // others are linked to it.
    let mut leaders: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut to_write = Vec::new();
    let mut to_link = Vec::new();
    for (path, node) in &plan.files {
        if node.nlink > 1 {
            if let Some(leader) = leaders.get(&(node.device, node.inode)) {
                to_link.push((path, leader.clone()));
                continue;
            }
            leaders.insert((node.device, node.inode), path.clone());
        }
        to_write.push((path, node));
    }
    let bytes = AtomicU64::new(0);
    let errors: Vec<String> = to_write
        .par_iter()
        .filter_map(|(path, node)| {
            let written = write_file(repo, path, node, &bytes);
            if written.is_err() {
                // Never leave a partial file that looks restored.
                let _ = fs::remove_file(path);
            }
            let r = written.and_then(|()| fsmeta::apply_metadata(path, node, chown).at(path.as_path()));
            r.err().map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    outcome.errors.extend(errors);
    outcome.files = to_write.len() as u64;
    outcome.bytes = bytes.into_inner();

    for (path, leader) in to_link {
        let r = remove_existing(path).and_then(|()| fs::hard_link(&leader, path));
        match r {
            Ok(()) => outcome.files += 1,
            Err(e) => outcome.errors.push(format!("{}: hard link: {e}", path.display())),
        }
    }
    for (path, node) in &plan.others {
        let r = remove_existing(path)
            .and_then(|()| match &node.kind {
                NodeKind::Symlink { target } => std::os::unix::fs::symlink(name_to_path(target), path),
                _ => fsmeta::make_special(path, node),
            })
            .and_then(|()| fsmeta::apply_metadata(path, node, chown));
        match r {
            Ok(()) => outcome.others += 1,
            Err(e) => outcome.errors.push(format!("{}: {e}", path.display())),
        }
    }
    for (path, node) in plan.dirs.iter().rev() {
        if let Err(e) = fsmeta::apply_metadata(path, node, chown) {
            outcome.errors.push(format!("{}: {e}", path.display()));
        }
    }
    Ok(outcome)
}

fn prepare_target(target: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() && !overwrite {
                return Err(Error::TargetNotEmpty(target.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir_all(target).at(target),
        Err(e) => Err(Error::io(target, e)),
    }
}

/// Collects what to restore below one tree. `selected` is true once inside
/// a selected path (everything below is restored).
fn plan_tree(
    repo: &Repository,
    tree: &Tree,
    dir: &Path,
    trie: &PathTrie,
    selected: bool,
    plan: &mut Plan,
) -> Result<()> {
    for node in &tree.nodes {
        let child_trie = if selected { None } else { trie.children.get(node.name.as_slice()) };
        if !selected && child_trie.is_none() {
            continue;
        }
        let child_selected = selected || child_trie.is_some_and(|t| t.selected);
        let path = dir.join(name_to_path(&node.name));
        match &node.kind {
            NodeKind::Dir { subtree } => {
                plan.dirs.push((path.clone(), node.clone()));
                let sub = repo.load_tree(subtree)?;
                let empty = PathTrie::default();
                plan_tree(repo, &sub, &path, child_trie.unwrap_or(&empty), child_selected, plan)?;
            }
            NodeKind::File { .. } if child_selected => plan.files.push((path, node.clone())),
            _ if child_selected => plan.others.push((path, node.clone())),
            _ => {}
        }
    }
    Ok(())
}

fn create_dir(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(path)?;
            fs::create_dir(path)
        }
        Err(_) => fs::create_dir_all(path),
    }
}

/// Removes a non-folder entry in the way (only reached with --overwrite,
/// since the target is otherwise empty).
fn remove_existing(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Err(std::io::Error::other("a folder is in the way")),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// Writes a file's chunks in order; all-zero chunks become holes.
fn write_file(repo: &Repository, path: &Path, node: &Node, bytes: &AtomicU64) -> Result<()> {
    let NodeKind::File { size, content } = &node.kind else {
        return Ok(());
    };
    remove_existing(path).at(path)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .at(path)?;
    let mut offset = 0u64;
    let mut hole_at_end = false;
    for id in content {
        let data = repo.load_blob(id).map_err(|e| named(e, path, id))?;
        if data.iter().all(|b| *b == 0) {
            file.seek(SeekFrom::Current(data.len() as i64)).at(path)?;
            hole_at_end = true;
        } else {
            file.write_all(&data).at(path)?;
            hole_at_end = false;
        }
        offset += data.len() as u64;
    }
    if hole_at_end {
        file.set_len(offset).at(path)?;
    }
    if offset != *size {
        return Err(Error::corrupt(path.display().to_string(), format!("its chunks hold {offset} bytes, not {size}")));
    }
    bytes.fetch_add(offset, Ordering::Relaxed);
    Ok(())
}

fn named(e: Error, path: &Path, id: &Id) -> Error {
    Error::corrupt(format!("{} (chunk {})", path.display(), id.short()), e)
}

/// The path of a snapshot path under a restore target.
pub fn target_path(target: &Path, snapshot_path: &Path) -> PathBuf {
    target.join(Path::new(std::ffi::OsStr::from_bytes(
        snapshot_path.as_os_str().as_bytes().strip_prefix(b"/").unwrap_or(snapshot_path.as_os_str().as_bytes()),
    )))
}
