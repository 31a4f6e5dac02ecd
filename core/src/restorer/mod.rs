//! The restorer: recreates a snapshot's entries (all, or a selection) either
//! under a target folder at their full original paths, or at the original
//! places themselves. Contents byte for byte, then metadata: mode,
//! ownership (as root), xattrs, mtimes, hard links, symlinks and special
//! files; folder metadata last, deepest first, so writing children does not
//! disturb it. Files are written in parallel. One entry that fails is named
//! and skipped; the rest is restored.

mod original;
pub mod plan;
mod write;

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::archiver::{self, ParentChoice, Progress, SnapshotOptions};
use crate::error::{Error, IoContext, Result};
use crate::format::Snapshot;
use crate::fsmeta;
use crate::id::Id;
use crate::repo::Repository;

pub use plan::Selection;
use plan::{Plan, Planned};

/// Where restored entries go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// Below this folder, at their full original paths.
    Folder(PathBuf),
    /// Back where they were.
    Original,
}

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    pub destination: Destination,
    pub selection: Selection,
    /// Replace entries that differ (folder mode: restore into a non-empty folder).
    pub overwrite: bool,
    /// With `Original`: remove entries of restored folders that the snapshot
    /// lacks and that appeared (changed, by ctime) after it was taken.
    pub delete: bool,
    /// Decide and report, but write nothing.
    pub dry_run: bool,
    /// Recorded in the preserve snapshot.
    pub host: String,
    pub user: String,
}

/// What happens to one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Replace,
    /// Already as in the snapshot; not rewritten.
    Unchanged,
    /// Not restored, with the reason.
    Skip(String),
    Delete,
}

impl Action {
    pub fn word(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Unchanged => "unchanged",
            Action::Skip(_) => "skip",
            Action::Delete => "delete",
        }
    }
}

/// The decision for every planned entry.
#[derive(Default)]
pub struct Decided {
    pub dirs: Vec<(Planned, Action)>,
    pub files: Vec<(Planned, Action)>,
    pub others: Vec<(Planned, Action)>,
    /// Entries to remove (`--delete`).
    pub deletions: Vec<PathBuf>,
    /// Entries on disk about to be replaced or removed.
    pub preserve: Vec<PathBuf>,
}

#[derive(Debug, Default)]
pub struct RestoreOutcome {
    pub created: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub deleted: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// The snapshot of what was about to be replaced or removed, and how
    /// many paths it holds.
    pub preserved: Option<(Id, u64)>,
    /// Each entry that was (or in a dry run would be) acted on.
    pub actions: Vec<(PathBuf, Action)>,
    /// One line per entry that could not be restored; the rest was.
    pub errors: Vec<String>,
}

/// The tag of snapshots taken to preserve what a restore replaces.
pub const PRESERVE_TAG: &str = "restore-preserve";

pub fn restore(repo: &Repository, snapshot: &Snapshot, opts: &RestoreOptions) -> Result<RestoreOutcome> {
    let plan = plan::plan(repo, &snapshot.tree, &opts.selection)?;
    let decided = match &opts.destination {
        Destination::Folder(target) => {
            if !opts.dry_run {
                prepare_target(target, opts.overwrite)?;
            }
            in_folder(plan, target)
        }
        Destination::Original => {
            if opts.delete && (!opts.selection.include.is_empty() || !opts.selection.exclude.is_empty()) {
                return Err(Error::InvalidArgument("--delete cannot be combined with --include/--exclude".into()));
            }
            original::decide(repo, plan, opts.overwrite, opts.delete.then_some(snapshot.time.unix_seconds))?
        }
    };
    let mut outcome = RestoreOutcome::default();
    record(&decided, &mut outcome);
    if opts.dry_run {
        return Ok(outcome);
    }
    if !decided.preserve.is_empty() {
        // Nothing is replaced or removed before its current version is safe.
        let snap = archiver::snapshot(
            repo,
            &SnapshotOptions {
                paths: decided.preserve.clone(),
                host: opts.host.clone(),
                user: opts.user.clone(),
                tags: vec![PRESERVE_TAG.to_string()],
                time: None,
                parent: ParentChoice::None,
            },
            &Progress::default(),
        )?;
        if snap.incomplete() {
            return Err(Error::InvalidArgument(format!(
                "could not preserve everything the restore would replace (snapshot {} is incomplete); nothing was changed",
                snap.id.short()
            )));
        }
        outcome.preserved = Some((snap.id, decided.preserve.len() as u64));
    }
    execute(repo, decided, &mut outcome);
    Ok(outcome)
}

/// Restoring under a folder: every entry is created at its mapped path.
fn in_folder(plan: Plan, target: &Path) -> Decided {
    let map = |p: Planned| {
        let rel = p.path.as_os_str().as_bytes().strip_prefix(b"/").unwrap_or(p.path.as_os_str().as_bytes());
        let path = target.join(Path::new(std::ffi::OsStr::from_bytes(rel)));
        let action = if fs::symlink_metadata(&path).is_ok() { Action::Replace } else { Action::Create };
        (Planned { path, node: p.node, selected: p.selected }, action)
    };
    Decided {
        dirs: plan.dirs.into_iter().map(map).collect(),
        files: plan.files.into_iter().map(map).collect(),
        others: plan.others.into_iter().map(map).collect(),
        ..Decided::default()
    }
}

fn record(d: &Decided, o: &mut RestoreOutcome) {
    for (entry, action) in d.files.iter().chain(&d.others) {
        match action {
            Action::Create => o.created += 1,
            Action::Replace => o.replaced += 1,
            Action::Unchanged => o.unchanged += 1,
            Action::Skip(why) => {
                o.skipped += 1;
                o.errors.push(format!("{}: {why}", entry.path.display()));
            }
            Action::Delete => {}
        }
        o.actions.push((entry.path.clone(), action.clone()));
    }
    for (entry, action) in &d.dirs {
        if let Action::Skip(why) = action {
            o.skipped += 1;
            o.errors.push(format!("{}: {why}", entry.path.display()));
        }
        if *action != Action::Unchanged {
            o.actions.push((entry.path.clone(), action.clone()));
        }
    }
    for path in &d.deletions {
        o.actions.push((path.clone(), Action::Delete));
    }
    o.actions.sort_by(|a, b| a.0.cmp(&b.0));
}

fn execute(repo: &Repository, d: Decided, o: &mut RestoreOutcome) {
    let chown = fsmeta::can_chown();
    let writes = |a: &Action| matches!(a, Action::Create | Action::Replace);
    for path in &d.deletions {
        let r = match fs::symlink_metadata(path) {
            Ok(md) if md.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(_) => Ok(()),
        };
        match r {
            Ok(()) => o.deleted += 1,
            Err(e) => o.errors.push(format!("{}: could not delete: {e}", path.display())),
        }
    }
    for (entry, _) in d.dirs.iter().filter(|(_, a)| writes(a)) {
        if let Err(e) = write::folder(&entry.path) {
            o.errors.push(format!("{}: {e}", entry.path.display()));
        }
        o.dirs += 1;
    }
    // Hard links: the first path of each (device, inode) is written, the
    // others are linked to it afterwards.
    let mut leaders: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut to_write = Vec::new();
    let mut to_link = Vec::new();
    for (entry, _) in d.files.iter().filter(|(_, a)| writes(a)) {
        let key = (entry.node.device, entry.node.inode);
        if entry.node.nlink > 1 {
            if let Some(leader) = leaders.get(&key) {
                to_link.push((entry, leader.clone()));
                continue;
            }
            leaders.insert(key, entry.path.clone());
        }
        to_write.push(entry);
    }
    let results: Vec<std::result::Result<u64, String>> = to_write
        .par_iter()
        .map(|entry| {
            let replace_folder = || -> Result<()> {
                if fs::symlink_metadata(&entry.path).is_ok_and(|m| m.is_dir()) {
                    // Replacing a folder by a file (it was preserved first).
                    fs::remove_dir_all(&entry.path).at(&entry.path)?;
                }
                Ok(())
            };
            replace_folder()
                .and_then(|()| write::file(repo, &entry.path, &entry.node, chown))
                .map_err(|e| format!("{}: {e}", entry.path.display()))
        })
        .collect();
    for r in results {
        match r {
            Ok(n) => o.bytes += n,
            Err(e) => o.errors.push(e),
        }
    }
    for (entry, leader) in to_link {
        if let Err(e) = write::hard_link(&leader, &entry.path) {
            o.errors.push(format!("{}: hard link: {e}", entry.path.display()));
        }
    }
    for (entry, _) in d.others.iter().filter(|(_, a)| writes(a)) {
        if let Err(e) = write::other(&entry.path, &entry.node, chown) {
            o.errors.push(format!("{}: {e}", entry.path.display()));
        }
    }
    // Folders get their metadata back when created, or when entries were
    // written into them (which changed their mtime).
    let touched: std::collections::HashSet<&Path> = d
        .files
        .iter()
        .chain(&d.others)
        .chain(&d.dirs)
        .filter(|(_, a)| writes(a))
        .filter_map(|(e, _)| e.path.parent())
        .chain(d.deletions.iter().filter_map(|p| p.parent()))
        .collect();
    let restore_meta = |(e, a): &&(Planned, Action)| {
        writes(a) || (*a == Action::Unchanged && e.selected && touched.contains(e.path.as_path()))
    };
    for (entry, _) in d.dirs.iter().rev().filter(restore_meta) {
        if let Err(e) = fsmeta::apply_metadata(&entry.path, &entry.node, chown) {
            o.errors.push(format!("{}: {e}", entry.path.display()));
        }
    }
}

fn prepare_target(target: &Path, overwrite: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() && !overwrite {
                return Err(Error::TargetNotEmpty(target.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir_all(target).at(target),
        Err(e) => Err(Error::io(target, e)),
    }
}
