//! The mass-deletion alarm: a snapshot compares what it saw with its parent
//! and counts the parent's files (regular files and symlinks) that vanished
//! or were truncated. Too many of them, or enough under a protected glob,
//! raise the alarm; the caller then pins the parent, tells the user and
//! exits with its own code. The rules are plain data so that a profile file
//! (`[profile.alarm]`) can set them.
//!
//! Counting is done folder by folder during the walk, against the parent
//! tree the walk loads anyway; a vanished folder's own subtree is read from
//! the parent only after the walk, and only when something did vanish, so
//! a snapshot where nothing was deleted pays nothing.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::GlobSet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::{Node, NodeKind, Tree};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::snapshots::SnapshotEntry;

use super::Warning;

/// When a snapshot raises the alarm. "Gone" counts the parent's files that
/// vanished plus those truncated (see `is_truncated`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct AlarmRules {
    /// Share (0..=1) of the parent's files that must be gone…
    pub vanished_share: f64,
    /// …and at least this many of them (so that a tiny tree losing a few
    /// scratch files does not cry wolf).
    pub min_files: u64,
    /// Globs (`~/` is $HOME) whose files are counted apart.
    pub protected: Vec<String>,
    /// This many protected files gone raise the alarm alone, whatever the share.
    pub protected_min: u64,
}

impl Default for AlarmRules {
    /// Measured with testgen (README "The mass-deletion alarm"): an hour
    /// of agent work deletes or renames away up to about ten files, a few
    /// of them markdown; the disaster removes every `.md` file, about 14%
    /// of a workspace at every scale.
    fn default() -> Self {
        AlarmRules {
            vanished_share: 0.10,
            min_files: 50,
            protected: vec!["**/*.md".into(), "**/CLAUDE.md".into(), "~/.claude/**".into()],
            protected_min: 20,
        }
    }
}

/// A parent file is truncated when it had content and now has none, or
/// less than a tenth of it: an agent's edit shortens a file by a few lines,
/// a clobbering write (`> file`) leaves it empty or nearly so.
pub fn is_truncated(before: u64, now: u64) -> bool {
    before > 0 && now.saturating_mul(10) < before
}

/// What the snapshot lost against its parent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Losses {
    /// The parent compared with.
    pub parent: Id,
    /// Files (and symlinks) the parent holds.
    pub parent_files: u64,
    pub vanished: u64,
    pub truncated: u64,
    /// Of those vanished or truncated, how many match a protected glob.
    pub protected: u64,
    /// The folders holding them (first level below the path given, or a file
    /// given there), most first, with how many each.
    pub folders: Vec<(PathBuf, u64)>,
}

impl Losses {
    /// Files vanished or truncated.
    pub fn gone(&self) -> u64 {
        self.vanished + self.truncated
    }

    /// Whether these losses raise the alarm under `rules`.
    pub fn raises(&self, rules: &AlarmRules) -> bool {
        let gone = self.gone();
        let share = gone as f64 >= rules.vanished_share * self.parent_files as f64;
        (gone > 0 && gone >= rules.min_files && share) || (self.protected > 0 && self.protected >= rules.protected_min)
    }
}

/// Counts losses during one walk (shared by the walk's threads).
pub(super) struct Counter {
    protected: GlobSet,
    /// The given paths, to name top folders.
    given: Vec<PathBuf>,
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    vanished: u64,
    truncated: u64,
    protected: u64,
    folders: HashMap<PathBuf, u64>,
    /// Folders of the parent that vanished: counted after the walk.
    vanished_dirs: Vec<(PathBuf, Id)>,
}

impl Counter {
    pub(super) fn new(rules: &AlarmRules, given: &[PathBuf]) -> Result<Counter> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Ok(Counter {
            protected: protected_set(&rules.protected, home.as_deref())?,
            given: given.to_vec(),
            tally: Mutex::default(),
        })
    }

    /// Compares a folder's parent tree with its listing (`names`, sorted)
    /// and the nodes stored for it. A name the folder no longer lists has
    /// vanished; one listed but not stored (excluded, unreadable) has not.
    pub(super) fn compare(&self, dir: &Path, names: &[Vec<u8>], parent: &Tree, now: &Tree) {
        let mut found = Tally::default();
        for old in &parent.nodes {
            // Joined only for a loss: an unchanged folder allocates nothing.
            let path = || dir.join(std::ffi::OsStr::from_bytes(&old.name));
            if names.binary_search_by(|n| n.as_slice().cmp(&old.name)).is_err() {
                match old.kind {
                    NodeKind::Dir { subtree } => found.vanished_dirs.push((path(), subtree)),
                    NodeKind::File { .. } | NodeKind::Symlink { .. } => {
                        found.vanished += 1;
                        self.count(&mut found, path());
                    }
                    _ => {}
                }
                continue;
            }
            if let (NodeKind::File { size: before, .. }, Some(Node { kind: NodeKind::File { size, .. }, .. })) =
                (&old.kind, now.find(&old.name))
                && is_truncated(*before, *size)
            {
                found.truncated += 1;
                self.count(&mut found, path());
            }
        }
        if found.vanished + found.truncated > 0 || !found.vanished_dirs.is_empty() {
            let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
            tally.merge(found);
        }
    }

    fn count(&self, tally: &mut Tally, path: PathBuf) {
        if self.protected.is_match(&path) {
            tally.protected += 1;
        }
        *tally.folders.entry(self.top_folder(&path)).or_default() += 1;
    }

    /// The folder `path` is counted under: the first level below the given
    /// path holding it (or the file itself when it lies right there).
    fn top_folder(&self, path: &Path) -> PathBuf {
        let Some(given) = self.given.iter().find(|g| path.starts_with(g)) else { return path.to_path_buf() };
        match path.strip_prefix(given).ok().and_then(|rest| rest.components().next()) {
            Some(first) => given.join(first),
            None => path.to_path_buf(),
        }
    }

    /// The losses, with the vanished folders' files counted from the
    /// parent's trees (read now, only when some folder vanished).
    pub(super) fn finish(mut self, repo: &Repository, parent: Id, parent_files: u64) -> Result<Losses> {
        let mut tally = std::mem::take(&mut self.tally).into_inner().unwrap_or_else(|p| p.into_inner());
        let mut stack = std::mem::take(&mut tally.vanished_dirs);
        while let Some((dir, id)) = stack.pop() {
            for node in repo.load_tree(&id)?.nodes {
                let path = dir.join(std::ffi::OsStr::from_bytes(&node.name));
                match node.kind {
                    NodeKind::Dir { subtree } => stack.push((path, subtree)),
                    NodeKind::File { .. } | NodeKind::Symlink { .. } => {
                        tally.vanished += 1;
                        self.count(&mut tally, path);
                    }
                    _ => {}
                }
            }
        }
        let mut folders: Vec<(PathBuf, u64)> = tally.folders.into_iter().collect();
        folders.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Losses {
            parent,
            parent_files,
            vanished: tally.vanished,
            truncated: tally.truncated,
            protected: tally.protected,
            folders,
        })
    }
}

/// The losses of a walk that counted them against `parent`; a parent tree
/// that cannot be read now only costs the count (with a warning).
pub(super) fn finish(
    counter: Option<Counter>,
    repo: &Repository,
    parent: Option<&SnapshotEntry>,
    warnings: &mut Vec<Warning>,
) -> Option<Losses> {
    let (counter, parent) = (counter?, parent?);
    let s = &parent.snapshot.summary;
    let files = s.files_new + s.files_changed + s.files_unchanged + s.others;
    counter.finish(repo, parent.id, files).map_err(|e| warnings.push(Warning::Parent { error: e.to_string() })).ok()
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.vanished += other.vanished;
        self.truncated += other.truncated;
        self.protected += other.protected;
        for (folder, n) in other.folders {
            *self.folders.entry(folder).or_default() += n;
        }
        self.vanished_dirs.extend(other.vanished_dirs);
    }
}

/// The protected globs, matched against absolute paths as restore's
/// `--path`/`--include` globs are (`fs::patterns::glob_set`: `*` does not
/// cross `/`, `**` does, a glob without `/` matches a name at any depth);
/// `~/` at the start of one is the home folder (a `~` glob is dropped when
/// there is none).
pub fn protected_set(globs: &[String], home: Option<&Path>) -> Result<GlobSet> {
    let expanded: Vec<String> = globs
        .iter()
        .filter_map(|glob| match glob.strip_prefix("~/") {
            Some(rest) => home.map(|h| format!("{}/{rest}", h.display())),
            None => Some(glob.clone()),
        })
        .collect();
    crate::fs::patterns::glob_set(&expanded).map_err(|e| Error::InvalidArgument(format!("alarm: protected globs: {e}")))
}

#[cfg(test)]
#[path = "alarm_tests.rs"]
mod tests;
