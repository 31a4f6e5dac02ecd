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
    /// in a damaged or unreadable pack is passed over for the next. When a
    /// copy's pack is gone (a prune repacked it after this run read the
    /// index: R12), the index is read again once and the copies `find`
    /// names there are tried too.
    pub(super) fn load_any_copy(
        &self,
        id: &Id,
        copies: &[BlobLocation],
        find: &dyn Fn(&Index) -> Vec<BlobLocation>,
    ) -> Result<Vec<u8>> {
        let mut failures = Vec::new();
        let mut gone = Vec::new();
        for loc in copies {
            match self.load_located(id, loc) {
                Ok(raw) => return Ok(raw),
                Err(e) => {
                    if e.is_not_found() {
                        gone.push(loc.pack);
                    }
                    failures.push(e);
                }
            }
        }
        if !gone.is_empty() {
            self.reload_for_gone_packs(&gone)?;
            let again = find(&self.read_index());
            for loc in again.iter().filter(|l| !gone.contains(&l.pack)) {
                match self.load_located(id, loc) {
                    Ok(raw) => return Ok(raw),
                    Err(e) => failures.push(e),
                }
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

    /// Reads the index again because packs it lists are gone, unless another
    /// reader already did (the index no longer lists any of them): one reload
    /// however many blobs of the repacked packs are read at once.
    fn reload_for_gone_packs(&self, gone: &[Id]) -> Result<()> {
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let still_listed = self.read_index().packs().iter().any(|p| gone.contains(p));
        if still_listed {
            // Reading the index lists data/ too: entries of packs that are
            // gone are dropped, so the next miss does not come here again.
            self.refresh_index()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::FileKind;
    use crate::format::BlobKind;
    use crate::repo::Repository;
    use crate::test_fixtures::{PASSWORD, encrypted_repo};

    /// R12: a reader that read the index before a prune repacked a pack
    /// finds the blob's new copy after reading the index again, once.
    #[test]
    fn a_pack_removed_after_the_index_was_read_is_found_in_its_new_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let first = encrypted_repo(tmp.path(), PASSWORD);
        let repacker = Repository::open(first.path(), Some(PASSWORD)).unwrap();
        let saver = first.saver();
        let id = saver.save(BlobKind::Data, b"moved by a prune").unwrap();
        saver.finish().unwrap();
        let old_index = first.backend().list(FileKind::Index).unwrap();
        let old_pack = first.locate(BlobKind::Data, &id).unwrap().pack;
        let reader = Repository::open(first.path(), Some(PASSWORD)).unwrap();
        // The prune: a new copy with its index, then the old index and pack gone.
        let saver = repacker.saver();
        saver.save(BlobKind::Data, b"moved by a prune").unwrap();
        saver.finish().unwrap();
        for (index, _) in old_index {
            first.backend().remove(FileKind::Index, &index).unwrap();
        }
        first.backend().remove(FileKind::Pack, &old_pack).unwrap();
        assert_eq!(reader.locate(BlobKind::Data, &id).unwrap().pack, old_pack, "the reader knows the old pack");
        assert_eq!(reader.load_blob(&id).unwrap(), b"moved by a prune");
        assert_ne!(reader.locate(BlobKind::Data, &id).unwrap().pack, old_pack, "and now the new one");
    }
}
