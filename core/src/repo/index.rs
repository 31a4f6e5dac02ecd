//! The in-memory master index: blob (kind, id) → pack and place. Built from
//! all index files; new packs are added as they are written.
//!
//! Every copy of a blob is kept (format-spec.md, R7): concurrent or killed
//! runs store the same blob in several packs, and when one copy is damaged a
//! reader falls back to another. The first copy indexed lives in `blobs`;
//! the rare further copies in `copies`, so the common case costs nothing.
//!
//! Keyed by kind as well as id: a data blob and a tree blob with the same
//! plaintext have the same id (the keyed hash does not cover the kind), but
//! are sealed differently, so one cannot stand in for the other (issue 9).

use std::collections::HashMap;

use crate::format::{BlobKind, IndexFile, IndexedPack, PackEntry};
use crate::id::Id;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: Id,
    pub kind: BlobKind,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

#[derive(Default, Debug)]
pub struct Index {
    packs: Vec<Id>,
    blobs: HashMap<(BlobKind, Id), (u32, PackEntry)>,
    /// Copies after the first, in the order they were indexed.
    copies: HashMap<(BlobKind, Id), Vec<(u32, PackEntry)>>,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every entry of one pack. A blob already indexed in another pack
    /// keeps its first location and gains this one as a further copy; the
    /// same pack listed again (by several index files) adds nothing.
    pub fn add_pack(&mut self, pack: Id, entries: &[PackEntry]) {
        let pos = self.packs.len() as u32;
        self.packs.push(pack);
        for e in entries {
            let key = (e.kind, e.id);
            let Some((first, _)) = self.blobs.get(&key) else {
                self.blobs.insert(key, (pos, *e));
                continue;
            };
            let in_pack = |p: &u32| self.packs[*p as usize] == pack;
            let known = in_pack(first) || self.copies.get(&key).is_some_and(|c| c.iter().any(|(p, _)| in_pack(p)));
            if !known {
                self.copies.entry(key).or_default().push((pos, *e));
            }
        }
    }

    pub fn add_file(&mut self, file: &IndexFile) {
        self.add_packs(&file.packs);
    }

    pub fn add_packs(&mut self, packs: &[IndexedPack]) {
        for p in packs {
            self.add_pack(p.pack, &p.entries);
        }
    }

    /// The first copy indexed.
    pub fn get(&self, kind: BlobKind, id: &Id) -> Option<BlobLocation> {
        self.blobs.get(&(kind, *id)).map(|(pos, e)| self.location(*pos, e))
    }

    /// Every copy, the first indexed first (empty when not indexed).
    pub fn locations(&self, kind: BlobKind, id: &Id) -> Vec<BlobLocation> {
        let key = (kind, *id);
        let first = self.blobs.get(&key).into_iter();
        let further = self.copies.get(&key).into_iter().flatten();
        first.chain(further).map(|(pos, e)| self.location(*pos, e)).collect()
    }

    fn location(&self, pos: u32, e: &PackEntry) -> BlobLocation {
        BlobLocation {
            pack: self.packs[pos as usize],
            kind: e.kind,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        }
    }

    pub fn contains(&self, kind: BlobKind, id: &Id) -> bool {
        self.blobs.contains_key(&(kind, *id))
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Every pack named by the index (a pack may appear more than once if it
    /// is listed in several index files).
    pub fn packs(&self) -> &[Id] {
        &self.packs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u8, offset: u32) -> PackEntry {
        PackEntry { id: Id([id; 32]), kind: BlobKind::Data, offset, length: 10, raw_length: 5 }
    }

    #[test]
    fn every_copy_of_a_blob_is_kept_first_indexed_first() {
        let mut index = Index::new();
        index.add_pack(Id([1; 32]), &[entry(7, 0)]);
        index.add_pack(Id([2; 32]), &[entry(8, 0), entry(7, 10)]);
        index.add_pack(Id([3; 32]), &[entry(7, 20)]);
        let packs: Vec<(Id, u32)> =
            index.locations(BlobKind::Data, &Id([7; 32])).iter().map(|l| (l.pack, l.offset)).collect();
        assert_eq!(packs, [(Id([1; 32]), 0), (Id([2; 32]), 10), (Id([3; 32]), 20)]);
        assert_eq!(index.get(BlobKind::Data, &Id([7; 32])).unwrap().pack, Id([1; 32]), "get is the first copy");
        assert_eq!(index.locations(BlobKind::Data, &Id([8; 32])).len(), 1);
        assert!(index.locations(BlobKind::Tree, &Id([7; 32])).is_empty(), "kinds apart");
        assert_eq!(index.blob_count(), 2, "blobs, not copies");
    }

    #[test]
    fn a_pack_listed_by_several_index_files_is_one_copy() {
        let mut index = Index::new();
        index.add_pack(Id([1; 32]), &[entry(7, 0)]);
        index.add_pack(Id([2; 32]), &[entry(7, 0)]);
        index.add_pack(Id([1; 32]), &[entry(7, 0)]);
        index.add_pack(Id([2; 32]), &[entry(7, 0)]);
        assert_eq!(index.locations(BlobKind::Data, &Id([7; 32])).len(), 2);
    }
}
