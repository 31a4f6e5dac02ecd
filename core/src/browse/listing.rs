//! `ls`: the entries of a snapshot at a path, one level or the whole
//! subtree, and the ways a node is shown (type, `ls -l` mode string, octal
//! mode, size, mtime).

use std::path::{Path, PathBuf};

use crate::browse::walk;
use crate::error::Result;
use crate::format::{FileTime, Node, NodeKind, Snapshot, Timestamp};
use crate::repo::Repository;
use crate::snapshot::tree::lookup;

/// Calls `visit` for what `ls` shows, in order:
/// - no `path`: each of the snapshot's paths, and with `recursive`
///   everything below them;
/// - a folder (`/` included): its entries, or with `recursive` every entry
///   below it (the folder itself is not shown);
/// - anything else: that one entry.
///
/// A `path` the snapshot does not hold is `Error::PathNotInSnapshot`
/// (`browse::hints::closest_paths` names the nearest ones).
pub fn list(
    repo: &Repository,
    snapshot: &Snapshot,
    path: Option<&Path>,
    recursive: bool,
    visit: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Some(path) = path else {
        for sp in &snapshot.paths {
            let sp = PathBuf::from(std::ffi::OsStr::from_bytes(sp));
            match lookup(repo, &snapshot.tree, &sp)? {
                // `/` itself was the snapshot path: show its entries.
                None => walk::walk(repo, &snapshot.tree, &sp, recursive, visit)?,
                Some(node) => {
                    visit(&sp, &node)?;
                    if let (true, NodeKind::Dir { subtree }) = (recursive, &node.kind) {
                        walk::walk(repo, subtree, &sp, true, visit)?;
                    }
                }
            }
        }
        return Ok(());
    };
    match lookup(repo, &snapshot.tree, path)? {
        None => walk::walk(repo, &snapshot.tree, path, recursive, visit),
        Some(Node { kind: NodeKind::Dir { subtree }, .. }) => walk::walk(repo, &subtree, path, recursive, visit),
        Some(node) => visit(path, &node),
    }
}

/// The type as `ls` JSON names it: file, dir, symlink, fifo, socket,
/// chardev, blockdev.
pub fn type_name(node: &Node) -> &'static str {
    crate::browse::diff::type_name(node)
}

/// Bytes of a file; 0 for anything else.
pub fn size(node: &Node) -> u64 {
    crate::browse::diff::size_of(node)
}

/// `-rw-r--r--`, `drwxr-xr-x`, `lrwxrwxrwx`, with s/S and t/T for the
/// set-id and sticky bits, as `ls -l` prints them.
pub fn mode_string(node: &Node) -> String {
    let kind = match node.kind {
        NodeKind::File { .. } => '-',
        NodeKind::Dir { .. } => 'd',
        NodeKind::Symlink { .. } => 'l',
        NodeKind::Fifo => 'p',
        NodeKind::Socket => 's',
        NodeKind::CharDevice { .. } => 'c',
        NodeKind::BlockDevice { .. } => 'b',
    };
    let m = node.mode;
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let exec = |x: u32, special: u32, set: char| match (m & x != 0, m & special != 0) {
        (true, true) => set,
        (false, true) => set.to_ascii_uppercase(),
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't'),
    ]
    .iter()
    .collect()
}

/// The permission bits in octal, at least four digits: `0644`, `4755`.
pub fn octal_mode(node: &Node) -> String {
    format!("{:04o}", node.mode & 0o7777)
}

/// The modification time as a UTC timestamp (for `timefmt`).
pub fn mtime(node: &Node) -> Timestamp {
    let FileTime { seconds, nanos } = node.mtime;
    Timestamp { unix_seconds: seconds, nanos, offset_seconds: 0 }
}

/// A symlink's target, lossily as text.
pub fn link_target(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Symlink { target } => Some(String::from_utf8_lossy(target).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::ByteBuf;

    fn node(kind: NodeKind, mode: u32) -> Node {
        Node { mtime: FileTime { seconds: 1_748_736_000, nanos: 5 }, ..Node::for_test(b"x", kind, mode) }
    }

    #[test]
    fn modes_as_ls_prints_them() {
        let file = NodeKind::File { size: 0, content: Vec::new() };
        assert_eq!(mode_string(&node(file.clone(), 0o644)), "-rw-r--r--");
        assert_eq!(mode_string(&node(file.clone(), 0o4755)), "-rwsr-xr-x");
        assert_eq!(mode_string(&node(file.clone(), 0o2644)), "-rw-r-Sr--");
        assert_eq!(mode_string(&node(NodeKind::Dir { subtree: crate::Id([0; 32]) }, 0o1777)), "drwxrwxrwt");
        assert_eq!(mode_string(&node(NodeKind::Symlink { target: ByteBuf::new() }, 0o777)), "lrwxrwxrwx");
        assert_eq!(mode_string(&node(NodeKind::Fifo, 0o600)), "prw-------");
        assert_eq!(octal_mode(&node(file.clone(), 0o644)), "0644");
        assert_eq!(octal_mode(&node(file, 0o4755)), "4755");
        assert_eq!(
            crate::snapshot::timefmt::rfc3339(&mtime(&node(NodeKind::Fifo, 0))),
            "2025-06-01T00:00:00.000000005+00:00"
        );
    }
}
