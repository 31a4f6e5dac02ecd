//! Reading blobs beside concurrent writers: every stored copy of a blob
//! is tried in turn (format-spec.md, R7), and a blob not found after a
//! listing of snapshots newer than the index reads the index again (R5).

use std::sync::atomic::Ordering;

use super::Repository;
use super::index::{BlobLocation, Index};
use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::BlobKind;
use crate::id::Id;

impl Repository {
    /// Every stored copy of a blob, the first indexed first (R7).
    pub fn locations(&self, kind: BlobKind, id: &Id) -> Vec<BlobLocation> {
        self.read_index().locations(kind, id)
    }

    /// Lists the snapshot files. Every listing of snapshots goes through
    /// here, so that a blob of a snapshot committed after the index was read
    /// is found by reading the index again (R5).
    pub fn list_snapshot_files(&self) -> Result<Vec<(Id, u64)>> {
        let listed = self.backend.list(FileKind::Snapshot)?;
        self.listed_since_index.store(true, Ordering::SeqCst);
        crate::testhook::reached(crate::testhook::Point::SnapshotsListed, None);
        Ok(listed)
    }

    /// `find(index)` now, or — when it finds nothing and snapshots were
    /// listed since the index was read — after reading the index again, once.
    pub(super) fn find_or_reload<T>(&self, find: impl Fn(&Index) -> Vec<T>) -> Result<Vec<T>> {
        let found = find(&self.read_index());
        if !found.is_empty() || !self.listed_since_index.load(Ordering::SeqCst) {
            return Ok(found);
        }
        {
            // One reader reloads; the others wait for it and look again.
            let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
            if self.listed_since_index.load(Ordering::SeqCst) {
                self.refresh_index()?;
            }
        }
        Ok(find(&self.read_index()))
    }

    /// Reads the first copy of a blob that opens and verifies (R7): a copy
    /// in a damaged or unreadable pack is passed over for the next.
    pub(super) fn load_any_copy(&self, id: &Id, copies: &[BlobLocation]) -> Result<Vec<u8>> {
        let mut failures = Vec::new();
        for loc in copies {
            match self.load_located(id, loc) {
                Ok(raw) => return Ok(raw),
                Err(e) => failures.push(e),
            }
        }
        match failures.len() {
            0 => Err(Error::BlobNotIndexed(*id)),
            1 => Err(failures.remove(0)),
            n => {
                let each: Vec<String> = failures.iter().map(ToString::to_string).collect();
                Err(Error::corrupt(format!("blob {id}"), format!("none of its {n} copies reads: {}", each.join("; "))))
            }
        }
    }
}
