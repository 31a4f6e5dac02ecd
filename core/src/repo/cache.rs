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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::backend::write_atomic;
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::Keys;
use crate::id::Id;

const CACHE_VERSION: u32 = 1;

/// One cache file: decoded repository files of one kind, by file id.
#[derive(Serialize, Deserialize)]
struct CacheFile<T> {
    version: u32,
    entries: Vec<(Id, T)>,
}

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache folder of one repository below `root` (e.g. `~/.cache/cairn`).
    pub fn new(root: &Path, repo_id: &Id) -> Cache {
        Cache { dir: root.join(repo_id.to_hex()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads and opens a cache file; `None` if missing or not trustworthy.
    fn load<T: serde::de::DeserializeOwned>(&self, keys: &Keys, name: &str) -> Option<T> {
        let bytes = std::fs::read(self.dir.join(name)).ok()?;
        if bytes.len() < 32 {
            return None;
        }
        let (sum, sealed) = bytes.split_at(32);
        if blake3::hash(sealed).as_bytes() != sum {
            return None;
        }
        codec::decode(keys, ObjectKind::Cache, sealed).ok()
    }

    /// Writes a cache file atomically. Failures are ignored: the cache only
    /// saves time.
    fn store<T: Serialize>(&self, keys: &Keys, name: &str, value: &T) {
        let Ok(sealed) = codec::encode(keys, ObjectKind::Cache, value, 1) else { return };
        let mut bytes = blake3::hash(&sealed).as_bytes().to_vec();
        bytes.extend_from_slice(&sealed);
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = write_atomic(&self.dir.join(name), &bytes);
        }
    }

    /// The decoded files among `present`: from the cache where it has them,
    /// otherwise through `read` (an error message for an unreadable file).
    /// Entries for files no longer present are dropped. Rewrites the cache
    /// file when anything changed.
    pub(crate) fn entries<T: Serialize + serde::de::DeserializeOwned>(
        &self,
        keys: &Keys,
        name: &str,
        present: &[Id],
        mut read: impl FnMut(&Id) -> Result<T, String>,
    ) -> (Vec<(Id, T)>, Vec<String>) {
        let loaded = self.load::<CacheFile<T>>(keys, name).filter(|c| c.version == CACHE_VERSION);
        // A missing or untrustworthy cache file is rewritten.
        let mut changed = loaded.is_none();
        let mut by_id: HashMap<Id, T> = loaded.map(|c| c.entries).unwrap_or_default().into_iter().collect();
        let wanted: HashSet<&Id> = present.iter().collect();
        let before = by_id.len();
        by_id.retain(|id, _| wanted.contains(id));
        changed |= by_id.len() != before;
        let mut problems = Vec::new();
        for id in present {
            if by_id.contains_key(id) {
                continue;
            }
            match read(id) {
                Ok(value) => {
                    by_id.insert(*id, value);
                    changed = true;
                }
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
