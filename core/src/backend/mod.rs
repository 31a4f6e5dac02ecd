//! Storage backends: bytes only. A backend lists, reads, creates and removes
//! the files of a repository by kind and name and knows nothing of what the
//! bytes mean. `local` keeps them in a folder (the format of
//! `format-spec.md`), `rest` and `s3` on servers, `memory` in a map (tests), and `faults` wraps any
//! backend to make chosen operations fail (tests).
//!
//! [`for_location`] is the one place that picks a backend for a repository
//! location: `rest:…`, `s3:…` or a local path.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use crate::error::{BackendError, Op};
use crate::id::{Id, is_hex};

// The in-memory and fault-injecting backends serve tests only.
pub mod counting;
#[cfg(any(test, feature = "testing"))]
pub mod faults;
pub mod local;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod object_lock;
pub(crate) mod readahead;
#[cfg(any(test, feature = "testing"))]
pub mod reporting;
pub mod rest;
pub mod s3;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;

pub use counting::RequestCounts;
pub use local::{sync_dir, write_atomic};

/// The kinds of repository file, each in its own folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    Key,
    Pack,
    Index,
    Snapshot,
    /// The repository's forget policy (content-addressed like the others).
    Policy,
    /// Pins, each named by the id of the snapshot it pins (not by its own
    /// contents: one pin per snapshot, created if absent).
    Pin,
    /// Markers of running runs (`locks/`, the deletion protocol): the one
    /// kind that is removed routinely, so an append-only server can allow
    /// removal here alone.
    Lock,
}

impl FileKind {
    pub const ALL: [FileKind; 7] = [
        FileKind::Key,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Snapshot,
        FileKind::Policy,
        FileKind::Pin,
        FileKind::Lock,
    ];

    /// The largest file of this kind a reader accepts (format-spec §6):
    /// the bound of every remote read.
    pub fn max_len(self) -> u64 {
        use crate::format;
        match self {
            FileKind::Key => format::MAX_KEY_FILE_LEN,
            FileKind::Index => format::MAX_INDEX_FILE_LEN,
            FileKind::Snapshot => format::MAX_SNAPSHOT_FILE_LEN,
            FileKind::Policy => format::MAX_POLICY_FILE_LEN,
            FileKind::Pin => format::MAX_PIN_FILE_LEN,
            FileKind::Lock => format::marker::MAX_MARKER_FILE_LEN,
            // A pack's blobs are each at most one sealed object.
            FileKind::Pack => 2 * format::codec::MAX_OBJECT_LEN as u64,
        }
    }

    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Key => "keys",
            FileKind::Pack => "data",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
            FileKind::Policy => "policy",
            FileKind::Pin => "pins",
            FileKind::Lock => "locks",
        }
    }
}

/// The name of the repository's config file.
pub const CONFIG_NAME: &str = "config";
/// Names of temporary files start with this (they are never ids).
pub const TEMP_PREFIX: &str = ".tmp-";

pub type BackendResult<T> = std::result::Result<T, BackendError>;

/// Storage for the files of one repository.
///
/// **"Created" means durable and visible.** When `create`,
/// `create_from_spool` or `create_config` return `Ok`, the file is stored
/// whole under its final name, will survive a crash or power loss of the
/// storage, and every later `list` and `read` (from any thread or process)
/// sees it. Before that, no reader ever sees the name with partial
/// contents: a create that fails or is interrupted leaves either nothing
/// or the whole file under the final name (possibly a temporary, reported
/// by `list_temporaries`). A create refuses a name that exists
/// (`AlreadyExists`) and leaves the existing file untouched; two racing
/// creates of one name have exactly one winner.
///
/// Names are ids: `list` returns only names that are ids (64 lower-case
/// hex digits) and silently skips anything else a user or tool put there.
pub trait Backend: Send + Sync + fmt::Debug {
    /// The location, for messages (`/srv/backup`, `memory`).
    fn location(&self) -> String;

    /// Creates the layout of a new repository; refuses (`AlreadyExists`) a
    /// location that already holds anything.
    fn create_layout(&self) -> BackendResult<()>;

    /// The files of one kind with their sizes, sorted by id. A location
    /// whose folders were dropped (git, sync tools) lists as empty.
    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>>;

    /// [`Backend::list`] with each file's modification time as the storage
    /// reports it (`None` where it has none): the storage's clock, which the
    /// deletion protocol trusts over any writer's (format-spec §6).
    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        Ok(self.list(kind)?.into_iter().map(|(id, size)| (id, size, None)).collect())
    }

    /// Temporary files left by interrupted writes (harmless; `check`
    /// reports them as notes).
    fn list_temporaries(&self) -> BackendResult<Vec<String>> {
        Ok(Vec::new())
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>>;

    /// Exactly `len` bytes at `offset`. A range reaching past the end is an
    /// error (`UnexpectedEof`); `len` 0 at or before the end is empty.
    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>>;

    /// The last `len` bytes (the whole file if shorter) and the file's size.
    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)>;

    /// Creates a file from `bytes` (see the trait's rules for "created").
    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()>;

    /// A local file to stream a large file into before `create_from_spool`.
    /// By default in the system's temporary folder.
    fn create_spool(&self, kind: FileKind) -> BackendResult<Spool> {
        let _ = kind;
        let dir = std::env::temp_dir();
        Spool::create_in(&dir).map_err(|e| BackendError::new(Op::Spool, dir.display(), e))
    }

    /// Creates a file from a complete spool (the rules of `create`). The
    /// spool is removed whatever the outcome. By default its bytes are read
    /// back and passed to `create`.
    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        let bytes = std::fs::read(spool.path()).map_err(|e| BackendError::new(Op::Read, spool.path().display(), e))?;
        self.create(kind, id, &bytes)
    }

    /// Removes a file. Removing a file that does not exist succeeds: a
    /// remove whose acknowledgement was lost can be repeated, and object
    /// stores cannot tell the two apart anyway.
    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()>;

    /// The config; `NotFound` when there is no repository here. A backend
    /// may stop reading one byte past `format::MAX_CONFIG_FILE_LEN` (the
    /// reader refuses anything longer anyway).
    fn read_config(&self) -> BackendResult<Vec<u8>>;

    /// Creates the config, refusing (`AlreadyExists`) to replace one, even
    /// against a racing `create_config`.
    fn create_config(&self, bytes: &[u8]) -> BackendResult<()>;

    /// Replaces the config whole (the format upgrade, the only file ever
    /// replaced): readers see the old or the new one, never a mix, and the
    /// new one is durable when this returns. `NotFound` when there is none.
    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()>;

    /// Whether the storage refuses deletions (an append-only `cairn serve`).
    /// Commands that delete (forget, prune, unpin) refuse up front when it
    /// is true. A remote backend learns it from the server's answers, so it
    /// may be false until the first request.
    fn append_only(&self) -> bool {
        false
    }

    /// The report of the maintenance a server runs on this repository on its
    /// own schedule (JSON: `maintenance::server_side::ServeReport`), where the
    /// storage is a `cairn serve` that runs one; `None` elsewhere.
    fn server_report(&self) -> BackendResult<Option<Vec<u8>>> {
        Ok(None)
    }

    /// Where the file lives on the local filesystem, for backends that keep
    /// files there (tests damage files in place through it).
    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        let _ = (kind, id);
        None
    }

    /// Until when the storage retains file `id` against deletion (S3 Object
    /// Lock: the bucket's default retention from the file's upload, its
    /// `modified` time as listed where the caller has it), `None` when it
    /// may be deleted now. Prune and forget skip files retained.
    fn locked_until(&self, kind: FileKind, id: &Id, modified: Option<SystemTime>) -> BackendResult<Option<SystemTime>> {
        let _ = (kind, id, modified);
        Ok(None)
    }

    /// Sets the storage's default retention (S3: the bucket's Object Lock
    /// configuration), so that every object uploaded afterwards is retained
    /// that long. Backends without Object Lock refuse.
    fn set_default_retention(&self, retention: object_lock::Retention) -> BackendResult<()> {
        let _ = retention;
        Err(object_lock::unsupported(self.location()))
    }

    /// The requests made so far, where the backend counts them (the
    /// `counting` wrapper `for_location` puts around every backend).
    fn request_counts(&self) -> Option<RequestCounts> {
        None
    }
}

impl dyn Backend + '_ {
    /// Stores a content-addressed file (named by the BLAKE3 of its bytes).
    /// A file of that name already holds these bytes, so finding one is
    /// success, not an error.
    pub fn write(&self, kind: FileKind, bytes: &[u8]) -> BackendResult<Id> {
        let id = Id::of_file_bytes(bytes);
        match self.create(kind, &id, bytes) {
            Err(e) if e.is_already_exists() => Ok(id),
            other => other.map(|()| id),
        }
    }
}

/// Picks the backend for a repository location: the one place that does.
/// `rest:…` is a REST server (credentials also from `CAIRN_REST_USERNAME`
/// / `CAIRN_REST_PASSWORD`, trust roots from `CAIRN_CACERT`); anything
/// else is a local folder.
pub fn for_location(location: &Path) -> crate::Result<Arc<dyn Backend>> {
    let backend: Arc<dyn Backend> = match location.to_str().filter(|l| rest::is_rest(l)) {
        Some(text) => {
            let parsed = rest::RestLocation::parse(text).map_err(|e| crate::Error::InvalidArgument(e.to_string()))?;
            let shown = parsed.redacted();
            let backend = rest::RestBackend::new(parsed, &rest::RestOptions::from_environment())
                .map_err(|e| crate::Error::InvalidArgument(format!("{shown}: {e}")))?;
            Arc::new(backend)
        }
        None => match location.to_str().filter(|l| s3::is_s3(l)) {
            Some(text) => Arc::new(s3_for(text)?),
            None => Arc::new(local::LocalBackend::new(location)),
        },
    };
    // Test builds only: `CAIRN_TEST_FAULT` makes one operation fail (faults.rs).
    #[cfg(feature = "testing")]
    let backend = faults::from_test_environment(backend);
    // and `CAIRN_TEST_SERVER_REPORT` gives it a server's report (reporting.rs).
    #[cfg(feature = "testing")]
    let backend = reporting::from_test_environment(backend);
    // Outermost, so that what the run asked for is counted (faults included).
    Ok(Arc::new(counting::CountingBackend::new(backend)))
}

/// `s3:…`: a bucket (credentials, region and addressing from the AWS
/// environment and profile files, `CAIRN_S3_*`).
fn s3_for(text: &str) -> crate::Result<s3::S3Backend> {
    let parsed = s3::S3Location::parse(text).map_err(|e| crate::Error::InvalidArgument(e.to_string()))?;
    let options = s3::S3Options::from_environment().map_err(crate::Error::InvalidArgument)?;
    s3::S3Backend::new(parsed, &options).map_err(|e| crate::Error::InvalidArgument(format!("{text}: {e}")))
}

/// A location as it may be shown: a `rest:` location without its
/// password; an `s3:` one as parsed (it holds no secret); a local path as is.
pub fn shown_location(location: &Path) -> PathBuf {
    if let Some(text) = location.to_str().filter(|l| s3::is_s3(l)) {
        return match s3::S3Location::parse(text) {
            Ok(parsed) => PathBuf::from(parsed.to_string()),
            Err(_) => PathBuf::from("s3:(an invalid location)"),
        };
    }
    match location.to_str().filter(|l| rest::is_rest(l)).map(rest::RestLocation::parse) {
        Some(Ok(parsed)) => PathBuf::from(parsed.redacted()),
        Some(Err(_)) => PathBuf::from("rest:(an invalid location)"),
        None => location.to_path_buf(),
    }
}

/// Whether `name` is a file name the backends list: an id in lower-case hex.
pub fn is_id_name(name: &str) -> bool {
    name.len() == 64 && is_hex(name) && !name.bytes().any(|c| c.is_ascii_uppercase())
}

/// A new temporary name in `dir`; temporaries are never listed as files.
pub fn temp_path_in(dir: &Path) -> io::Result<PathBuf> {
    temp_path_with(dir, TEMP_PREFIX)
}

/// A new temporary name in `dir`: `prefix` and 64 random bits. The one
/// scheme for every file cairn writes under a temporary name first
/// (repository files, the restorer's files beside their destination).
pub fn temp_path_with(dir: &Path, prefix: &str) -> io::Result<PathBuf> {
    let suffix: [u8; 8] = crate::format::crypto::random_bytes().map_err(io::Error::other)?;
    Ok(dir.join(format!("{prefix}{:016x}", u64::from_le_bytes(suffix))))
}

/// A local temporary file a large file is streamed into before it is
/// handed to `Backend::create_from_spool`. Dropped, it removes itself.
#[derive(Debug)]
pub struct Spool {
    file: File,
    path: PathBuf,
}

impl Spool {
    /// A new, empty, private spool file in `dir`.
    pub fn create_in(dir: &Path) -> io::Result<Spool> {
        let path = temp_path_in(dir)?;
        let file = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path)?;
        Ok(Spool { file, path })
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
