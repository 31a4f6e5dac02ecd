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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::test_fixtures::user_xattrs_supported;

    const WHEN: FileTime = FileTime { seconds: 1_600_000_000, nanos: 123_456_789 };

    fn xattr(name: &str, value: &[u8]) -> Xattr {
        Xattr { name: ByteBuf::from(name.as_bytes()), value: ByteBuf::from(value) }
    }

    /// The node the archiver would record for `path` (contents left out).
    fn node_at(path: &Path) -> Node {
        let md = std::fs::symlink_metadata(path).unwrap();
        let kind = if md.is_file() {
            NodeKind::File { size: md.len(), content: Vec::new() }
        } else if md.is_dir() {
            NodeKind::Dir { subtree: crate::Id::default() }
        } else {
            special_kind(path, &md).unwrap()
        };
        node_from_metadata(b"n", &md, kind, read_xattrs(path))
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    /// Says on stderr that an assertion needing root is skipped.
    fn skip_without_root(what: &str) {
        eprintln!("note: not root; skipping the check of {what}");
    }

    #[test]
    fn file_and_folder_metadata_round_trip_through_a_node() {
        let tmp = tempfile::tempdir().unwrap();
        let xattrs = user_xattrs_supported(tmp.path());
        for folder in [false, true] {
            let (src, dst) = (tmp.path().join(format!("src{folder}")), tmp.path().join(format!("dst{folder}")));
            for p in [&src, &dst] {
                if folder { std::fs::create_dir(p).unwrap() } else { std::fs::write(p, b"x").unwrap() }
            }
            if xattrs {
                xattr::set(&src, "user.b", b"\0\xff").unwrap();
                xattr::set(&src, "user.a", b"1").unwrap();
            }
            // With set-group-id: the bits above 0o777 are metadata too.
            std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o2751)).unwrap();
            set_mtime(&src, WHEN).unwrap();
            let mut node = node_at(&src);
            assert_eq!((node.mode, node.mtime), (0o2751, WHEN));
            if xattrs {
                assert_eq!(node.xattrs, vec![xattr("user.a", b"1"), xattr("user.b", b"\0\xff")], "sorted by name");
            }
            node.uid = 1234;
            node.gid = 5678;

            assert_eq!(apply_metadata(&dst, &node, can_chown()).unwrap(), Vec::<String>::new());
            let restored = node_at(&dst);
            assert_eq!((restored.mode, restored.mtime, &restored.xattrs), (0o2751, WHEN, &node.xattrs));
            if can_chown() {
                assert_eq!((restored.uid, restored.gid), (1234, 5678));
            } else {
                skip_without_root("ownership");
            }
        }
    }

    #[test]
    fn set_id_bits_survive_a_change_of_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("tool");
        std::fs::write(&path, b"#!/bin/sh\n").unwrap();
        let node = Node { uid: 1234, gid: 5678, mtime: WHEN, ..Node::for_test(b"tool", node_at(&path).kind, 0o6755) };
        if !can_chown() {
            skip_without_root("set-id bits after chown");
        }
        // chown clears set-id bits, so the mode must be set after it.
        apply_metadata(&path, &node, can_chown()).unwrap();
        assert_eq!(mode_of(&path), 0o6755);
    }

    #[test]
    fn symlinks_are_recorded_and_changed_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, b"t").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        if user_xattrs_supported(tmp.path()) {
            xattr::set(&target, "user.on-target", b"1").unwrap();
        }
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink("target", &link).unwrap();
        let target_before = std::fs::symlink_metadata(&target).unwrap();

        let node = node_at(&link);
        assert_eq!(node.kind, NodeKind::Symlink { target: ByteBuf::from(&b"target"[..]) });
        assert!(node.xattrs.is_empty(), "the target's xattrs are not the link's");
        let node = Node { mtime: WHEN, mode: 0o600, ..node };
        assert_eq!(apply_metadata(&link, &node, can_chown()).unwrap(), Vec::<String>::new());
        assert_eq!(node_at(&link).mtime, WHEN, "the link's own time");
        let target_after = std::fs::symlink_metadata(&target).unwrap();
        assert_eq!(target_after.mode() & 0o7777, 0o640);
        assert_eq!(target_after.modified().unwrap(), target_before.modified().unwrap());
    }

    #[test]
    fn special_files_are_made_with_their_mode_and_time() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let node = Node { mtime: WHEN, ..Node::for_test(b"fifo", NodeKind::Fifo, 0o604) };
        make_special(&fifo, &node).unwrap();
        apply_metadata(&fifo, &node, false).unwrap();
        let made = node_at(&fifo);
        assert_eq!((made.kind, made.mode, made.mtime), (NodeKind::Fifo, 0o604, WHEN));

        let file = Node::for_test(b"f", NodeKind::File { size: 0, content: Vec::new() }, 0o644);
        assert!(make_special(&tmp.path().join("f"), &file).is_err());

        // /dev/null's number: 1, 3.
        let null = std::fs::metadata("/dev/null").unwrap().rdev();
        let device = Node::for_test(b"null", NodeKind::CharDevice { rdev: null }, 0o666);
        match make_special(&tmp.path().join("null"), &device) {
            Ok(()) => assert_eq!(node_at(&tmp.path().join("null")).kind, NodeKind::CharDevice { rdev: null }),
            Err(e) if !can_chown() && e.kind() == std::io::ErrorKind::PermissionDenied => {
                skip_without_root("making a device node")
            }
            Err(e) => panic!("mknod as root: {e}"),
        }
    }

    #[test]
    fn metadata_is_refused_for_an_entry_of_another_kind() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, b"f").unwrap();
        let folder = tmp.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let (to_file, to_folder) = (tmp.path().join("to-file"), tmp.path().join("to-folder"));
        std::os::unix::fs::symlink(&file, &to_file).unwrap();
        std::os::unix::fs::symlink(&folder, &to_folder).unwrap();
        let (file_mode, folder_mode) = (mode_of(&file), mode_of(&folder));

        let as_file = Node::for_test(b"x", NodeKind::File { size: 1, content: Vec::new() }, 0o600);
        let as_folder = Node::for_test(b"x", NodeKind::Dir { subtree: crate::Id::default() }, 0o700);
        let as_fifo = Node::for_test(b"x", NodeKind::Fifo, 0o600);
        for (path, node) in [
            (&folder, &as_file),
            (&file, &as_folder),
            (&to_file, &as_file),
            (&to_folder, &as_folder),
            (&file, &as_fifo),
        ] {
            let err = apply_metadata(path, node, false).unwrap_err();
            assert!(err.to_string().contains("is no longer"), "{}: {err}", path.display());
        }
        assert_eq!((mode_of(&file), mode_of(&folder)), (file_mode, folder_mode), "nothing was changed");
    }

    #[test]
    fn an_xattr_that_cannot_be_set_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"f").unwrap();
        let mut node = node_at(&path);
        // Longer than any filesystem takes (XATTR_SIZE_MAX is 64 KiB).
        node.xattrs = vec![xattr("user.huge", &vec![b'x'; 70_000])];
        // A namespace the kernel does not know: not supported, not reported.
        node.xattrs.push(xattr("nonsense.x", b"1"));
        node.mode = 0o640;
        let problems = apply_metadata(&path, &node, false).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("user.huge"), "{problems:?}");
        assert_eq!(mode_of(&path), 0o640, "the rest was applied");
    }

    #[test]
    fn unchanged_since_compares_size_times_inode_and_device() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"four").unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        let node = node_at(&path);
        assert!(unchanged_since(&node, &md));
        let changed: [fn(&mut Node); 7] = [
            |n| n.kind = NodeKind::File { size: 5, content: Vec::new() },
            |n| n.mtime.seconds += 1,
            |n| n.mtime.nanos ^= 1,
            |n| n.ctime.seconds += 1,
            |n| n.ctime.nanos ^= 1,
            |n| n.inode += 1,
            |n| n.device += 1,
        ];
        for (i, change) in changed.iter().enumerate() {
            let mut other = node.clone();
            change(&mut other);
            assert!(!unchanged_since(&other, &md), "change {i}");
        }
        assert!(!unchanged_since(&Node { kind: NodeKind::Fifo, ..node.clone() }, &md), "not a file");
        // Replaced by a file of the same size and mtime: another inode.
        let other = tmp.path().join("g");
        std::fs::write(&other, b"FOUR").unwrap();
        set_mtime(&other, node.mtime).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(!unchanged_since(&node, &std::fs::symlink_metadata(&path).unwrap()));
    }

    #[test]
    fn identity_tells_entries_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let first = identity(&path).unwrap();
        assert_eq!(first, identity(&path).unwrap());
        assert!(!first.is_dir() && identity(tmp.path()).unwrap().is_dir());
        std::fs::write(&path, b"three").unwrap();
        assert_ne!(first, identity(&path).unwrap(), "rewritten");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(identity(&path).unwrap().is_dir());
    }
}
