//! The sweep (format-spec.md §6, "Prune", steps 1–4): deletes the packs
//! that no current index lists, once no other run could still need them.
//!
//! 1. `data/` is listed (set A): packs written later are not touched.
//! 2. If any other run is registered and alive, nothing is deleted (a
//!    later prune deletes the packs).
//! 3. The index files are read again and the snapshots listed again; what
//!    snapshots committed since the plan need is added to what the plan
//!    found. A needed blob no current index lists is looked for in the
//!    headers of the unindexed packs of A; a pack holding one is indexed
//!    again ("recovered"). A needed blob found nowhere stops the sweep.
//! 4. Each pack of A that no current index lists and that was not
//!    recovered is deleted — unless the storage still retains it (Object
//!    Lock): then it is kept, reported, and a later prune deletes it.

use std::collections::{HashMap, HashSet};

use super::index_files;
use super::plan::PrunePlan;
use super::recover::find_in_headers;
use super::walk::{Indexed, MissingBlob};
use std::time::SystemTime;

use crate::backend::FileKind;
use crate::error::Result;
use crate::format::{BlobKind, FORMAT_VERSION, IndexFile};
use crate::id::Id;
use crate::maintenance::locked::{Locked, remove_unless_locked};
use crate::repo::Repository;
use crate::testhook::{self, Point};

/// How the sweep ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum SweepOutcome {
    /// Every unindexed pack of A was deleted (or there was none).
    #[default]
    Done,
    /// Another run is alive (one line per run): nothing was deleted.
    Blocked(Vec<String>),
    /// A blob a snapshot needs is in no index and no pack header: nothing
    /// was deleted (the line names the blob and the snapshot).
    Missing(String),
}

#[derive(Debug, Default)]
pub struct SweepReport {
    pub outcome: SweepOutcome,
    pub deleted: Vec<(Id, u64)>,
    /// Packs that would have been deleted but were found to hold a
    /// needed blob, and were indexed again.
    pub recovered: Vec<Id>,
    /// Packs left for a later prune (when blocked or stopped).
    pub waiting: Vec<(Id, u64)>,
    /// Markers of other runs that had ended (killed), removed.
    pub dead_markers_removed: usize,
    /// Packs to delete that the storage still retains (Object Lock): kept.
    pub locked: Locked,
}

impl SweepReport {
    pub fn deleted_bytes(&self) -> u64 {
        self.deleted.iter().map(|(_, size)| size).sum()
    }

    pub fn waiting_bytes(&self) -> u64 {
        self.waiting.iter().map(|(_, size)| size).sum()
    }
}

/// The other runs registered in the repository (`locks/`) that are alive,
/// one line each naming role, host, pid and since when (format-spec §6).
fn blocking_runs(repo: &Repository) -> Result<Vec<String>> {
    Ok(repo.live_markers_except_own()?.iter().map(|m| m.describe()).collect())
}

/// Runs the sweep after the consolidated index replaced the old one.
pub(super) fn sweep(repo: &Repository, plan: &mut PrunePlan) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    // 1. Set A, before anything else.
    // With their times: the storage's retention runs from the upload.
    let with_times = repo.backend().list_times(FileKind::Pack)?;
    let modified: HashMap<Id, Option<SystemTime>> = with_times.iter().map(|(id, _, t)| (*id, *t)).collect();
    let listed: HashMap<Id, u64> = with_times.into_iter().map(|(id, size, _)| (id, size)).collect();
    // 2. Any other live run blocks.
    let blockers = blocking_runs(repo)?;
    if !blockers.is_empty() {
        report.waiting = unindexed_now(repo, &listed)?;
        report.outcome = SweepOutcome::Blocked(blockers);
        report.dead_markers_removed = repo.remove_dead_markers()?;
        return Ok(report);
    }
    // 3. Snapshots, then the index files again (R5).
    let (entries, problems) = crate::snapshot::snapshots::list(repo)?;
    let files = index_files::read(repo)?;
    let indexed = files.pack_ids();
    let mut doomed: Vec<(Id, u64)> =
        listed.iter().filter(|(id, _)| !indexed.contains(id)).map(|(id, size)| (*id, *size)).collect();
    doomed.sort();
    if let Some(first) = problems.first() {
        report.waiting = doomed;
        report.outcome = SweepOutcome::Missing(format!("prune: {first}; it may need any pack, so no pack was deleted"));
        return Ok(report);
    }
    let new_roots: Vec<(Id, Id)> =
        entries.iter().filter(|e| !plan.needs.snapshots.contains(&e.id)).map(|e| (e.id, e.snapshot.tree)).collect();
    let mut missing: Vec<MissingBlob> = Vec::new();
    if let Err(e) = plan.needs.walk(repo, &mut Indexed::new(repo), &new_roots, &mut missing) {
        report.waiting = doomed;
        report.outcome = SweepOutcome::Missing(e.to_string());
        return Ok(report);
    }
    // What the new snapshots need and no index lists, and what the plan
    // found indexed and no index file lists any more, as a line each.
    let mut lost: Vec<((BlobKind, Id), String)> =
        missing.into_iter().map(|m| ((m.kind, m.blob), m.into_error().to_string())).collect();
    // Checked against the index files read now (not the in-memory index,
    // which may still hold the files prune removed).
    let listed: HashSet<(BlobKind, Id)> = files
        .packs
        .iter()
        .flat_map(|p| p.entries.iter().map(|e| (e.kind, e.id)))
        .filter(|key| plan.needs.used.contains_key(key))
        .collect();
    for key in plan.needs.used.keys().filter(|key| !listed.contains(key)) {
        lost.push((
            *key,
            format!(
                "prune: blob {}, which a snapshot needs, is in no index file nor pack header any more; no pack was \
             deleted. Run `cairn check`",
                key.1
            ),
        ));
    }
    if !lost.is_empty() {
        let candidates: Vec<Id> = doomed.iter().map(|(id, _)| *id).collect();
        let wanted: HashSet<(BlobKind, Id)> = lost.iter().map(|(key, _)| *key).collect();
        let (holding, found) = find_in_headers(repo, &candidates, &wanted);
        if let Some((_, line)) = lost.into_iter().find(|(key, _)| !found.contains(key)) {
            report.waiting = doomed;
            report.outcome = SweepOutcome::Missing(line);
            return Ok(report);
        }
        // Indexed again, durably, before any deletion.
        let file = IndexFile { version: FORMAT_VERSION, packs: holding };
        repo.write_index_file(&file)?;
        report.recovered = file.packs.iter().map(|p| p.pack).collect();
        doomed.retain(|(id, _)| !report.recovered.contains(id));
    }
    // 4. Delete; then the markers of runs that ended without removing
    // theirs (killed): they blocked nothing, and now they are tidied.
    for (pack, size) in doomed {
        let when = modified.get(&pack).copied().flatten();
        if let Some(until) = remove_unless_locked(repo, FileKind::Pack, &pack, when)? {
            report.locked.files.push((pack, size, until));
            continue;
        }
        report.deleted.push((pack, size));
        testhook::reached(Point::PrunePackDeleted, None);
    }
    report.dead_markers_removed = repo.remove_dead_markers()?;
    Ok(report)
}

/// The packs of `listed` no index lists now (what waits for a later prune).
fn unindexed_now(repo: &Repository, listed: &HashMap<Id, u64>) -> Result<Vec<(Id, u64)>> {
    let indexed = index_files::read(repo)?.pack_ids();
    let mut waiting: Vec<(Id, u64)> =
        listed.iter().filter(|(id, _)| !indexed.contains(id)).map(|(id, size)| (*id, *size)).collect();
    waiting.sort();
    Ok(waiting)
}
