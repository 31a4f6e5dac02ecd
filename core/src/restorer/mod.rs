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
use crate::fs::fsmeta::{self, Identity};
use crate::id::Id;
use crate::repo::Repository;

pub use plan::Selection;
use plan::{Plan, Planned};
use write::Expect;

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
    /// lacks and that came into being (by birth time) after it was taken.
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
    /// For each entry to replace or remove (`--to-original`), what was seen
    /// there when deciding; checked again just before it is touched.
    pub seen: HashMap<PathBuf, Identity>,
    /// Restoring to the original places: what is on disk is never replaced
    /// unless seen and preserved.
    pub original: bool,
    /// Entries left as they are only because overwriting was not allowed.
    pub needs_overwrite: u64,
    /// Folders whose tree could not be read, at their destination, with why.
    pub damaged: Vec<(PathBuf, String)>,
}

#[derive(Debug, Default)]
pub struct RestoreOutcome {
    pub created: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub deleted: u64,
    /// Folders created or replaced (or, in a dry run, that would be).
    pub dirs: u64,
    pub bytes: u64,
    /// The snapshot of what was about to be replaced or removed, and how
    /// many paths it holds.
    pub preserved: Option<(Id, u64)>,
    /// Each entry that was (or in a dry run would be) acted on.
    pub actions: Vec<(PathBuf, Action)>,
    /// One line per entry that could not be restored; the rest was.
    pub errors: Vec<String>,
    /// How many of those were left only because overwriting was not allowed
    /// (the caller says how to allow it).
    pub needs_overwrite: u64,
}

/// The tag of snapshots taken to preserve what a restore replaces.
pub use crate::snapshot::snapshots::PRESERVE_TAG;

pub fn restore(repo: &Repository, snapshot: &Snapshot, opts: &RestoreOptions) -> Result<RestoreOutcome> {
    let mut plan = plan::plan(repo, &snapshot.tree, &opts.selection)?;
    let damaged = std::mem::take(&mut plan.damaged);
    let mut decided = match &opts.destination {
        Destination::Folder(target) => {
            if !opts.dry_run {
                prepare_target(target, opts.overwrite)?;
            }
            in_folder(plan, target)
        }
        Destination::Original => {
            if opts.delete && (!opts.selection.include.is_empty() || !opts.selection.exclude.is_empty()) {
                return Err(Error::InvalidArgument(
                    "deleting what the snapshot lacks cannot be combined with include/exclude filters".into(),
                ));
            }
            let delete = opts.delete.then(|| original::DeleteRule::of(snapshot)).transpose()?;
            original::decide(repo, plan, opts.overwrite, delete)?
        }
    };
    decided.damaged = match &opts.destination {
        Destination::Folder(target) => damaged.into_iter().map(|(p, why)| (under(target, &p), why)).collect(),
        Destination::Original => damaged,
    };
    let mut outcome = RestoreOutcome { needs_overwrite: decided.needs_overwrite, ..RestoreOutcome::default() };
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
                follow_symlinks: false,
                read_stall_limit: None,
                alarm: None,
            },
            &Progress::default(),
        )?;
        if snap.missed_any() {
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

/// Where the entry at the absolute `path` goes below `target`.
fn under(target: &Path, path: &Path) -> PathBuf {
    let rel = path.as_os_str().as_bytes().strip_prefix(b"/").unwrap_or(path.as_os_str().as_bytes());
    target.join(Path::new(std::ffi::OsStr::from_bytes(rel)))
}

/// Restoring under a folder: every entry is created at its mapped path.
fn in_folder(plan: Plan, target: &Path) -> Decided {
    let map = |p: Planned| {
        let path = under(target, &p.path);
        let action = if fs::symlink_metadata(&path).is_ok() { Action::Replace } else { Action::Create };
        (Planned { path, node: p.node, selected: p.selected }, action)
    };
    Decided {
        dirs: plan.dirs.into_iter().map(map).collect(),
        files: plan.files.into_iter().map(map).collect(),
        others: plan.others.into_iter().map(map).collect(),
        original: false,
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
        // Counted as planned, like the files; one that fails is taken back.
        if matches!(action, Action::Create | Action::Replace) {
            o.dirs += 1;
        }
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
    for (path, why) in &d.damaged {
        o.skipped += 1;
        o.errors.push(format!("{}: {why}", path.display()));
        o.actions.push((path.clone(), Action::Skip(why.clone())));
    }
    o.actions.sort_by(|a, b| a.0.cmp(&b.0));
}

fn execute(repo: &Repository, d: Decided, o: &mut RestoreOutcome) {
    let chown = fsmeta::can_chown();
    let writes = |a: &Action| matches!(a, Action::Create | Action::Replace);
    let expect = |entry: &Planned, a: &Action| match (a, d.seen.get(&entry.path)) {
        (Action::Replace, Some(seen)) => Expect::Seen(*seen),
        (Action::Create, _) if d.original => Expect::Nothing,
        _ => Expect::Anything,
    };
    for path in &d.deletions {
        let r = match (d.seen.get(path), fs::symlink_metadata(path)) {
            (Some(seen), Ok(md)) if Identity::of(&md) != *seen => {
                Err(std::io::Error::other("changed since the restore started; not deleted (run the restore again)"))
            }
            (_, Ok(md)) if md.is_dir() => fs::remove_dir_all(path),
            (_, Ok(_)) => fs::remove_file(path),
            (_, Err(_)) => Ok(()),
        };
        match r {
            Ok(()) => o.deleted += 1,
            Err(e) => o.errors.push(format!("{}: could not delete: {e}", path.display())),
        }
    }
    // Folders that are not (or no longer) folders block what is below them:
    // nothing is written through a symlink swapped in since deciding.
    let mut blocked: Vec<&Path> = Vec::new();
    let is_blocked = |blocked: &[&Path], p: &Path| blocked.iter().any(|b| p.starts_with(b));
    let mut dirs_done: Vec<&(Planned, Action)> = Vec::new();
    for item in &d.dirs {
        let (entry, action) = item;
        let makes = matches!(action, Action::Create | Action::Replace);
        if is_blocked(&blocked, &entry.path) {
            o.errors.push(format!("{}: not restored: a folder above it could not be restored", entry.path.display()));
            o.dirs -= u64::from(makes);
            continue;
        }
        let r = match action {
            Action::Create | Action::Replace => write::folder(&entry.path, expect(entry, action)),
            Action::Unchanged if d.original => match fs::symlink_metadata(&entry.path) {
                Ok(md) if md.is_dir() => Ok(()),
                _ => Err(std::io::Error::other(
                    "is no longer a folder (something else is there now); nothing below it was restored (run the restore again)",
                )),
            },
            _ => Ok(()),
        };
        match r {
            Ok(()) => dirs_done.push(item),
            Err(e) => {
                o.errors.push(format!("{}: {e}", entry.path.display()));
                o.dirs -= u64::from(makes);
                blocked.push(&entry.path);
            }
        }
    }
    let not_restored = |o: &mut RestoreOutcome, entry: &Planned, action: &Action| {
        failed(o, &entry.path, action, "not restored: a folder above it could not be restored".to_string());
    };
    // Hard links: the first path of each (device, inode) is written, the
    // others are linked to it afterwards. Names created in a group whose
    // other names were left alone (as in the snapshot: one inode on disk,
    // see `original::decide`) are linked to one of those.
    let mut kept: HashMap<(u64, u64), &Path> = HashMap::new();
    for (entry, _) in d.files.iter().filter(|(e, a)| *a == Action::Unchanged && e.node.nlink > 1) {
        kept.entry((entry.node.device, entry.node.inode)).or_insert(&entry.path);
    }
    let mut leaders: HashMap<(u64, u64), usize> = HashMap::new();
    let mut to_write = Vec::new();
    let mut to_link = Vec::new();
    for (entry, action) in d.files.iter().filter(|(_, a)| writes(a)) {
        if is_blocked(&blocked, &entry.path) {
            not_restored(o, entry, action);
            continue;
        }
        let key = (entry.node.device, entry.node.inode);
        if entry.node.nlink > 1 {
            if let Some(&existing) = kept.get(&key) {
                to_link.push((entry, action, LinkTo::Kept(existing)));
                continue;
            }
            if let Some(&leader) = leaders.get(&key) {
                to_link.push((entry, action, LinkTo::Written(leader)));
                continue;
            }
            leaders.insert(key, to_write.len());
        }
        to_write.push((entry, action));
    }
    let results: Vec<std::result::Result<(u64, Vec<String>), String>> = to_write
        .par_iter()
        .map(|(entry, action)| write::file(repo, &entry.path, &entry.node, chown, expect(entry, action)))
        .collect();
    // What the restore itself replaced: another name of the same inode
    // shows a new ctime since (its link count dropped), and nothing else.
    let mut replaced_here: Vec<Identity> = Vec::new();
    for (r, (entry, action)) in results.iter().zip(&to_write) {
        match r {
            Ok((n, problems)) => {
                o.bytes += n;
                xattr_problems(o, &entry.path, problems.clone());
                replaced_here.extend(d.seen.get(&entry.path));
            }
            Err(e) => failed(o, &entry.path, action, e.clone()),
        }
    }
    for (entry, action, to) in to_link {
        let source = match to {
            LinkTo::Kept(path) => path,
            LinkTo::Written(leader) => {
                let (leader_entry, _) = to_write[leader];
                if results[leader].is_err() {
                    // Linking to whatever is at the leader's path now would
                    // give this file contents that are not its own.
                    let why = format!(
                        "not restored: it is a hard link to {}, which could not be restored",
                        leader_entry.path.display()
                    );
                    failed(o, &entry.path, action, why);
                    continue;
                }
                leader_entry.path.as_path()
            }
        };
        let expected = match expect(entry, action) {
            Expect::Seen(seen) if replaced_here.iter().any(|r| r.same_inode(&seen)) => Expect::SeenRelinked(seen),
            other => other,
        };
        match write::hard_link(source, &entry.path, expected) {
            Ok(()) => replaced_here.extend(d.seen.get(&entry.path)),
            Err(e) => failed(o, &entry.path, action, format!("hard link: {e}")),
        }
    }
    for (entry, action) in d.others.iter().filter(|(_, a)| writes(a)) {
        if is_blocked(&blocked, &entry.path) {
            not_restored(o, entry, action);
            continue;
        }
        match write::other(&entry.path, &entry.node, chown, expect(entry, action)) {
            Ok(problems) => xattr_problems(o, &entry.path, problems),
            Err(e) => failed(o, &entry.path, action, e.to_string()),
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
    // So do selected folders whose metadata alone differs (an agent's
    // chmod): otherwise nothing would ever put it back.
    let restore_meta = |(e, a): &&&(Planned, Action)| {
        writes(a)
            || (*a == Action::Unchanged
                && e.selected
                && (touched.contains(e.path.as_path())
                    || (d.original && original::folder_metadata_differs(&e.path, &e.node))))
    };
    for (entry, _) in dirs_done.iter().rev().filter(restore_meta) {
        match fsmeta::apply_metadata(&entry.path, &entry.node, chown) {
            Ok(problems) => xattr_problems(o, &entry.path, problems),
            Err(e) => o.errors.push(format!("{}: {e}", entry.path.display())),
        }
    }
}

/// Where a hard link's follower is linked from.
enum LinkTo<'a> {
    /// The leader of its group, written by this restore (index in `to_write`).
    Written(usize),
    /// A name of its group left alone because it is as in the snapshot.
    Kept(&'a Path),
}

/// An entry decided on (and counted as created or replaced) that could not
/// be written after all: named, and counted as skipped, so that the totals
/// say what happened rather than what was planned.
fn failed(o: &mut RestoreOutcome, path: &Path, action: &Action, why: String) {
    match action {
        Action::Create => o.created = o.created.saturating_sub(1),
        Action::Replace => o.replaced = o.replaced.saturating_sub(1),
        _ => {}
    }
    o.skipped += 1;
    if let Ok(i) = o.actions.binary_search_by(|(p, _)| p.as_path().cmp(path)) {
        o.actions[i].1 = Action::Skip(why.clone());
    }
    o.errors.push(format!("{}: {why}", path.display()));
}

fn xattr_problems(o: &mut RestoreOutcome, path: &Path, problems: Vec<String>) {
    o.errors.extend(problems.into_iter().map(|p| format!("{}: {p}", path.display())));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures as fixtures;

    #[test]
    fn entries_changed_after_deciding_are_neither_replaced_nor_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let repo = fixtures::repo(dir.path());
        let work = dir.path().canonicalize().unwrap().join("work");
        fs::create_dir_all(&work).unwrap();
        fs::write(work.join("f"), "agent\n").unwrap();
        fs::write(work.join("extra"), "new\n").unwrap();
        // A snapshot tree holding work/f at its absolute path.
        let mut node = fixtures::dir(&repo, "work", vec![fixtures::file(&repo, "f", "snapshot\n")]);
        for name in work.parent().unwrap().iter().rev().filter(|n| *n != "/") {
            node = fixtures::dir(&repo, name.to_str().unwrap(), vec![node]);
        }
        let root = fixtures::tree(&repo, vec![node]);
        let sel = Selection { paths: vec![work.clone()], ..Selection::default() };
        let d = original::decide(
            &repo,
            plan::plan(&repo, &root, &sel).unwrap(),
            true,
            Some(original::DeleteRule::NewerThan(0)),
        )
        .unwrap();
        assert!(d.seen.contains_key(&work.join("f")));
        assert_eq!(d.deletions, vec![work.join("extra")]);
        // Meanwhile (while the preserve snapshot runs) the agent rewrites both.
        fs::write(work.join("f"), "agent again, longer\n").unwrap();
        fs::write(work.join("extra"), "newer and longer\n").unwrap();
        let mut o = RestoreOutcome::default();
        record(&d, &mut o);
        execute(&repo, d, &mut o);
        assert_eq!((o.replaced, o.skipped), (0, 1), "the file left alone is counted as skipped");
        assert_eq!(fs::read_to_string(work.join("f")).unwrap(), "agent again, longer\n");
        assert_eq!(fs::read_to_string(work.join("extra")).unwrap(), "newer and longer\n");
        assert_eq!(o.errors.len(), 2, "{:?}", o.errors);
        assert!(o.errors.iter().all(|e| e.contains("changed since the restore started")), "{:?}", o.errors);
        let leftovers: Vec<_> = fs::read_dir(&work).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn folder_metadata_is_not_applied_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let repo = fixtures::repo(dir.path());
        let mut node = fixtures::dir(&repo, "link", Vec::new());
        node.mode = 0o700;
        let before = fs::metadata(&real).unwrap().permissions();
        assert!(fsmeta::apply_metadata(&link, &node, false).is_err());
        assert_eq!(fs::metadata(&real).unwrap().permissions(), before);
    }
}
