//! Pack headers as the second source of blob locations.
//!
//! Every pack ends with a sealed header listing its blobs (format-spec.md,
//! §8), so the index is a summary that can be rebuilt. When an index file is
//! damaged or lost, the blobs it listed are still in intact packs: readers
//! (`load_blob`, `load_tree`) that miss in the index look here, where the
//! headers of every pack no readable index lists are read once, on the first
//! miss, and remembered for the rest of the run. `cairn repair index`
//! (`maintenance::repair`) writes what this finds into a new index file.
//!
//! Only readers use these locations, never the blob saver: a new snapshot
//! must not point at a blob that no index file lists, so it stores such a
//! blob again instead (the next prune or repair tidies up).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::{BlobKind, IndexedPack};
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::index::{BlobLocation, Index};
use crate::repo::pack;

/// What the one scan of unindexed pack headers found (see the module doc).
#[derive(Default)]
pub(crate) struct HeaderScan {
    scanned: OnceLock<Scanned>,
    /// Blobs found through the scan so far (for the note).
    found: Mutex<HashSet<(BlobKind, Id)>>,
}

struct Scanned {
    index: Index,
    packs_read: usize,
    unreadable: usize,
}

/// Headers read from packs: those that parsed, and those that did not.
pub struct HeaderReading {
    pub packs: Vec<IndexedPack>,
    pub unreadable: Vec<(Id, Error)>,
}

/// Reads the headers of `packs` (in parallel: each is one ranged read).
pub fn read_headers(repo: &Repository, packs: &[Id]) -> HeaderReading {
    let results: Vec<(Id, Result<Vec<crate::format::PackEntry>>)> =
        packs.par_iter().map(|id| (*id, pack::read_header(repo.backend(), repo.keys(), id))).collect();
    let mut reading = HeaderReading { packs: Vec::new(), unreadable: Vec::new() };
    for (pack, result) in results {
        match result {
            Ok(entries) => reading.packs.push(IndexedPack { pack, entries }),
            Err(e) => reading.unreadable.push((pack, e)),
        }
    }
    reading.packs.sort_by_key(|p| p.pack);
    reading.unreadable.sort_by_key(|(id, _)| *id);
    reading
}

/// The packs in the repository's `data/` that no readable index file lists.
pub fn unindexed_packs(repo: &Repository) -> Result<Vec<Id>> {
    let indexed: HashSet<Id> = repo.read_index().packs().iter().copied().collect();
    let mut packs: Vec<Id> =
        repo.backend().list(FileKind::Pack)?.into_iter().map(|(id, _)| id).filter(|id| !indexed.contains(id)).collect();
    packs.sort();
    Ok(packs)
}

impl Repository {
    /// Where a blob that no index lists can be read, from the headers of
    /// the packs no index lists (read once per run; see the module doc).
    /// Data or tree as asked; for a tree, a data blob of the same id too
    /// (format-spec.md, "Trees stored as data blobs").
    pub(crate) fn locate_in_headers(&self, kind: BlobKind, id: &Id) -> Option<BlobLocation> {
        let scanned = self.header_scan.scanned.get_or_init(|| self.scan_unindexed_headers());
        let found = scanned.index.get(kind, id).or_else(|| match kind {
            BlobKind::Tree => scanned.index.get(BlobKind::Data, id),
            BlobKind::Data => None,
        });
        if found.is_some() {
            self.header_scan.found.lock().unwrap_or_else(|p| p.into_inner()).insert((kind, *id));
        }
        found
    }

    fn scan_unindexed_headers(&self) -> Scanned {
        // A listing that fails leaves nothing to find: the miss is then
        // reported as before, as a blob in no index.
        let packs = unindexed_packs(self).unwrap_or_default();
        let reading = read_headers(self, &packs);
        let mut index = Index::new();
        index.add_packs(&reading.packs);
        Scanned { index, packs_read: packs.len(), unreadable: reading.unreadable.len() }
    }

    /// One line for the user when this run found blobs through pack headers
    /// because no index listed them; `None` when it did not.
    pub fn header_scan_note(&self) -> Option<String> {
        let scanned = self.header_scan.scanned.get()?;
        let found = self.header_scan.found.lock().unwrap_or_else(|p| p.into_inner()).len();
        if found == 0 {
            return None;
        }
        let unreadable = match scanned.unreadable {
            0 => String::new(),
            n => format!(" ({n} of them unreadable)"),
        };
        Some(format!(
            "{} in no index (an index file is damaged or missing) {} found by reading the headers of {}{unreadable}; \
             run `cairn repair index` to rebuild the index",
            plural(found, "blob", "blobs"),
            if found == 1 { "was" } else { "were" },
            plural(scanned.packs_read, "pack", "packs"),
        ))
    }
}

/// "1 pack", "2 packs" (any count type).
pub fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let word = if n == N::from(1) { one } else { many };
    format!("{n} {word}")
}
