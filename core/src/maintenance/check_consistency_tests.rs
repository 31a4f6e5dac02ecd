//! Tests of `check`'s consistency rules between repository files: every
//! index listing of a pack agrees with the others, and each file's size is
//! the sum of its chunks' lengths. Kept apart from `check.rs`'s own tests so
//! that file stays short.

use super::*;
use crate::format::codec::{self, ObjectKind};
use crate::format::{Node, NodeKind};
use crate::test_fixtures::*;

const QUICK: CheckOptions = CheckOptions { read_data: false, read_subset: None };

/// A repository with one snapshot of `/w/x` ("text of x"); the pack of that
/// chunk and the index file listing it.
fn one_file(tmp: &std::path::Path) -> (Repository, Id, Id) {
    let r = repo(tmp);
    let root = tree(&r, vec![dir(&r, "w", vec![file(&r, "x", "text of x")])]);
    let snap = store(&r, snapshot(0, &["/w"], root));
    let x = crate::snapshot::tree::lookup(&r, &snap.snapshot.tree, std::path::Path::new("/w/x")).unwrap().unwrap();
    let NodeKind::File { content, .. } = x.kind else { panic!("not a file") };
    let pack = r.locate(BlobKind::Data, &content[0]).unwrap().pack;
    let index = r
        .backend()
        .list(FileKind::Index)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .find(|id| r.read_index_file(id).unwrap().packs.iter().any(|p| p.pack == pack))
        .unwrap();
    (r, pack, index)
}

/// Writes `file` as one more index file (the original stays).
fn add_index_file(r: &Repository, file: &crate::format::IndexFile) {
    let bytes = codec::encode(r.keys(), ObjectKind::Index, file, 3).unwrap();
    r.backend().write(FileKind::Index, &bytes).unwrap();
}

#[test]
fn a_second_index_listing_a_pack_differently_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, pack, index) = one_file(tmp.path());
    let mut listing = r.read_index_file(&index).unwrap();
    // The same listing again (another file: new name) is fine.
    add_index_file(&r, &listing);
    assert_eq!(check(&r, QUICK).unwrap().errors, Vec::<String>::new());
    // A third one that differs is not.
    listing.packs.iter_mut().find(|p| p.pack == pack).unwrap().entries[0].raw_length += 1;
    add_index_file(&r, &listing);
    let errors = check(&Repository::open(r.path(), None).unwrap(), QUICK).unwrap().errors;
    let wanted = format!("pack {pack}: index ");
    assert!(errors.iter().any(|e| e.starts_with(&wanted) && e.contains("lists it differently")), "{errors:#?}");
}

#[test]
fn a_file_whose_size_is_not_the_sum_of_its_chunks_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let right = file(&r, "right", "nine byte");
    let Node { kind: NodeKind::File { content, .. }, .. } = file(&r, "wrong", "text of wrong") else {
        panic!("not a file")
    };
    // Thirteen bytes stored, fourteen recorded: a restore could not match it.
    let wrong = Node::for_test(b"wrong", NodeKind::File { size: 14, content }, 0o644);
    let root = tree(&r, vec![dir(&r, "w", vec![right, wrong])]);
    let snap = store(&r, snapshot(0, &["/w"], root));
    let errors = check(&r, QUICK).unwrap().errors;
    assert_eq!(
        errors,
        [format!("snapshot {}: /w/wrong: its size is 14 bytes but its chunks hold 13", snap.id.short())],
        "only the wrong file"
    );
}
