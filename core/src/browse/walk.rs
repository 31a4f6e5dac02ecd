//! Reading snapshots by path, shared by `ls`, `find` and `history`: a
//! depth-first walk of a subtree and a compact key of a node's contents.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::format::{Node, NodeKind};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::tree::name_to_path;

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

/// A key that is equal for two nodes exactly when their kinds are equal
/// (`NodeKind`'s `==`, the one definition of "same contents"): a file's size
/// and chunk list, a folder's tree id, a link's target, a device's number.
/// Metadata (mode, times, owner) is left out.
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
            // Any difference of type or contents: different keys; equal
            // keys exactly when the kinds are equal.
            for b in &kinds[i + 1..] {
                assert_ne!(content_key(a), content_key(b), "{a:?} and {b:?}");
            }
            for b in &kinds {
                assert_eq!(content_key(a) == content_key(b), a == b, "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn keys_of_live_files_follow_their_bytes_not_their_metadata() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let repo = crate::test_fixtures::repo(tmp.path());
        let xattrs = crate::test_fixtures::user_xattrs_supported(tmp.path());
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
