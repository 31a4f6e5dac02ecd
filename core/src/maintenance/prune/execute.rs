//! Carrying out a prune plan, in the order format-spec.md §6 ("Prune")
//! makes a MUST: (1) a version-1 repository is upgraded before anything is
//! written; (2) the repacked blobs' new packs are durable; (3) the
//! consolidated index, listing every pack kept and every new pack, is
//! durable; (4) only then are the index files read by the plan removed
//! (a concurrent writer's newer index file survives); (5) the sweep
//! deletes the packs no index lists any more, when no other run is alive.

use std::collections::HashSet;

use super::plan::PrunePlan;
use super::repack;
use super::sweep::{self, SweepReport};
use crate::backend::FileKind;
use crate::error::Result;
use crate::format::IndexedPack;
use crate::id::Id;
use crate::maintenance::locked::{Locked, remove_unless_locked};
use crate::repo::Repository;
use crate::repo::index_files::bounded_index_files;
use crate::testhook::{self, Point};

/// What a prune did.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// The repository format was upgraded from 1 to 2 first.
    pub upgraded: bool,
    pub repacked_packs: usize,
    pub new_packs: usize,
    pub new_pack_bytes: u64,
    /// Damaged blobs that kept their pack whole (one line each).
    pub warnings: Vec<String>,
    pub index_files_written: usize,
    pub index_files_removed: usize,
    /// Old index files the storage still retains (Object Lock): kept, so
    /// the packs they list stay too until a later prune.
    pub index_files_locked: Locked,
    pub sweep: SweepReport,
    /// Bytes of packs now in the repository.
    pub size_after: u64,
}

impl PruneReport {
    /// Bytes given back: packs deleted, less the new packs written.
    pub fn freed_bytes(&self) -> i128 {
        i128::from(self.sweep.deleted_bytes()) - i128::from(self.new_pack_bytes)
    }
}

/// Carries out `plan` (see the module doc for the order).
pub fn execute(repo: &Repository, mut plan: PrunePlan) -> Result<PruneReport> {
    repo.refuse_if_append_only()?;
    let mut report = PruneReport::default();
    if plan.is_empty() {
        // Nothing to delete, but the markers of runs that ended without
        // removing theirs (killed, or a failed removal) still go.
        report.sweep.dead_markers_removed = repo.remove_dead_markers()?;
        report.size_after = plan.stored_bytes;
        return Ok(report);
    }
    // 1. Version-1 cairn knows no deletion: it must refuse the repository
    // before anything is removed from it (§12).
    report.upgraded = repo.upgrade_format()?;
    if plan.rewrite_index {
        let repacked = repack::repack(repo, &plan)?;
        testhook::reached(Point::PruneRepacked, None);
        let kept_whole: HashSet<usize> = repacked.kept_whole.iter().copied().collect();
        report.repacked_packs = plan.repack.len() - kept_whole.len();
        report.new_packs = repacked.new_packs.len();
        report.new_pack_bytes = repacked.new_bytes;
        report.warnings = repacked.warnings;
        let mut packs: Vec<IndexedPack> = std::mem::take(&mut plan.keep);
        packs.extend(kept_whole.iter().map(|i| plan.repack[*i].pack.clone()));
        packs.extend(repacked.new_packs);
        let written = write_index(repo, packs)?;
        report.index_files_written = written.len();
        testhook::reached(Point::PruneIndexWritten, None);
        // Only the files the plan read; one the consolidated index equals
        // byte for byte (same name) is the new index, not an old one.
        for old in plan.index_files.iter().filter(|id| !written.contains(id)) {
            match remove_unless_locked(repo, FileKind::Index, old, None)? {
                Some(until) => report.index_files_locked.files.push((*old, 0, until)),
                None => report.index_files_removed += 1,
            }
        }
        testhook::reached(Point::PruneOldIndexRemoved, None);
    }
    report.sweep = sweep::sweep(repo, &mut plan)?;
    report.size_after = repo.backend().list(FileKind::Pack)?.iter().map(|(_, size)| size).sum();
    Ok(report)
}

/// Writes `packs` into as few index files as the bounds allow; every one
/// is durable when this returns.
fn write_index(repo: &Repository, packs: Vec<IndexedPack>) -> Result<Vec<Id>> {
    bounded_index_files(packs).iter().map(|file| repo.write_index_file(file)).collect()
}
