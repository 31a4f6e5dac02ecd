//! Prune's plan, repack, index consolidation and sweep, on small
//! repositories built by hand (and a property test of the plan alone).

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::index_files::IndexFiles;
use super::plan::{choose_copies, decide};
use super::walk::{NO_COPY, Needs};
use super::*;
use crate::backend::FileKind;
use crate::format::codec::{self, ObjectKind};
use crate::format::{BlobKind, IndexedPack, Node, NodeKind, PackEntry};
use crate::id::Id;
use crate::maintenance::check::{CheckOptions, check};
use crate::maintenance::prune;
use crate::repo::Repository;
use crate::repo::pack::PackWriter;
use crate::test_fixtures::*;

/// Files stored together in one new pack (one saver), as nodes.
fn one_pack(r: &Repository, files: &[(&str, Vec<u8>)]) -> Vec<Node> {
    let saver = r.saver();
    let nodes = files
        .iter()
        .map(|(name, bytes)| {
            let id = saver.save(BlobKind::Data, bytes).unwrap();
            Node::for_test(name.as_bytes(), NodeKind::File { size: bytes.len() as u64, content: vec![id] }, 0o644)
        })
        .collect();
    saver.finish().unwrap();
    nodes
}

fn content(node: &Node) -> Id {
    match &node.kind {
        NodeKind::File { content, .. } => content[0],
        _ => unreachable!(),
    }
}

fn files_of(r: &Repository, kind: FileKind) -> Vec<Id> {
    r.backend().list(kind).unwrap().into_iter().map(|(id, _)| id).collect()
}

fn pack_of(r: &Repository, blob: &Id) -> Id {
    r.locate(BlobKind::Data, blob).unwrap().pack
}

/// A pack holding `raw` that no index lists (left by a killed run).
fn orphan_pack(r: &Repository, raw: &[u8]) -> (Id, Id) {
    let mut w = PackWriter::create(r.backend(), BlobKind::Data).unwrap();
    let id = r.keys().blob_id(raw);
    w.add(id, &codec::seal_bytes(r.keys(), ObjectKind::DataBlob, raw, 3).unwrap(), raw.len()).unwrap();
    let (pack, _, _) = w.finish(r.backend(), r.keys()).unwrap();
    (pack, id)
}

/// The shape of most tests: pack P1 {x kept, y forgotten}, P2 {z
/// forgotten}, P3 {k kept}; the forgotten snapshot already removed.
struct Shape {
    x: Id,
    y: Id,
    z: Id,
    k: Id,
    kept: Id,
}

fn shape(r: &Repository) -> Shape {
    let p1 = one_pack(r, &[("x", noise(200_000, 1)), ("y", noise(200_000, 2))]);
    let p2 = one_pack(r, &[("z", noise(100_000, 3))]);
    let p3 = one_pack(r, &[("k", noise(100_000, 4))]);
    let kept_root = tree(r, vec![p1[0].clone(), p3[0].clone()]);
    let gone_root = tree(r, vec![p1[1].clone(), p2[0].clone()]);
    let kept = store(r, snapshot(0, &["/a"], kept_root)).id;
    let gone = store(r, snapshot(1, &["/a"], gone_root)).id;
    r.backend().remove(FileKind::Snapshot, &gone).unwrap();
    Shape { x: content(&p1[0]), y: content(&p1[1]), z: content(&p2[0]), k: content(&p3[0]), kept }
}

fn assert_checks_clean(r: &Repository) {
    let fresh = Repository::open(r.path(), None).unwrap();
    let report = check(&fresh, CheckOptions { read_data: true, read_subset: None }).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn packs_are_deleted_repacked_or_kept_by_what_the_snapshots_need() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let s = shape(&r);
    let (p1, p2, p3) = (pack_of(&r, &s.x), pack_of(&r, &s.z), pack_of(&r, &s.k));
    let index_before = files_of(&r, FileKind::Index).len();
    assert!(index_before >= 5, "{index_before}");

    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert_eq!(plan.snapshots, 1);
    let deleted: HashSet<Id> = plan.delete.iter().map(|(id, _)| *id).collect();
    assert!(deleted.contains(&p2), "z's pack goes whole");
    assert_eq!(deleted.len(), 2, "z's pack and the forgotten root tree's pack");
    assert_eq!(plan.repack.iter().map(|p| p.pack.pack).collect::<Vec<_>>(), [p1], "x stays, y goes");
    assert_eq!(plan.repack[0].keep.iter().map(|e| e.id).collect::<Vec<_>>(), [s.x]);
    let kept: HashSet<Id> = plan.keep.iter().map(|p| p.pack).collect();
    assert!(kept.contains(&p3) && kept.len() == 2, "k's pack and the kept root tree's pack");
    assert_eq!(plan.index_files.len(), index_before);
    assert_eq!(plan.index_files_after, 1);
    assert!(plan.unused_after <= MaxUnused::default().limit(plan.used_bytes));

    // With unlimited unused space, the partly used pack stays as it is.
    let lax = prune::plan(&r, &PruneOptions { max_unused: MaxUnused::Unlimited, ..Default::default() }).unwrap();
    assert!(lax.repack.is_empty());
    assert!(lax.keep.iter().any(|p| p.pack == p1));

    let report = prune::execute(&r, plan).unwrap();
    assert_eq!((report.repacked_packs, report.new_packs), (1, 1));
    assert_eq!(report.sweep.outcome, SweepOutcome::Done);
    assert_eq!(report.sweep.deleted.len(), 3, "two unused packs and the repacked one");
    assert_eq!(files_of(&r, FileKind::Index).len(), 1, "one consolidated index file");
    let fresh = Repository::open(r.path(), None).unwrap();
    assert_eq!(fresh.load_blob(&s.x).unwrap(), noise(200_000, 1));
    assert_eq!(fresh.load_blob(&s.k).unwrap(), noise(100_000, 4));
    assert!(!fresh.is_indexed(BlobKind::Data, &s.y) && !fresh.is_indexed(BlobKind::Data, &s.z));
    assert!(fresh.locate_tree(&fresh.load_snapshot(&s.kept).unwrap().tree).is_some());
    assert_checks_clean(&r);
    // Nothing left to do.
    let again = prune::plan(&fresh, &PruneOptions::default()).unwrap();
    assert!(again.is_empty(), "{} {} {}", again.delete.len(), again.repack.len(), again.index_files.len());
}

#[test]
fn a_damaged_blob_keeps_its_pack_whole_and_is_never_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let s = shape(&r);
    let p1 = pack_of(&r, &s.x);
    damage_copy(&r, &r.locate(BlobKind::Data, &s.x).unwrap());
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert_eq!(plan.repack.len(), 1, "the plan reads no data pack: the damage is not known yet");
    let report = prune::execute(&r, plan).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains(&s.x.to_hex()), "names the blob: {}", report.warnings[0]);
    assert_eq!((report.repacked_packs, report.new_packs), (0, 0), "no copy of the damaged blob spread");
    let fresh = Repository::open(r.path(), None).unwrap();
    assert!(files_of(&fresh, FileKind::Pack).contains(&p1), "the pack is kept whole");
    assert_eq!(fresh.locations(BlobKind::Data, &s.x).len(), 1);
    assert_eq!(fresh.locate(BlobKind::Data, &s.y).map(|l| l.pack), Some(p1), "its unused blob too");
    assert!(fresh.load_blob(&s.x).is_err(), "still damaged, and still the only copy");
}

#[test]
fn a_damaged_blob_is_repacked_from_another_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    // A second handle that does not know the first copy stores x again.
    let other = Repository::open(r.path(), None).unwrap();
    let first = one_pack(&r, &[("x", noise(200_000, 1)), ("y", noise(200_000, 2))]);
    let second = one_pack(&other, &[("x", noise(200_000, 1)), ("w", noise(200_000, 5))]);
    let x = content(&first[0]);
    assert_eq!(content(&second[0]), x);
    let fresh = Repository::open(r.path(), None).unwrap();
    let copies = fresh.locations(BlobKind::Data, &x);
    assert_eq!(copies.len(), 2);
    store(&fresh, snapshot(0, &["/a"], tree(&fresh, vec![first[0].clone()])));
    // The copy the plan keeps (the first indexed) is the damaged one.
    damage_copy(&fresh, &copies[0]);
    let plan = prune::plan(&fresh, &PruneOptions::default()).unwrap();
    assert_eq!(plan.repack.iter().map(|p| p.pack.pack).collect::<Vec<_>>(), [copies[0].pack]);
    assert!(plan.delete.iter().any(|(id, _)| *id == copies[1].pack));
    let report = prune::execute(&fresh, plan).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.new_packs, 1);
    let after = Repository::open(r.path(), None).unwrap();
    assert_eq!(after.load_blob(&x).unwrap(), noise(200_000, 1), "the good copy was copied");
    assert_eq!(after.locations(BlobKind::Data, &x).len(), 1);
    assert_checks_clean(&after);
}

#[test]
fn many_index_files_become_one_and_a_concurrent_writers_index_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let nodes: Vec<Node> = (0..6).map(|i| file(&r, &format!("f{i}"), &format!("text {i}"))).collect();
    store(&r, snapshot(0, &["/a"], tree(&r, nodes)));
    let before = files_of(&r, FileKind::Index);
    assert!(before.len() >= 7);
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert!(plan.rewrite_index && plan.delete.is_empty() && plan.repack.is_empty());

    // Another run commits a snapshot after the plan was made.
    let writer = Repository::open(r.path(), None).unwrap();
    let late = file(&writer, "late", "written while prune ran");
    let late_root = tree(&writer, vec![late.clone()]);
    let late_snapshot = store(&writer, snapshot(1, &["/b"], late_root)).id;
    let theirs: Vec<Id> = files_of(&r, FileKind::Index).into_iter().filter(|id| !before.contains(id)).collect();
    assert_eq!(theirs.len(), 2, "the late file's index and its tree's");

    let report = prune::execute(&r, plan).unwrap();
    assert_eq!(report.index_files_removed, before.len());
    let now = files_of(&r, FileKind::Index);
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(theirs.iter().all(|id| now.contains(id)), "the writer's index files are left alone");
    let fresh = Repository::open(r.path(), None).unwrap();
    assert!(fresh.load_blob(&content(&late)).is_ok());
    assert!(fresh.load_tree(&fresh.load_snapshot(&late_snapshot).unwrap().tree).is_ok());
    assert_checks_clean(&fresh);
}

#[test]
fn a_missing_blob_stops_prune_naming_it_and_its_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let s = shape(&r);
    let pack = pack_of(&r, &s.k);
    r.backend().remove(FileKind::Pack, &pack).unwrap();
    let listing = |r: &Repository| FileKind::ALL.map(|k| files_of(r, k));
    let fresh = Repository::open(r.path(), None).unwrap();
    let before = listing(&fresh);
    let err = match prune::plan(&fresh, &PruneOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("planned with a missing blob"),
    };
    match &err {
        crate::Error::PruneBlobMissing { blob, snapshot, path } => {
            assert_eq!((*blob, snapshot.as_str(), path.as_str()), (s.k, s.kept.short().as_str(), "/k"));
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains(&s.k.to_hex()) && text.contains("nothing was deleted"), "{text}");
    assert_eq!(listing(&fresh), before);
}

#[test]
fn the_sweep_deletes_packs_no_index_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    store(&r, snapshot(0, &["/a"], tree(&r, vec![file(&r, "a", "kept")])));
    let (orphan, _) = orphan_pack(&r, &noise(1000, 9));
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert_eq!(plan.unindexed.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [orphan]);
    let report = prune::execute(&r, plan).unwrap();
    assert_eq!(report.sweep.deleted.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [orphan]);
    assert!(!files_of(&r, FileKind::Pack).contains(&orphan));
    assert_checks_clean(&r);
}

#[test]
fn the_sweep_indexes_again_an_unindexed_pack_that_a_new_snapshot_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    store(&r, snapshot(0, &["/a"], tree(&r, vec![file(&r, "a", "kept")])));
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    // After the plan: a snapshot whose data lies in a pack no index lists
    // (a writer that broke W4, or an index file lost meanwhile).
    let (orphan, blob) = orphan_pack(&r, &noise(1000, 9));
    let node = Node::for_test(b"q", NodeKind::File { size: 1000, content: vec![blob] }, 0o644);
    store(&r, snapshot(1, &["/b"], tree(&r, vec![node])));
    let report = prune::execute(&r, plan).unwrap();
    assert_eq!(report.sweep.outcome, SweepOutcome::Done);
    assert_eq!(report.sweep.recovered, [orphan]);
    assert!(report.sweep.deleted.is_empty());
    let fresh = Repository::open(r.path(), None).unwrap();
    assert_eq!(fresh.load_blob(&blob).unwrap(), noise(1000, 9));
    assert!(fresh.is_indexed(BlobKind::Data, &blob));
}

#[test]
fn removed_index_files_leave_the_cache_by_themselves() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let r = encrypted_repo(tmp.path(), PASSWORD);
    let s = shape(&r);
    let cached = Repository::open_with_cache(r.path(), Some(PASSWORD), Some(&cache)).unwrap();
    let cache_file = cache.join(r.id().to_hex()).join("index");
    let cached_before = std::fs::metadata(&cache_file).unwrap().len();
    let report = prune::execute(&cached, prune::plan(&cached, &PruneOptions::default()).unwrap()).unwrap();
    assert_eq!(report.new_packs, 1);
    let after = Repository::open_with_cache(r.path(), Some(PASSWORD), Some(&cache)).unwrap();
    assert!(after.index_problems().is_empty(), "{:?}", after.index_problems());
    // Stale entries kept would make it larger: it holds the consolidated
    // file alone, which lists less than the files it replaced.
    let cached_after = std::fs::metadata(&cache_file).unwrap().len();
    assert!(cached_after < cached_before, "{cached_after} >= {cached_before}");
    let packs: HashSet<Id> = files_of(&after, FileKind::Pack).into_iter().collect();
    for blob in [s.x, s.k] {
        let copies = after.locations(BlobKind::Data, &blob);
        assert_eq!(copies.len(), 1, "the removed index files' entries are gone");
        assert!(packs.contains(&copies[0].pack));
    }
    assert!(after.locations(BlobKind::Data, &s.y).is_empty());
}

#[test]
fn limits_are_read_as_shares_sizes_or_unlimited() {
    assert_eq!(MaxUnused::parse("5%").unwrap(), MaxUnused::Percent(5.0));
    assert_eq!(MaxUnused::parse("unlimited").unwrap(), MaxUnused::Unlimited);
    assert_eq!(MaxUnused::parse("50M").unwrap(), MaxUnused::Bytes(50 << 20));
    assert!(MaxUnused::parse("100%").is_err() && MaxUnused::parse("-1%").is_err() && MaxUnused::parse("x").is_err());
    assert_eq!(parse_size("2G").unwrap(), 2 << 30);
    assert_eq!(parse_size("500KiB").unwrap(), 500 << 10);
    assert_eq!(parse_size("7").unwrap(), 7);
    assert!(parse_size("1Q").is_err() && parse_size("").is_err());
    // 5% of the whole: 5 unused beside 95 used.
    assert_eq!(MaxUnused::Percent(5.0).limit(95), 5);
    assert_eq!(MaxUnused::Percent(0.0).limit(1000), 0);
}

/// A random repository as the plan sees it: packs of blobs (a blob's
/// length follows from its id, so copies agree), some blobs needed.
fn arbitrary_repository() -> impl Strategy<Value = (Vec<Vec<(bool, u8)>>, Vec<u8>)> {
    let pack = proptest::collection::vec((any::<bool>(), 0u8..24), 1..6);
    (proptest::collection::vec(pack, 1..12), proptest::collection::vec(0u8..24, 0..24))
}

fn blob_len(id: u8) -> u32 {
    100 + u32::from(id) * 37
}

fn limit_strategy() -> impl Strategy<Value = MaxUnused> {
    prop_oneof![
        (0.0f64..60.0).prop_map(MaxUnused::Percent),
        (0u64..5000).prop_map(MaxUnused::Bytes),
        Just(MaxUnused::Unlimited),
    ]
}

proptest! {
    #[test]
    fn the_plan_keeps_every_needed_blob_and_meets_its_limits(
        (raw_packs, wanted) in arbitrary_repository(),
        max_unused in limit_strategy(),
        cap in proptest::option::of(0u64..8000),
    ) {
        check_plan(&raw_packs, &wanted, max_unused, cap)?;
    }
}

/// A pack holding only a second copy of needed blobs is a repack candidate
/// (its copy is unused) that the cap can stop; the checker once counted
/// only packs with blobs nobody needs, and took this plan for a violation.
#[test]
fn a_cap_reached_on_a_pack_of_second_copies_is_the_cap() {
    let packs = vec![vec![(true, 10), (true, 11)], vec![(true, 10), (true, 12)], vec![(false, 3), (false, 4)]];
    check_plan(&packs, &[10, 11, 12, 3], MaxUnused::Percent(0.0), Some(1000)).unwrap();
}

/// The properties of one plan (the body of the property test above).
fn check_plan(
    raw_packs: &[Vec<(bool, u8)>],
    wanted: &[u8],
    max_unused: MaxUnused,
    cap: Option<u64>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    {
        let mut packs = Vec::new();
        let mut on_disk = HashMap::new();
        for (p, blobs) in raw_packs.iter().enumerate() {
            let pack = Id([p as u8 + 1; 32]);
            let mut seen = HashSet::new();
            let mut offset = 0;
            let mut entries = Vec::new();
            for (tree, id) in blobs {
                let kind = if *tree { BlobKind::Tree } else { BlobKind::Data };
                // One kind per pack (W6): the first blob's.
                let kind = entries.first().map_or(kind, |e: &PackEntry| e.kind);
                if !seen.insert((kind, *id)) {
                    continue;
                }
                let length = blob_len(*id);
                entries.push(PackEntry { kind, id: Id([*id; 32]), offset, length, raw_length: length });
                offset += length;
            }
            on_disk.insert(pack, u64::from(offset) + 50);
            packs.push(IndexedPack { pack, entries });
        }
        let indexed: HashSet<(BlobKind, Id)> =
            packs.iter().flat_map(|p| p.entries.iter().map(|e| (e.kind, e.id))).collect();
        let mut needs = Needs::default();
        for w in wanted {
            for kind in [BlobKind::Data, BlobKind::Tree] {
                if indexed.contains(&(kind, Id([*w; 32]))) {
                    needs.used.insert((kind, Id([*w; 32])), NO_COPY);
                }
            }
        }
        let used: Vec<(BlobKind, Id)> = needs.used.keys().copied().collect();
        let files = IndexFiles { files: Vec::new(), packs: packs.clone(), redundant_listings: 0, on_disk };
        choose_copies(&files, &mut needs);
        // Which copy of each needed blob the plan keeps: every other copy is unused.
        let chosen = needs.used.clone();
        let unused_copy = |p: usize, pack: &IndexedPack| {
            pack.entries
                .iter()
                .enumerate()
                .any(|(e, entry)| chosen.get(&(entry.kind, entry.id)) != Some(&((p as u64) << 32 | e as u64)))
        };
        let opts = PruneOptions { max_unused, max_repack_size: cap, forgotten: Vec::new() };
        let plan = decide(1000, &opts, files, needs, 1);

        // Every pack is in exactly one category.
        let deleted: HashSet<Id> = plan.delete.iter().map(|(id, _)| *id).collect();
        let repacked: HashSet<Id> = plan.repack.iter().map(|r| r.pack.pack).collect();
        let kept: HashSet<Id> = plan.keep.iter().map(|p| p.pack).collect();
        prop_assert_eq!(deleted.len() + repacked.len() + kept.len(), packs.len());
        prop_assert!(deleted.is_disjoint(&repacked) && deleted.is_disjoint(&kept) && repacked.is_disjoint(&kept));
        // Every needed blob survives: in a kept pack, or copied by a repack.
        for key in &used {
            let survives =
                packs.iter().any(|p| kept.contains(&p.pack) && p.entries.iter().any(|e| (e.kind, e.id) == *key))
                    || plan.repack.iter().any(|r| r.keep.iter().any(|e| (e.kind, e.id) == *key));
            prop_assert!(survives, "needed blob {:?} would be lost", key);
        }
        // A needed blob counts once, whatever its copies.
        let expected: u64 = used.iter().map(|(_, id)| u64::from(blob_len(id.0[0]))).sum();
        prop_assert_eq!(plan.used_bytes, expected);
        prop_assert_eq!(plan.used_blobs as usize, used.len());
        // The limit is met, or every candidate was repacked, or the cap stopped it.
        let candidates: Vec<&IndexedPack> = packs
            .iter()
            .enumerate()
            .filter(|(_, p)| !deleted.contains(&p.pack))
            .filter(|(i, p)| {
                plan.repack.iter().any(|r| r.pack.pack == p.pack) || (kept.contains(&p.pack) && unused_copy(*i, p))
            })
            .map(|(_, p)| p)
            .collect();
        let all_repacked = candidates.iter().all(|p| repacked.contains(&p.pack));
        let repacked_bytes = plan.repack_bytes();
        let cap_reached = cap.is_some_and(|cap| {
            candidates.iter().any(|p| !repacked.contains(&p.pack) && repacked_bytes + plan_size(&plan, p) > cap)
        });
        prop_assert!(
            plan.unused_after <= opts.max_unused.limit(plan.used_bytes) || all_repacked || cap_reached,
            "unused {} limit {} repacked {}",
            plan.unused_after,
            opts.max_unused.limit(plan.used_bytes),
            repacked_bytes
        );
        if let Some(cap) = cap {
            prop_assert!(repacked_bytes <= cap);
        }
        // Partly used tree packs and small packs are repacked whatever the
        // unused share, unless unlimited or capped.
        if opts.max_unused != MaxUnused::Unlimited && cap.is_none() {
            for p in candidates.iter().filter(|p| !repacked.contains(&p.pack)) {
                let tree = p.entries.first().is_some_and(|e| e.kind == BlobKind::Tree);
                prop_assert!(!tree && plan_size(&plan, p) >= 500, "pack {:?} not repacked", p.pack);
            }
        }
    }
    Ok(())
}

fn plan_size(_plan: &PrunePlan, pack: &IndexedPack) -> u64 {
    pack.entries.iter().map(|e| u64::from(e.length)).sum::<u64>() + 50
}

#[test]
fn a_consolidated_index_equal_to_an_old_file_is_not_removed_as_old() {
    // Unencrypted, the consolidated index can be byte for byte an index
    // file already there (a prune killed after writing it, run again):
    // same name, so it must not be removed with the old files.
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let saver = r.saver();
    let blob = saver.save(BlobKind::Data, b"only file").unwrap();
    let node = Node::for_test(b"f", NodeKind::File { size: 9, content: vec![blob] }, 0o644);
    let root = saver.save_tree(&crate::format::Tree { version: crate::format::FORMAT_VERSION, nodes: vec![node] });
    saver.finish().unwrap();
    store(&r, snapshot(0, &["/a"], root.unwrap()));
    let consolidated = only_file(&r, FileKind::Index);
    // An index file listing only a pack that is gone.
    let gone = IndexedPack { pack: Id([7; 32]), entries: vec![] };
    let file = crate::format::IndexFile { version: crate::format::FORMAT_VERSION, packs: vec![gone] };
    let stale =
        r.backend().write(FileKind::Index, &codec::encode(r.keys(), ObjectKind::Index, &file, 3).unwrap()).unwrap();
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert!(plan.rewrite_index);
    let report = prune::execute(&r, plan).unwrap();
    assert_eq!((report.index_files_written, report.index_files_removed), (1, 1));
    assert_eq!(files_of(&r, FileKind::Index), [consolidated], "the stale file {stale} went, not the new one");
    assert_checks_clean(&r);
}

#[test]
fn the_sweep_deletes_nothing_while_another_run_is_alive() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    store(&r, snapshot(0, &["/a"], tree(&r, vec![file(&r, "a", "kept")])));
    let (orphan, _) = orphan_pack(&r, &noise(1000, 9));
    // A snapshot run on this machine, registered and alive.
    let opts =
        crate::repo::OpenOptions { register: Some(crate::format::marker::MarkerRole::Snapshot), ..Default::default() };
    let running = Repository::open_with_options(r.path(), &opts).unwrap();
    let report = prune::execute(&r, prune::plan(&r, &PruneOptions::default()).unwrap()).unwrap();
    match &report.sweep.outcome {
        SweepOutcome::Blocked(runs) => {
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert!(runs[0].starts_with("snapshot on ") && runs[0].contains("(pid "), "{}", runs[0]);
        }
        other => panic!("{other:?}"),
    }
    assert!(report.sweep.deleted.is_empty());
    assert_eq!(report.sweep.waiting.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [orphan]);
    assert!(files_of(&r, FileKind::Pack).contains(&orphan));
    // The run ends (its marker goes with it): the next prune deletes.
    drop(running);
    let report = prune::execute(&r, prune::plan(&r, &PruneOptions::default()).unwrap()).unwrap();
    assert_eq!(report.sweep.outcome, SweepOutcome::Done);
    assert_eq!(report.sweep.deleted.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [orphan]);
    assert_checks_clean(&r);
}

#[test]
fn a_prune_with_nothing_to_do_still_removes_the_markers_of_ended_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    store(&r, snapshot(0, &["/a"], tree(&r, vec![file(&r, "a", "kept")])));
    prune::execute(&r, prune::plan(&r, &PruneOptions::default()).unwrap()).unwrap();
    // A marker its run could not remove, as of a process that is gone:
    // this run's own marker file, copied under the run of a dead pid.
    let opts =
        crate::repo::OpenOptions { register: Some(crate::format::marker::MarkerRole::Snapshot), ..Default::default() };
    let ended = Repository::open_with_options(r.path(), &opts).unwrap();
    let file = ended.registration().unwrap().file().unwrap();
    let bytes = r.backend().read(FileKind::Lock, &file).unwrap();
    let mut marker: crate::format::marker::MarkerFile = codec::decode(r.keys(), ObjectKind::Marker, &bytes).unwrap();
    drop(ended);
    marker.pid = u32::MAX - 1;
    marker.pid_start = 1;
    let dead =
        r.backend().write(FileKind::Lock, &codec::encode(r.keys(), ObjectKind::Marker, &marker, 3).unwrap()).unwrap();
    assert_eq!(r.markers_except_own().unwrap().iter().filter(|m| !m.live).count(), 1);
    let plan = prune::plan(&r, &PruneOptions::default()).unwrap();
    assert!(plan.is_empty());
    let report = prune::execute(&r, plan).unwrap();
    assert_eq!(report.sweep.dead_markers_removed, 1);
    assert!(!files_of(&r, FileKind::Lock).contains(&dead));
}

#[test]
fn a_snapshot_deduplicated_against_a_pack_a_blocked_prune_unlisted_is_kept_by_the_next_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(tmp.path());
    let s = shape(&r);
    let y_bytes = noise(200_000, 2);
    // A snapshot run that read the index while P1 (holding y) was listed.
    let opts =
        crate::repo::OpenOptions { register: Some(crate::format::marker::MarkerRole::Snapshot), ..Default::default() };
    let running = Repository::open_with_options(r.path(), &opts).unwrap();
    // Prune: y is unused, so P1 is repacked without it (or deleted) and the
    // consolidated index no longer lists the old P1; the live run blocks
    // the sweep, so the old P1 stays in data/, unindexed.
    let plan = prune::plan(&r, &PruneOptions { max_unused: MaxUnused::Bytes(0), ..Default::default() }).unwrap();
    let report = prune::execute(&r, plan).unwrap();
    assert!(matches!(report.sweep.outcome, SweepOutcome::Blocked(_)), "{:?}", report.sweep.outcome);
    // The run deduplicates y against its index (P1) and commits.
    let saver = running.saver();
    assert_eq!(saver.save(BlobKind::Data, &y_bytes).unwrap(), s.y);
    saver.finish().unwrap();
    let node = Node::for_test(b"y", NodeKind::File { size: y_bytes.len() as u64, content: vec![s.y] }, 0o644);
    let root = tree(&running, vec![node]);
    store(&running, snapshot(2, &["/a"], root));
    drop(running);
    // The next prune finds y in the header of the unindexed pack and
    // indexes it again instead of refusing (or deleting it).
    let fresh = Repository::open(r.path(), None).unwrap();
    let plan = prune::plan(&fresh, &PruneOptions::default()).unwrap();
    let report = prune::execute(&fresh, plan).unwrap();
    assert_eq!(report.sweep.outcome, SweepOutcome::Done);
    let after = Repository::open(r.path(), None).unwrap();
    assert_eq!(after.load_blob(&s.y).unwrap(), y_bytes);
    assert_checks_clean(&r);
}
