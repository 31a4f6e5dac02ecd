//! `check` beside concurrent writers and with blobs stored twice: a file
//! removed between check's listing and its reading is not damage, and a
//! blob whose first copy is damaged but another reads is no damaged chunk
//! of any snapshot (R7); the damaged pack itself is still named.

use std::sync::Arc;

use super::*;
use crate::backend::Backend;
use crate::backend::faults::FaultyBackend;
use crate::backend::memory::MemoryBackend;
use crate::format::Node;
use crate::repo::Repository;
use crate::test_fixtures::*;

const QUICK: CheckOptions = CheckOptions { read_data: false, read_subset: None };
const READ_DATA: CheckOptions = CheckOptions { read_data: true, read_subset: None };

#[test]
fn index_and_key_files_removed_during_a_check_are_not_errors() {
    // After the 1st listing of index/ (the reload after listing snapshots)
    // and after the 2nd (check's own reading of every index file).
    for nth in [1, 2] {
        let faulty = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new())));
        let r = Repository::init_with_backend(faulty.clone(), &init_options(Some(b"pw"))).unwrap();
        store(&r, snapshot(1, &["/w"], tree(&r, vec![file(&r, "a", "kept")])));
        // An index no snapshot needs (a prune removes such files).
        let before: Vec<Id> = faulty.list(FileKind::Index).unwrap().into_iter().map(|(id, _)| id).collect();
        let saver = r.saver();
        saver.save(BlobKind::Data, b"unreferenced").unwrap();
        saver.finish().unwrap();
        let listed = faulty.list(FileKind::Index).unwrap();
        let orphan = listed.iter().map(|(id, _)| *id).find(|id| !before.contains(id)).unwrap();
        let key = faulty.list(FileKind::Key).unwrap()[0].0;

        faulty.vanish_after_list(FileKind::Index, orphan, nth);
        faulty.vanish_after_list(FileKind::Key, key, 1);
        for opts in [QUICK, READ_DATA] {
            let report = check(&r, opts).unwrap();
            assert!(report.errors.is_empty(), "vanished after listing {nth}: {:?}", report.errors);
        }
    }
}

#[test]
fn a_chunk_with_one_readable_copy_is_not_damaged_but_its_bad_pack_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let r = encrypted_repo(tmp.path(), PASSWORD);
    let id = stored_twice(&r, BlobKind::Data, b"stored by two runs");
    let f = Node::for_test(b"f", crate::format::NodeKind::File { size: 18, content: vec![id] }, 0o644);
    let root = tree(&r, vec![dir(&r, "w", vec![f])]);
    store(&r, snapshot(0, &["/w"], root));
    let r = Repository::open(r.path(), Some(PASSWORD)).unwrap();
    let copies = r.locations(BlobKind::Data, &id);
    assert_eq!(copies.len(), 2);
    damage_copy(&r, &copies[0]);

    let report = check(&r, READ_DATA).unwrap();
    let bad_pack = copies[0].pack.to_hex();
    assert!(report.errors.iter().any(|e| e.contains(&bad_pack)), "the damaged pack is named: {:?}", report.errors);
    assert!(
        !report.errors.iter().any(|e| e.starts_with("snapshot")),
        "the snapshot restores from the other copy: {:?}",
        report.errors
    );

    damage_copy(&r, &copies[1]);
    let report = check(&r, READ_DATA).unwrap();
    assert!(
        report.errors.iter().any(|e| e.starts_with("snapshot") && e.contains("/w/f") && e.contains("damaged")),
        "no copy left: the file is named: {:?}",
        report.errors
    );
}
