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
//! `Repository::load_tree`, the one reader of trees, lives here too.
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
use crate::error::{Error, Result};
use crate::format::codec::{self, MAX_OBJECT_LEN};
use crate::format::{BlobKind, Tree, check_version};
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
    /// Loads a tree: from the tree cache when it holds it, else from its
    /// pack (which then enters the cache).
    pub fn load_tree(&self, id: &Id) -> Result<Tree> {
        Ok(self.load_tree_with_plaintext(id)?.0)
    }

    /// A tree and its plaintext as stored (verified against its id): what
    /// `cairn copy` stores unchanged in a repository with the same blob ids.
    pub fn load_tree_with_plaintext(&self, id: &Id) -> Result<(Tree, Vec<u8>)> {
        let raw = match self.cached_tree(id) {
            Some(raw) => raw,
            None => self.read_tree(id)?,
        };
        let tree: Tree = codec::from_postcard(&raw, "tree").map_err(|e| Error::corrupt(format!("tree {id}"), e))?;
        check_version("tree", tree.version)?;
        tree.validate_names().map_err(|e| Error::corrupt(format!("tree {id}"), e))?;
        Ok((tree, raw))
    }

    /// A tree's plaintext from the storage, verified.
    fn read_tree(&self, id: &Id) -> Result<Vec<u8>> {
        // A tree found only as a data blob is opened as one (its sealing
        // names the data kind); its id still verifies the plaintext.
        let find = |index: &Index| {
            // As tree blobs, then (see `locate_tree`) as data blobs.
            let mut all = index.locations(BlobKind::Tree, id);
            all.extend(index.locations(BlobKind::Data, id));
            all
        };
        let mut copies = self.find_or_reload(find)?;
        if copies.is_empty() {
            // No readable index lists it: the pack headers may (`rebuild`).
            copies.extend(self.locate_in_headers(BlobKind::Tree, id));
        }
        self.load_any_copy(id, &copies, &find)
    }

    /// Tree `id` from the tree cache, verified; `None` when there is no
    /// cache, no entry, no index entry to open it with, or it fails.
    pub(super) fn cached_tree(&self, id: &Id) -> Option<Vec<u8>> {
        let cache = self.tree_cache()?;
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
        if let (BlobKind::Tree, Some(cache)) = (kind, self.tree_cache()) {
            cache.put_tree_entry(id, stored);
        }
    }

    /// The cache, where trees are worth keeping in it: not when the storage
    /// is on this machine's filesystem, whose packs are as near as the
    /// cache (a file written per tree would only cost a snapshot time).
    fn tree_cache(&self) -> Option<&Cache> {
        self.cache.as_ref().filter(|_| self.trees_cached)
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use std::sync::Arc;

    use crate::backend::FileKind;
    use crate::backend::memory::MemoryBackend;
    use crate::test_fixtures::{PASSWORD, file, init_options, tree};

    /// A repository whose storage is not a local folder (trees of a local
    /// one are not cached): in memory, reopened through the same backend.
    struct Made {
        storage: Arc<MemoryBackend>,
        repo: Repository,
    }

    impl std::ops::Deref for Made {
        type Target = Repository;
        fn deref(&self) -> &Repository {
            &self.repo
        }
    }

    fn encrypted_repo(_dir: &Path, password: &[u8]) -> Made {
        let storage = Arc::new(MemoryBackend::new());
        let repo = Repository::init_with_backend(storage.clone(), &init_options(Some(password))).unwrap();
        Made { storage, repo }
    }

    fn open(made: &Made, cache_root: &Path) -> Repository {
        let counted = Arc::new(crate::backend::counting::CountingBackend::new(made.storage.clone()));
        Repository::open_with_backend(counted, Some(PASSWORD), Some(cache_root)).unwrap()
    }

    #[test]
    fn trees_of_a_local_repository_are_not_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let made = crate::test_fixtures::encrypted_repo(tmp.path(), PASSWORD);
        let cache_root = tmp.path().join("cache");
        let writer = Repository::open_with_cache(made.path(), Some(PASSWORD), Some(&cache_root)).unwrap();
        let root = tree(&writer, vec![file(&writer, "b", "y")]);
        writer.load_tree(&root).unwrap();
        assert!(cache(&writer).tree_entry(&root).is_none());
        assert!(!cache(&writer).dir().join(TREES).exists());
    }

    fn cache(repo: &Repository) -> &Cache {
        repo.cache().expect("opened with a cache")
    }

    #[test]
    fn a_tree_read_once_is_not_read_from_the_storage_again() {
        let tmp = tempfile::tempdir().unwrap();
        let made = encrypted_repo(tmp.path(), PASSWORD);
        let root = tree(&made, vec![file(&made, "a", "x")]);
        let cache_root = tmp.path().join("cache");
        let first = open(&made, &cache_root);
        let expected = first.load_tree(&root).unwrap();
        assert_eq!(first.requests().read_range, 1, "read from its pack");
        let second = open(&made, &cache_root);
        assert_eq!(second.load_tree(&root).unwrap().nodes, expected.nodes);
        assert_eq!(second.requests().read_range, 0, "from the tree cache");
        assert_eq!(second.requests().reads_of("index"), 0, "and the index from the index cache");
    }

    #[test]
    fn trees_the_saver_seals_are_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let made = encrypted_repo(tmp.path(), PASSWORD);
        let cache_root = tmp.path().join("cache");
        let writer = open(&made, &cache_root);
        let root = tree(&writer, vec![file(&writer, "b", "y")]);
        let reader = open(&made, &cache_root);
        reader.load_tree(&root).unwrap();
        assert_eq!(reader.requests().read_range, 0);
    }

    #[test]
    fn trees_a_saver_without_tree_cache_seals_are_not_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let made = encrypted_repo(tmp.path(), PASSWORD);
        let cache_root = tmp.path().join("cache");
        let writer = open(&made, &cache_root);
        let saver = writer.saver().without_tree_cache();
        let root = saver.save_tree(&Tree { version: crate::format::FORMAT_VERSION, nodes: Vec::new() }).unwrap();
        saver.finish().unwrap();
        assert!(cache(&writer).tree_entry(&root).is_none());
    }

    /// Another tree's entry, garbage and a truncated entry under a tree's
    /// name are each ignored: the tree is read from its pack, and its entry
    /// written again.
    #[test]
    fn a_planted_or_broken_entry_is_ignored_and_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let made = encrypted_repo(tmp.path(), PASSWORD);
        let root = tree(&made, vec![file(&made, "a", "x")]);
        let other = tree(&made, vec![file(&made, "c", "z")]);
        let cache_root = tmp.path().join("cache");
        let expected = open(&made, &cache_root).load_tree(&root).unwrap();
        let reader = open(&made, &cache_root);
        reader.load_tree(&other).unwrap();
        let good = cache(&reader).tree_entry(&root).unwrap();
        let others = cache(&reader).tree_entry(&other).unwrap();
        let truncated = good[..good.len() - 1].to_vec();
        for planted in [others, b"not a sealed tree".to_vec(), truncated] {
            let repo = open(&made, &cache_root);
            std::fs::write(cache(&repo).tree_path(&root), &planted).unwrap();
            assert_eq!(repo.load_tree(&root).unwrap().nodes, expected.nodes);
            assert_eq!(repo.requests().read_range, 1, "read from its pack instead");
            assert_eq!(cache(&repo).tree_entry(&root).unwrap(), good, "and cached again");
        }
    }

    /// When index files go (a prune), entries of trees no index lists are
    /// dropped; the others stay.
    #[test]
    fn trees_no_longer_indexed_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let made = encrypted_repo(tmp.path(), PASSWORD);
        let kept = tree(&made, vec![file(&made, "a", "x")]);
        let before: Vec<Id> = made.backend().list(FileKind::Index).unwrap().into_iter().map(|(id, _)| id).collect();
        let gone = tree(&made, vec![file(&made, "c", "z")]);
        let cache_root = tmp.path().join("cache");
        let reader = open(&made, &cache_root);
        reader.load_tree(&kept).unwrap();
        reader.load_tree(&gone).unwrap();
        let gone_pack = reader.locate_tree(&gone).unwrap().pack;
        // A stray temporary is swept too.
        let stray = cache(&reader).dir().join(TREES).join("00").join(".tmp-0123");
        std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
        std::fs::write(&stray, b"half").unwrap();
        for (index, _) in made.backend().list(FileKind::Index).unwrap() {
            if !before.contains(&index) {
                made.backend().remove(FileKind::Index, &index).unwrap();
            }
        }
        made.backend().remove(FileKind::Pack, &gone_pack).unwrap();
        let after = open(&made, &cache_root);
        assert!(cache(&after).tree_entry(&gone).is_none(), "swept");
        assert!(cache(&after).tree_entry(&kept).is_some(), "kept");
        assert!(!stray.exists());
        // Nothing lost: the next open does not sweep (the index did not shrink).
        assert!(!cache(&open(&made, &cache_root)).take_shrunk("index"));
    }
}
