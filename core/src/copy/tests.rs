//! Unit tests of `copy`: both kinds of copy give trees that read back the
//! same files, nothing is copied twice, and a copy of a v1 snapshot keeps
//! "no recipe".

use super::*;
use crate::format::{Node, NodeKind};
use crate::repo::Repository;
use crate::test_fixtures::{dir, file, snapshot, store, tree};

fn repo_in(dir: &std::path::Path, name: &str, params: crate::format::RepoParams) -> Repository {
    let opts = crate::repo::InitOptions { params, ..crate::test_fixtures::init_options(Some(b"pw")) };
    Repository::init(&dir.join(name), &opts).unwrap()
}

/// Every file below `root` as (path, contents), read through `repo`.
fn files(repo: &Repository, root: &Id) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), *root)];
    while let Some((prefix, id)) = stack.pop() {
        for node in repo.load_tree(&id).unwrap().nodes {
            let name = format!("{prefix}/{}", String::from_utf8_lossy(&node.name));
            match node.kind {
                NodeKind::File { content, .. } => {
                    let bytes = content.iter().flat_map(|c| repo.load_blob(c).unwrap()).collect();
                    out.push((name, bytes));
                }
                NodeKind::Dir { subtree } => stack.push((name, subtree)),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

fn sample(src: &Repository) -> (SnapshotEntry, SnapshotEntry) {
    let shared: Node = dir(src, "shared", vec![file(src, "a", "alpha"), file(src, "b", "beta")]);
    let one = tree(src, vec![shared.clone(), file(src, "c", "gamma")]);
    let first = store(src, snapshot(1, &["/w"], one));
    let two = tree(src, vec![shared, file(src, "c", "gamma, changed")]);
    let mut second = snapshot(2, &["/w"], two);
    second.parent = Some(first.id);
    (first, store(src, second))
}

#[test]
fn unrelated_and_related_copies_read_back_the_same_files_and_copy_each_blob_once() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo_in(tmp.path(), "src", crate::format::RepoParams::DEFAULT);
    let (first, second) = sample(&src);
    let adopted = crate::format::RepoParams::DEFAULT.adopting(src.keys().ids_to_adopt().unwrap());
    for (name, params, same) in [("other", crate::format::RepoParams::DEFAULT, false), ("related", adopted, true)] {
        let dst = repo_in(tmp.path(), name, params);
        assert_eq!(same_blob_ids(&src, &dst), same);
        let report = copy(&src, &dst, &CopyOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(report.copied.len(), 2);
        assert_eq!(report.same_blob_ids, same);
        // The second snapshot adds only its changed file and the root tree.
        assert_eq!((report.copied[1].data_blobs, report.copied[1].tree_blobs), (1, 1), "{name}");
        let (copies, _) = crate::snapshot::snapshots::list(&dst).unwrap();
        assert_eq!(copies.len(), 2);
        for (copy, source) in copies.iter().zip([&first, &second]) {
            assert_eq!(copy.snapshot.original, Some(source.id));
            assert_eq!(copy.snapshot.version, 3);
            assert_eq!(copy.snapshot.recipe, None, "a v1 source had none");
            assert_eq!(files(&dst, &copy.snapshot.tree), files(&src, &source.snapshot.tree), "{name}");
            assert_eq!(copy.snapshot.tree == source.snapshot.tree, same, "{name}");
        }
        assert_eq!(copies[1].snapshot.parent, Some(copies[0].id), "the parent is the parent's copy");
        let again = copy(&src, &dst, &CopyOptions::default(), &mut |_| {}).unwrap();
        assert!(again.copied.is_empty());
        assert_eq!(again.already_present.len(), 2);
        // And back: the source knows every copy by its original.
        let back = copy(&dst, &src, &CopyOptions::default(), &mut |_| {}).unwrap();
        assert!(back.copied.is_empty(), "{name}");
    }
}

#[test]
fn a_dry_run_counts_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo_in(tmp.path(), "src", crate::format::RepoParams::DEFAULT);
    sample(&src);
    let dst = repo_in(tmp.path(), "dst", crate::format::RepoParams::DEFAULT);
    let opts = CopyOptions { dry_run: true, ..CopyOptions::default() };
    let report = copy(&src, &dst, &opts, &mut |_| {}).unwrap();
    assert_eq!(report.copied.len(), 2);
    assert!(report.copied.iter().all(|c| c.copy.is_none() && c.bytes_added == 0));
    assert!(report.copied[0].data_blobs > 0);
    assert!(dst.backend().list(crate::backend::FileKind::Pack).unwrap().is_empty());
    assert!(dst.backend().list(crate::backend::FileKind::Snapshot).unwrap().is_empty());
}
