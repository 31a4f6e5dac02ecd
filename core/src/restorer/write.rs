//! Writing restored entries: file contents chunk by chunk (all-zero chunks
//! as holes) into a temporary name beside the destination, then metadata,
//! then the rename into place; symlinks, special files and hard links.
//! A file that fails is removed, never left half-written under its name.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::crypto::random_bytes;
use crate::error::{Error, IoContext, Result};
use crate::format::{Node, NodeKind};
use crate::fsmeta;
use crate::repo::Repository;
use crate::tree::name_to_path;

/// A temporary name in the same folder as `dest`.
fn temp_beside(dest: &Path) -> Result<PathBuf> {
    let suffix: [u8; 8] = random_bytes()?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    Ok(dir.join(format!(".cairn-restore-{:016x}", u64::from_le_bytes(suffix))))
}

/// Writes a regular file with its metadata at `dest`, replacing whatever
/// non-folder entry is there. Returns the bytes written.
pub fn file(repo: &Repository, dest: &Path, node: &Node, chown: bool) -> Result<u64> {
    let temp = temp_beside(dest)?;
    let result = write_contents(repo, &temp, node)
        .and_then(|n| fsmeta::apply_metadata(&temp, node, chown).at(&temp).map(|()| n))
        .and_then(|n| fs::rename(&temp, dest).at(dest).map(|()| n));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_contents(repo: &Repository, path: &Path, node: &Node) -> Result<u64> {
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
    for id in content {
        let data = repo.load_blob(id).map_err(|e| Error::corrupt(format!("chunk {}", id.short()), e))?;
        if data.iter().all(|b| *b == 0) {
            out.seek(SeekFrom::Current(data.len() as i64)).at(path)?;
            hole_at_end = true;
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
    Ok(offset)
}

/// Creates a symlink, fifo, socket or device node at `dest` (replacing a
/// non-folder entry) with its metadata.
pub fn other(dest: &Path, node: &Node, chown: bool) -> std::io::Result<()> {
    remove_non_folder(dest)?;
    match &node.kind {
        NodeKind::Symlink { target } => std::os::unix::fs::symlink(name_to_path(target), dest)?,
        _ => fsmeta::make_special(dest, node)?,
    }
    fsmeta::apply_metadata(dest, node, chown)
}

/// Links `dest` to an already restored `leader` (hard links).
pub fn hard_link(leader: &Path, dest: &Path) -> std::io::Result<()> {
    remove_non_folder(dest)?;
    fs::hard_link(leader, dest)
}

/// Makes sure a folder exists at `dest` (metadata comes later).
pub fn folder(dest: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(dest) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(dest)?;
            fs::create_dir(dest)
        }
        Err(_) => fs::create_dir_all(dest),
    }
}

/// Removes a file, symlink or special file in the way; refuses a folder.
pub fn remove_non_folder(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => Err(std::io::Error::other("a folder is in the way")),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}
