//! The filesystem side of a node: reading metadata (stat, xattrs, link
//! targets) into a `Node`, deciding whether a file is unchanged since its
//! parent node, and applying stored metadata when restoring.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, StatxFlags, Timestamps};
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

/// What a restore saw of an entry it is about to replace or remove: checked
/// again just before, so that an entry changed or swapped in the meantime
/// (by an agent still running) is left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// The `S_IFMT` bits.
    kind: u32,
}

impl Identity {
    pub fn of(md: &Metadata) -> Identity {
        Identity {
            dev: md.dev(),
            ino: md.ino(),
            size: md.len(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
            kind: md.mode() & S_IFMT,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileType::Directory.as_raw_mode()
    }

    /// The same entry, as far as anything but its ctime shows. For a hard
    /// link whose other name the restore itself has just replaced: that
    /// rename lowered the shared inode's link count, which moved its ctime.
    pub fn same_except_ctime(&self, other: &Identity) -> bool {
        Identity { ctime: other.ctime, ..*self } == *other
    }

    /// Whether both are the same inode.
    pub fn same_inode(&self, other: &Identity) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

const S_IFMT: u32 = 0o170000;

/// The identity of the entry at `path` now (not following a symlink).
pub fn identity(path: &Path) -> std::io::Result<Identity> {
    std::fs::symlink_metadata(path).map(|md| Identity::of(&md))
}

/// When the entry at `path` (not following a symlink) came into being, in
/// seconds: its birth time, or its ctime where the filesystem records none.
pub fn birth_time(path: &Path) -> std::io::Result<i64> {
    let st = rustix::fs::statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BTIME | StatxFlags::CTIME)?;
    if st.stx_mask & StatxFlags::BTIME.bits() != 0 { Ok(st.stx_btime.tv_sec) } else { Ok(st.stx_ctime.tv_sec) }
}

/// Applies ownership (as root), xattrs, mode (not for symlinks) and mtime, in
/// that order: chown clears set-id bits, a read-only mode could forbid
/// setting xattrs, and mtime must come last. Never follows a symlink: a
/// folder or file is opened with `O_NOFOLLOW` and changed through that
/// descriptor, and an entry that is not of the node's kind (say a symlink
/// now where a folder was created) is refused. Returns the xattrs that could
/// not be set (other than for lack of support or permission, which are
/// ignored: not every filesystem takes every namespace).
pub fn apply_metadata(path: &Path, node: &Node, chown: bool) -> std::io::Result<Vec<String>> {
    let flags = match node.kind {
        NodeKind::Dir { .. } => OFlags::DIRECTORY,
        NodeKind::File { .. } => OFlags::NONBLOCK,
        _ => return apply_by_path(path, node, chown),
    };
    match rustix::fs::open(path, flags | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => apply_metadata_to(&std::fs::File::from(fd), node, chown),
        // A folder we may not read (mode 0300, say): by path, after a check.
        Err(rustix::io::Errno::ACCESS) => apply_by_path(path, node, chown),
        Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => Err(not_kind(node)),
        Err(e) => Err(e.into()),
    }
}

fn not_kind(node: &Node) -> std::io::Error {
    let what = match node.kind {
        NodeKind::Dir { .. } => "a folder",
        NodeKind::File { .. } => "a regular file",
        NodeKind::Symlink { .. } => "a symlink",
        _ => "the special file restored",
    };
    std::io::Error::other(format!("is no longer {what} (something else is there now); its metadata was not applied"))
}

fn kind_matches(node: &Node, ft: FileType) -> bool {
    match node.kind {
        NodeKind::Dir { .. } => ft == FileType::Directory,
        NodeKind::File { .. } => ft == FileType::RegularFile,
        NodeKind::Symlink { .. } => ft == FileType::Symlink,
        NodeKind::Fifo => ft == FileType::Fifo,
        NodeKind::Socket => ft == FileType::Socket,
        NodeKind::CharDevice { .. } => ft == FileType::CharacterDevice,
        NodeKind::BlockDevice { .. } => ft == FileType::BlockDevice,
    }
}

/// [`apply_metadata`] on an open file or folder (the descriptor pins the
/// very entry, so nothing can be swapped in between).
pub fn apply_metadata_to(file: &std::fs::File, node: &Node, chown: bool) -> std::io::Result<Vec<String>> {
    let st = rustix::fs::fstat(file)?;
    if !kind_matches(node, FileType::from_raw_mode(st.st_mode)) {
        return Err(not_kind(node));
    }
    if chown {
        rustix::fs::fchown(file, Some(rustix::fs::Uid::from_raw(node.uid)), Some(rustix::fs::Gid::from_raw(node.gid)))?;
    }
    let set = |x: &Xattr| xattr::FileExt::set_xattr(file, OsStr::from_bytes(&x.name), &x.value);
    remove_extra_user_xattrs(file, node);
    let retry = set_xattrs(node, &set);
    rustix::fs::fchmod(file, Mode::from_raw_mode(node.mode & 0o7777))?;
    let problems = retry_xattrs(retry, &set);
    rustix::fs::futimens(file, &timestamps(node.mtime))?;
    Ok(problems)
}

/// Symlinks, special files (created by the restore itself), and folders we
/// may not open: by path, never following a symlink at `path` itself.
fn apply_by_path(path: &Path, node: &Node, chown: bool) -> std::io::Result<Vec<String>> {
    let md = std::fs::symlink_metadata(path)?;
    if !kind_matches(node, FileType::from_raw_mode(md.mode())) {
        return Err(not_kind(node));
    }
    if chown {
        rustix::fs::chownat(
            CWD,
            path,
            Some(rustix::fs::Uid::from_raw(node.uid)),
            Some(rustix::fs::Gid::from_raw(node.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    // `xattr::set` does not follow symlinks.
    let set = |x: &Xattr| xattr::set(path, OsStr::from_bytes(&x.name), &x.value);
    let retry = set_xattrs(node, &set);
    let mut problems = Vec::new();
    if !matches!(node.kind, NodeKind::Symlink { .. }) {
        // Checked above to be no symlink; chmod cannot be told not to follow.
        rustix::fs::chmodat(CWD, path, Mode::from_raw_mode(node.mode & 0o7777), AtFlags::empty())?;
        problems = retry_xattrs(retry, &set);
    } else {
        problems.extend(retry.iter().map(|(x, e)| xattr_problem(x, e)));
    }
    set_mtime(path, node.mtime)?;
    Ok(problems)
}

/// Sets each xattr; returns those that failed for a reason worth reporting
/// (lack of support or of privilege is not), with the error.
fn set_xattrs<'a>(node: &'a Node, set: &dyn Fn(&Xattr) -> std::io::Result<()>) -> Vec<(&'a Xattr, std::io::Error)> {
    node.xattrs
        .iter()
        .filter_map(|x| set(x).err().map(|e| (x, e)))
        .filter(|(_, e)| {
            !matches!(rustix::io::Errno::from_io_error(e), Some(rustix::io::Errno::NOTSUP | rustix::io::Errno::PERM))
        })
        .collect()
}

/// Removes `user.*` xattrs the node does not have: a folder restored in
/// place keeps the entry (and so its xattrs) it has now, and must end up
/// with the snapshot's. Other namespaces (security labels, ACLs) belong to
/// the system more than to the user, and are left alone. Best effort: what
/// cannot be listed or removed stays, and shows in the next diff.
fn remove_extra_user_xattrs(file: &std::fs::File, node: &Node) {
    let Ok(names) = xattr::FileExt::list_xattr(file) else { return };
    for name in names {
        let extra =
            name.as_bytes().starts_with(b"user.") && !node.xattrs.iter().any(|x| x.name.as_slice() == name.as_bytes());
        if extra {
            let _ = xattr::FileExt::remove_xattr(file, &name);
        }
    }
}

/// Tries the xattrs refused for lack of permission again once the mode is
/// set (a folder that was read-only before may be writable now); returns
/// what still fails.
fn retry_xattrs(failed: Vec<(&Xattr, std::io::Error)>, set: &dyn Fn(&Xattr) -> std::io::Result<()>) -> Vec<String> {
    failed
        .into_iter()
        .filter_map(|(x, e)| {
            if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::ACCESS) {
                set(x).err().map(|e| (x, e))
            } else {
                Some((x, e))
            }
        })
        .map(|(x, e)| xattr_problem(x, &e))
        .collect()
}

fn xattr_problem(x: &Xattr, e: &std::io::Error) -> String {
    format!("extended attribute {} could not be set: {e}", String::from_utf8_lossy(&x.name))
}

fn timestamps(mtime: FileTime) -> Timestamps {
    let ts = rustix::fs::Timespec { tv_sec: mtime.seconds, tv_nsec: i64::from(mtime.nanos) as _ };
    Timestamps { last_access: ts, last_modification: ts }
}

pub fn set_mtime(path: &Path, mtime: FileTime) -> std::io::Result<()> {
    rustix::fs::utimensat(CWD, path, &timestamps(mtime), AtFlags::SYMLINK_NOFOLLOW).map_err(std::io::Error::from)
}
