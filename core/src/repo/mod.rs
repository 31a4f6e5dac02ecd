//! The repository: creating and opening one (config, keys, index), loading
//! blobs and snapshots, and saving blobs through packs with the write
//! ordering that keeps a crash harmless: packs, then their index, then the
//! snapshot that needs them.

pub mod cache;
mod config;
mod copies;
pub mod index;
pub mod index_files;
mod keyfiles;
pub mod keys;
pub mod liveness;
pub mod markers;
pub mod pack;
pub mod rebuild;
mod saver;
pub mod state;
mod tree_cache;
mod verified;

pub(crate) use verified::read_verified_from;

use keyfiles::{keys_to_try, open_master_key, seal_master_key};
pub use keyfiles::{read_key_file, read_key_file_listed};

pub use markers::{MarkerInfo, Registration};
pub use saver::{BlobSaver, SaveStats};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use zeroize::Zeroizing;

use crate::backend::{self, Backend, BackendError, FileKind};
use crate::error::{Error, Result};
use crate::format::chunker::Chunker;
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::{self, KdfParams, Keys};
use crate::format::{
    BlobKind, FORMAT_VERSION, IndexFile, IndexedPack, RepoParams, Snapshot, Timestamp, Tree, check_version,
};
use crate::id::Id;
use crate::repo::cache::Cache;
use crate::repo::index::{BlobLocation, Index};
use crate::repo::pack::{Finisher, PackWriter};
use crate::repo::state::{LocalState, Remembered};

/// How to open a repository (see [`Repository::open_with_options`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions<'a> {
    /// Needed when the repository is encrypted.
    pub password: Option<&'a [u8]>,
    /// Keeps decoded metadata in `cache_root/<repository id>/`.
    pub cache_root: Option<&'a Path>,
    /// What this machine remembers of repositories ([`state`]): a
    /// repository once seen encrypted is refused unencrypted, and the key
    /// file that opened it last is tried first. `None` remembers nothing.
    pub state_root: Option<&'a Path>,
    /// Opens a repository without encryption even when a password was
    /// given or it was remembered as encrypted (the user says it is meant
    /// to be unencrypted).
    pub allow_unencrypted: bool,
    /// Registers this run's marker in `locks/` (the deletion protocol,
    /// format-spec §6) before the index is read: every run that writes,
    /// and `check`. The marker lives as long as the `Repository`.
    pub register: Option<crate::format::marker::MarkerRole>,
}

/// How to create a repository.
pub struct InitOptions<'a> {
    /// `None` makes a repository without encryption.
    pub password: Option<&'a [u8]>,
    pub kdf: KdfParams,
    pub params: RepoParams,
    pub host: String,
    pub user: String,
}

pub struct Repository {
    /// A trait object rather than a type parameter: one backend is shared
    /// by the pack finisher thread and every reader, and the backend will
    /// be picked at run time from the location (`s3:`, `rest:`, a path)
    /// without making every user of `Repository` generic.
    backend: Arc<dyn Backend>,
    /// Where the repository is, as the user named it (for messages).
    location: PathBuf,
    keys: Keys,
    /// The key file that opened (or was made with) the master key.
    key_file: Option<Id>,
    repo_id: Id,
    params: RepoParams,
    index: RwLock<Index>,
    /// Index files that could not be read when opening (named, not fatal:
    /// snapshots whose blobs are indexed elsewhere still restore).
    /// What the last reading of the index files found wrong (named by
    /// `check`, warned about by commands); refreshed with the index.
    index_problems: RwLock<Vec<String>>,
    /// R5: snapshots were listed after the index was last read, so a blob
    /// not found may belong to a snapshot committed in between; the first
    /// such miss reads the index again (under `reloading`, once).
    listed_since_index: AtomicBool,
    reloading: Mutex<()>,
    cache: Option<Cache>,
    /// Whether trees enter the cache: not when the storage is a local
    /// folder, whose packs are as near as the cache (`tree_cache.rs`).
    trees_cached: bool,
    /// Blobs no index lists, found in pack headers (`rebuild`).
    header_scan: rebuild::HeaderScan,
    /// The repository format version (raised by `upgrade_format`).
    format_version: AtomicU32,
    /// This run's marker (`OpenOptions.register`); dropped last of all, so
    /// the marker outlives everything this run does with the repository.
    registration: Option<Registration>,
}

impl Repository {
    /// Creates a new repository at `path`, which must not exist or be an empty folder.
    pub fn init(path: &Path, opts: &InitOptions<'_>) -> Result<Repository> {
        Self::init_at(backend::for_location(path)?, backend::shown_location(path), opts)
    }

    /// Creates a new repository in `backend` (tests: memory, faults).
    pub fn init_with_backend(backend: Arc<dyn Backend>, opts: &InitOptions<'_>) -> Result<Repository> {
        let location = PathBuf::from(backend.location());
        Self::init_at(backend, location, opts)
    }

    fn init_at(backend: Arc<dyn Backend>, location: PathBuf, opts: &InitOptions<'_>) -> Result<Repository> {
        // Parameters given at init are the caller's, not a damaged config.
        opts.params.validate().map_err(|_| {
            Error::InvalidArgument(format!(
                "repository parameters out of range (chunk sizes {}/{}/{} bytes, zstd level {}): chunk min 64 B..1 MiB, \
                 avg 256 B..4 MiB, max 1 KiB..16 MiB, even and ascending; zstd level -7..22",
                opts.params.chunk_min, opts.params.chunk_avg, opts.params.chunk_max, opts.params.zstd_level
            ))
        })?;
        opts.kdf.validate()?;
        if opts.password.is_some_and(<[u8]>::is_empty) {
            return Err(Error::EmptyPassword); // before anything is created
        }
        if opts.params.adopted.is_some() && opts.password.is_none() {
            // The parameters are stored open without encryption: no key in them.
            return Err(Error::InvalidArgument(
                "an unencrypted repository cannot adopt an encrypted one's blob-id key and chunker seed".into(),
            ));
        }
        backend.create_layout().map_err(|e| exists_as(e, &location))?;
        let repo_id = Id(crypto::random_bytes()?);
        let (keys, key_file) = match opts.password {
            Some(password) => {
                let master = Zeroizing::new(crypto::random_bytes::<32>()?);
                let key_file = seal_master_key(&master, password, &repo_id, opts)?;
                let key_id = backend.write(FileKind::Key, &codec::to_postcard(&key_file)?)?;
                (Keys::from_master(&master), Some(key_id))
            }
            None => (Keys::Plain, None),
        };
        // Every new repository is of the current format, whatever the caller's
        // parameters say about versions.
        let params = opts.params.upgraded();
        let keys = match &params.adopted {
            Some(adopted) => keys.adopting(adopted),
            None => keys,
        };
        let config = config::seal_config(&keys, repo_id, &params)?;
        // The config is written last: its presence marks a complete repository.
        backend.create_config(&config).map_err(|e| exists_as(e, &location))?;
        Ok(Repository {
            backend,
            location,
            keys,
            key_file,
            repo_id,
            format_version: AtomicU32::new(params.version),
            params,
            index: RwLock::new(Index::new()),
            index_problems: RwLock::new(Vec::new()),
            listed_since_index: AtomicBool::new(false),
            reloading: Mutex::new(()),
            cache: None,
            trees_cached: false,
            header_scan: Default::default(),
            registration: None,
        })
    }

    /// Whether the repository at `path` is encrypted (needs a password to open).
    pub fn is_encrypted_at(path: &Path) -> Result<bool> {
        Ok(config::read_config(&*backend::for_location(path)?, &backend::shown_location(path))?.encrypted)
    }

    /// Whether a repository (its config) exists at `path`.
    pub fn exists_at(path: &Path) -> Result<bool> {
        match backend::for_location(path)?.read_config() {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens an existing repository; `password` is needed when it is encrypted.
    pub fn open(path: &Path, password: Option<&[u8]>) -> Result<Repository> {
        Self::open_with_cache(path, password, None)
    }

    /// Opens a repository using (and keeping up to date) a local cache in
    /// `cache_root/<repository id>/`.
    pub fn open_with_cache(path: &Path, password: Option<&[u8]>, cache_root: Option<&Path>) -> Result<Repository> {
        Self::open_with_options(path, &OpenOptions { password, cache_root, ..OpenOptions::default() })
    }

    /// Opens an existing repository as `opts` say.
    pub fn open_with_options(path: &Path, opts: &OpenOptions<'_>) -> Result<Repository> {
        Self::open_at(backend::for_location(path)?, backend::shown_location(path), opts)
    }

    /// Opens the repository in `backend` (tests: memory, faults).
    pub fn open_with_backend(
        backend: Arc<dyn Backend>,
        password: Option<&[u8]>,
        cache_root: Option<&Path>,
    ) -> Result<Repository> {
        let location = PathBuf::from(backend.location());
        Self::open_at(backend, location, &OpenOptions { password, cache_root, ..OpenOptions::default() })
    }

    /// Opens the repository in `backend` as `opts` say (tests: memory, faults).
    pub fn open_backend_with(backend: Arc<dyn Backend>, opts: &OpenOptions<'_>) -> Result<Repository> {
        let location = PathBuf::from(backend.location());
        Self::open_at(backend, location, opts)
    }

    fn open_at(backend: Arc<dyn Backend>, location: PathBuf, opts: &OpenOptions<'_>) -> Result<Repository> {
        let path = location.as_path();
        let cache_root = opts.cache_root;
        let config = config::read_config(&*backend, path)?;
        let key_files = backend.list(FileKind::Key)?;
        let state = opts.state_root.map(LocalState::new);
        let remembered = state.as_ref().map(|s| s.repository(&config.repo_id)).unwrap_or_default();
        let (keys, key_file) = if config.encrypted {
            let password = opts.password.ok_or(Error::PasswordRequired)?;
            if password.is_empty() {
                return Err(Error::EmptyPassword);
            }
            let order = keys_to_try(&key_files, remembered.last_key.as_ref());
            let (keys, key_id) = open_master_key(&*backend, path, &order, password, &config)?;
            (keys, Some(key_id))
        } else {
            if !key_files.is_empty() {
                return Err(Error::corrupt("config", "says the repository is not encrypted, but it has keys"));
            }
            // Refusing here stops a downgrade: someone who rewrites the
            // config as unencrypted (and deletes the keys) must not get
            // the next snapshots in plaintext. A password given, or this
            // machine's memory of the repository, says it was encrypted.
            if !opts.allow_unencrypted {
                if opts.password.is_some() {
                    return Err(Error::UnexpectedlyUnencrypted(path.to_path_buf()));
                }
                if state.as_ref().is_some_and(|s| s.was_encrypted(&config.repo_id, path)) {
                    return Err(Error::EncryptionRemoved(path.to_path_buf()));
                }
            }
            (Keys::Plain, None)
        };
        let params = config::open_params(&keys, &config)?;
        let keys = match &params.adopted {
            Some(_) if !config.encrypted => {
                return Err(Error::corrupt("config", "an unencrypted repository cannot carry a blob-id key"));
            }
            Some(adopted) => keys.adopting(adopted),
            None => keys,
        };
        // Registered before the index is read (format-spec §6, W9): a prune
        // that does not see this marker removed its old index files before
        // this run read them.
        let registration = match opts.register {
            Some(role) => Some(Registration::start(backend.clone(), keys.clone(), role)?),
            None => None,
        };
        let trees_cached = backend.local_path(FileKind::Pack, &Id([0; 32])).is_none();
        let mut repo = Repository {
            backend,
            location,
            keys,
            key_file,
            repo_id: config.repo_id,
            format_version: AtomicU32::new(params.version),
            params,
            index: RwLock::new(Index::new()),
            index_problems: RwLock::new(Vec::new()),
            listed_since_index: AtomicBool::new(false),
            reloading: Mutex::new(()),
            // Without encryption a cache file could be forged undetectably
            // (its checksum is unkeyed), so such repositories go without.
            cache: cache_root.filter(|_| config.encrypted).map(|root| Cache::new(root, &config.repo_id)),
            trees_cached,
            header_scan: Default::default(),
            registration,
        };
        repo.load_index()?;
        crate::testhook::reached(crate::testhook::Point::IndexLoaded, None);
        // Only an encrypted repository is remembered on open: one opened
        // unencrypted (perhaps by `allow_unencrypted`) must not overwrite
        // the memory that it was encrypted.
        if let Some(root) = opts.state_root
            && repo.is_encrypted()
        {
            repo.remember_in(root);
        }
        Ok(repo)
    }

    /// Remembers in the local state folder `state_root` ([`state`]) that
    /// this repository, at its location, is encrypted or not, and the key
    /// file that opened it. `init` calls this for a new repository, which
    /// also replaces what was remembered of an older one at this location.
    pub fn remember_in(&self, state_root: &Path) {
        let remembered = Remembered { encrypted: self.is_encrypted(), last_key: self.key_file };
        LocalState::new(state_root).remember(&self.repo_id, &self.location, &remembered);
    }

    fn load_index(&mut self) -> Result<()> {
        *self.listed_since_index.get_mut() = false;
        let (index, problems) = self.read_all_index_files()?;
        self.index = RwLock::new(index);
        self.index_problems = RwLock::new(problems);
        Ok(())
    }

    fn read_all_index_files(&self) -> Result<(Index, Vec<String>)> {
        let listing = self.backend.list(FileKind::Index)?;
        let present: Vec<Id> = listing.iter().map(|(id, _)| *id).collect();
        let sizes: std::collections::HashMap<Id, u64> = listing.into_iter().collect();
        let read = |id: &Id| match self.read_index_file_listed(id, sizes.get(id).copied()) {
            Ok(file) => Ok(Some(file.packs)),
            // Removed since the listing (a concurrent prune): not damage.
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(format!("index {id}: {e}")),
        };
        let (files, problems) = self.read_through_cache("index", &present, read);
        // One listing of data/: entries whose pack is gone (a partial sync,
        // a disk error, a hand deletion) are dropped, so that a snapshot
        // stores those files' data again instead of pointing at nothing.
        // Per entry this costs one hash lookup (open runs on every command).
        let on_disk: HashSet<Id> = self.backend.list(FileKind::Pack)?.into_iter().map(|(id, _)| id).collect();
        let mut index = Index::new();
        let mut dropped_entries = 0usize;
        let mut dropped_packs: HashSet<Id> = HashSet::new();
        for (_, packs) in &files {
            for pack in packs {
                if on_disk.contains(&pack.pack) {
                    index.add_pack(pack.pack, &pack.entries);
                } else {
                    dropped_entries += pack.entries.len();
                    dropped_packs.insert(pack.pack);
                }
            }
        }
        self.sweep_tree_cache(&index);
        let mut problems = problems;
        if !dropped_packs.is_empty() {
            // One line however many: each missing pack is named by `check`.
            problems.push(format!(
                "{dropped_entries} indexed blobs are in {} pack(s) missing from data/; they are ignored, \
                 a new snapshot stores their data again, and `check` names the snapshots that need them",
                dropped_packs.len()
            ));
        }
        Ok((index, problems))
    }

    /// Reads the index files again (e.g. after listing snapshots, so that
    /// every listed snapshot's index is included: indexes are written
    /// before their snapshots).
    pub fn refresh_index(&self) -> Result<()> {
        // Cleared first: a listing of snapshots during the reading may have
        // missed index files, and sets it again.
        self.listed_since_index.store(false, Ordering::SeqCst);
        let (index, problems) = self.read_all_index_files()?;
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = index;
        // Kept, not dropped: `check` refreshes before reporting them.
        *self.index_problems.write().unwrap_or_else(|p| p.into_inner()) = problems;
        Ok(())
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// The files `present` of one kind, decoded by `read` (an error line for
    /// each unreadable one, `None` for one removed since it was listed, left
    /// out silently) — or taken from the local cache file `cache_name`
    /// where it holds them, which is then brought up to date. The one read
    /// loop for index files and snapshot manifests.
    pub(crate) fn read_through_cache<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        cache_name: &str,
        present: &[Id],
        mut read: impl FnMut(&Id) -> Result<Option<T>, String>,
    ) -> (Vec<(Id, T)>, Vec<String>) {
        if let Some(cache) = &self.cache {
            return cache.entries(&self.keys, cache_name, present, read);
        }
        let mut found = Vec::new();
        let mut problems = Vec::new();
        for id in present {
            match read(id) {
                Ok(Some(value)) => found.push((*id, value)),
                Ok(None) => {}
                Err(e) => problems.push(e),
            }
        }
        (found, problems)
    }

    /// Reads, verifies and decodes one index file.
    pub fn read_index_file(&self, id: &Id) -> Result<IndexFile> {
        self.read_index_file_listed(id, None)
    }

    /// [`Self::read_index_file`] of a file listed with `listed_size` bytes
    /// (`None`: its size is asked for first).
    pub fn read_index_file_listed(&self, id: &Id, listed_size: Option<u64>) -> Result<IndexFile> {
        let bytes = read_verified_from(&*self.backend, FileKind::Index, id, listed_size)?;
        let file: IndexFile = codec::decode(&self.keys, ObjectKind::Index, &bytes)?;
        check_version("index", file.version)?;
        Ok(file)
    }

    /// Reads a content-addressed file and checks it against its name.
    pub fn read_verified(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        read_verified_from(&*self.backend, kind, id, None)
    }

    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The requests made to the storage so far (all zero where the backend
    /// does not count them: one not made by `backend::for_location`).
    pub fn requests(&self) -> backend::RequestCounts {
        self.backend.request_counts().unwrap_or_default()
    }

    /// Refuses (`Error::AppendOnly`) when the storage refuses deletions:
    /// every command that deletes asks first, so it fails before it has
    /// changed anything rather than half-way.
    pub fn refuse_if_append_only(&self) -> Result<()> {
        if self.backend.append_only() {
            return Err(Error::AppendOnly(self.backend.location()));
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.location
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn id(&self) -> Id {
        self.repo_id
    }

    pub fn params(&self) -> &RepoParams {
        &self.params
    }

    pub fn is_encrypted(&self) -> bool {
        self.keys.is_encrypted()
    }

    pub fn index_problems(&self) -> Vec<String> {
        self.index_problems.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn chunker(&self) -> Chunker {
        Chunker::new(&self.params, self.keys.chunker_seed())
    }

    /// Where the blob of this kind and id is stored (blobs are identified
    /// by both: a data blob never stands in for a tree, nor the reverse).
    pub fn locate(&self, kind: BlobKind, id: &Id) -> Option<BlobLocation> {
        self.read_index().get(kind, id)
    }

    pub fn is_indexed(&self, kind: BlobKind, id: &Id) -> bool {
        self.read_index().contains(kind, id)
    }

    /// Where tree `id` can be read: as a tree blob, or else (repositories
    /// written before blob identity included the kind) as a data blob with
    /// the same plaintext — see format-spec.md, "Trees stored as data blobs".
    pub fn locate_tree(&self, id: &Id) -> Option<BlobLocation> {
        let index = self.read_index();
        index.get(BlobKind::Tree, id).or_else(|| index.get(BlobKind::Data, id))
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means another thread panicked while adding packs;
        // the index it left is still a valid (possibly partial) map.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads a data blob's plaintext and verifies it against its id.
    pub fn load_blob(&self, id: &Id) -> Result<Vec<u8>> {
        let find = |index: &Index| index.locations(BlobKind::Data, id);
        let mut copies = self.find_or_reload(find)?;
        if copies.is_empty() {
            // No readable index lists it: the pack headers may (`rebuild`).
            copies.extend(self.locate_in_headers(BlobKind::Data, id));
        }
        self.load_any_copy(id, &copies, &find)
    }

    fn load_located(&self, id: &Id, loc: &BlobLocation) -> Result<Vec<u8>> {
        let stored = self.backend.read_range(FileKind::Pack, &loc.pack, u64::from(loc.offset), loc.length as usize)?;
        let raw = self.open_blob(id, loc, &stored)?;
        self.remember_tree(loc.kind, id, &stored);
        Ok(raw)
    }

    /// Opens a stored blob read from its pack and verifies it.
    pub fn open_blob(&self, id: &Id, loc: &BlobLocation, stored: &[u8]) -> Result<Vec<u8>> {
        let kind = ObjectKind::from(loc.kind);
        let what = || format!("blob {id} in pack {}", loc.pack);
        let raw = codec::open_bytes(&self.keys, kind, stored, loc.raw_length as usize)
            .map_err(|e| Error::corrupt(what(), e))?;
        if raw.len() != loc.raw_length as usize || self.keys.blob_id(&raw) != *id {
            return Err(Error::corrupt(what(), "contents do not match the blob id"));
        }
        Ok(raw)
    }

    pub fn load_snapshot(&self, id: &Id) -> Result<Snapshot> {
        self.load_snapshot_listed(id, None)
    }

    /// [`Self::load_snapshot`] of a file listed with `listed_size` bytes
    /// (`None`: its size is asked for first).
    pub fn load_snapshot_listed(&self, id: &Id, listed_size: Option<u64>) -> Result<Snapshot> {
        let bytes = read_verified_from(&*self.backend, FileKind::Snapshot, id, listed_size)?;
        let raw = codec::open_bytes(&self.keys, ObjectKind::Snapshot, &bytes, codec::MAX_OBJECT_LEN)
            .map_err(|e| Error::corrupt(format!("snapshot {id}"), e))?;
        crate::format::recipe::decode_snapshot(&raw).map_err(|e| match e {
            Error::UnsupportedVersion { .. } => e,
            e => Error::corrupt(format!("snapshot {id}"), e),
        })
    }

    /// Writes a snapshot manifest. Call only after `BlobSaver::finish`.
    pub fn save_snapshot(&self, snap: &Snapshot) -> Result<Id> {
        let bytes = codec::encode(&self.keys, ObjectKind::Snapshot, snap, 3)?;
        let id = self.backend.write(FileKind::Snapshot, &bytes)?;
        if let Some(cache) = &self.cache {
            cache.insert(&self.keys, "snapshots", id, snap.clone());
        }
        Ok(id)
    }
}

/// A create that found something in place means a repository is there.
fn exists_as(e: BackendError, location: &Path) -> Error {
    if e.is_already_exists() { Error::RepositoryExists(location.to_path_buf()) } else { e.into() }
}

/// The current time with the local UTC offset.
pub fn now_timestamp() -> Timestamp {
    timestamp_of(&jiff::ZonedDateTime::now())
}

pub fn timestamp_of(z: &jiff::ZonedDateTime) -> Timestamp {
    let ts = z.timestamp();
    Timestamp {
        unix_seconds: ts.as_second(),
        nanos: ts.subsec_nanosecond().max(0) as u32,
        offset_seconds: z.offset().seconds(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod races_tests;
