//! Where the archiver's blobs go: the repository's blob saver, or the dry
//! run's, which only hashes and counts.

use super::*;

/// Where the blobs go: the repository, or nowhere (a dry run).
// One per snapshot, never moved in a loop: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
pub(super) enum Saver<'r> {
    Repository(BlobSaver<'r>),
    DryRun(DryRunSaver<'r>),
}

impl Saver<'_> {
    pub(super) fn save(&self, kind: BlobKind, raw: &[u8]) -> Result<Id> {
        match self {
            Saver::Repository(s) => s.save(kind, raw),
            Saver::DryRun(s) => Ok(s.save(kind, raw)),
        }
    }

    pub(super) fn save_tree(&self, tree: &Tree) -> Result<Id> {
        match self {
            Saver::Repository(s) => s.save_tree(tree),
            Saver::DryRun(s) => Ok(s.save(BlobKind::Tree, &crate::format::codec::to_postcard(tree)?)),
        }
    }

    pub(super) fn finish(self) -> Result<SaveStats> {
        match self {
            Saver::Repository(s) => s.finish(),
            Saver::DryRun(s) => Ok(s.finish()),
        }
    }
}

/// The dry run's saver: computes each blob's id as the real saver does,
/// counts those neither in the index nor seen before in this run and adds
/// up their plaintext sizes. Writes nothing.
pub(super) struct DryRunSaver<'r> {
    repo: &'r Repository,
    pending: Mutex<HashSet<(BlobKind, Id)>>,
    data_blobs: AtomicU64,
    tree_blobs: AtomicU64,
    bytes: AtomicU64,
}

impl<'r> DryRunSaver<'r> {
    pub(super) fn new(repo: &'r Repository) -> DryRunSaver<'r> {
        DryRunSaver {
            repo,
            pending: Mutex::new(HashSet::new()),
            data_blobs: AtomicU64::new(0),
            tree_blobs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub(super) fn save(&self, kind: BlobKind, raw: &[u8]) -> Id {
        let id = self.repo.keys().blob_id(raw);
        let new = !self.repo.is_indexed(kind, &id)
            && self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert((kind, id));
        if new {
            bump(if kind == BlobKind::Data { &self.data_blobs } else { &self.tree_blobs }, 1);
            bump(&self.bytes, raw.len() as u64);
        }
        id
    }

    pub(super) fn finish(self) -> SaveStats {
        SaveStats {
            data_blobs: self.data_blobs.into_inner(),
            tree_blobs: self.tree_blobs.into_inner(),
            bytes_added: self.bytes.into_inner(),
        }
    }
}
