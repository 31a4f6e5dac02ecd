//! The filesystem side of a node: reading metadata (stat, xattrs, link
//! targets) into a `Node`, deciding whether a file is unchanged since its
//! parent node, and applying stored metadata when restoring.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timestamps};
use serde_bytes::ByteBuf;

use crate::format::{FileTime, Node, NodeKind, Xattr};

/// The metadata part of a node; `kind` is filled in by the caller.
pub fn node_from_metadata(name: &[u8], md: &Metadata, kind: NodeKind, xattrs: Vec<Xattr>) -> Node {
    Node {
        name: ByteBuf::from(name.to_vec()),
        kind,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime: FileTime { seconds: md.mtime(), nanos: md.mtime_nsec().clamp(0, 999_999_999) as u32 },
        ctime: FileTime { seconds: md.ctime(), nanos: md.ctime_nsec().clamp(0, 999_999_999) as u32 },
        inode: md.ino(),
        device: md.dev(),
        nlink: md.nlink(),
        xattrs,
    }
}

/// The node kind of a non-regular, non-directory entry.
pub fn special_kind(path: &Path, md: &Metadata) -> std::io::Result<NodeKind> {
    let ft = md.file_type();
    Ok(if ft.is_symlink() {
        NodeKind::Symlink { target: ByteBuf::from(std::fs::read_link(path)?.as_os_str().as_bytes().to_vec()) }
    } else if ft.is_fifo() {
        NodeKind::Fifo
    } else if ft.is_socket() {
        NodeKind::Socket
    } else if ft.is_char_device() {
        NodeKind::CharDevice { rdev: md.rdev() }
    } else {
        NodeKind::BlockDevice { rdev: md.rdev() }
    })
}

/// Extended attributes of an entry (not following symlinks). Filesystems
/// without xattr support simply yield none.
pub fn read_xattrs(path: &Path) -> Vec<Xattr> {
    let Ok(names) = xattr::list(path) else {
        return Vec::new();
    };
    let mut out: Vec<Xattr> = names
        .filter_map(|name| {
            let value = xattr::get(path, &name).ok()??;
            Some(Xattr { name: ByteBuf::from(name.as_bytes().to_vec()), value: ByteBuf::from(value) })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// True when a file's stat matches the node recorded for it: same size,
/// mtime, ctime, inode and device. Then its contents need not be read.
pub fn unchanged_since(node: &Node, md: &Metadata) -> bool {
    let NodeKind::File { size, .. } = &node.kind else {
        return false;
    };
    *size == md.len()
        && node.mtime.seconds == md.mtime()
        && i64::from(node.mtime.nanos) == md.mtime_nsec()
        && node.ctime.seconds == md.ctime()
        && i64::from(node.ctime.nanos) == md.ctime_nsec()
        && node.inode == md.ino()
        && node.device == md.dev()
}

/// Creates a fifo, socket placeholder or device node.
pub fn make_special(path: &Path, node: &Node) -> std::io::Result<()> {
    let mode = Mode::from_raw_mode(node.mode & 0o7777);
    let (ft, dev) = match &node.kind {
        NodeKind::Fifo => (FileType::Fifo, 0),
        NodeKind::Socket => (FileType::Socket, 0),
        NodeKind::CharDevice { rdev } => (FileType::CharacterDevice, *rdev),
        NodeKind::BlockDevice { rdev } => (FileType::BlockDevice, *rdev),
        _ => return Err(std::io::Error::other("not a special file")),
    };
    rustix::fs::mknodat(CWD, path, ft, mode, dev).map_err(std::io::Error::from)
}

/// Whether this process may set ownership (it runs as root).
pub fn can_chown() -> bool {
    rustix::process::geteuid().is_root()
}

/// Applies ownership (as root), mode (not for symlinks), xattrs and mtime,
/// in that order (chown clears set-id bits; mtime must come last).
pub fn apply_metadata(path: &Path, node: &Node, chown: bool) -> std::io::Result<()> {
    let is_link = matches!(node.kind, NodeKind::Symlink { .. });
    if chown {
        rustix::fs::chownat(
            CWD,
            path,
            Some(rustix::fs::Uid::from_raw(node.uid)),
            Some(rustix::fs::Gid::from_raw(node.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    if !is_link {
        rustix::fs::chmodat(CWD, path, Mode::from_raw_mode(node.mode & 0o7777), AtFlags::empty())?;
    }
    for x in &node.xattrs {
        // Not every filesystem takes every namespace (trusted.*, security.*):
        // a failure here must not fail the restore of the contents.
        let _ = xattr::set(path, OsStr::from_bytes(&x.name), &x.value);
    }
    set_mtime(path, node.mtime)
}

pub fn set_mtime(path: &Path, mtime: FileTime) -> std::io::Result<()> {
    let ts = rustix::fs::Timespec { tv_sec: mtime.seconds, tv_nsec: i64::from(mtime.nanos) as _ };
    let times = Timestamps { last_access: ts, last_modification: ts };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(std::io::Error::from)
}
