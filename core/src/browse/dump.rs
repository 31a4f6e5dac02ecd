//! `dump`: one stored file's bytes, written blob by blob as they are
//! loaded, so a file of any size streams in the memory of one blob.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::{Node, NodeKind, Snapshot};
use crate::repo::Repository;
use crate::snapshot::tree::lookup;

/// What lies at a path of a snapshot, for `dump`.
pub enum Found {
    /// A regular file, to pass to [`write_file`].
    File(Node),
    /// Anything else: its type as `ls` names it (`dir`, `symlink`…).
    Other(&'static str),
}

/// The entry at `path` (absolute) in `snapshot`; `/` itself is a folder.
/// A path the snapshot does not hold is `Error::PathNotInSnapshot`.
pub fn find(repo: &Repository, snapshot: &Snapshot, path: &Path) -> Result<Found> {
    Ok(match lookup(repo, &snapshot.tree, path)? {
        None => Found::Other("dir"),
        Some(node) if matches!(node.kind, NodeKind::File { .. }) => Found::File(node),
        Some(node) => Found::Other(crate::browse::listing::type_name(&node)),
    })
}

/// Writes a stored file's bytes to `out` and returns how many were
/// written. Each blob is verified (keyed id) as it is loaded; a blob that
/// cannot be loaded stops the dump with its error, after the bytes before
/// it. `out` errors (a closed pipe) come back as `Error::Io` on "output".
pub fn write_file(repo: &Repository, node: &Node, out: &mut dyn Write) -> Result<u64> {
    let NodeKind::File { size, content } = &node.kind else {
        return Err(Error::InvalidArgument("not a regular file".into()));
    };
    let mut written = 0u64;
    for id in content {
        let blob = repo.load_blob(id)?;
        out.write_all(&blob).map_err(|e| Error::io("output", e))?;
        written += blob.len() as u64;
    }
    out.flush().map_err(|e| Error::io("output", e))?;
    if written != *size {
        // The tree's size and its blobs disagree: say so rather than let a
        // truncated or padded file pass as whole.
        return Err(Error::corrupt(
            "tree",
            format!("the file's blobs hold {written} bytes, its recorded size is {size}"),
        ));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlobKind;
    use crate::test_fixtures::{dir, encrypted_repo, file, snapshot, tree};

    #[test]
    fn a_file_streams_whole_blob_by_blob_and_other_types_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = encrypted_repo(tmp.path(), b"pw");
        let saver = repo.saver();
        let parts = [vec![1u8; 1000], vec![2u8; 10]];
        let content = parts.iter().map(|p| saver.save(BlobKind::Data, p).unwrap()).collect();
        saver.finish().unwrap();
        let big = Node::for_test(b"big", NodeKind::File { size: 1010, content }, 0o644);
        let link = Node::for_test(b"link", NodeKind::Symlink { target: b"big".to_vec().into() }, 0o777);
        let small = file(&repo, "small", "hello\n");
        let root = tree(&repo, vec![dir(&repo, "p", vec![big, link, small])]);
        let snap = snapshot(0, &["/p"], root);

        let Found::File(node) = find(&repo, &snap, Path::new("/p/big")).unwrap() else { panic!("a file") };
        let mut out = Vec::new();
        assert_eq!(write_file(&repo, &node, &mut out).unwrap(), 1010);
        assert_eq!(out, [parts[0].clone(), parts[1].clone()].concat());
        assert!(matches!(find(&repo, &snap, Path::new("/p/link")).unwrap(), Found::Other("symlink")));
        assert!(matches!(find(&repo, &snap, Path::new("/p")).unwrap(), Found::Other("dir")));
        assert!(matches!(find(&repo, &snap, Path::new("/")).unwrap(), Found::Other("dir")));
        assert!(matches!(find(&repo, &snap, Path::new("/p/none")), Err(Error::PathNotInSnapshot(_))));

        // A size that disagrees with the blobs is damage, not a whole file.
        let NodeKind::File { content, .. } = node.kind else { unreachable!() };
        let lying = Node::for_test(b"big", NodeKind::File { size: 2000, content }, 0o644);
        assert!(matches!(write_file(&repo, &lying, &mut Vec::new()), Err(Error::Corrupt { .. })));
    }
}
