//! `check`: verifies that the repository is whole. Config and keys (by
//! opening), every index file against the pack headers, every snapshot's
//! trees, and that every blob a snapshot needs is indexed; with `read_data`,
//! every pack's bytes, every blob's decryption and id; with `read_subset`,
//! those of some packs (`read_subset`). Leftovers of
//! interrupted runs are reported as notes, not errors.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::backend::FileKind;
use crate::format::{BlobKind, NodeKind, PackEntry};
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::pack;
use crate::snapshot::snapshots;

use super::check_summary::{Cause, Damage};
use super::read_data;
pub use super::read_subset::ReadSubset;

/// A blob as the index knows it: kind and id (format-spec.md, R9).
pub(super) type BlobKey = (BlobKind, Id);

#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub read_data: bool,
    /// Read the data of these packs only (ignored with `read_data`).
    pub read_subset: Option<ReadSubset>,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Each a damaged or missing thing, named.
    pub errors: Vec<String>,
    /// Harmless findings: unreferenced packs, temporary files.
    pub notes: Vec<String>,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
    /// The packs whose data was read (all with `read_data`, the subset's
    /// with `read_subset`), sorted; their total size in bytes.
    pub packs_read: Vec<Id>,
    pub bytes_read: u64,
    /// An index file is damaged, or blobs are only in pack headers:
    /// `cairn repair index` rebuilds the index.
    pub suggest_repair_index: bool,
}

pub fn check(repo: &Repository, opts: CheckOptions) -> crate::Result<CheckReport> {
    let mut report = CheckReport::default();

    // Snapshots first, then the index: a snapshot written meanwhile by a
    // concurrent run has its index written before it, so it is covered.
    let (all, problems) = snapshots::list(repo)?;
    repo.refresh_index()?;

    retention_objects(repo, &all, &mut report)?;

    // Every key file must be intact (only one of them was needed to open).
    for (id, size) in repo.backend().list(FileKind::Key)? {
        match crate::repo::read_key_file_listed(repo.backend(), &id, Some(size)) {
            // Removed since the listing (a key removed meanwhile): not damage.
            Err(e) if e.is_not_found() => {}
            Err(e) => report.errors.push(format!("key {id}: {e}")),
            Ok(_) => {}
        }
    }

    // Index files, read afresh so each problem names its file.
    let mut indexed: HashMap<Id, Vec<PackEntry>> = HashMap::new();
    let mut first_listed_in: HashMap<Id, Id> = HashMap::new();
    let mut later_listings: Vec<LaterListing> = Vec::new();
    for (id, size) in repo.backend().list(FileKind::Index)? {
        match repo.read_index_file_listed(&id, Some(size)) {
            Ok(file) => {
                for p in file.packs {
                    match indexed.entry(p.pack) {
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            first_listed_in.insert(p.pack, id);
                            slot.insert(p.entries);
                        }
                        std::collections::hash_map::Entry::Occupied(_) => {
                            later_listings.push(LaterListing { index: id, pack: p.pack, entries: p.entries })
                        }
                    }
                }
            }
            // Removed since the listing (a concurrent prune): not damage.
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                report.suggest_repair_index = true;
                report.errors.push(format!("index {id}: {e}"))
            }
        }
    }
    report.errors.extend(listings_that_disagree(&indexed, &first_listed_in, &later_listings));
    report.blobs = indexed.values().map(Vec::len).sum();
    let chunk_lengths = data_blob_lengths(&indexed);

    // Packs: present, headers agree with the index, and optionally every blob.
    let on_disk: HashMap<Id, u64> = repo.backend().list(FileKind::Pack)?.into_iter().collect();
    let mut unreferenced: Vec<&Id> = on_disk.keys().filter(|pack| !indexed.contains_key(*pack)).collect();
    unreferenced.sort();
    // One line however many: a lost index leaves thousands of them.
    match unreferenced.as_slice() {
        [] => {}
        [pack] => report
            .notes
            .push(format!("pack {pack} is not referenced by any index (left by an interrupted run; harmless)")),
        packs => report.notes.push(format!(
            "pack {} and {} are not referenced by any index (left by interrupted runs, or listed by a \
             damaged index; harmless)",
            packs[0],
            crate::repo::rebuild::plural(packs.len() - 1, "other", "others"),
        )),
    }
    let mut packs: Vec<(&Id, &Vec<PackEntry>)> = indexed.iter().collect();
    packs.sort_by_key(|(id, _)| **id);
    report.packs = packs.len();
    // Blobs whose only listed pack is missing, and that pack: the open
    // dropped them from the index, so the walk below names what needs them.
    let mut in_missing_pack: HashMap<BlobKey, Id> = HashMap::new();
    for (pack, entries) in &packs {
        if !on_disk.contains_key(pack) {
            in_missing_pack.extend(entries.iter().map(|e| ((e.kind, e.id), **pack)));
        }
    }
    let to_read = packs_to_read(&packs, &on_disk, opts)?;
    report.packs_read = packs.iter().map(|(p, _)| **p).filter(|p| to_read.contains(p)).collect();
    report.bytes_read = report.packs_read.iter().map(|p| on_disk[p]).sum();
    let results: Vec<(Vec<String>, Vec<BlobKey>)> = packs
        .par_iter()
        .map(|(pack, entries)| {
            if !on_disk.contains_key(pack) {
                // Told after the walk, with what needs it.
                return (Vec::new(), Vec::new());
            }
            if to_read.contains(*pack) {
                read_data::read_pack(repo, pack, on_disk[*pack], entries)
            } else {
                check_header(repo, pack, entries)
            }
        })
        .collect();
    let mut bad_copies: HashSet<(BlobKey, Id)> = HashSet::new();
    for ((errors, bad), (pack, _)) in results.into_iter().zip(&packs) {
        report.errors.extend(errors);
        bad_copies.extend(bad.into_iter().map(|key| (key, **pack)));
    }
    // R7: a blob is damaged for the snapshots only when no copy of it reads
    // (each damaged pack is named above either way); the pack named is the
    // first damaged copy's.
    let mut bad_blobs: HashMap<BlobKey, Id> = HashMap::new();
    for (key, pack) in &bad_copies {
        if repo.locations(key.0, &key.1).iter().all(|l| bad_copies.contains(&(*key, l.pack))) {
            bad_blobs.entry(*key).and_modify(|p| *p = (*p).min(*pack)).or_insert(*pack);
        }
    }
    let mut damage = Damage::default();

    // Snapshots and their trees. Each tree is read once, and its problems
    // are named for the first snapshot that holds it.
    report.errors.extend(problems);
    report.snapshots = all.len();
    let mut seen_trees: HashSet<Id> = HashSet::new();
    let mut subtrees: HashMap<Id, Vec<Id>> = HashMap::new();
    let mut damaged_trees: HashSet<Id> = HashSet::new();
    let mut named: HashSet<Id> = HashSet::new();
    for entry in &all {
        let sid = entry.id.short();
        let errors_before = report.errors.len();
        // How many entries of this snapshot cannot be read, and the first.
        let mut damaged_here = (0usize, String::new());
        let mut stack = vec![(entry.snapshot.tree, String::from("/"))];
        while let Some((tree_id, path)) = stack.pop() {
            if !seen_trees.insert(tree_id) {
                continue;
            }
            match repo.locate_tree(&tree_id) {
                None => {
                    let cause = unindexed_cause(repo, &in_missing_pack, BlobKind::Tree, &tree_id);
                    damage.record(cause, BlobKind::Tree, tree_id, entry.id, &path);
                    if cause != Cause::InPackHeaders {
                        note_damaged(&mut damaged_here, &path);
                        damaged_trees.insert(tree_id);
                        continue;
                    }
                }
                // Written before blob identity included the kind: readable
                // (see format-spec.md), so a note, not an error; the next
                // snapshot holding this folder stores it as a tree.
                Some(loc) if loc.kind == BlobKind::Data => report.notes.push(format!(
                    "snapshot {sid}: tree {tree_id} of {path} is stored only as a data blob \
                     (written by an older cairn); it is read as such and restores whole"
                )),
                Some(_) => {}
            }
            let tree = match repo.load_tree(&tree_id) {
                Ok(t) => t,
                Err(e) => {
                    report.errors.push(format!("snapshot {sid}: tree of {path}: {e}"));
                    damaged_trees.insert(tree_id);
                    continue;
                }
            };
            for node in &tree.nodes {
                let name = String::from_utf8_lossy(&node.name);
                let child = if path == "/" { format!("/{name}") } else { format!("{path}/{name}") };
                match &node.kind {
                    NodeKind::Dir { subtree } => {
                        subtrees.entry(tree_id).or_default().push(*subtree);
                        stack.push((*subtree, child))
                    }
                    NodeKind::File { size, content } => {
                        if let Some(problem) = size_mismatch(*size, content, &chunk_lengths) {
                            report.errors.push(format!("snapshot {sid}: {child}: {problem}"));
                            damaged_trees.insert(tree_id);
                        }
                        for id in content {
                            let cause = if !repo.is_indexed(BlobKind::Data, id) {
                                unindexed_cause(repo, &in_missing_pack, BlobKind::Data, id)
                            } else if let Some(pack) = bad_blobs.get(&(BlobKind::Data, *id)) {
                                Cause::DamagedIn(*pack)
                            } else {
                                continue;
                            };
                            damage.record(cause, BlobKind::Data, *id, entry.id, &child);
                            if cause != Cause::InPackHeaders {
                                note_damaged(&mut damaged_here, &child);
                                damaged_trees.insert(tree_id);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if let (n @ 1.., first) = &damaged_here {
            let more = match n - 1 {
                0 => String::new(),
                others => format!(" and {}", crate::repo::rebuild::plural(others, "other", "others")),
            };
            report.errors.push(format!(
                "snapshot {sid}: cannot be restored whole: {first}{more} need data that is damaged or missing \
                 (named below)"
            ));
        }
        if report.errors.len() > errors_before {
            named.insert(entry.id);
        }
    }
    for (pack, _) in &packs {
        if !on_disk.contains_key(pack) {
            let cost = damage.missing_pack_cost(pack);
            report.errors.push(format!("pack {pack} is listed in the index but missing{cost}"));
        }
    }
    report.errors.extend(damage.lines());
    report.suggest_repair_index |= damage.index_needs_repair();
    // A later snapshot that shares a damaged tree (or a tree holding one)
    // met it as already seen; it cannot be restored whole either, so it is
    // named too rather than looking intact.
    let holding_damage = trees_holding(&damaged_trees, &subtrees);
    for entry in all.iter().filter(|e| !named.contains(&e.id) && holding_damage.contains(&e.snapshot.tree)) {
        report.errors.push(format!(
            "snapshot {}: shares damaged trees or chunks named above for an earlier snapshot",
            entry.id.short()
        ));
    }

    for tmp in repo.backend().list_temporaries()? {
        report.notes.push(format!("temporary file {tmp} left by an interrupted write (harmless)"));
    }
    for problem in repo.index_problems() {
        if !report.errors.contains(&problem) {
            report.errors.push(problem);
        }
    }
    Ok(report)
}

/// The indexed packs present on disk whose data this check reads.
fn packs_to_read(
    packs: &[(&Id, &Vec<PackEntry>)],
    on_disk: &HashMap<Id, u64>,
    opts: CheckOptions,
) -> crate::Result<HashSet<Id>> {
    let present: Vec<(Id, u64)> = packs.iter().filter_map(|(p, _)| on_disk.get(*p).map(|size| (**p, *size))).collect();
    match opts.read_subset {
        _ if opts.read_data => Ok(present.iter().map(|p| p.0).collect()),
        Some(subset) => subset.select(&present),
        None => Ok(HashSet::new()),
    }
}

/// Counts one more unreadable entry of a snapshot, remembering the first.
fn note_damaged(damaged: &mut (usize, String), path: &str) {
    if damaged.0 == 0 {
        damaged.1 = path.to_string();
    }
    damaged.0 += 1;
}

/// Why a blob no index lists cannot be read through the index: its pack
/// is missing, or it is in no index at all (then: found in a pack header,
/// or lost).
fn unindexed_cause(repo: &Repository, in_missing_pack: &HashMap<BlobKey, Id>, kind: BlobKind, id: &Id) -> Cause {
    match in_missing_pack.get(&(kind, *id)) {
        Some(pack) => Cause::MissingPack(*pack),
        None if repo.locate_in_headers(kind, id).is_some() => Cause::InPackHeaders,
        None => Cause::Lost,
    }
}

/// The damaged trees and every tree holding one somewhere below it.
fn trees_holding(damaged: &HashSet<Id>, subtrees: &HashMap<Id, Vec<Id>>) -> HashSet<Id> {
    let mut parents: HashMap<Id, Vec<Id>> = HashMap::new();
    for (parent, children) in subtrees {
        for child in children {
            parents.entry(*child).or_default().push(*parent);
        }
    }
    let mut holding = damaged.clone();
    let mut todo: Vec<Id> = damaged.iter().copied().collect();
    while let Some(id) = todo.pop() {
        for parent in parents.get(&id).into_iter().flatten() {
            if holding.insert(*parent) {
                todo.push(*parent);
            }
        }
    }
    holding
}

/// A listing of a pack in an index file other than the first one read.
struct LaterListing {
    index: Id,
    pack: Id,
    entries: Vec<PackEntry>,
}

/// Packs are immutable, so every index file that lists a pack must list the
/// same entries. Only the first listing is compared with the pack's header;
/// a later one that differs would go unseen (and a reader may use it), so
/// each is compared with the first.
fn listings_that_disagree(
    first: &HashMap<Id, Vec<PackEntry>>,
    first_listed_in: &HashMap<Id, Id>,
    later: &[LaterListing],
) -> Vec<String> {
    later
        .iter()
        .filter(|l| first.get(&l.pack).is_some_and(|entries| !same_entries(entries, &l.entries)))
        .map(|l| {
            let first_index = first_listed_in.get(&l.pack).map(Id::to_hex).unwrap_or_default();
            format!("pack {}: index {} lists it differently from index {first_index}", l.pack, l.index)
        })
        .collect()
}

/// The plaintext length of every data blob, from the index listings.
fn data_blob_lengths(indexed: &HashMap<Id, Vec<PackEntry>>) -> HashMap<Id, u64> {
    indexed
        .values()
        .flatten()
        .filter(|e| e.kind == crate::format::BlobKind::Data)
        .map(|e| (e.id, u64::from(e.raw_length)))
        .collect()
}

/// A file's recorded size must be the sum of its chunks' lengths (§11): a
/// restore would otherwise write a file of another size than recorded.
/// Chunks missing from the index are reported on their own, not here.
fn size_mismatch(size: u64, content: &[Id], chunk_lengths: &HashMap<Id, u64>) -> Option<String> {
    let mut stored = 0u64;
    for id in content {
        stored = stored.saturating_add(*chunk_lengths.get(id)?);
    }
    (stored != size).then(|| format!("its size is {size} bytes but its chunks hold {stored}"))
}

/// The policy and pin files (format-spec.md §10.1): each must open. A pin
/// whose snapshot is gone pins nothing, which is worth a note.
fn retention_objects(
    repo: &Repository,
    all: &[snapshots::SnapshotEntry],
    report: &mut CheckReport,
) -> crate::Result<()> {
    if let Err(e) = crate::snapshot::policy_store::load(repo) {
        report.errors.push(format!("{e} (`cairn policy set` writes a new one)"));
    }
    let (pins, problems) = crate::snapshot::pins::list(repo)?;
    report.errors.extend(problems);
    for id in pins.keys().filter(|id| !all.iter().any(|e| e.id == **id)) {
        report.notes.push(format!("pin {id} names a snapshot that does not exist (`cairn unpin` removes it)"));
    }
    Ok(())
}

pub(super) fn same_entries(a: &[PackEntry], b: &[PackEntry]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by_key(|e| e.offset);
    b.sort_by_key(|e| e.offset);
    a == b
}

/// Reads only the pack's header and compares it with the index.
pub(super) fn check_header(repo: &Repository, pack: &Id, entries: &[PackEntry]) -> (Vec<String>, Vec<BlobKey>) {
    match pack::read_header(repo.backend(), repo.keys(), pack) {
        Ok(header) if same_entries(&header, entries) => (Vec::new(), Vec::new()),
        Ok(_) => (vec![format!("pack {pack}: header disagrees with the index")], Vec::new()),
        Err(e) => (vec![format!("pack {pack}: {e}")], entries.iter().map(|e| (e.kind, e.id)).collect()),
    }
}

#[cfg(test)]
#[path = "check_consistency_tests.rs"]
mod consistency_tests;

#[cfg(test)]
#[path = "check_races_tests.rs"]
mod races_tests;

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
