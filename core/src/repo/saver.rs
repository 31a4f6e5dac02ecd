//! The blob saver: stores blobs into new packs from many threads, skipping
//! blobs already held (by kind and id, format-spec.md R9), then writes one
//! index file for the packs of the run.

use super::*;

impl Repository {
    pub fn saver(&self) -> BlobSaver<'_> {
        BlobSaver {
            repo: self,
            pending: Mutex::new(HashSet::new()),
            data_pack: Mutex::new(None),
            tree_pack: Mutex::new(None),
            finisher: Finisher::start(Arc::clone(&self.backend), self.keys.clone()),
            data_blobs: AtomicU64::new(0),
            tree_blobs: AtomicU64::new(0),
            bytes_added: AtomicU64::new(0),
            remember_trees: true,
        }
    }
}

/// Statistics of what a `BlobSaver` added.
#[derive(Clone, Copy, Debug, Default)]
pub struct SaveStats {
    pub data_blobs: u64,
    pub tree_blobs: u64,
    pub bytes_added: u64,
}

/// Saves blobs into new packs from many threads at once, skipping blobs the
/// repository (or this saver) already holds. `finish` writes the remaining
/// packs and then one index file for all of them.
pub struct BlobSaver<'r> {
    repo: &'r Repository,
    /// Blobs stored in this run, by (kind, id) like the index.
    pending: Mutex<HashSet<(BlobKind, Id)>>,
    data_pack: Mutex<Option<PackWriter>>,
    tree_pack: Mutex<Option<PackWriter>>,
    finisher: Finisher,
    data_blobs: AtomicU64,
    tree_blobs: AtomicU64,
    bytes_added: AtomicU64,
    /// Whether the trees it seals enter the tree cache (see `without_tree_cache`).
    remember_trees: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only follows a panic elsewhere; the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BlobSaver<'_> {
    /// A saver whose trees stay out of the tree cache: `cairn copy` writes
    /// the trees of many snapshots nobody will take a parent from on this
    /// machine, and a cache file per tree cost more than the copy itself.
    pub fn without_tree_cache(mut self) -> Self {
        self.remember_trees = false;
        self
    }

    /// Stores `raw` unless a blob with its id exists; returns the id.
    pub fn save(&self, kind: BlobKind, raw: &[u8]) -> Result<Id> {
        let id = self.repo.keys.blob_id(raw);
        self.save_with_id(kind, id, raw)?;
        Ok(id)
    }

    /// Stores a blob whose id the caller computed; true when it was new.
    pub fn save_with_id(&self, kind: BlobKind, id: Id, raw: &[u8]) -> Result<bool> {
        if raw.len() > codec::MAX_OBJECT_LEN {
            // Pack entries record lengths as u32; trees and chunks stay far below.
            return Err(Error::Internal(format!("a {kind:?} blob of {} bytes is too large to store", raw.len())));
        }
        // By (kind, id): a file whose bytes equal a tree's encoding must not
        // make that tree count as stored (issue 9).
        if self.repo.is_indexed(kind, &id) || !lock(&self.pending).insert((kind, id)) {
            return Ok(false);
        }
        let object_kind = ObjectKind::from(kind);
        let sealed = codec::seal_bytes(&self.repo.keys, object_kind, raw, self.repo.params.zstd_level)?;
        // Used only once an index lists it, so before the pack is durable is fine.
        if self.remember_trees {
            self.repo.remember_tree(kind, &id, &sealed);
        }
        let (packer, counter) = match kind {
            BlobKind::Data => (&self.data_pack, &self.data_blobs),
            BlobKind::Tree => (&self.tree_pack, &self.tree_blobs),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let full = {
            let mut slot = lock(packer);
            let writer = match slot.as_mut() {
                Some(w) => w,
                None => slot.insert(PackWriter::create(&*self.repo.backend, kind)?),
            };
            writer.add(id, &sealed, raw.len())?;
            if writer.len() >= u64::from(self.repo.params.pack_target) { slot.take() } else { None }
        };
        // The full pack is finished (fsync, rename) by the finisher thread,
        // so that workers keep reading and compressing meanwhile.
        if let Some(pack) = full {
            self.finisher.send(pack)?;
        }
        Ok(true)
    }

    pub fn save_tree(&self, tree: &Tree) -> Result<Id> {
        let raw = codec::to_postcard(tree)?;
        self.save(BlobKind::Tree, &raw)
    }

    /// Writes the open packs, then an index of every pack this saver wrote,
    /// and adds them to the repository's in-memory index.
    pub fn finish(self) -> Result<SaveStats> {
        for packer in [&self.data_pack, &self.tree_pack] {
            let pack = lock(packer).take();
            if let Some(pack) = pack.filter(|p| !p.is_empty()) {
                self.finisher.send(pack)?;
            }
        }
        let finished = self.finisher.join()?;
        crate::testhook::reached(crate::testhook::Point::PacksDone, None);
        self.bytes_added.fetch_add(finished.iter().map(|(_, size)| size).sum(), Ordering::Relaxed);
        let packs: Vec<IndexedPack> = finished.into_iter().map(|(p, _)| p).collect();
        if !packs.is_empty() {
            let file = IndexFile { version: FORMAT_VERSION, packs };
            self.repo.write_index_file(&file)?;
            crate::testhook::reached(crate::testhook::Point::IndexWritten, None);
            self.repo.index.write().unwrap_or_else(|p| p.into_inner()).add_file(&file);
        }
        Ok(SaveStats {
            data_blobs: self.data_blobs.load(Ordering::Relaxed),
            tree_blobs: self.tree_blobs.load(Ordering::Relaxed),
            bytes_added: self.bytes_added.load(Ordering::Relaxed),
        })
    }
}
