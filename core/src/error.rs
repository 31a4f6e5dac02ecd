//! Typed errors of the core library. Every failure a user or a damaged
//! repository can cause is one of these; none of them panics.

use std::fmt;
use std::io::{self, ErrorKind};
use std::path::PathBuf;

use crate::id::Id;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", crate::names::escape_path(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Backend(BackendError),
    /// The storage refuses deletions (an append-only `cairn serve`): said
    /// before anything is changed, or when a deletion was refused anyway.
    #[error(
        "{0} is append-only: forget and prune run on the server (`cairn serve --maintain`, by a policy set there; see `cairn status`)"
    )]
    AppendOnly(String),
    // Messages say what went wrong in the library's terms; the command line
    // adds which of its flags or variables to change (cli/src/output.rs).
    #[error("no repository at {0}")]
    NotARepository(PathBuf),
    /// A config that is not cairn's (restic's, say) under the location.
    #[error("{} holds a repository of another tool (its config is not cairn's; restic's?), which cairn cannot read", crate::names::escape_path(.0))]
    ForeignRepository(PathBuf),
    #[error("{0} already exists and is not empty; refusing to create a repository there")]
    RepositoryExists(PathBuf),
    // A damaged repository id in the config (the keys' associated data)
    // would fail as a wrong password does; opening tells the two apart and
    // reports that one as a damaged config (repo::password_opens_params).
    #[error("wrong password: no key in {0} opens with it")]
    WrongPassword(PathBuf),
    #[error("{0} is not encrypted, yet a password was given")]
    UnexpectedlyUnencrypted(PathBuf),
    /// The downgrade of format-spec.md §2.2: this machine remembers the
    /// repository as encrypted, but its config now says it is not.
    #[error(
        "{0} was encrypted when this machine last opened it, but its config now says it is not and its keys are gone \
         (someone with access to the storage may have rewritten it); refusing to use it unencrypted"
    )]
    EncryptionRemoved(PathBuf),
    #[error("the repository needs a password, but none was given")]
    PasswordRequired,
    /// Refused at init and open alike: an empty password protects nothing,
    /// and is usually an empty file or unset variable, not a choice.
    #[error("the password is empty; cairn refuses empty passwords")]
    EmptyPassword,
    #[error("unsupported {what} version {found} (this cairn reads up to {supported}); upgrade cairn")]
    UnsupportedVersion { what: &'static str, found: u32, supported: u32 },
    #[error("{what} is damaged: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("blob {0} is not in any index")]
    BlobNotIndexed(Id),
    /// `prune` found a blob that a snapshot needs in no index.
    #[error(
        "prune: blob {blob} (needed by snapshot {snapshot} at {path}) is missing; nothing was deleted. \
         Run `cairn check`, then `cairn repair index`"
    )]
    PruneBlobMissing { blob: Id, snapshot: String, path: String },
    /// `prune` cannot judge what is needed (an unreadable snapshot, index
    /// file or tree), so it deletes nothing.
    #[error("prune: {0}; nothing was deleted")]
    PruneRefused(String),
    #[error("no snapshot matches {0:?}")]
    SnapshotNotFound(String),
    #[error("snapshot prefix {0:?} is ambiguous; give more hex digits")]
    AmbiguousSnapshot(String),
    #[error("no snapshot was taken at or before {wanted}: the earliest is {earliest}, the latest {latest}")]
    NoSnapshotAt { wanted: String, earliest: String, latest: String },
    #[error("the repository holds no snapshots yet (or none matches the filter)")]
    NoSnapshots,
    /// `latest` / `--at` found no snapshot covering `path`, or the snapshot
    /// named does not cover it (`snapshot::resolve`). `message` names the
    /// path and the snapshots near it; `closest_in` is the snapshot tree in
    /// which the command line may look for the closest existing paths.
    #[error("{message}")]
    NotCovered { message: String, path: PathBuf, closest_in: Option<Id> },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("{0}: path not found in the snapshot")]
    PathNotInSnapshot(String),
    #[error("target {0} is not empty")]
    TargetNotEmpty(PathBuf),
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
    /// `RepoParams.features` has bits this cairn does not know.
    #[error("this repository uses features this cairn does not know (feature bits {0:#x}); upgrade cairn")]
    UnknownFeatures(u64),
    /// A writer that slept longer than the lapse limit between two refreshes
    /// of its marker may have been judged dead by a prune: it must not commit
    /// (format-spec §6).
    #[error(
        "this run was suspended for longer than {limit_secs} s (the machine slept or the process was stopped), so a \
         prune may have deleted what it was about to reference; nothing was saved, run it again"
    )]
    RunLapsed { limit_secs: u64 },
    #[error("this run was suspended too long twice; nothing was saved, run it again")]
    RunLapsedTwice,
    /// Another prune holds the repository (format-spec §6, "Two prunes").
    #[error("another prune is running on {host} (pid {pid}) since {since}; try again later")]
    PruneRunning { host: String, pid: u32, since: String },
    #[error("internal error: {0} (a bug in cairn; please report it)")]
    Internal(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A file that is not there (any more): read after it was listed, it
    /// was removed in between (a concurrent prune), not damaged.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Backend(e) if e.is_not_found())
    }

    /// A damaged structure, with what it is and what is wrong.
    pub fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error::Corrupt { what: what.into(), detail: detail.to_string() }
    }
}

impl From<BackendError> for Error {
    /// A deletion refused by an append-only server is said as such
    /// wherever it surfaces, not as a failed removal of one file.
    fn from(e: BackendError) -> Self {
        match e.append_only_refusal() {
            Some(location) => Error::AppendOnly(location),
            None => Error::Backend(e),
        }
    }
}

/// Adds the path to an `io::Result`.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// A deletion the server refused: the repository is append-only. Carried
/// inside the `io::Error` of a [`BackendError`] (by the `rest:` backend),
/// so that the error becomes `Error::AppendOnly` wherever it surfaces.
#[derive(Debug, thiserror::Error)]
#[error("the server refused the deletion ({answer})")]
pub struct AppendOnlyRefusal {
    pub location: String,
    pub answer: String,
}

/// What a backend was doing when it failed (named in every error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    List,
    Read,
    Create,
    Remove,
    /// Creating the layout of a new repository.
    Layout,
    /// Creating a local spool file for a streamed write.
    Spool,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::List => "list",
            Op::Read => "read",
            Op::Create => "create",
            Op::Remove => "remove",
            Op::Layout => "create a repository at",
            Op::Spool => "create a spool file in",
        })
    }
}

/// A failed backend operation: which one, on which file, and why. The
/// cause is an `io::Error` so callers can tell apart "not found",
/// "already exists" and "no space left" by its kind, whatever the backend.
#[derive(Debug, thiserror::Error)]
#[error("could not {op} {file}: {source}")]
pub struct BackendError {
    pub op: Op,
    /// The file as the backend names it (a path for the local backend).
    pub file: String,
    #[source]
    pub source: io::Error,
}

impl BackendError {
    pub fn new(op: Op, file: impl fmt::Display, source: io::Error) -> Self {
        BackendError { op, file: file.to_string(), source }
    }

    pub fn kind(&self) -> ErrorKind {
        self.source.kind()
    }

    /// The file (or the whole location) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
    }

    /// A create found the name taken.
    pub fn is_already_exists(&self) -> bool {
        self.kind() == ErrorKind::AlreadyExists
    }

    /// The location, when this is a deletion an append-only server refused.
    pub fn append_only_refusal(&self) -> Option<String> {
        let refusal = self.source.get_ref()?.downcast_ref::<AppendOnlyRefusal>()?;
        Some(refusal.location.clone())
    }
}
