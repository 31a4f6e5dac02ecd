//! The archiver: walks the given paths, stores file contents as chunks and
//! folders as trees, reuses the parent snapshot's chunk lists for files whose
//! stat is unchanged, and writes the snapshot manifest last. Entries the
//! exclude rules (`crate::fs::exclude`) leave out are neither stat-ed below nor
//! read. A dry run does all of it but stores nothing: its saver only hashes
//! and counts.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::format::chunker::{ChunkError, Chunker};
use crate::format::recipe::{GivenLink, Recipe};
use crate::format::{
    BlobKind, FORMAT_VERSION, Node, NodeKind, Snapshot, Summary, TAKEN_SNAPSHOT_VERSION, Timestamp, Tree, Xattr,
};
use crate::fs::exclude::{ExcludeOptions, ExcludeRules, Reason, Scope};
use crate::fs::fsmeta;
use crate::fs::open::{open_regular, vanished};
use crate::fs::path::normalize_given;
use crate::fs::sparse::HoleSkipping;
use crate::id::Id;
use crate::repo::{BlobSaver, Repository, SaveStats, now_timestamp};
use crate::snapshot::snapshots::{self, SnapshotEntry};
use crate::snapshot::tree::PathTrie;
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
    /// Follow a path that is a symlink to what it names, and record both
    /// (the `snapshot` command). Off, a symlink given is stored as one (the
    /// restorer's preserve snapshot keeps exactly what it will replace).
    pub follow_symlinks: bool,
    /// How long one file's read (or open) may make no progress before the
    /// file is skipped with a `Warning::Stalled`; `None`: the default
    /// (`fs::stall::DEFAULT_STALL_LIMIT`).
    pub read_stall_limit: Option<Duration>,
    /// Count what vanished or was truncated since the parent
    /// (`DryRunOutcome::losses`, judged by these rules); `None`: don't.
    pub alarm: Option<alarm::AlarmRules>,
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
    /// A snapshot file could not be read while choosing the parent (it
    /// could not be the parent; named so that the user can look at it).
    SnapshotFile { error: String },
    /// A `.gitignore` file could not be read or has bad lines (its good
    /// lines still apply).
    Exclude { path: PathBuf, error: String },
    /// A path given stored no file: an empty folder, everything in it
    /// excluded, or not a file or folder. Not a failure (an empty project
    /// folder is legitimate), but rarely what was meant.
    NothingStored { path: PathBuf },
    /// Reading (or opening) it made no progress within the stall limit; not
    /// stored, and the walk went on (see `fs::stall`).
    Stalled { path: PathBuf, limit: Duration },
}

/// Something the user may want to know that is not a problem: the
/// snapshot is complete as the options asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The mount point of a pseudo filesystem, stored as an empty folder
    /// (`ExcludeOptions::skip_pseudo_filesystems`).
    PseudoFilesystem { path: PathBuf, fs_type: &'static str },
    /// cairn's own files met by the walk and left out
    /// (`ExcludeOptions::own_paths`), sorted.
    OwnFiles { paths: Vec<PathBuf> },
    /// The run was suspended longer than the lapse limit, so it started
    /// over from a fresh index (format-spec §6); this is the second run.
    Restarted { limit_secs: u64 },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::PseudoFilesystem { path, fs_type } => {
                write!(f, "{}: {fs_type} is a pseudo filesystem; stored as an empty folder", path.display())
            }
            Note::OwnFiles { paths } => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(f, "cairn's own files are not stored: {}", list.join(", "))
            }
            Note::Restarted { limit_secs } => write!(
                f,
                "the run was suspended for longer than {limit_secs} s (the machine slept or the process was stopped); \
                 it started over from a fresh index"
            ),
        }
    }
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
            Warning::SnapshotFile { error } => write!(f, "{error}"),
            Warning::Exclude { path, error } => write!(f, "{}: some ignore patterns not used: {error}", path.display()),
            Warning::NothingStored { path } => write!(f, "{}: no file stored from this path", path.display()),
            Warning::Stalled { path, limit } => {
                write!(f, "{}: not stored: {}", path.display(), crate::fs::stall::Stalled { limit: *limit })
            }
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

impl Progress {
    /// Back to nothing done, for a run that starts over (the totals stay).
    fn restart(&self) {
        self.files.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.bytes_done.store(0, Ordering::Relaxed);
    }
}

pub struct SnapshotOutcome {
    pub id: Id,
    /// The walk and the manifest saved, as a dry run reports them.
    pub walked: DryRunOutcome,
}

/// A saved snapshot reads as its walk (`outcome.snapshot`, `.warnings`…):
/// one set of fields for a snapshot and its dry run.
impl std::ops::Deref for SnapshotOutcome {
    type Target = DryRunOutcome;
    fn deref(&self) -> &DryRunOutcome {
        &self.walked
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
    pub notes: Vec<Note>,
    /// What vanished or was truncated since the parent, when asked for
    /// (`SnapshotOptions::alarm`) and there was a parent.
    pub losses: Option<alarm::Losses>,
}

impl DryRunOutcome {
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
        self.warnings
            .iter()
            .any(|w| matches!(w, Warning::Unreadable { .. } | Warning::Vanished { .. } | Warning::Stalled { .. }))
    }
}

/// Only files that exist and could not be read (or stalled) make a snapshot incomplete:
/// a file deleted or replaced under the walk (`Warning::Vanished`) does not,
/// or an hourly run would report failure whenever an editor saved a file.
fn incomplete(warnings: &[Warning]) -> bool {
    warnings.iter().any(|w| matches!(w, Warning::Unreadable { .. } | Warning::Stalled { .. }))
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
    match snapshot_once(repo, opts, exclude, progress) {
        // The run slept past the lapse limit (format-spec §6): a prune may
        // have judged it dead and deleted what it deduplicated against.
        // It starts over once, from a new marker and a fresh index.
        Err(Error::RunLapsed { limit_secs }) => {
            repo.restart_run()?;
            progress.restart();
            let mut outcome = match snapshot_once(repo, opts, exclude, progress) {
                Err(Error::RunLapsed { .. }) => return Err(Error::RunLapsedTwice),
                other => other?,
            };
            outcome.walked.notes.push(Note::Restarted { limit_secs });
            Ok(outcome)
        }
        other => other,
    }
}

/// One attempt of `snapshot_excluding`: walk and store, then commit unless
/// the run lapsed (checked before the index, before and after the snapshot
/// file: a snapshot written by a lapsed run is its own, and removed).
fn snapshot_once(
    repo: &Repository,
    opts: &SnapshotOptions,
    exclude: &ExcludeOptions,
    progress: &Progress,
) -> Result<SnapshotOutcome> {
    let rules = ExcludeRules::new(exclude)?;
    let walked = archive(repo, opts, (rules, exclude.report), progress, Saver::Repository(repo.saver()))?;
    repo.ensure_not_lapsed()?;
    // Ordering invariant: `archive` finished the saver (packs and their
    // index are durable) before the snapshot is written.
    // Counted, so that an interrupt can say truthfully whether it was written.
    let id = crate::interrupt::commit(|| repo.save_snapshot(&walked.snapshot))?;
    if let Err(lapsed) = repo.ensure_not_lapsed() {
        // It may name blobs a prune deleted meanwhile: not left as a snapshot.
        repo.backend().remove(crate::backend::FileKind::Snapshot, &id)?;
        return Err(lapsed);
    }
    Ok(SnapshotOutcome { id, walked })
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
    let given = normalize_given(&opts.paths, opts.follow_symlinks)?;
    let paths = given.paths;
    let recipe = Recipe {
        excludes: rules.record().clone(),
        links: given
            .links
            .iter()
            .map(|(l, t)| GivenLink {
                given: ByteBuf::from(l.as_os_str().as_bytes().to_vec()),
                target: ByteBuf::from(t.as_os_str().as_bytes().to_vec()),
            })
            .collect(),
    };
    let path_bytes: Vec<Vec<u8>> = paths.iter().map(|p| p.as_os_str().as_bytes().to_vec()).collect();

    let (parent, mut warnings) = choose_parent(repo, opts, &path_bytes)?;
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
    let counter = match (&opts.alarm, &parent_root) {
        (Some(rules), Some(_)) => Some(alarm::Counter::new(rules, &paths)?),
        _ => None,
    };
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
        files_per_path: paths.iter().map(|p| (p.clone(), AtomicU64::new(0))).collect(),
        stall_limit: opts.read_stall_limit.unwrap_or(crate::fs::stall::DEFAULT_STALL_LIMIT),
        devices_can_stall: Mutex::new(HashMap::new()),
        notes: Mutex::new(Vec::new()),
        own_met: Mutex::new(Vec::new()),
        alarm: counter,
    };
    let trie = PathTrie::from_paths(&paths);
    let root = Path::new("/");
    let root_tree = if trie.selected {
        let md = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        let listed = if archiver.skipped_pseudo(root, &md, None) { Some(Vec::new()) } else { archiver.list(root) };
        match listed {
            Some(names) => archiver.dir_tree(root, &names, parent_root.as_ref(), &Scope::root(&md), md.dev())?,
            None => Tree { version: FORMAT_VERSION, nodes: Vec::new() },
        }
    } else {
        archiver.archive_virtual(root, &trie, parent_root.as_ref())?
    };
    let root_id = archiver.saver.save_tree(&root_tree)?;
    let Archiver { saver, stats, warnings, excluded, files_per_path, notes, own_met, alarm: counter, .. } = archiver;
    // A lapsed run must not make its packs' index durable either: it is
    // about to start over (and an index is what a snapshot commits to).
    repo.ensure_not_lapsed()?;
    // Ordering invariant: packs and their index are durable before the snapshot.
    let saved = saver.finish()?;
    let mut warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut excluded_paths = excluded.into_inner().unwrap_or_else(|p| p.into_inner());
    excluded_paths.sort_by(|a, b| a.0.cmp(&b.0));
    let notes = collect_notes(notes, own_met);
    let losses = alarm::finish(counter, repo, parent.as_ref(), &mut warnings);
    for (path, files) in files_per_path {
        // A pseudo filesystem given (`cairn snapshot /proc`) is empty by
        // design, and its note already says so.
        let pseudo = notes.iter().any(|n| matches!(n, Note::PseudoFilesystem { path: p, .. } if *p == path));
        if files.into_inner() == 0 && !pseudo {
            warnings.push(Warning::NothingStored { path });
        }
    }

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
        version: TAKEN_SNAPSHOT_VERSION,
        time: opts.time.unwrap_or_else(now_timestamp),
        host: opts.host.clone(),
        user: opts.user.clone(),
        paths: path_bytes.into_iter().map(ByteBuf::from).collect(),
        tags: opts.tags.clone(),
        tree: root_id,
        parent: parent.map(|p| p.id),
        summary,
        program_version: crate::PROGRAM_VERSION.to_string(),
        recipe: Some(recipe),
        original: None,
    };
    Ok(DryRunOutcome { snapshot, warnings, excluded: stats.excluded.into_inner(), excluded_paths, notes, losses })
}

/// The notes of a walk, sorted by path, cairn's own files as one note last.
fn collect_notes(notes: Mutex<Vec<Note>>, own_met: Mutex<Vec<PathBuf>>) -> Vec<Note> {
    let mut notes = notes.into_inner().unwrap_or_else(|p| p.into_inner());
    notes.sort_by(|a, b| match (a, b) {
        (Note::PseudoFilesystem { path: x, .. }, Note::PseudoFilesystem { path: y, .. }) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    let mut own = own_met.into_inner().unwrap_or_else(|p| p.into_inner());
    own.sort();
    own.dedup();
    if !own.is_empty() {
        notes.push(Note::OwnFiles { paths: own });
    }
    notes
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

/// The parent, and a warning for each snapshot file that could not be read.
fn choose_parent(
    repo: &Repository,
    opts: &SnapshotOptions,
    paths: &[Vec<u8>],
) -> Result<(Option<SnapshotEntry>, Vec<Warning>)> {
    match &opts.parent {
        ParentChoice::None => Ok((None, Vec::new())),
        ParentChoice::Id(r) => Ok((Some(snapshots::resolve(repo, r)?), Vec::new())),
        ParentChoice::Auto => {
            let (all, problems) = snapshots::list(repo)?;
            let warnings = problems.into_iter().map(|error| Warning::SnapshotFile { error }).collect();
            Ok((snapshots::find_parent(&all, &opts.host, paths).cloned(), warnings))
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
    /// Each given path and the files stored from it (a path storing none
    /// gets a warning).
    files_per_path: Vec<(PathBuf, AtomicU64)>,
    /// See `SnapshotOptions::read_stall_limit`.
    stall_limit: Duration,
    /// Per device: whether its reads can hang (`fs::stall::reads_can_stall`),
    /// asked once per device.
    devices_can_stall: Mutex<HashMap<u64, bool>>,
    notes: Mutex<Vec<Note>>,
    /// cairn's own files the walk left out (one note for all).
    own_met: Mutex<Vec<PathBuf>>,
    /// Counts losses against the parent (`SnapshotOptions::alarm`).
    alarm: Option<alarm::Counter>,
}

/// Where an entry met during the walk sits: the rules in force in its
/// folder and the folder's sorted names. Paths given on the command line
/// have none and are never excluded.
#[derive(Clone, Copy)]
struct Within<'a> {
    scope: &'a Scope,
    siblings: &'a [Vec<u8>],
    /// The folder's device: an entry on another is a mount point.
    device: u64,
}

/// The chunk ids a file would get, computed without storing anything, by
/// the routine the archiver stores with (`Chunker::for_each_chunk`). Only a
/// regular file is read: a symlink, fifo or device at `path` is an error.
pub fn content_ids(repo: &Repository, path: &Path) -> std::io::Result<Vec<Id>> {
    let (file, md) = open_regular(path, None)?;
    let mut ids = Vec::new();
    repo.chunker()
        .for_each_chunk(
            &mut HoleSkipping::new(&file),
            md.len(),
            |data| -> std::result::Result<(), std::convert::Infallible> {
                ids.push(repo.keys().blob_id(data));
                Ok(())
            },
        )
        .map_err(|e| match e {
            ChunkError::Read(e) => e,
            ChunkError::Sink(never) => match never {},
        })?;
    Ok(ids)
}

pub mod alarm;
mod saver;
mod walker;

use saver::{DryRunSaver, Saver};

#[cfg(test)]
mod tests;
