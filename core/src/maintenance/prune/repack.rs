//! Repacking: the needed blobs of the packs the plan chose are copied into
//! new packs, sealed bytes as read, after each is verified (opened with its
//! kind's AAD, length and id checked: R2). Prune never spreads a damaged
//! blob: one that fails is taken from another copy (R7), and when no copy
//! passes, its pack is kept whole and named in a warning.
//!
//! Packs are read in offset order, adjacent blobs merged into one ranged
//! read of at most [`MAX_READ`] bytes; blobs of one read are verified in
//! parallel and appended in order through a [`PackWriter`], so memory holds
//! one read at a time, never a pack.

use rayon::prelude::*;

use super::plan::{PrunePlan, RepackPack};
use crate::backend::FileKind;
use crate::error::Result;
use crate::format::{BlobKind, IndexedPack, PackEntry};
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::index::BlobLocation;
use crate::repo::pack::PackWriter;

/// The most bytes read at once (a single larger blob is read alone).
const MAX_READ: u64 = 4 * 1024 * 1024;

#[derive(Default)]
pub(super) struct Repacked {
    /// The new packs, durable, with their entries.
    pub new_packs: Vec<IndexedPack>,
    pub new_bytes: u64,
    /// Packs of the plan kept whole because a needed blob in them fails
    /// and no other copy passes (positions in `plan.repack`).
    pub kept_whole: Vec<usize>,
    pub warnings: Vec<String>,
}

/// One open new pack per kind (W6: data and tree blobs never share one).
struct Writers<'r> {
    repo: &'r Repository,
    data: Option<PackWriter>,
    tree: Option<PackWriter>,
    out: Repacked,
}

impl Writers<'_> {
    fn add(&mut self, kind: BlobKind, entry: &PackEntry, sealed: &[u8]) -> Result<()> {
        let slot = match kind {
            BlobKind::Data => &mut self.data,
            BlobKind::Tree => &mut self.tree,
        };
        let writer = match slot {
            Some(w) => w,
            None => slot.insert(PackWriter::create(self.repo.backend(), kind)?),
        };
        writer.add(entry.id, sealed, entry.raw_length as usize)?;
        if writer.len() >= u64::from(self.repo.params().pack_target)
            && let Some(full) = slot.take()
        {
            self.finish(full)?;
        }
        Ok(())
    }

    fn finish(&mut self, writer: PackWriter) -> Result<()> {
        let (pack, entries, size) = writer.finish(self.repo.backend(), self.repo.keys())?;
        self.out.new_packs.push(IndexedPack { pack, entries });
        self.out.new_bytes += size;
        Ok(())
    }

    fn close(mut self) -> Result<Repacked> {
        for writer in [self.data.take(), self.tree.take()].into_iter().flatten() {
            if !writer.is_empty() {
                self.finish(writer)?;
            }
        }
        Ok(self.out)
    }
}

/// Copies the needed blobs of every pack in `plan.repack` into new packs,
/// all durable when this returns.
pub(super) fn repack(repo: &Repository, plan: &PrunePlan) -> Result<Repacked> {
    let mut writers = Writers { repo, data: None, tree: None, out: Repacked::default() };
    for (position, pack) in plan.repack.iter().enumerate() {
        if let Some(warning) = repack_one(repo, pack, &mut writers)? {
            writers.out.kept_whole.push(position);
            writers.out.warnings.push(warning);
        }
    }
    writers.close()
}

/// Copies one pack's needed blobs; `Some(warning)` when a blob fails and
/// no copy of it passes (the pack is then kept whole: the blobs already
/// copied are harmless second copies).
fn repack_one(repo: &Repository, pack: &RepackPack, writers: &mut Writers) -> Result<Option<String>> {
    for run in adjacent_runs(&pack.keep) {
        let start = u64::from(run[0].offset);
        let len: u64 = run.iter().map(|e| u64::from(e.length)).sum();
        // A range that cannot be read: each blob falls back to its copies.
        let bytes = repo.backend().read_range(FileKind::Pack, &pack.pack.pack, start, len as usize).ok();
        let verified: Vec<Option<&[u8]>> = run
            .par_iter()
            .map(|entry| {
                let bytes = bytes.as_deref()?;
                let at = (u64::from(entry.offset) - start) as usize;
                let sealed = &bytes[at..at + entry.length as usize];
                repo.open_blob(&entry.id, &location(pack.pack.pack, entry), sealed).ok().map(|_| sealed)
            })
            .collect();
        for (entry, sealed) in run.iter().zip(verified) {
            match sealed {
                Some(sealed) => writers.add(pack.kind, entry, sealed)?,
                None => match other_copy(repo, pack.pack.pack, entry) {
                    Some((kind, sealed)) => writers.add(kind, entry, &sealed)?,
                    None => {
                        return Ok(Some(format!(
                            "blob {} in pack {} is damaged and no other copy of it reads; the pack is kept whole \
                             (run `cairn check --read-data`)",
                            entry.id, pack.pack.pack
                        )));
                    }
                },
            }
        }
    }
    Ok(None)
}

/// The entries split into runs of adjacent blobs of at most [`MAX_READ`]
/// bytes (a larger blob alone).
fn adjacent_runs(entries: &[PackEntry]) -> Vec<&[PackEntry]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, entry) in entries.iter().enumerate() {
        let adjacent =
            i > start && u64::from(entries[i - 1].offset) + u64::from(entries[i - 1].length) == u64::from(entry.offset);
        if i > start && (!adjacent || bytes + u64::from(entry.length) > MAX_READ) {
            runs.push(&entries[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += u64::from(entry.length);
    }
    if start < entries.len() {
        runs.push(&entries[start..]);
    }
    runs
}

fn location(pack: Id, entry: &PackEntry) -> BlobLocation {
    BlobLocation { pack, kind: entry.kind, offset: entry.offset, length: entry.length, raw_length: entry.raw_length }
}

/// Another copy of the blob that reads and verifies (R7), with its kind.
fn other_copy(repo: &Repository, damaged: Id, entry: &PackEntry) -> Option<(BlobKind, Vec<u8>)> {
    repo.locations(entry.kind, &entry.id).into_iter().filter(|loc| loc.pack != damaged).find_map(|loc| {
        let sealed =
            repo.backend().read_range(FileKind::Pack, &loc.pack, u64::from(loc.offset), loc.length as usize).ok()?;
        repo.open_blob(&entry.id, &loc, &sealed).ok()?;
        Some((loc.kind, sealed))
    })
}
