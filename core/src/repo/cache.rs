//! The local cache: decoded repository metadata kept under the user's cache
//! folder (`$XDG_CACHE_HOME/cairn/<repository id>/`), so that opening a
//! repository with a long history reads one file instead of decrypting
//! every index and snapshot file.
//!
//! The cache is an accelerator, never an authority. Each cache file is
//! sealed with the repository's keys (and checksummed), names the
//! repository files it was built from, and is used only for files that
//! still exist; new files are read from the repository and added. A cache
//! that fails to open, decode or match is ignored and rebuilt. Deleting the
//! folder at any time changes nothing but speed. Repository files are
//! immutable and content-addressed, so a decoded copy of one stays valid for
//! as long as the file exists.
//!
//! Beside the files here, `tree_cache.rs` keeps the repository's tree blobs
//! in `trees/` (each checked against its id when used).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::backend::write_atomic;
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::Keys;
use crate::id::Id;

/// 2: the file name is bound into the checksum and the associated data.
const CACHE_VERSION: u32 = 2;

/// One cache file: decoded repository files of one kind, by file id.
#[derive(Serialize, Deserialize)]
struct CacheFile<T> {
    version: u32,
    entries: Vec<(Id, T)>,
}

/// The checksum in front of a cache file: BLAKE3 of its name, a zero byte
/// and the sealed bytes. The name is bound here too (not only in the AEAD's
/// associated data) so that an unencrypted repository's cache, which has no
/// AEAD, also refuses one cache file renamed to another's name.
fn checksum(name: &str, sealed: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(name.as_bytes()).update(&[0]).update(sealed);
    *hasher.finalize().as_bytes()
}

pub struct Cache {
    dir: PathBuf,
    /// Cache files that lost entries (or were missing or broken) since the
    /// last `take_shrunk`: the tree cache is swept after the index's did.
    shrunk: Mutex<HashSet<String>>,
}

impl Cache {
    /// The cache folder of one repository below `root` (e.g. `~/.cache/cairn`).
    pub fn new(root: &Path, repo_id: &Id) -> Cache {
        Cache { dir: root.join(repo_id.to_hex()), shrunk: Mutex::default() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether cache file `name` lost entries, or was missing or broken,
    /// since the last call (which clears it).
    pub(crate) fn take_shrunk(&self, name: &str) -> bool {
        self.shrunk.lock().unwrap_or_else(|p| p.into_inner()).remove(name)
    }

    /// Reads and opens a cache file; `None` if missing or not trustworthy.
    fn load<T: serde::de::DeserializeOwned>(&self, keys: &Keys, name: &str) -> Option<T> {
        let bytes = std::fs::read(self.dir.join(name)).ok()?;
        if bytes.len() < 32 {
            return None;
        }
        let (sum, sealed) = bytes.split_at(32);
        if checksum(name, sealed) != sum {
            return None;
        }
        codec::decode_named(keys, ObjectKind::Cache, name.as_bytes(), sealed).ok()
    }

    /// Writes a cache file atomically. Failures are ignored: the cache only
    /// saves time.
    fn store<T: Serialize>(&self, keys: &Keys, name: &str, value: &T) {
        let Ok(sealed) = codec::encode_named(keys, ObjectKind::Cache, name.as_bytes(), value, 1) else { return };
        let mut bytes = checksum(name, &sealed).to_vec();
        bytes.extend_from_slice(&sealed);
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = write_atomic(&self.dir.join(name), &bytes);
        }
    }

    /// Adds the decoded file `id` this run wrote to cache file `name`, so
    /// that the next run need not read it back. Only into a trustworthy
    /// cache file: a missing or broken one is rebuilt whole by `entries`.
    pub(crate) fn insert<T: Serialize + serde::de::DeserializeOwned>(&self, keys: &Keys, name: &str, id: Id, value: T) {
        let Some(mut file) = self.load::<CacheFile<T>>(keys, name).filter(|c| c.version == CACHE_VERSION) else {
            return;
        };
        if let Err(at) = file.entries.binary_search_by_key(&id, |(id, _)| *id) {
            file.entries.insert(at, (id, value));
            self.store(keys, name, &file);
        }
    }

    /// The decoded files among `present`: from the cache where it has them,
    /// otherwise through `read` (an error message for an unreadable file,
    /// `None` for one removed since it was listed: left out, no message).
    /// Entries for files no longer present are dropped. Rewrites the cache
    /// file when anything changed.
    pub(crate) fn entries<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        keys: &Keys,
        name: &str,
        present: &[Id],
        mut read: impl FnMut(&Id) -> Result<Option<T>, String>,
    ) -> (Vec<(Id, T)>, Vec<String>) {
        let loaded = self.load::<CacheFile<T>>(keys, name).filter(|c| c.version == CACHE_VERSION);
        // A missing or untrustworthy cache file is rewritten.
        let mut changed = loaded.is_none();
        let mut by_id: HashMap<Id, T> = loaded.map(|c| c.entries).unwrap_or_default().into_iter().collect();
        let wanted: HashSet<&Id> = present.iter().collect();
        let before = by_id.len();
        by_id.retain(|id, _| wanted.contains(id));
        changed |= by_id.len() != before;
        if changed {
            // Missing, untrustworthy or lost entries: what was cached from
            // the files now gone may be stale.
            self.shrunk.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string());
        }
        let mut problems = Vec::new();
        for id in present {
            if by_id.contains_key(id) {
                continue;
            }
            match read(id) {
                Ok(Some(value)) => {
                    by_id.insert(*id, value);
                    changed = true;
                }
                Ok(None) => {}
                Err(e) => problems.push(e),
            }
        }
        let mut entries: Vec<(Id, T)> = by_id.into_iter().collect();
        entries.sort_by_key(|(id, _)| *id);
        let file = CacheFile { version: CACHE_VERSION, entries };
        if changed {
            self.store(keys, name, &file);
        }
        (file.entries, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache file renamed to another cache file's name is not trusted,
    /// with or without encryption (same value type, so only the binding of
    /// the name can tell them apart).
    #[test]
    fn a_cache_file_under_another_name_is_ignored() {
        for keys in [Keys::from_master(&[4; 32]), Keys::Plain] {
            let tmp = tempfile::tempdir().unwrap();
            let cache = Cache::new(tmp.path(), &Id([1; 32]));
            let file = CacheFile { version: CACHE_VERSION, entries: vec![(Id([2; 32]), 7u64)] };
            cache.store(&keys, "index", &file);
            let loaded = cache.load::<CacheFile<u64>>(&keys, "index").expect("stored under its own name");
            assert_eq!(loaded.entries, file.entries);
            std::fs::rename(cache.dir().join("index"), cache.dir().join("snapshots")).unwrap();
            assert!(cache.load::<CacheFile<u64>>(&keys, "snapshots").is_none(), "encrypted: {}", keys.is_encrypted());
            if keys.is_encrypted() {
                // Anyone can recompute the checksum: the AEAD must refuse too.
                let bytes = std::fs::read(cache.dir().join("snapshots")).unwrap();
                let mut forged = checksum("snapshots", &bytes[32..]).to_vec();
                forged.extend_from_slice(&bytes[32..]);
                std::fs::write(cache.dir().join("snapshots"), forged).unwrap();
                assert!(cache.load::<CacheFile<u64>>(&keys, "snapshots").is_none(), "the AEAD binds the name");
            }
        }
    }
}
