//! The persistent tree cache: the tree blobs of the repository, kept in the
//! local cache (`<cache>/<repository id>/trees/<2 hex>/<tree id>`) so that
//! a snapshot whose parent's trees it holds reads no tree from the storage
//! (a no-change snapshot on S3: listings and its own writes only).
//!
//! Each entry holds the blob's stored bytes as they are in the pack (sealed
//! with the repository's keys). An entry is used only for a tree the index
//! lists, opened with that index entry's kind and length and verified
//! against the tree id exactly as a blob read from a pack is: a planted,
//! truncated or swapped file fails and is ignored (the tree is read from
//! the storage and its entry rewritten). Trees enter when read from a pack
//! and when the archiver seals them. Entries of trees no index lists any
//! more (after a prune, here or elsewhere) are dropped whenever the cached
//! index lost files: the folder stays bounded by the repository's trees.
//!
//! Writes are not fsync-ed: a torn entry after a crash fails verification
//! like any damaged one. Deleting the folder costs only requests.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::Repository;
use super::cache::Cache;
use super::index::Index;
use crate::format::BlobKind;
use crate::format::codec::MAX_OBJECT_LEN;
use crate::id::Id;

/// The folder of the tree cache inside a repository's cache folder.
const TREES: &str = "trees";

/// Room for the seal around the largest plaintext a blob may have.
const MAX_ENTRY_LEN: u64 = MAX_OBJECT_LEN as u64 + 4096;

impl Cache {
    fn tree_path(&self, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        self.dir().join(TREES).join(&hex[..2]).join(hex)
    }

    /// The stored bytes of tree `id`, unchecked; `None` when absent or
    /// larger than any blob (never read then).
    pub(crate) fn tree_entry(&self, id: &Id) -> Option<Vec<u8>> {
        let file = File::open(self.tree_path(id)).ok()?;
        if file.metadata().ok()?.len() > MAX_ENTRY_LEN {
            return None;
        }
        let mut bytes = Vec::new();
        file.take(MAX_ENTRY_LEN + 1).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Keeps the stored bytes of tree `id`. Failures are ignored: the cache
    /// only saves requests.
    pub(crate) fn put_tree_entry(&self, id: &Id, stored: &[u8]) {
        let path = self.tree_path(id);
        let Some(dir) = path.parent() else { return };
        if fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(tmp) = crate::backend::temp_path_in(dir) else { return };
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(stored))
            .and_then(|()| fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// Removes a (broken) entry so that it is written again.
    fn drop_tree_entry(&self, id: &Id) {
        let _ = fs::remove_file(self.tree_path(id));
    }

    /// Removes every entry `keep` refuses, and anything else found in the
    /// folder (temporaries of interrupted writes, foreign names).
    pub(crate) fn sweep_trees(&self, keep: impl Fn(&Id) -> bool) {
        let Ok(fans) = fs::read_dir(self.dir().join(TREES)) else { return };
        for fan in fans.flatten() {
            let Ok(entries) = fs::read_dir(fan.path()) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let id = name.to_str().and_then(|n| Id::from_hex(n).ok());
                if !id.is_some_and(|id| keep(&id)) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

impl Repository {
    /// Tree `id` from the tree cache, verified; `None` when there is no
    /// cache, no entry, no index entry to open it with, or it fails.
    pub(super) fn cached_tree(&self, id: &Id) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        let stored = cache.tree_entry(id)?;
        let loc = self.locate_tree(id)?;
        match self.open_blob(id, &loc, &stored) {
            Ok(raw) => Some(raw),
            Err(_) => {
                cache.drop_tree_entry(id);
                None
            }
        }
    }

    /// Keeps a tree blob's stored bytes (read from a pack, or sealed by
    /// the saver) in the tree cache, where there is one.
    pub(super) fn remember_tree(&self, kind: BlobKind, id: &Id, stored: &[u8]) {
        if let (BlobKind::Tree, Some(cache)) = (kind, &self.cache) {
            cache.put_tree_entry(id, stored);
        }
    }

    /// After the index was read: drops cached trees it no longer lists, when
    /// the cached index lost files (a prune) or was rebuilt (unknown past).
    pub(super) fn sweep_tree_cache(&self, index: &Index) {
        if let Some(cache) = &self.cache
            && cache.take_shrunk("index")
        {
            cache.sweep_trees(|id| index.contains(BlobKind::Tree, id) || index.contains(BlobKind::Data, id));
        }
    }
}
