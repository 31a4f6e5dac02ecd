//! Tests of readers racing writers and of blobs stored more than once:
//! files removed between a listing and their reading (R5 and the listing
//! rules of format-spec.md §11), the index read again when a snapshot
//! committed after it needs blobs it lacks, and falling back to another
//! copy of a blob when one is damaged (R7).

use std::sync::Arc;

use super::*;
use crate::backend::faults::FaultyBackend;
use crate::backend::memory::MemoryBackend;
use crate::backend::{FileKind, Op};
use crate::format::NodeKind;
use crate::snapshot::snapshots;
use crate::test_fixtures::{
    PASSWORD, damage_copy, encrypted_repo, file, init_options, snapshot, store, stored_twice, tree,
};

/// An unencrypted repository in memory behind a fault injector.
fn faulty_repo() -> (Arc<FaultyBackend>, Repository) {
    let faulty = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new())));
    let repo = Repository::init_with_backend(faulty.clone(), &init_options(None)).unwrap();
    (faulty, repo)
}

fn reopen(backend: Arc<dyn Backend>) -> Repository {
    Repository::open_with_backend(backend, None, None).unwrap()
}

fn ids(backend: &dyn Backend, kind: FileKind) -> Vec<Id> {
    backend.list(kind).unwrap().into_iter().map(|(id, _)| id).collect()
}

#[test]
fn index_and_snapshot_files_removed_after_their_listing_are_left_out_silently() {
    let (faulty, r) = faulty_repo();
    let kept = store(&r, snapshot(1, &["/w"], tree(&r, vec![file(&r, "a", "kept")])));
    let gone = store(&r, snapshot(2, &["/w"], tree(&r, vec![file(&r, "b", "gone")])));
    // An index file no snapshot needs, as a prune leaves behind for a moment.
    let before = ids(&*faulty, FileKind::Index);
    let saver = r.saver();
    saver.save(BlobKind::Data, b"unreferenced").unwrap();
    saver.finish().unwrap();
    let orphan = *ids(&*faulty, FileKind::Index).iter().find(|id| !before.contains(id)).unwrap();

    faulty.vanish_after_list(FileKind::Index, orphan, 1);
    let opened = reopen(faulty.clone());
    assert!(opened.index_problems().is_empty(), "not damage: {:?}", opened.index_problems());
    faulty.vanish_after_list(FileKind::Snapshot, gone.id, 1);
    let (all, problems) = snapshots::list(&opened).unwrap();
    assert!(problems.is_empty(), "a vanished snapshot is simply not listed: {problems:?}");
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [kept.id]);
    assert_eq!(opened.load_blob(&opened.keys().blob_id(b"kept")).unwrap(), b"kept");
}

/// The same through the local cache (encrypted repositories only), which
/// reads the files it does not hold yet through the same rule.
#[test]
fn a_snapshot_removed_after_its_listing_is_left_out_through_the_cache_too() {
    let tmp = tempfile::tempdir().unwrap();
    let faulty = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new())));
    let r = Repository::init_with_backend(faulty.clone(), &init_options(Some(b"pw"))).unwrap();
    let kept = store(&r, snapshot(1, &["/w"], tree(&r, vec![file(&r, "a", "kept")])));
    let gone = store(&r, snapshot(2, &["/w"], tree(&r, vec![file(&r, "b", "gone")])));
    let opened = Repository::open_with_backend(faulty.clone(), Some(b"pw"), Some(tmp.path())).unwrap();
    faulty.vanish_after_list(FileKind::Snapshot, gone.id, 1);
    let (all, problems) = snapshots::list(&opened).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [kept.id]);
}

#[test]
fn a_snapshot_committed_after_the_index_was_read_is_found_by_reading_it_again() {
    let (faulty, writer) = faulty_repo();
    store(&writer, snapshot(1, &["/w"], tree(&writer, vec![file(&writer, "a", "old")])));
    // A reader opens (reading the index), then another run commits.
    let reader = reopen(faulty.clone());
    let newer = store(&writer, snapshot(2, &["/w"], tree(&writer, vec![file(&writer, "b", "new")])));
    let unknown = Id([9; 32]);

    // Without a listing of snapshots since, a blob not indexed is simply
    // missing: the index is not read again for it. (The first miss scans
    // the headers of unindexed packs once per run, which lists `data/`;
    // that scan is done before counting.)
    assert!(matches!(reader.load_tree(&unknown), Err(Error::BlobNotIndexed(_))));
    faulty.reset();
    assert!(matches!(reader.load_tree(&unknown), Err(Error::BlobNotIndexed(_))));
    assert_eq!(faulty.count(Op::List), 0, "no reload without a listing");

    let (all, _) = snapshots::list(&reader).unwrap();
    let latest = all.last().unwrap();
    assert_eq!(latest.id, newer.id);
    let root = reader.load_tree(&latest.snapshot.tree).expect("R5: read the index again, then found");
    let NodeKind::File { content, .. } = &root.nodes[0].kind else { panic!("a file") };
    assert_eq!(reader.load_blob(&content[0]).unwrap(), b"new");

    // Once per listing: further misses do not read the index again.
    faulty.reset();
    assert!(matches!(reader.load_blob(&unknown), Err(Error::BlobNotIndexed(_))));
    assert_eq!(faulty.count(Op::List), 0, "the index was read again once, not at every miss");
}

#[test]
fn every_copy_is_indexed_and_a_damaged_first_copy_falls_back_to_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let r = encrypted_repo(tmp.path(), PASSWORD);
    let id = stored_twice(&r, BlobKind::Data, b"stored by two runs");
    let r = Repository::open(r.path(), Some(PASSWORD)).unwrap();
    let copies = r.locations(BlobKind::Data, &id);
    assert_eq!(copies.len(), 2, "both copies indexed: {copies:?}");
    assert_ne!(copies[0].pack, copies[1].pack);

    damage_copy(&r, &copies[0]);
    assert_eq!(r.load_blob(&id).unwrap(), b"stored by two runs", "the second copy is read");

    damage_copy(&r, &copies[1]);
    let err = r.load_blob(&id).unwrap_err().to_string();
    assert!(err.contains("none of its 2 copies"), "{err}");
    assert!(err.contains(&copies[0].pack.to_hex()) && err.contains(&copies[1].pack.to_hex()), "{err}");
}

#[test]
fn a_tree_with_a_damaged_first_copy_is_read_from_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let r = encrypted_repo(tmp.path(), PASSWORD);
    let leaf = file(&r, "f", "text");
    let tree = Tree { version: crate::format::FORMAT_VERSION, nodes: vec![leaf] };
    let id = stored_twice(&r, BlobKind::Tree, &codec::to_postcard(&tree).unwrap());
    let r = Repository::open(r.path(), Some(PASSWORD)).unwrap();
    let copies = r.locations(BlobKind::Tree, &id);
    assert_eq!(copies.len(), 2);
    damage_copy(&r, &copies[0]);
    assert_eq!(r.load_tree(&id).unwrap().nodes, tree.nodes);
}
