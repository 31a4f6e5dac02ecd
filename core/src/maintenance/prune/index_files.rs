//! The index files as prune sees them: which files were read (they are the
//! ones prune may remove once their replacement is durable) and the packs
//! they list, each once, in the order readers index them (R7).

use std::collections::{HashMap, HashSet};

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::IndexedPack;
use crate::id::Id;
use crate::repo::Repository;

pub(super) struct IndexFiles {
    /// Every index file read, in ascending id order.
    pub files: Vec<Id>,
    /// Every pack they list that is in `data/`, once, first listing first.
    pub packs: Vec<IndexedPack>,
    /// Listings dropped: a pack listed twice, or listed and not in `data/`.
    pub redundant_listings: usize,
    /// Every pack in `data/` with its size, listed after the index files.
    pub on_disk: HashMap<Id, u64>,
}

impl IndexFiles {
    pub fn pack_ids(&self) -> HashSet<Id> {
        self.packs.iter().map(|p| p.pack).collect()
    }
}

/// Reads every index file (through the local cache, like opening does),
/// then lists `data/`. In this order, every pack an index file lists was
/// durable before that file (W2), so it is in the listing unless it is
/// really gone; a pack listed first could belong to an index file written
/// after it, and that file's packs would be left out of the consolidated
/// index while the file itself, read here, is removed.
///
/// An index file that cannot be read stops prune: the packs it lists
/// would look unused, and prune would delete data that snapshots need.
pub(super) fn read(repo: &Repository) -> Result<IndexFiles> {
    let listing = repo.backend().list(FileKind::Index)?;
    let present: Vec<Id> = listing.iter().map(|(id, _)| *id).collect();
    let sizes: HashMap<Id, u64> = listing.into_iter().collect();
    let read = |id: &Id| match repo.read_index_file_listed(id, sizes.get(id).copied()) {
        Ok(file) => Ok(Some(file.packs)),
        // Removed since the listing: its replacement was written first (R11).
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(format!("index {id}: {e}")),
    };
    let (found, problems): (Vec<(Id, Vec<IndexedPack>)>, Vec<String>) =
        repo.read_through_cache("index", &present, read);
    if let Some(first) = problems.first() {
        let more = match problems.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        return Err(Error::PruneRefused(format!("{first}{more}; run `cairn repair index` first")));
    }
    let on_disk: HashMap<Id, u64> = repo.backend().list(FileKind::Pack)?.into_iter().collect();
    let mut files = Vec::with_capacity(found.len());
    let mut packs = Vec::new();
    let mut seen = HashSet::new();
    let mut redundant_listings = 0;
    for (file, listed) in found {
        files.push(file);
        for pack in listed {
            if on_disk.contains_key(&pack.pack) && seen.insert(pack.pack) {
                packs.push(pack);
            } else {
                redundant_listings += 1;
            }
        }
    }
    files.sort();
    Ok(IndexFiles { files, packs, redundant_listings, on_disk })
}
