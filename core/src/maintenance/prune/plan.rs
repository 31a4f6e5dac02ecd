//! The prune plan, from the index alone: what the snapshots need, and per
//! pack how many of its bytes that is. A pack nothing needs is deleted
//! whole, a pack wholly needed is kept, and a pack partly needed is
//! repacked (its needed blobs copied into new packs) while the unused
//! bytes left exceed `--max-unused` and `--max-repack-size` allows it.

use std::cmp::Reverse;
use std::collections::HashSet;

use super::index_files::{self, IndexFiles};
use super::recover::find_in_headers;
use super::walk::{Indexed, MissingBlob, NO_COPY, Needs};
use super::{MaxUnused, PruneOptions};
use crate::error::{Error, Result};
use crate::format::{BlobKind, IndexedPack, PackEntry};
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::index_files::PACKS_PER_INDEX_FILE;
use crate::snapshot::snapshots;

/// A partly used pack chosen for repacking.
#[derive(Clone, Debug)]
pub struct RepackPack {
    /// The pack and every entry (listed again if the pack is kept whole
    /// after all, because one of its blobs is damaged).
    pub pack: IndexedPack,
    pub size: u64,
    pub kind: BlobKind,
    /// The entries to copy into new packs, by offset.
    pub keep: Vec<PackEntry>,
    /// Their bytes.
    pub used_bytes: u64,
}

/// What prune will do (what `--dry-run` prints).
pub struct PrunePlan {
    pub snapshots: usize,
    pub used_blobs: u64,
    /// Bytes of the copies kept of the blobs the snapshots need.
    pub used_bytes: u64,
    /// Packs in `data/` and their bytes.
    pub packs: u64,
    pub stored_bytes: u64,
    /// Indexed packs that no snapshot needs: deleted whole.
    pub delete: Vec<(Id, u64)>,
    pub repack: Vec<RepackPack>,
    /// Packs kept as they are (in the consolidated index).
    pub keep: Vec<IndexedPack>,
    /// Packs in `data/` that no index lists (left by killed runs or an
    /// earlier prune): deleted by the sweep when no other run is active.
    pub unindexed: Vec<(Id, u64)>,
    /// Packs no index listed that hold blobs a snapshot needs (a run that
    /// deduplicated against them while an earlier prune's sweep waited for
    /// it): listed again by the consolidated index.
    pub reindexed: Vec<Id>,
    /// Bytes no snapshot needs now, and after the plan is carried out.
    pub unused_before: u64,
    pub unused_after: u64,
    /// Bytes of packs after the plan (new packs' headers not counted).
    pub size_after: u64,
    /// The index files read: the ones replaced by the consolidated index.
    pub index_files: Vec<Id>,
    pub index_files_after: usize,
    /// Whether the index is rewritten at all (something to delete or to
    /// repack, several index files, or listings of packs that are gone).
    pub rewrite_index: bool,
    /// The repository is version 1: carrying the plan out upgrades it to
    /// version 2 first (format-spec §12).
    pub would_upgrade: bool,
    pub(super) needs: Needs,
}

impl PrunePlan {
    pub fn delete_bytes(&self) -> u64 {
        self.delete.iter().map(|(_, size)| size).sum()
    }

    pub fn repack_bytes(&self) -> u64 {
        self.repack.iter().map(|r| r.size).sum()
    }

    pub fn repack_kept_bytes(&self) -> u64 {
        self.repack.iter().map(|r| r.used_bytes).sum()
    }

    pub fn unindexed_bytes(&self) -> u64 {
        self.unindexed.iter().map(|(_, size)| size).sum()
    }

    /// Whether carrying the plan out changes anything.
    pub fn is_empty(&self) -> bool {
        !self.rewrite_index && self.unindexed.is_empty()
    }
}

/// One pack's accounting.
struct PackUse {
    used_bytes: u64,
    unused_bytes: u64,
}

/// Plans a prune. Refuses (deleting nothing) when a blob a snapshot needs
/// is in no index, or a snapshot, index file or tree cannot be read.
pub fn plan(repo: &Repository, opts: &PruneOptions) -> Result<PrunePlan> {
    // Before the (long) walk: a prune that could delete nothing is refused.
    repo.refuse_if_append_only()?;
    // Snapshots first, then the index (R5): every listed snapshot's index
    // exists by then (W3).
    let (entries, problems) = snapshots::list(repo)?;
    if let Some(first) = problems.first() {
        return Err(Error::PruneRefused(format!(
            "{first}; a snapshot that cannot be read may need any pack. Remove it with `cairn forget ID` \
             if it is beyond repair"
        )));
    }
    let mut files = index_files::read(repo)?;
    let mut needs = Needs::default();
    let roots: Vec<(Id, Id)> =
        entries.iter().filter(|e| !opts.forgotten.contains(&e.id)).map(|e| (e.id, e.snapshot.tree)).collect();
    let mut missing = Vec::new();
    needs.walk(repo, &mut Indexed::new(repo), &roots, &mut missing)?;
    let reindexed = index_again(repo, &mut files, missing)?;
    choose_copies(&files, &mut needs);
    let mut plan = decide(repo.params().pack_target, opts, files, needs, roots.len());
    plan.rewrite_index |= !reindexed.is_empty();
    plan.reindexed = reindexed;
    plan.would_upgrade = !repo.follows_deletion_protocol() && !plan.is_empty();
    Ok(plan)
}

/// Needed blobs no index lists are looked for in the headers of the packs
/// no index lists (see `recover.rs`); the packs holding them join `files`
/// as if indexed, so the consolidated index lists them again. Returns
/// their ids; refuses, naming it, when a needed blob is found nowhere.
fn index_again(repo: &Repository, files: &mut IndexFiles, missing: Vec<MissingBlob>) -> Result<Vec<Id>> {
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let indexed = files.pack_ids();
    let mut candidates: Vec<Id> = files.on_disk.keys().filter(|id| !indexed.contains(id)).copied().collect();
    candidates.sort();
    let wanted: HashSet<(BlobKind, Id)> = missing.iter().map(|m| (m.kind, m.blob)).collect();
    let (holding, found) = find_in_headers(repo, &candidates, &wanted);
    if let Some(first) = missing.into_iter().find(|m| !found.contains(&(m.kind, m.blob))) {
        return Err(first.into_error());
    }
    let ids = holding.iter().map(|p| p.pack).collect();
    files.packs.extend(holding);
    Ok(ids)
}

/// For each needed blob, the copy to keep: one in a pack whose every
/// blob is needed (so that pack is kept whole), else the first indexed.
/// Every other copy counts as unused.
pub(super) fn choose_copies(files: &IndexFiles, needs: &mut Needs) {
    let all_used: Vec<bool> =
        files.packs.iter().map(|p| p.entries.iter().all(|e| needs.used.contains_key(&(e.kind, e.id)))).collect();
    for (p, pack) in files.packs.iter().enumerate() {
        for (e, entry) in pack.entries.iter().enumerate() {
            if let Some(slot) = needs.used.get_mut(&(entry.kind, entry.id))
                && (*slot == NO_COPY || (!all_used[(*slot >> 32) as usize] && all_used[p]))
            {
                *slot = (p as u64) << 32 | e as u64;
            }
        }
    }
}

fn pack_use(p: usize, pack: &IndexedPack, needs: &Needs) -> PackUse {
    let mut u = PackUse { used_bytes: 0, unused_bytes: 0 };
    for (e, entry) in pack.entries.iter().enumerate() {
        if needs.used.get(&(entry.kind, entry.id)) == Some(&((p as u64) << 32 | e as u64)) {
            u.used_bytes += u64::from(entry.length);
        } else {
            u.unused_bytes += u64::from(entry.length);
        }
    }
    u
}

/// The plan from what is indexed and what is needed (no I/O).
pub(super) fn decide(
    pack_target: u32,
    opts: &PruneOptions,
    files: IndexFiles,
    needs: Needs,
    snapshots: usize,
) -> PrunePlan {
    let indexed: HashSet<Id> = files.pack_ids();
    let mut unindexed: Vec<(Id, u64)> =
        files.on_disk.iter().filter(|(id, _)| !indexed.contains(id)).map(|(id, size)| (*id, *size)).collect();
    unindexed.sort();
    let mut plan = PrunePlan {
        snapshots,
        used_blobs: needs.used.len() as u64,
        used_bytes: 0,
        packs: files.on_disk.len() as u64,
        stored_bytes: files.on_disk.values().sum(),
        delete: Vec::new(),
        repack: Vec::new(),
        keep: Vec::new(),
        unindexed,
        reindexed: Vec::new(),
        unused_before: 0,
        unused_after: 0,
        size_after: 0,
        index_files: files.files,
        index_files_after: 0,
        rewrite_index: false,
        would_upgrade: false,
        needs: Needs::default(),
    };
    let mut candidates: Vec<(RepackPack, u64)> = Vec::new();
    // Moved, not copied: the entries of every pack are the largest part
    // of prune's memory.
    for (p, pack) in files.packs.into_iter().enumerate() {
        let size = files.on_disk.get(&pack.pack).copied().unwrap_or(0);
        let u = pack_use(p, &pack, &needs);
        plan.used_bytes += u.used_bytes;
        if u.used_bytes == 0 {
            plan.delete.push((pack.pack, size));
        } else if u.unused_bytes == 0 {
            plan.keep.push(pack);
        } else {
            let mut keep: Vec<PackEntry> = pack
                .entries
                .iter()
                .enumerate()
                .filter(|(e, entry)| needs.used.get(&(entry.kind, entry.id)) == Some(&((p as u64) << 32 | *e as u64)))
                .map(|(_, entry)| *entry)
                .collect();
            keep.sort_by_key(|e| e.offset);
            let kind = pack.entries.first().map_or(BlobKind::Data, |e| e.kind);
            candidates
                .push((RepackPack { pack: pack.clone(), size, kind, keep, used_bytes: u.used_bytes }, u.unused_bytes));
        }
    }
    let partly_unused: u64 = candidates.iter().map(|(_, unused)| unused).sum();
    plan.unused_before = plan.delete_bytes() + partly_unused + plan.unindexed_bytes();
    // Tree packs first (every command reads trees, and they are small),
    // then small packs (few bytes to copy for a pack less), then the
    // largest unused share. Partly used tree packs and small packs are
    // repacked whatever the unused share (as restic does): cheap, and what
    // the index and the trees read by every command cost depends on them.
    let small = u64::from(pack_target) / 2;
    candidates.sort_by_key(|(c, unused)| {
        let share = (u128::from(*unused) << 32) / u128::from(c.size.max(1));
        (c.kind != BlobKind::Tree, c.size >= small, Reverse(share), c.pack.pack)
    });
    let limit = opts.max_unused.limit(plan.used_bytes);
    let mut remaining = partly_unused;
    let mut repacked = 0u64;
    let mut capped = false;
    let limited = opts.max_unused != MaxUnused::Unlimited;
    for (candidate, unused) in candidates {
        let over_cap = opts.max_repack_size.is_some_and(|cap| repacked + candidate.size > cap);
        capped |= over_cap;
        let always = limited && (candidate.kind == BlobKind::Tree || candidate.size < small);
        if (remaining <= limit && !always) || capped {
            plan.keep.push(candidate.pack);
            continue;
        }
        repacked += candidate.size;
        remaining -= unused;
        plan.repack.push(candidate);
    }
    plan.unused_after = remaining;
    plan.size_after = plan.stored_bytes - plan.delete_bytes() - plan.unindexed_bytes() - plan.repack_bytes()
        + plan.repack_kept_bytes();
    plan.rewrite_index = !plan.delete.is_empty()
        || !plan.repack.is_empty()
        || plan.index_files.len() > 1
        || files.redundant_listings > 0;
    let target = u64::from(pack_target).max(1);
    let new_packs = plan.repack_kept_bytes().div_ceil(target) as usize;
    plan.index_files_after = if plan.rewrite_index {
        (plan.keep.len() + new_packs).div_ceil(PACKS_PER_INDEX_FILE)
    } else {
        plan.index_files.len()
    };
    plan.needs = needs;
    plan
}
