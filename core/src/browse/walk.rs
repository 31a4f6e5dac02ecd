//! Reading snapshots by path, shared by `ls`, `find` and `history`: a
//! depth-first walk of a subtree and a compact key of a node's contents.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::format::{Node, NodeKind};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::tree::name_to_path;

// Former homes of these, kept so that callers need not change.
pub use crate::browse::hints::closest_paths;
pub use crate::fs::path::absolute;
pub use crate::snapshot::select::{covers, snapshots_matching};

/// Calls `visit` for each entry below the folder `tree` (found at `dir`),
/// depth first, in name order, a folder before its contents; with
/// `recursive` false only for the folder's own entries. The stack is
/// explicit, so a deeply nested tree cannot overflow the call stack.
pub fn walk(
    repo: &Repository,
    tree: &Id,
    dir: &Path,
    recursive: bool,
    visit: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    let mut stack: Vec<(PathBuf, std::vec::IntoIter<Node>)> =
        vec![(dir.to_path_buf(), repo.load_tree(tree)?.nodes.into_iter())];
    while let Some((dir, nodes)) = stack.last_mut() {
        let Some(node) = nodes.next() else {
            stack.pop();
            continue;
        };
        let path = dir.join(name_to_path(&node.name));
        visit(&path, &node)?;
        if recursive && let NodeKind::Dir { subtree } = &node.kind {
            let children = repo.load_tree(subtree)?.nodes.into_iter();
            stack.push((path, children));
        }
    }
    Ok(())
}

/// A key that is equal for two nodes exactly when their type and contents
/// are: a file's chunk list, a folder's tree id, a link's target, a
/// device's number. Metadata (mode, times, owner) is left out.
pub fn content_key(kind: &NodeKind) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    match kind {
        NodeKind::File { size, content } => {
            h.update(b"f");
            h.update(&size.to_le_bytes());
            for id in content {
                h.update(&id.0);
            }
        }
        NodeKind::Dir { subtree } => {
            h.update(b"d");
            h.update(&subtree.0);
        }
        NodeKind::Symlink { target } => {
            h.update(b"l");
            h.update(target);
        }
        NodeKind::Fifo => {
            h.update(b"p");
        }
        NodeKind::Socket => {
            h.update(b"s");
        }
        NodeKind::CharDevice { rdev } => {
            h.update(b"c");
            h.update(&rdev.to_le_bytes());
        }
        NodeKind::BlockDevice { rdev } => {
            h.update(b"b");
            h.update(&rdev.to_le_bytes());
        }
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metadata field of `node` changed, its kind kept.
    fn other_metadata(node: &Node) -> Node {
        use crate::format::{FileTime, Xattr};
        let xattr = Xattr { name: b"user.note"[..].to_vec().into(), value: b"v"[..].to_vec().into() };
        Node {
            mode: node.mode ^ 0o4077,
            uid: node.uid + 1000,
            gid: node.gid + 1000,
            mtime: FileTime { seconds: node.mtime.seconds + 60, nanos: 5 },
            ctime: FileTime { seconds: node.ctime.seconds + 60, nanos: 6 },
            inode: node.inode + 1,
            device: node.device + 1,
            nlink: node.nlink + 1,
            xattrs: vec![xattr],
            ..node.clone()
        }
    }

    #[test]
    fn keys_ignore_metadata_only() {
        let id = |n: u8| Id([n; 32]);
        let file = |size, ids: &[u8]| NodeKind::File { size, content: ids.iter().map(|&n| id(n)).collect() };
        let kinds = [
            file(0, &[]),
            file(3, &[1]),
            file(3, &[2]),
            file(4, &[1]),
            file(6, &[1, 2]),
            file(6, &[2, 1]),
            NodeKind::Dir { subtree: id(1) },
            NodeKind::Dir { subtree: id(2) },
            NodeKind::Symlink { target: b"a"[..].to_vec().into() },
            NodeKind::Symlink { target: b"b"[..].to_vec().into() },
            NodeKind::Fifo,
            NodeKind::Socket,
            NodeKind::CharDevice { rdev: 1 },
            NodeKind::CharDevice { rdev: 2 },
            NodeKind::BlockDevice { rdev: 1 },
        ];
        for (i, a) in kinds.iter().enumerate() {
            // The same contents with every piece of metadata different: equal keys.
            let node = Node::for_test(b"x", a.clone(), 0o644);
            let changed = other_metadata(&node);
            assert_ne!(node, changed);
            assert_eq!(content_key(&node.kind), content_key(&changed.kind), "{a:?}");
            // Any difference of type or contents: different keys.
            for b in &kinds[i + 1..] {
                assert_ne!(content_key(a), content_key(b), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn keys_of_live_files_follow_their_bytes_not_their_metadata() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let repo = fixtures::repo(tmp.path());
        let xattrs = fixtures::user_xattrs_supported(tmp.path());
        // Nodes made as the archiver makes them, from files on disk.
        let live = |name: &str, text: &str, mode: u32, mtime: i64| {
            let path = tmp.path().join(name);
            std::fs::write(&path, text).unwrap();
            if mode != 0o644 && xattrs {
                xattr::set(&path, "user.note", b"x").unwrap();
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            crate::fs::fsmeta::set_mtime(&path, crate::format::FileTime { seconds: mtime, nanos: 0 }).unwrap();
            let md = std::fs::symlink_metadata(&path).unwrap();
            let kind = NodeKind::File { size: md.len(), content: crate::archiver::content_ids(&repo, &path).unwrap() };
            crate::fs::fsmeta::node_from_metadata(name.as_bytes(), &md, kind, crate::fs::fsmeta::read_xattrs(&path))
        };
        let a = live("a", "same bytes", 0o644, 1_000);
        let b = live("b", "same bytes", 0o600, 2_000);
        let c = live("c", "SAME BYTES", 0o644, 1_000);
        assert!(a.mode != b.mode && a.mtime != b.mtime && a.inode != b.inode);
        assert!(a.xattrs != b.xattrs || !xattrs);
        assert_eq!(content_key(&a.kind), content_key(&b.kind));
        assert_ne!(content_key(&a.kind), content_key(&c.kind), "same size and metadata, other bytes");
    }
}

/// Small repositories built by hand for the time-travel modules' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::Path;

    use serde_bytes::ByteBuf;

    use crate::backend::FileKind;
    use crate::format::{BlobKind, FORMAT_VERSION, Node, NodeKind, RepoParams, Snapshot, Timestamp, Tree};
    use crate::id::Id;
    use crate::repo::{InitOptions, Repository};
    use crate::snapshot::snapshots::SnapshotEntry;

    /// An unencrypted repository in `dir/repo`.
    pub fn repo(dir: &Path) -> Repository {
        Repository::init(&dir.join("repo"), &init_options(None)).unwrap()
    }

    /// An encrypted repository in `dir/repo`, its key derivation cheap.
    pub fn encrypted_repo(dir: &Path, password: &[u8]) -> Repository {
        Repository::init(&dir.join("repo"), &init_options(Some(password))).unwrap()
    }

    pub fn init_options(password: Option<&[u8]>) -> InitOptions<'_> {
        InitOptions {
            password,
            kdf: crate::format::crypto::KdfParams::INSECURE_FOR_TESTS,
            params: RepoParams::DEFAULT,
            host: "h".into(),
            user: "u".into(),
        }
    }

    fn node(name: &str, kind: NodeKind) -> Node {
        Node::for_test(name.as_bytes(), kind, 0o644)
    }

    /// A file node holding `text`, its one chunk stored.
    pub fn file(repo: &Repository, name: &str, text: &str) -> Node {
        let saver = repo.saver();
        let content =
            if text.is_empty() { Vec::new() } else { vec![saver.save(BlobKind::Data, text.as_bytes()).unwrap()] };
        saver.finish().unwrap();
        node(name, NodeKind::File { size: text.len() as u64, content })
    }

    /// Stores a tree of `nodes` (sorted here) and returns its id.
    pub fn tree(repo: &Repository, mut nodes: Vec<Node>) -> Id {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let saver = repo.saver();
        let id = saver.save_tree(&Tree { version: FORMAT_VERSION, nodes }).unwrap();
        saver.finish().unwrap();
        id
    }

    pub fn dir(repo: &Repository, name: &str, nodes: Vec<Node>) -> Node {
        node(name, NodeKind::Dir { subtree: tree(repo, nodes) })
    }

    /// A snapshot of `paths` at hour `hour` (host `h`, no tags), not stored.
    pub fn snapshot(hour: i64, paths: &[&str], root: Id) -> Snapshot {
        Snapshot {
            version: FORMAT_VERSION,
            time: Timestamp { unix_seconds: 1_748_736_000 + hour * 3600, nanos: 0, offset_seconds: 0 },
            host: "h".into(),
            user: "u".into(),
            paths: paths.iter().map(|p| ByteBuf::from(p.as_bytes().to_vec())).collect(),
            tags: Vec::new(),
            tree: root,
            parent: None,
            summary: Default::default(),
            program_version: String::new(),
        }
    }

    /// A snapshot of `paths` at hour `hour`, with a made-up id.
    pub fn entry(hour: i64, paths: &[&str], root: Id) -> SnapshotEntry {
        SnapshotEntry { id: Id([hour as u8 + 1; 32]), snapshot: snapshot(hour, paths, root) }
    }

    /// Stores `snapshot` in the repository and returns it with its id.
    pub fn store(repo: &Repository, snapshot: Snapshot) -> SnapshotEntry {
        SnapshotEntry { id: repo.save_snapshot(&snapshot).unwrap(), snapshot }
    }

    /// The one file of `kind` in the repository (there must be exactly one).
    pub fn only_file(repo: &Repository, kind: FileKind) -> Id {
        let files = repo.backend().list(kind).unwrap();
        assert_eq!(files.len(), 1, "{kind:?} files: {files:?}");
        files[0].0
    }

    /// Whether the filesystem of `dir` takes `user.` extended attributes;
    /// when not, says so on stderr (the caller skips what needs them).
    pub fn user_xattrs_supported(dir: &Path) -> bool {
        let probe = dir.join(".xattr-probe");
        std::fs::write(&probe, b"").unwrap();
        let result = xattr::set(&probe, "user.probe", b"1");
        std::fs::remove_file(&probe).unwrap();
        match result {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error()) => {
                eprintln!("note: {} takes no user xattrs; skipping the xattr assertions", dir.display());
                false
            }
            Err(e) => panic!("setting an xattr in {}: {e}", dir.display()),
        }
    }

    /// Damages a file in place: flips the bits of the byte `from_end`
    /// bytes before its end (0: the last byte).
    pub fn flip_byte(path: &Path, from_end: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.len() - 1 - from_end;
        bytes[at] ^= 0xff;
        std::fs::write(path, bytes).unwrap();
    }
}
