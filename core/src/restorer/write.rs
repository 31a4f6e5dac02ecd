//! Writing restored entries: file contents chunk by chunk (all-zero chunks
//! as holes) into a temporary name beside the destination, then metadata,
//! then the rename into place; symlinks, special files and hard links the
//! same way. A file that fails is removed, never left half-written under
//! its name. What is at the destination is checked just before the rename
//! against what the restore decided on (see [`Expect`]).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, RenameFlags};

use crate::error::{Error, IoContext, Result};
use crate::format::{Node, NodeKind};
use crate::fs::fsmeta::{self, Identity};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::tree::name_to_path;

/// What the restore expects at a destination when it puts an entry there.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Nothing (it was missing when the restore decided): whatever
    /// appeared since is left alone.
    Nothing,
    /// Exactly the entry seen when deciding (and preserved since): anything
    /// else is left alone.
    Seen(Identity),
    /// As `Seen`, but another name of the same inode was just replaced by
    /// this restore (hard links), which moved its ctime: all else must match.
    SeenRelinked(Identity),
    /// Anything may be replaced (restoring under a target folder).
    Anything,
}

pub const CHANGED: &str = "changed since the restore started; not replaced (run the restore again)";
const APPEARED: &str = "appeared since the restore started; not replaced (run the restore again)";

/// Whether the entry at `path` is still the one seen when deciding.
pub fn still_seen(path: &Path, seen: &Identity) -> std::io::Result<()> {
    match fsmeta::identity(path) {
        Ok(now) if now == *seen => Ok(()),
        _ => Err(std::io::Error::other(CHANGED)),
    }
}

/// A temporary name in the same folder as `dest`.
fn temp_beside(dest: &Path) -> Result<PathBuf> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    // A name of its own among the user's files, so a leftover is recognisable.
    crate::backend::temp_path_with(dir, ".cairn-restore-").at(dir)
}

/// Renames the finished `temp` to `dest` if `dest` holds what is expected
/// (a folder seen there is removed first: it was preserved).
fn put_in_place(temp: &Path, dest: &Path, expect: Expect) -> std::io::Result<()> {
    match expect {
        Expect::Nothing => match rustix::fs::renameat_with(CWD, temp, CWD, dest, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => Err(std::io::Error::other(APPEARED)),
            // A filesystem without RENAME_NOREPLACE: check, then rename.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                if fs::symlink_metadata(dest).is_ok() {
                    return Err(std::io::Error::other(APPEARED));
                }
                fs::rename(temp, dest)
            }
            Err(e) => Err(e.into()),
        },
        Expect::Seen(seen) => {
            still_seen(dest, &seen)?;
            if seen.is_dir() {
                fs::remove_dir_all(dest)?;
            }
            fs::rename(temp, dest)
        }
        Expect::SeenRelinked(seen) => {
            match fsmeta::identity(dest) {
                Ok(now) if now.same_except_ctime(&seen) => {}
                _ => return Err(std::io::Error::other(CHANGED)),
            }
            if seen.is_dir() {
                fs::remove_dir_all(dest)?;
            }
            fs::rename(temp, dest)
        }
        Expect::Anything => {
            if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(dest)?;
            }
            fs::rename(temp, dest)
        }
    }
}

/// Writes a regular file with its metadata at `dest`. Returns the bytes
/// written and the xattrs that could not be set (the file is in place).
pub fn file(
    repo: &Repository,
    dest: &Path,
    node: &Node,
    chown: bool,
    expect: Expect,
) -> std::result::Result<(u64, Vec<String>), String> {
    let temp = temp_beside(dest).map_err(|e| e.to_string())?;
    let result = write_contents(repo, &temp, node)
        .and_then(|(out, n)| {
            // On the descriptor of the file we created: nothing else can be
            // changed by it.
            let problems = fsmeta::apply_metadata_to(&out, node, chown).at(&temp)?;
            Ok((n, problems))
        })
        .map_err(|e| e.to_string())
        .and_then(|r| put_in_place(&temp, dest, expect).map(|()| r).map_err(|e| e.to_string()));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_contents(repo: &Repository, path: &Path, node: &Node) -> Result<(File, u64)> {
    let NodeKind::File { size, content } = &node.kind else {
        return Err(Error::InvalidArgument(format!("{} is not a file", path.display())));
    };
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .at(path)?;
    let mut offset = 0u64;
    let mut hole_at_end = false;
    // All-zero chunks seen in this file, by id, with their length: a large
    // sparse file repeats the same one thousands of times, and loading,
    // decrypting and scanning it each time took most of its restore.
    let mut zero_chunks: HashMap<Id, u64> = HashMap::new();
    for id in content {
        if let Some(&len) = zero_chunks.get(id) {
            out.seek(SeekFrom::Current(len as i64)).at(path)?;
            hole_at_end = true;
            offset += len;
            continue;
        }
        let data = repo.load_blob(id).map_err(|e| Error::corrupt(format!("chunk {}", id.short()), e))?;
        if data.iter().all(|b| *b == 0) {
            out.seek(SeekFrom::Current(data.len() as i64)).at(path)?;
            hole_at_end = true;
            zero_chunks.insert(*id, data.len() as u64);
        } else {
            out.write_all(&data).at(path)?;
            hole_at_end = false;
        }
        offset += data.len() as u64;
    }
    if hole_at_end {
        out.set_len(offset).at(path)?;
    }
    if offset != *size {
        return Err(Error::corrupt("file", format!("its chunks hold {offset} bytes, not {size}")));
    }
    Ok((out, offset))
}

/// Creates a symlink, fifo, socket or device node with its metadata at a
/// temporary name, then puts it at `dest`. Returns the xattrs that could not
/// be set.
pub fn other(dest: &Path, node: &Node, chown: bool, expect: Expect) -> std::io::Result<Vec<String>> {
    let temp = temp_beside(dest).map_err(std::io::Error::other)?;
    let result = match &node.kind {
        NodeKind::Symlink { target } => std::os::unix::fs::symlink(name_to_path(target), &temp),
        _ => fsmeta::make_special(&temp, node),
    }
    .and_then(|()| {
        let problems = fsmeta::apply_metadata(&temp, node, chown)?;
        put_in_place(&temp, dest, expect)?;
        Ok(problems)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Links `dest` to an already restored `leader` (hard links): a link at a
/// temporary name, renamed over `dest`.
pub fn hard_link(leader: &Path, dest: &Path, expect: Expect) -> std::io::Result<()> {
    let temp = temp_beside(dest).map_err(std::io::Error::other)?;
    let result = fs::hard_link(leader, &temp).and_then(|()| put_in_place(&temp, dest, expect));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes sure a folder exists at `dest` (metadata comes later). A file seen
/// there when deciding is replaced (it was preserved); anything else that
/// is not a folder is left alone. A symlink is never taken for a folder.
pub fn folder(dest: &Path, expect: Expect) -> std::io::Result<()> {
    if let Expect::Seen(seen) = expect {
        still_seen(dest, &seen)?;
        fs::remove_file(dest)?;
    } else if matches!(expect, Expect::Anything) && fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(dest)?;
    }
    match fs::create_dir(dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match fs::symlink_metadata(dest) {
            Ok(md) if md.is_dir() => Ok(()),
            _ => Err(std::io::Error::other(APPEARED)),
        },
        // The first folder of a target: its parents may be missing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && matches!(expect, Expect::Anything) => {
            fs::create_dir_all(dest)
        }
        Err(e) => Err(e),
    }
}
