//! The in-memory master index: blob (kind, id) → pack and place. Built from
//! all index files; new packs are added as they are written.
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
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every entry of one pack. A blob already indexed in another pack
    /// keeps its first location (both copies are valid).
    pub fn add_pack(&mut self, pack: Id, entries: &[PackEntry]) {
        let pos = self.packs.len() as u32;
        self.packs.push(pack);
        for e in entries {
            self.blobs.entry((e.kind, e.id)).or_insert((pos, *e));
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

    pub fn get(&self, kind: BlobKind, id: &Id) -> Option<BlobLocation> {
        self.blobs.get(&(kind, *id)).map(|(pos, e)| BlobLocation {
            pack: self.packs[*pos as usize],
            kind: e.kind,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
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
