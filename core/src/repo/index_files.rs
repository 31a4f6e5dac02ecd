//! Writing index files: the one place that seals an `IndexFile` and the one
//! rule for how many packs go into one file (a snapshot run's own index,
//! `repair index`, prune's consolidated index and its recovered packs).

use crate::backend::FileKind;
use crate::error::Result;
use crate::format::codec::{self, ObjectKind};
use crate::format::{FORMAT_VERSION, IndexFile, IndexedPack};
use crate::id::Id;

use super::Repository;

/// Packs per index file at most (prune's consolidation and `repair`).
pub const PACKS_PER_INDEX_FILE: usize = 65_536;

/// Entries per index file at most, so that one file stays far below the
/// index file size bound (about 50 bytes an entry; format-spec.md §6).
pub const ENTRIES_PER_INDEX_FILE: usize = 4_000_000;

/// `packs` in as few index files as the bounds allow, in their order.
pub fn bounded_index_files(packs: Vec<IndexedPack>) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let mut packs = packs.into_iter().peekable();
    while packs.peek().is_some() {
        let mut file = IndexFile { version: FORMAT_VERSION, packs: Vec::new() };
        let mut entries = 0;
        while let Some(next) = packs.peek() {
            let full = file.packs.len() == PACKS_PER_INDEX_FILE
                || (!file.packs.is_empty() && entries + next.entries.len() > ENTRIES_PER_INDEX_FILE);
            if full {
                break;
            }
            entries += next.entries.len();
            file.packs.extend(packs.next());
        }
        files.push(file);
    }
    files
}

impl Repository {
    /// The stored bytes of an index file (sealed, compressed).
    pub fn seal_index_file(&self, file: &IndexFile) -> Result<Vec<u8>> {
        codec::encode(&self.keys, ObjectKind::Index, file, 3)
    }

    /// Writes an index file; it is durable when this returns.
    /// The local cache learns it at once (the next run reads no index file
    /// it wrote itself).
    pub fn write_index_file(&self, file: &IndexFile) -> Result<Id> {
        let id = self.backend.write(FileKind::Index, &self.seal_index_file(file)?)?;
        if let Some(cache) = &self.cache {
            cache.insert(&self.keys, "index", id, file.packs.clone());
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_are_split_at_the_bound_in_their_order() {
        let packs: Vec<IndexedPack> = (0..=PACKS_PER_INDEX_FILE as u32)
            .map(|n| IndexedPack { pack: Id::of_file_bytes(&n.to_le_bytes()), entries: Vec::new() })
            .collect();
        let files = bounded_index_files(packs.clone());
        assert_eq!(files.iter().map(|f| f.packs.len()).collect::<Vec<_>>(), [PACKS_PER_INDEX_FILE, 1]);
        assert_eq!(files.into_iter().flat_map(|f| f.packs).collect::<Vec<_>>(), packs);
        assert!(bounded_index_files(Vec::new()).is_empty());
    }
}
