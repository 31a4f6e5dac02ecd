//! The archiver: walks the given paths, stores file contents as chunks and
//! folders as trees, reuses the parent snapshot's chunk lists for files whose
//! stat is unchanged, and writes the snapshot manifest last. Entries the
//! exclude rules (`crate::fs::exclude`) leave out are neither stat-ed below nor
//! read. A dry run does all of it but stores nothing: its saver only hashes
//! and counts.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::format::chunker::{ChunkError, Chunker};
use crate::format::{BlobKind, FORMAT_VERSION, Node, NodeKind, Snapshot, Summary, Timestamp, Tree, Xattr};
use crate::fs::exclude::{ExcludeOptions, ExcludeRules, Reason, Scope};
use crate::fs::fsmeta;
use crate::id::Id;
use crate::repo::{BlobSaver, Repository, SaveStats, now_timestamp};
use crate::snapshot::snapshots::{self, SnapshotEntry};
use crate::snapshot::tree::{PathTrie, normalize_paths};
use crate::testhook::{self, Point};

/// How to pick the parent snapshot whose unchanged files are not re-read.
#[derive(Clone, Debug, Default)]
pub enum ParentChoice {
    /// The newest snapshot with the same host and paths.
    #[default]
    Auto,
    /// Read every file.
    None,
    Id(String),
}

#[derive(Clone, Debug, Default)]
pub struct SnapshotOptions {
    pub paths: Vec<PathBuf>,
    pub host: String,
    pub user: String,
    pub tags: Vec<String>,
    /// Record this time instead of now (imports, tests).
    pub time: Option<Timestamp>,
    pub parent: ParentChoice,
}

/// Something that did not stop the snapshot but the user must hear about.
#[derive(Clone, Debug)]
pub enum Warning {
    /// Could not be read; not stored.
    Unreadable { path: PathBuf, error: String },
    /// Kept changing while read; the last version read is stored.
    Changed { path: PathBuf },
    /// Deleted, or replaced by another file (an editor's save, an atomic
    /// rename), between the walk seeing it and reading it; not stored this
    /// time. Not a failure: the file the walk saw no longer exists, and
    /// the next snapshot stores what took its place.
    Vanished { path: PathBuf, error: String },
    /// The parent's trees could not be read; files were read instead.
    Parent { error: String },
    /// A `.gitignore` file could not be read or has bad lines (its good
    /// lines still apply).
    Exclude { path: PathBuf, error: String },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Unreadable { path, error } => {
                write!(f, "{}: not stored: {error}", path.display())
            }
            Warning::Changed { path } => write!(f, "{}: changed while being read; stored as last read", path.display()),
            Warning::Vanished { path, error } => {
                write!(f, "{}: {error} during the snapshot; not stored this time", path.display())
            }
            Warning::Parent { error } => {
                write!(f, "parent snapshot unreadable, reading every file: {error}")
            }
            Warning::Exclude { path, error } => write!(f, "{}: some ignore patterns not used: {error}", path.display()),
        }
    }
}

/// Live counters a progress display may poll from another thread.
#[derive(Default, Debug)]
pub struct Progress {
    /// Files done (read or reused from the parent).
    pub files: AtomicU64,
    /// Bytes read from files.
    pub bytes: AtomicU64,
    /// Sizes of the files done, read or reused (compare with `total_bytes`).
    pub bytes_done: AtomicU64,
    /// Files and bytes of the parent snapshot, the expected totals; 0 when
    /// there is no parent. Set before the walk starts.
    pub total_files: AtomicU64,
    pub total_bytes: AtomicU64,
    /// The file being read.
    pub current: Mutex<PathBuf>,
}

pub struct SnapshotOutcome {
    pub id: Id,
    pub snapshot: Snapshot,
    pub warnings: Vec<Warning>,
    /// Entries left out by the exclude rules (an excluded folder counts once).
    pub excluded: u64,
    /// Those entries and why, when `ExcludeOptions::report` was set; sorted.
    pub excluded_paths: Vec<(PathBuf, Reason)>,
}

impl SnapshotOutcome {
    /// True when some file or folder could not be read (exit code 3).
    pub fn incomplete(&self) -> bool {
        incomplete(&self.warnings)
    }

    /// True when some entry the walk found was not stored, for any reason:
    /// unreadable, or deleted or replaced during the run. Stricter than
    /// `incomplete`, for callers that must have stored everything (the
    /// restorer's safety snapshot: a file replaced meanwhile is new data it
    /// would otherwise overwrite unpreserved).
    pub fn missed_any(&self) -> bool {
        self.warnings.iter().any(|w| matches!(w, Warning::Unreadable { .. } | Warning::Vanished { .. }))
    }
}

/// What a snapshot would be: the walk done, nothing stored.
pub struct DryRunOutcome {
    /// The manifest that would be saved. Its summary's `data_blobs_added`
    /// and `tree_blobs_added` count the blobs the repository lacks, and
    /// `bytes_added` is their plaintext size: packs hold them compressed,
    /// plus a few dozen bytes each of encryption and pack overhead.
    pub snapshot: Snapshot,
    pub warnings: Vec<Warning>,
    pub excluded: u64,
    pub excluded_paths: Vec<(PathBuf, Reason)>,
}

impl DryRunOutcome {
    pub fn incomplete(&self) -> bool {
        incomplete(&self.warnings)
    }
}

/// Only files that exist and could not be read make a snapshot incomplete:
/// a file deleted or replaced under the walk (`Warning::Vanished`) does not,
/// or an hourly run would report failure whenever an editor saved a file.
fn incomplete(warnings: &[Warning]) -> bool {
    warnings.iter().any(|w| matches!(w, Warning::Unreadable { .. }))
}

/// Takes a snapshot of `opts.paths`, excluding nothing.
pub fn snapshot(repo: &Repository, opts: &SnapshotOptions, progress: &Progress) -> Result<SnapshotOutcome> {
    snapshot_excluding(repo, opts, &ExcludeOptions::default(), progress)
}

/// Takes a snapshot of `opts.paths`, leaving out what `exclude` says below
/// them (the paths themselves are always stored). The exclude options are
/// a parameter of their own, not fields of `SnapshotOptions`, so that
/// callers that must store everything (the restorer's safety snapshot)
/// keep calling `snapshot`.
pub fn snapshot_excluding(
    repo: &Repository,
    opts: &SnapshotOptions,
    exclude: &ExcludeOptions,
    progress: &Progress,
) -> Result<SnapshotOutcome> {
    let rules = ExcludeRules::new(exclude)?;
    let walked = archive(repo, opts, (rules, exclude.report), progress, Saver::Repository(repo.saver()))?;
    // Ordering invariant: `archive` finished the saver (packs and their
    // index are durable) before the snapshot is written.
    let id = repo.save_snapshot(&walked.snapshot)?;
    let DryRunOutcome { snapshot, warnings, excluded, excluded_paths } = walked;
    Ok(SnapshotOutcome { id, snapshot, warnings, excluded, excluded_paths })
}

/// Walks and reads `opts.paths` exactly as `snapshot` does, computing every
/// blob id and checking it against the index, but writes nothing: no pack,
/// index or snapshot.
pub fn dry_run(
    repo: &Repository,
    opts: &SnapshotOptions,
    exclude: &ExcludeOptions,
    progress: &Progress,
) -> Result<DryRunOutcome> {
    let rules = ExcludeRules::new(exclude)?;
    archive(repo, opts, (rules, exclude.report), progress, Saver::DryRun(DryRunSaver::new(repo)))
}

/// The walk shared by `snapshot` and `dry_run`: stores blobs through
/// `saver`, finishes it, and returns the manifest (not yet saved).
fn archive(
    repo: &Repository,
    opts: &SnapshotOptions,
    (rules, report_excluded): (ExcludeRules, bool),
    progress: &Progress,
    saver: Saver<'_>,
) -> Result<DryRunOutcome> {
    let started = Instant::now();
    if opts.paths.is_empty() {
        return Err(Error::InvalidArgument("no paths to snapshot".into()));
    }
    // Every path must exist before anything is written.
    let paths = normalize_paths(&opts.paths)?;
    let path_bytes: Vec<Vec<u8>> = paths.iter().map(|p| p.as_os_str().as_bytes().to_vec()).collect();

    let mut warnings = Vec::new();
    let parent = choose_parent(repo, opts, &path_bytes)?;
    if let Some(p) = &parent {
        let s = &p.snapshot.summary;
        progress.total_files.store(s.files_new + s.files_changed + s.files_unchanged, Ordering::Relaxed);
        progress.total_bytes.store(s.total_bytes, Ordering::Relaxed);
    }
    let parent_root = match &parent {
        Some(p) => match repo.load_tree(&p.snapshot.tree) {
            Ok(t) => Some(t),
            Err(e) => {
                warnings.push(Warning::Parent { error: e.to_string() });
                None
            }
        },
        None => None,
    };

    let racy_after = parent.as_ref().map(|p| racy_cutoff(&p.snapshot));
    let archiver = Archiver {
        repo,
        saver,
        chunker: repo.chunker(),
        warnings: Mutex::new(warnings),
        stats: Stats::default(),
        hard_links: Mutex::new(HashMap::new()),
        racy_after,
        progress,
        rules,
        excluded: Mutex::new(Vec::new()),
        report_excluded,
    };
    let trie = PathTrie::from_paths(&paths);
    let root = Path::new("/");
    let root_tree = if trie.selected {
        let md = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        match archiver.list(root) {
            Some(names) => archiver.dir_tree(root, &names, parent_root.as_ref(), &Scope::root(&md))?,
            None => Tree { version: FORMAT_VERSION, nodes: Vec::new() },
        }
    } else {
        archiver.archive_virtual(root, &trie, parent_root.as_ref())?
    };
    let root_id = archiver.saver.save_tree(&root_tree)?;
    let Archiver { saver, stats, warnings, excluded, .. } = archiver;
    // Ordering invariant: packs and their index are durable before the snapshot.
    let saved = saver.finish()?;
    let warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut excluded_paths = excluded.into_inner().unwrap_or_else(|p| p.into_inner());
    excluded_paths.sort_by(|a, b| a.0.cmp(&b.0));

    let summary = Summary {
        files_new: stats.files_new.into_inner(),
        files_changed: stats.files_changed.into_inner(),
        files_unchanged: stats.files_unchanged.into_inner(),
        dirs: stats.dirs.into_inner(),
        others: stats.others.into_inner(),
        files_read: stats.files_read.into_inner(),
        bytes_read: stats.bytes_read.into_inner(),
        total_bytes: stats.total_bytes.into_inner(),
        data_blobs_added: saved.data_blobs,
        tree_blobs_added: saved.tree_blobs,
        bytes_added: saved.bytes_added,
        duration_ms: started.elapsed().as_millis() as u64,
        warnings: warnings.len() as u64,
    };
    let snapshot = Snapshot {
        version: FORMAT_VERSION,
        time: opts.time.unwrap_or_else(now_timestamp),
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths: path_bytes.into_iter().map(ByteBuf::from).collect(),
        tags: opts.tags.clone(),
        tree: root_id,
        parent: parent.map(|p| p.id),
        summary,
        program_version: crate::PROGRAM_VERSION.to_string(),
    };
    Ok(DryRunOutcome { snapshot, warnings, excluded: stats.excluded.into_inner(), excluded_paths })
}

/// How far back before a snapshot started a change may hide from its stat:
/// timestamps are only as fine as the filesystem keeps them.
const TIMESTAMP_GRANULARITY_NS: i128 = 1_000_000_000;

/// Nanoseconds since the epoch from which a ctime makes a file "racily
/// clean" for the next snapshot taken with `parent` as parent: it may have
/// been rewritten, same size, within the timestamp granularity after the
/// parent read it, leaving its stat unchanged. Such files are read again.
/// The parent started `duration_ms` before its recorded time.
fn racy_cutoff(parent: &Snapshot) -> i128 {
    let time = i128::from(parent.time.unix_seconds) * 1_000_000_000 + i128::from(parent.time.nanos);
    time - i128::from(parent.summary.duration_ms) * 1_000_000 - TIMESTAMP_GRANULARITY_NS
}

fn choose_parent(repo: &Repository, opts: &SnapshotOptions, paths: &[Vec<u8>]) -> Result<Option<SnapshotEntry>> {
    match &opts.parent {
        ParentChoice::None => Ok(None),
        ParentChoice::Id(r) => snapshots::resolve(repo, r).map(Some),
        ParentChoice::Auto => {
            let (all, _) = snapshots::list(repo)?;
            Ok(snapshots::find_parent(&all, &opts.host, paths).cloned())
        }
    }
}

#[derive(Default)]
struct Stats {
    files_new: AtomicU64,
    files_changed: AtomicU64,
    files_unchanged: AtomicU64,
    dirs: AtomicU64,
    others: AtomicU64,
    files_read: AtomicU64,
    bytes_read: AtomicU64,
    total_bytes: AtomicU64,
    excluded: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A file's chunk ids and length.
type StoredContent = (Vec<Id>, u64);

/// What must still hold for a hard link's content read earlier in this
/// snapshot to be reused: size, mtime and ctime (seconds, nanoseconds).
type LinkStamp = (u64, i64, i64, i64, i64);

fn link_stamp(md: &Metadata) -> LinkStamp {
    (md.len(), md.mtime(), md.mtime_nsec(), md.ctime(), md.ctime_nsec())
}

/// Why `open_regular` refused a path, as the user reads it.
const CHANGED_TYPE: &str = "changed type while being read";

/// The error `open_regular` returns when the path is no longer the regular
/// file the walk saw (typed, so that the archiver can tell it from a file
/// it may not read).
#[derive(Debug)]
struct ChangedType;

impl std::fmt::Display for ChangedType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(CHANGED_TYPE)
    }
}

impl std::error::Error for ChangedType {}

/// Whether a failure to stat, list or open `path` means it was deleted or
/// replaced after the walk found it, rather than that it cannot be read.
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.get_ref().is_some_and(|inner| inner.is::<ChangedType>())
}

/// Opens `path` for reading only if it is still the regular file a walk
/// saw: symlinks are not followed (`O_NOFOLLOW`), fifos and devices do not
/// block the open (`O_NONBLOCK`) nor become a controlling terminal
/// (`O_NOCTTY`), and the open file must be a regular file with the
/// (device, inode) of `expected` when given. Returns the file and its
/// fstat. Anything else fails with "changed type while being read".
pub(crate) fn open_regular(path: &Path, expected: Option<(u64, u64)>) -> std::io::Result<(File, Metadata)> {
    use rustix::fs::OFlags;
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = match OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path) {
        Ok(f) => f,
        // ELOOP: a symlink now; ENXIO: a socket or a fifo without writer
        // (never for reading, but harmless); both mean the type changed.
        Err(e)
            if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::LOOP.raw_os_error()
            || c == rustix::io::Errno::NXIO.raw_os_error()) =>
        {
            return Err(std::io::Error::other(ChangedType));
        }
        Err(e) => return Err(e),
    };
    let md = file.metadata()?;
    if !md.is_file() || expected.is_some_and(|id| id != (md.dev(), md.ino())) {
        return Err(std::io::Error::other(ChangedType));
    }
    // Regular files ignore O_NONBLOCK on local filesystems; clear it anyway
    // so that network and FUSE filesystems read normally.
    let fl = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, fl - OFlags::NONBLOCK)?;
    Ok((file, md))
}

/// Where the blobs go: the repository, or nowhere (a dry run).
// One per snapshot, never moved in a loop: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
enum Saver<'r> {
    Repository(BlobSaver<'r>),
    DryRun(DryRunSaver<'r>),
}

impl Saver<'_> {
    fn save(&self, kind: BlobKind, raw: &[u8]) -> Result<Id> {
        match self {
            Saver::Repository(s) => s.save(kind, raw),
            Saver::DryRun(s) => Ok(s.save(kind, raw)),
        }
    }

    fn save_tree(&self, tree: &Tree) -> Result<Id> {
        match self {
            Saver::Repository(s) => s.save_tree(tree),
            Saver::DryRun(s) => Ok(s.save(BlobKind::Tree, &crate::format::codec::to_postcard(tree)?)),
        }
    }

    fn finish(self) -> Result<SaveStats> {
        match self {
            Saver::Repository(s) => s.finish(),
            Saver::DryRun(s) => Ok(s.finish()),
        }
    }
}

/// The dry run's saver: computes each blob's id as the real saver does,
/// counts those neither in the index nor seen before in this run and adds
/// up their plaintext sizes. Writes nothing.
struct DryRunSaver<'r> {
    repo: &'r Repository,
    pending: Mutex<HashSet<Id>>,
    data_blobs: AtomicU64,
    tree_blobs: AtomicU64,
    bytes: AtomicU64,
}

impl<'r> DryRunSaver<'r> {
    fn new(repo: &'r Repository) -> DryRunSaver<'r> {
        DryRunSaver {
            repo,
            pending: Mutex::new(HashSet::new()),
            data_blobs: AtomicU64::new(0),
            tree_blobs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn save(&self, kind: BlobKind, raw: &[u8]) -> Id {
        let id = self.repo.keys().blob_id(raw);
        let new = !self.repo.is_indexed(&id) && self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        if new {
            bump(if kind == BlobKind::Data { &self.data_blobs } else { &self.tree_blobs }, 1);
            bump(&self.bytes, raw.len() as u64);
        }
        id
    }

    fn finish(self) -> SaveStats {
        SaveStats {
            data_blobs: self.data_blobs.into_inner(),
            tree_blobs: self.tree_blobs.into_inner(),
            bytes_added: self.bytes.into_inner(),
        }
    }
}

struct Archiver<'r> {
    repo: &'r Repository,
    saver: Saver<'r>,
    chunker: Chunker,
    warnings: Mutex<Vec<Warning>>,
    stats: Stats,
    /// Content of multiply-linked files already read, by (device, inode),
    /// with the stat it was read under.
    hard_links: Mutex<HashMap<(u64, u64), (StoredContent, LinkStamp)>>,
    /// Files whose ctime is at or after this (ns since the epoch) are read
    /// even when their stat matches the parent's node; see `racy_cutoff`.
    racy_after: Option<i128>,
    progress: &'r Progress,
    rules: ExcludeRules,
    excluded: Mutex<Vec<(PathBuf, Reason)>>,
    report_excluded: bool,
}

/// Where an entry met during the walk sits: the rules in force in its
/// folder and the folder's sorted names. Paths given on the command line
/// have none and are never excluded.
#[derive(Clone, Copy)]
struct Within<'a> {
    scope: &'a Scope,
    siblings: &'a [Vec<u8>],
}

/// How many times a file that changes while read is read again.
const READ_ATTEMPTS: usize = 3;

impl Archiver<'_> {
    fn warn(&self, w: Warning) {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    }

    /// Warns that `path` was not stored because of `e`: `Vanished` when it
    /// was deleted or replaced under the walk, `Unreadable` otherwise.
    fn warn_unreadable(&self, path: &Path, e: &std::io::Error) {
        let path = path.to_path_buf();
        if vanished(e) {
            let how = if e.kind() == std::io::ErrorKind::NotFound { "deleted" } else { "replaced" };
            self.warn(Warning::Vanished { path, error: how.to_string() });
        } else {
            self.warn(Warning::Unreadable { path, error: e.to_string() });
        }
    }

    /// The tree of an intermediate folder on the way to the selected paths:
    /// its own metadata is real, but it holds only the names that lead on.
    fn archive_virtual(&self, dir: &Path, trie: &PathTrie, parent: Option<&Tree>) -> Result<Tree> {
        let nodes: Result<Vec<Option<Node>>> = trie
            .children
            .par_iter()
            .map(|(name, child)| {
                let parent_node = parent.and_then(|t| t.find(name));
                if child.selected {
                    return self.archive_entry(dir, name, parent_node, None);
                }
                let path = dir.join(crate::snapshot::tree::name_to_path(name));
                let md = match std::fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => md,
                    Ok(_) => {
                        return Err(Error::InvalidArgument(format!("{} is no longer a folder", path.display())));
                    }
                    Err(e) => return Err(Error::io(path, e)),
                };
                let parent_sub = self.parent_subtree(parent_node);
                let tree = self.archive_virtual(&path, child, parent_sub.as_ref())?;
                let id = self.saver.save_tree(&tree)?;
                Ok(Some(fsmeta::node_from_metadata(
                    name,
                    &md,
                    NodeKind::Dir { subtree: id },
                    fsmeta::read_xattrs(&path),
                )))
            })
            .collect();
        Ok(Tree { version: FORMAT_VERSION, nodes: nodes?.into_iter().flatten().collect() })
    }

    /// A folder's names, sorted; `None` (with a warning) when it cannot be
    /// listed.
    fn list(&self, dir: &Path) -> Option<Vec<Vec<u8>>> {
        match read_dir_names(dir) {
            Ok(n) => Some(n),
            Err(e) => {
                self.warn_unreadable(dir, &e);
                None
            }
        }
    }

    /// The tree of a real folder listed as `names`: its entries that are not
    /// excluded, sorted by name. `scope` holds the rules in force in `dir`
    /// (before its own `.gitignore`).
    fn dir_tree(&self, dir: &Path, names: &[Vec<u8>], parent: Option<&Tree>, scope: &Scope) -> Result<Tree> {
        let (own_scope, problem) = self.rules.enter(dir, names, scope);
        if let Some(error) = problem {
            self.warn(Warning::Exclude { path: dir.join(".gitignore"), error });
        }
        let within = Within { scope: own_scope.as_ref().unwrap_or(scope), siblings: names };
        let nodes: Result<Vec<Option<Node>>> = names
            .par_iter()
            .map(|name| self.archive_entry(dir, name, parent.and_then(|t| t.find(name)), Some(within)))
            .collect();
        Ok(Tree { version: FORMAT_VERSION, nodes: nodes?.into_iter().flatten().collect() })
    }

    /// Records an excluded entry.
    fn exclude(&self, path: PathBuf, reason: Reason) {
        bump(&self.stats.excluded, 1);
        if self.report_excluded {
            self.excluded.lock().unwrap_or_else(|p| p.into_inner()).push((path, reason));
        }
    }

    fn parent_subtree(&self, parent: Option<&Node>) -> Option<Tree> {
        let Some(Node { kind: NodeKind::Dir { subtree }, .. }) = parent else {
            return None;
        };
        match self.repo.load_tree(subtree) {
            Ok(t) => Some(t),
            Err(e) => {
                self.warn(Warning::Parent { error: e.to_string() });
                None
            }
        }
    }

    /// One entry of a folder; `None` when it could not be read (warned) or
    /// is excluded. `within` is `None` for a path given on the command line.
    fn archive_entry(
        &self,
        dir: &Path,
        name: &[u8],
        parent: Option<&Node>,
        within: Option<Within<'_>>,
    ) -> Result<Option<Node>> {
        let path = dir.join(crate::snapshot::tree::name_to_path(name));
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) => {
                // Listed, then deleted before this stat: a note, not a failure.
                self.warn_unreadable(&path, &e);
                return Ok(None);
            }
        };
        if let Some(w) = within
            && let Some(reason) = self.rules.check_entry(&path, name, &md, w.scope, w.siblings)
        {
            self.exclude(path, reason);
            return Ok(None);
        }
        let ft = md.file_type();
        if ft.is_dir() {
            let Some(names) = self.list(&path) else { return Ok(None) };
            if within.is_some()
                && let Some(reason) = self.rules.check_listing(&path, &names)
            {
                self.exclude(path, reason);
                return Ok(None);
            }
            let given_scope;
            let scope = match within {
                Some(w) => w.scope,
                None => {
                    given_scope = Scope::root(&md);
                    &given_scope
                }
            };
            let parent_sub = self.parent_subtree(parent);
            let tree = self.dir_tree(&path, &names, parent_sub.as_ref(), scope)?;
            let id = match (parent, &parent_sub) {
                // Unchanged folder: the parent's tree id, without encoding it again.
                (Some(Node { kind: NodeKind::Dir { subtree }, .. }), Some(old)) if *old == tree => *subtree,
                _ => self.saver.save_tree(&tree)?,
            };
            bump(&self.stats.dirs, 1);
            let xattrs = self.xattrs(&path, &md, parent);
            return Ok(Some(fsmeta::node_from_metadata(name, &md, NodeKind::Dir { subtree: id }, xattrs)));
        }
        if ft.is_file() {
            return self.archive_file(&path, name, md, parent);
        }
        match fsmeta::special_kind(&path, &md) {
            Ok(kind) => {
                bump(&self.stats.others, 1);
                let xattrs = fsmeta::read_xattrs(&path);
                Ok(Some(fsmeta::node_from_metadata(name, &md, kind, xattrs)))
            }
            Err(e) => {
                self.warn(Warning::Unreadable { path, error: e.to_string() });
                Ok(None)
            }
        }
    }

    fn archive_file(&self, path: &Path, name: &[u8], md: Metadata, parent: Option<&Node>) -> Result<Option<Node>> {
        let reusable =
            parent.filter(|p| !self.racy(&md) && fsmeta::unchanged_since(p, &md)).and_then(|p| match &p.kind {
                NodeKind::File { content, .. } if content.iter().all(|id| self.repo.is_indexed(id)) => {
                    Some(content.clone())
                }
                _ => None,
            });
        let (content, size, md) = if let Some(content) = reusable {
            (content, md.len(), md)
        } else if let Some((content, size)) = self.known_hard_link(&md) {
            (content, size, md)
        } else {
            match self.read_file(path, (md.dev(), md.ino()))? {
                Some(read) => read,
                None => return Ok(None),
            }
        };
        if md.nlink() > 1 {
            self.hard_links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((md.dev(), md.ino()), ((content.clone(), size), link_stamp(&md)));
        }
        match parent.map(|p| &p.kind) {
            Some(NodeKind::File { content: old, .. }) if *old == content => bump(&self.stats.files_unchanged, 1),
            Some(_) => bump(&self.stats.files_changed, 1),
            None => bump(&self.stats.files_new, 1),
        }
        bump(&self.stats.total_bytes, size);
        self.progress.files.fetch_add(1, Ordering::Relaxed);
        self.progress.bytes_done.fetch_add(size, Ordering::Relaxed);
        let xattrs = self.xattrs(path, &md, parent);
        let mut node = fsmeta::node_from_metadata(name, &md, NodeKind::File { size, content }, xattrs);
        node.nlink = md.nlink();
        Ok(Some(node))
    }

    /// Extended attributes; those of the parent node when the ctime shows
    /// nothing changed (setting an xattr updates the ctime).
    fn xattrs(&self, path: &Path, md: &Metadata, parent: Option<&Node>) -> Vec<Xattr> {
        match parent {
            Some(p)
                if !self.racy(md) && p.ctime.seconds == md.ctime() && i64::from(p.ctime.nanos) == md.ctime_nsec() =>
            {
                p.xattrs.clone()
            }
            _ => fsmeta::read_xattrs(path),
        }
    }

    /// True when `md`'s ctime is too close to the parent's read for an
    /// unchanged stat to prove unchanged contents.
    fn racy(&self, md: &Metadata) -> bool {
        self.racy_after
            .is_some_and(|cutoff| i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec()) >= cutoff)
    }

    /// The content of another link to the same inode read earlier in this
    /// snapshot, if its size, mtime and ctime still match.
    fn known_hard_link(&self, md: &Metadata) -> Option<(Vec<Id>, u64)> {
        if md.nlink() < 2 {
            return None;
        }
        let links = self.hard_links.lock().unwrap_or_else(|p| p.into_inner());
        match links.get(&(md.dev(), md.ino())) {
            Some((content, stamp)) if *stamp == link_stamp(md) => Some(content.clone()),
            _ => None,
        }
    }

    /// Reads and stores a file's contents. Retries when the file changes
    /// while read; stores the last version read, with a warning, if it never
    /// holds still. Returns the chunk ids, the bytes read and the stat taken
    /// before the read that was kept. `None` when it could not be read,
    /// including when `path` is no longer the regular file with the
    /// (device, inode) `identity` the walk saw.
    fn read_file(&self, path: &Path, identity: (u64, u64)) -> Result<Option<(Vec<Id>, u64, Metadata)>> {
        *self.progress.current.lock().unwrap_or_else(|p| p.into_inner()) = path.to_path_buf();
        let mut last = None;
        for _ in 0..READ_ATTEMPTS {
            let attempt = (|| -> Result<(Vec<Id>, u64, Metadata, bool), ReadFailure> {
                testhook::reached(Point::FileStat, Some(path));
                let (mut file, before) = open_regular(path, Some(identity))?;
                let (content, read) = self.store_contents(&mut file, before.len())?;
                testhook::reached(Point::FileRead, Some(path));
                let after = file.metadata()?;
                let stable = read == after.len()
                    && before.len() == after.len()
                    && before.mtime() == after.mtime()
                    && before.mtime_nsec() == after.mtime_nsec()
                    && before.ctime() == after.ctime()
                    && before.ctime_nsec() == after.ctime_nsec();
                Ok((content, read, before, stable))
            })();
            match attempt {
                Ok((content, read, before, true)) => {
                    self.count_read(read);
                    return Ok(Some((content, read, before)));
                }
                Ok((content, read, before, false)) => last = Some((content, read, before)),
                // Failing to store is fatal; failing to read the file is a warning.
                Err(ReadFailure::Repository(e)) => return Err(e),
                Err(ReadFailure::Source(e)) => {
                    self.warn_unreadable(path, &e);
                    return Ok(None);
                }
            }
        }
        self.warn(Warning::Changed { path: path.to_path_buf() });
        Ok(last.inspect(|(_, read, _)| self.count_read(*read)))
    }

    fn count_read(&self, bytes: u64) {
        bump(&self.stats.files_read, 1);
        bump(&self.stats.bytes_read, bytes);
    }

    /// Chunks a file and saves each chunk (`Chunker::for_each_chunk`, the
    /// routine `diff::content_ids` uses too).
    fn store_contents(&self, file: &mut File, size_hint: u64) -> Result<(Vec<Id>, u64), ReadFailure> {
        let mut ids = Vec::new();
        let read = self
            .chunker
            .for_each_chunk(&mut crate::fs::sparse::HoleSkipping::new(file), size_hint, |data| -> Result<()> {
                self.progress.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                ids.push(self.saver.save(BlobKind::Data, data)?);
                Ok(())
            })
            .map_err(|e| match e {
                ChunkError::Read(e) => ReadFailure::Source(e),
                ChunkError::Sink(e) => ReadFailure::Repository(e),
            })?;
        Ok((ids, read))
    }
}

/// Why reading a file into the repository stopped: the source (a warning)
/// or the repository (fatal).
enum ReadFailure {
    Source(std::io::Error),
    Repository(Error),
}

impl From<std::io::Error> for ReadFailure {
    fn from(e: std::io::Error) -> Self {
        ReadFailure::Source(e)
    }
}

/// The names in a folder, sorted as bytes.
fn read_dir_names(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().as_bytes().to_vec());
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn open_regular_refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"data").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_regular(&link, None).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
        // A symlink to a device, as a swapped-in `/dev/zero` would be.
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(open_regular(&zero, None).unwrap_err().to_string(), CHANGED_TYPE);
        let (_, md) = open_regular(&target, None).unwrap();
        assert!(md.is_file());
    }

    #[test]
    fn open_regular_does_not_block_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let started = Instant::now();
        // No writer: a blocking open would hang here.
        let err = open_regular(&fifo, None).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(open_regular(Path::new("/dev/null"), None).unwrap_err().to_string(), CHANGED_TYPE);
    }

    #[test]
    fn open_regular_refuses_another_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        assert!(open_regular(&path, Some((md.dev(), md.ino()))).is_ok());
        // Replaced by another file under the same name.
        let other = dir.path().join("g");
        std::fs::write(&other, b"two").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = open_regular(&path, Some((md.dev(), md.ino()))).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
    }

    #[test]
    fn deleted_or_replaced_counts_as_vanished_and_denied_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        std::fs::write(dir.path().join("g"), b"two").unwrap();
        std::fs::rename(dir.path().join("g"), &path).unwrap();
        assert!(vanished(&open_regular(&path, Some((md.dev(), md.ino()))).unwrap_err()));
        std::fs::remove_file(&path).unwrap();
        assert!(vanished(&open_regular(&path, None).unwrap_err()));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!vanished(&denied));
        assert!(!incomplete(&[Warning::Vanished { path: path.clone(), error: "deleted".into() }]));
        assert!(incomplete(&[Warning::Unreadable { path, error: denied.to_string() }]));
    }

    #[test]
    fn a_hard_link_stamp_changes_with_size_or_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let first = link_stamp(&std::fs::metadata(&path).unwrap());
        assert_eq!(first, link_stamp(&std::fs::metadata(&path).unwrap()));
        std::fs::write(&path, b"three").unwrap();
        let second = link_stamp(&std::fs::metadata(&path).unwrap());
        assert_ne!(first.0, second.0);
        let old = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        let third = link_stamp(&std::fs::metadata(&path).unwrap());
        assert_eq!(third.1, 1_000_000);
        assert_ne!(second, third);
    }
}
