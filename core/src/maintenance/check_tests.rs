//! Unit tests of `check`: what it finds in damaged and healthy repositories.

use super::*;
use crate::format::Node;
use crate::snapshot::snapshots::SnapshotEntry;
use crate::test_fixtures::*;

const QUICK: CheckOptions = CheckOptions { read_data: false, read_subset: None };
const READ_DATA: CheckOptions = CheckOptions { read_data: true, read_subset: None };

/// A repository holding one snapshot of `/w`: `/w/x`, `/w/sub/y`.
/// Each file and each tree is in a pack and an index file of its own.
fn stored(tmp: &std::path::Path) -> (Repository, SnapshotEntry) {
    let r = repo(tmp);
    let sub = dir(&r, "sub", vec![file(&r, "y", "text of y")]);
    let root = tree(&r, vec![dir(&r, "w", vec![file(&r, "x", "text of x"), sub])]);
    let snap = store(&r, snapshot(0, &["/w"], root));
    (r, snap)
}

/// The chunk of `/w/x` and the pack holding it.
fn chunk_of_x(r: &Repository, snap: &SnapshotEntry) -> (Id, Id) {
    let node = crate::snapshot::tree::lookup(r, &snap.snapshot.tree, std::path::Path::new("/w/x")).unwrap().unwrap();
    let NodeKind::File { content, .. } = node.kind else { panic!("not a file") };
    (content[0], r.locate(BlobKind::Data, &content[0]).unwrap().pack)
}

/// The index file listing `pack`.
fn index_of(r: &Repository, pack: &Id) -> Id {
    let files = r.backend().list(FileKind::Index).unwrap();
    files.into_iter().map(|(id, _)| id).find(|id| r.read_index_file(id).unwrap().packs[0].pack == *pack).unwrap()
}

fn reopen(r: &Repository) -> Repository {
    Repository::open(r.path(), None).unwrap()
}

/// Asserts that each of `wanted` is a substring of exactly one error,
/// and that there are no other errors.
fn assert_errors(report: &CheckReport, wanted: &[String]) {
    for w in wanted {
        let hits = report.errors.iter().filter(|e| e.contains(w.as_str())).count();
        assert_eq!(hits, 1, "{w:?} in {:#?}", report.errors);
    }
    assert_eq!(report.errors.len(), wanted.len(), "{:#?}", report.errors);
}

#[test]
fn a_whole_repository_passes_and_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, _) = stored(tmp.path());
    for opts in [QUICK, READ_DATA] {
        let report = check(&r, opts).unwrap();
        assert_errors(&report, &[]);
        assert!(report.notes.is_empty(), "{:?}", report.notes);
        // Two chunks and three trees, each in a pack of its own.
        assert_eq!((report.snapshots, report.packs, report.blobs), (1, 5, 5));
    }
}

#[test]
fn a_missing_pack_names_the_pack_and_the_files_it_held() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let (_, pack) = chunk_of_x(&r, &snap);
    std::fs::remove_file(r.backend().local_path(FileKind::Pack, &pack).unwrap()).unwrap();
    for opts in [QUICK, READ_DATA] {
        let report = check(&r, opts).unwrap();
        assert_errors(
            &report,
            &[
                format!(
                    "pack {pack} is listed in the index but missing: needed by 1 entry in 1 snapshot \
                     (first: /w/x in snapshot {})",
                    snap.id.short()
                ),
                format!("snapshot {}: cannot be restored whole", snap.id.short()),
                String::from("1 indexed blobs are in 1 pack(s) missing from data/"),
            ],
        );
    }
}

#[test]
fn damaged_blobs_are_found_by_reading_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let (chunk, pack) = chunk_of_x(&r, &snap);
    let path = r.backend().local_path(FileKind::Pack, &pack).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[2] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    // The header is intact, so a quick check sees nothing wrong.
    assert_errors(&check(&r, QUICK).unwrap(), &[]);
    let report = check(&r, READ_DATA).unwrap();
    assert_errors(
        &report,
        &[
            format!("pack {pack}: contents do not match its name"),
            format!("pack {pack}: blob {chunk}: "),
            format!(
                "pack {pack}: 1 blob damaged: needed by 1 entry in 1 snapshot (first: /w/x in snapshot {})",
                snap.id.short()
            ),
            format!("snapshot {}: cannot be restored whole", snap.id.short()),
        ],
    );
}

#[test]
fn every_snapshot_holding_damage_is_named_even_when_trees_are_shared() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, first) = stored(tmp.path());
    let (_, pack) = chunk_of_x(&r, &first);
    // The same tree an hour later, and another root holding the same `/w`.
    let same_root = store(&r, snapshot(1, &["/w"], first.snapshot.tree));
    let w = crate::snapshot::tree::lookup(&r, &first.snapshot.tree, std::path::Path::new("/w")).unwrap().unwrap();
    let elsewhere = tree(&r, vec![dir(&r, "v", vec![Node { name: b"w"[..].to_vec().into(), ..w }])]);
    let deeper = store(&r, snapshot(2, &["/v"], elsewhere));
    // And one that holds none of it.
    let intact = store(&r, snapshot(3, &["/u"], tree(&r, vec![file(&r, "u", "other text")])));
    std::fs::remove_file(r.backend().local_path(FileKind::Pack, &pack).unwrap()).unwrap();
    let report = check(&r, QUICK).unwrap();
    assert_errors(
        &report,
        &[
            format!("pack {pack} is listed in the index but missing: needed by 1 entry"),
            format!("snapshot {}: cannot be restored whole", first.id.short()),
            String::from("1 indexed blobs are in 1 pack(s) missing from data/"),
            format!("snapshot {}: ", same_root.id.short()),
            format!("snapshot {}: ", deeper.id.short()),
        ],
    );
    assert!(!report.errors.iter().any(|e| e.contains(&intact.id.short())), "{:#?}", report.errors);
}

#[test]
fn a_damaged_pack_header_is_found_without_reading_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let (_, pack) = chunk_of_x(&r, &snap);
    // The high byte of the header's length, at the very end.
    flip_byte(&r.backend().local_path(FileKind::Pack, &pack).unwrap(), 0);
    let report = check(&r, QUICK).unwrap();
    assert_errors(
        &report,
        &[
            format!("pack {pack}: pack {pack} is damaged"),
            format!(
                "pack {pack}: 1 blob damaged: needed by 1 entry in 1 snapshot (first: /w/x in snapshot {})",
                snap.id.short()
            ),
            format!("snapshot {}: cannot be restored whole", snap.id.short()),
        ],
    );
}

#[test]
fn a_header_that_disagrees_with_its_index_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let (_, pack) = chunk_of_x(&r, &snap);
    let index = index_of(&r, &pack);
    let mut file = r.read_index_file(&index).unwrap();
    file.packs[0].entries[0].raw_length += 1;
    std::fs::remove_file(r.backend().local_path(FileKind::Index, &index).unwrap()).unwrap();
    let bytes = crate::format::codec::encode(r.keys(), crate::format::codec::ObjectKind::Index, &file, 3).unwrap();
    r.backend().write(FileKind::Index, &bytes).unwrap();
    let report = check(&reopen(&r), QUICK).unwrap();
    // The index's wrong length also no longer adds up to /w/x's size.
    let size = format!("snapshot {}: /w/x: its size is 9 bytes but its chunks hold 10", snap.id.short());
    assert_errors(&report, &[format!("pack {pack}: header disagrees with the index"), size]);
}

#[test]
fn a_damaged_index_is_reported_once_with_what_it_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let (_, pack) = chunk_of_x(&r, &snap);
    let index = index_of(&r, &pack);
    flip_byte(&r.backend().local_path(FileKind::Index, &index).unwrap(), 0);
    // Opened before the damage, check reads the index afresh; opened
    // after it, opening names the index too, and it is told only once.
    let after = reopen(&r);
    assert_eq!(after.index_problems().len(), 1);
    for r in [&r, &after] {
        let report = check(r, QUICK).unwrap();
        assert_errors(
            &report,
            &[
                format!("index {index}: "),
                format!(
                    "1 blob in no index, but intact packs hold them (an index file is damaged or lost): \
                     needed by 1 entry in 1 snapshot (first: /w/x in snapshot {})",
                    snap.id.short()
                ),
            ],
        );
        assert!(report.suggest_repair_index);
        // Its pack is now listed nowhere: a note, not a second error.
        assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
        assert!(report.notes[0].contains(&format!("pack {pack} is not referenced by any index")));
    }
}

#[test]
fn snapshots_pointing_at_missing_trees_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, _) = stored(tmp.path());
    let missing = Id([0xee; 32]);
    let no_root = store(&r, snapshot(1, &["/v"], missing));
    let lost = Node::for_test(b"lost", NodeKind::Dir { subtree: Id([0xdd; 32]) }, 0o755);
    let no_subtree = store(&r, snapshot(2, &["/lost"], tree(&r, vec![lost])));
    let report = check(&r, QUICK).unwrap();
    assert_errors(
        &report,
        &[
            format!(
                "2 blobs in no index and in no pack: lost: needed by 2 entries in 2 snapshots \
                 (first: / in snapshot {})",
                no_root.id.short()
            ),
            format!("snapshot {}: cannot be restored whole", no_root.id.short()),
            format!("snapshot {}: cannot be restored whole", no_subtree.id.short()),
        ],
    );
    assert_eq!(report.snapshots, 3);
}

#[test]
fn a_damaged_tree_is_reported_with_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let w = crate::snapshot::tree::lookup(&r, &snap.snapshot.tree, std::path::Path::new("/w/sub")).unwrap().unwrap();
    let NodeKind::Dir { subtree } = w.kind else { panic!("not a folder") };
    let pack = r.locate(BlobKind::Tree, &subtree).unwrap().pack;
    let path = r.backend().local_path(FileKind::Pack, &pack).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let report = check(&reopen(&r), QUICK).unwrap();
    assert_errors(&report, &[format!("snapshot {}: tree of /w/sub: ", snap.id.short())]);
}

#[test]
fn leftovers_of_interrupted_runs_are_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, _) = stored(tmp.path());
    std::fs::write(r.path().join("data/00/.tmp-1"), b"half a pack").unwrap();
    std::fs::write(r.path().join("snapshots/.tmp-2"), b"half a snapshot").unwrap();
    let orphan = r.backend().write(FileKind::Pack, b"a pack no index lists").unwrap();
    let report = check(&r, READ_DATA).unwrap();
    assert_errors(&report, &[]);
    assert_eq!(report.notes.len(), 3, "{:?}", report.notes);
    assert!(report.notes.iter().any(|n| n.contains(&format!("pack {orphan} is not referenced"))));
    assert!(report.notes.iter().any(|n| n.contains("data/00/.tmp-1")));
    assert!(report.notes.iter().any(|n| n.contains("snapshots/.tmp-2")));
}

#[test]
fn damaged_snapshot_and_key_files_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let r = encrypted_repo(tmp.path(), b"pw");
    let root = tree(&r, vec![file(&r, "x", "x")]);
    let good = store(&r, snapshot(0, &["/x"], root));
    let bad = store(&r, snapshot(1, &["/x"], root));
    flip_byte(&r.backend().local_path(FileKind::Snapshot, &bad.id).unwrap(), 0);
    let key = only_file(&r, FileKind::Key);
    flip_byte(&r.backend().local_path(FileKind::Key, &key).unwrap(), 0);
    let report = check(&r, QUICK).unwrap();
    assert_errors(&report, &[format!("snapshot {}: ", bad.id), format!("key {key}: ")]);
    assert_eq!(report.snapshots, 1, "{} is still checked", good.id.short());
}

#[test]
fn a_key_file_that_opening_would_refuse_is_an_error() {
    use crate::format::codec;
    let tmp = tempfile::tempdir().unwrap();
    let r = encrypted_repo(tmp.path(), b"pw");
    let key = only_file(&r, FileKind::Key);
    let mut parsed: crate::format::KeyFile =
        codec::from_postcard(&r.backend().read(FileKind::Key, &key).unwrap(), "key file").unwrap();
    // Whole, and named by its hash, but with a magic no key file has:
    // opening skips it, so check must not call it intact.
    parsed.magic[0] ^= 1;
    let planted = r.backend().write(FileKind::Key, &codec::to_postcard(&parsed).unwrap()).unwrap();
    let report = check(&r, QUICK).unwrap();
    assert_errors(&report, &[format!("key {planted}: ")]);
    assert!(report.errors[0].contains("bad magic"), "{:?}", report.errors);
}

/// A repository written before blob identity included the kind: the
/// tree of `/w/sub` was never stored as a tree, only as a data blob with
/// the same bytes. It is read as such (format-spec.md), and check says
/// so in a note, not an error.
#[test]
fn a_tree_stored_only_as_a_data_blob_is_read_and_noted() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let sub_tree = crate::format::Tree { version: crate::format::FORMAT_VERSION, nodes: vec![file(&r, "y", "y")] };
    let saver = r.saver();
    let legacy = saver.save(BlobKind::Data, &crate::format::codec::to_postcard(&sub_tree).unwrap()).unwrap();
    saver.finish().unwrap();
    assert!(r.locate(BlobKind::Tree, &legacy).is_none(), "only a data blob holds it");
    let mut sub = file(&r, "sub", "");
    sub.kind = NodeKind::Dir { subtree: legacy };
    let root = tree(&r, vec![dir(&r, "w", vec![sub])]);
    store(&r, snapshot(0, &["/w"], root));

    assert_eq!(r.load_tree(&legacy).unwrap().nodes, sub_tree.nodes);
    for opts in [QUICK, READ_DATA] {
        let report = check(&r, opts).unwrap();
        assert!(report.errors.is_empty(), "{:#?}", report.errors);
        let noted = format!("tree {legacy} of /w/sub is stored only as a data blob");
        assert!(report.notes.iter().any(|n| n.contains(&noted)), "{:#?}", report.notes);
    }
}

#[test]
fn damaged_policy_and_pin_files_are_errors_and_a_stray_pin_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let (r, snap) = stored(tmp.path());
    let rules = crate::format::retention::KeepRules::repository_default();
    let policy = crate::snapshot::policy_store::store(&r, &rules, "h", "u").unwrap();
    crate::snapshot::pins::pin(&r, &snap.id, "h", "u").unwrap();
    let stray = Id([7; 32]);
    crate::snapshot::pins::pin(&r, &stray, "h", "u").unwrap();
    let report = check(&r, QUICK).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.notes.iter().any(|n| n.contains(&format!("pin {stray}"))), "{:?}", report.notes);

    flip_byte(&r.backend().local_path(FileKind::Policy, &policy).unwrap(), 0);
    flip_byte(&r.backend().local_path(FileKind::Pin, &snap.id).unwrap(), 0);
    let report = check(&r, QUICK).unwrap();
    assert!(
        report.errors.iter().any(|e| e.starts_with("policy") && e.contains(&policy.to_string())),
        "{:?}",
        report.errors
    );
    assert!(report.errors.iter().any(|e| e.contains(&format!("pin {}", snap.id))), "{:?}", report.errors);
}
