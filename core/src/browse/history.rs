//! `history`: one path across snapshots, oldest first: when it was created,
//! modified, deleted and came back. A file is modified when its type or
//! chunk list changes (a new mtime alone is not a change); a folder when
//! its tree id changes. Lookups are memoised by (tree id, depth), so a
//! snapshot whose folders along the path are unchanged reads no tree.

use std::collections::HashMap;
use std::path::Path;

use crate::browse::walk;
use crate::error::{Error, Result};
use crate::format::{Node, NodeKind, Timestamp};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::snapshots::SnapshotEntry;
use crate::snapshot::tree::{PathFinder, components};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Present for the first time.
    Created,
    /// Present with other contents (or another type) than before.
    Modified,
    /// Present before, missing now.
    Deleted,
    /// Present again after a deletion.
    CameBack,
    /// Present with the same contents as before.
    Unchanged,
    /// Missing, as before (or not created yet).
    Absent,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Modified => "modified",
            Event::Deleted => "deleted",
            Event::CameBack => "came back",
            Event::Unchanged => "unchanged",
            Event::Absent => "absent",
        }
    }

    /// Whether the row is a change (shown without `--all`).
    pub fn is_change(self) -> bool {
        !matches!(self, Event::Unchanged | Event::Absent)
    }
}

/// The path in one snapshot.
#[derive(Clone, Debug)]
pub struct Step {
    pub snapshot: Id,
    pub time: Timestamp,
    pub event: Event,
    /// The entry in this snapshot (`None` when absent).
    pub node: Option<Node>,
    /// The entry as it last was before this snapshot, if ever present:
    /// what a deletion removed, or what a modification replaced.
    pub previous: Option<Node>,
    /// Number of entries of a folder.
    pub entries: Option<usize>,
}

/// The path's state in each of `snapshots` (oldest first; pass only those
/// that cover the path). `path` is absolute and not `/`.
pub fn history(repo: &Repository, snapshots: &[SnapshotEntry], path: &Path) -> Result<Vec<Step>> {
    if components(path).is_empty() {
        return Err(Error::InvalidArgument("give a file or folder, not /".into()));
    }
    let mut finder = PathFinder::new(repo, path);
    let mut counts: HashMap<Id, usize> = HashMap::new();
    let mut last: Option<Node> = None;
    let mut present = false;
    let mut steps = Vec::with_capacity(snapshots.len());
    for entry in snapshots {
        let node = finder.find(&entry.snapshot.tree)?;
        let event = match (&node, &last, present) {
            (None, _, true) => Event::Deleted,
            (None, _, false) => Event::Absent,
            (Some(_), None, _) => Event::Created,
            (Some(_), Some(_), false) => Event::CameBack,
            (Some(n), Some(l), true) if walk::content_key(&n.kind) == walk::content_key(&l.kind) => Event::Unchanged,
            (Some(_), Some(_), true) => Event::Modified,
        };
        let entries = match node.as_ref().map(|n| &n.kind) {
            Some(NodeKind::Dir { subtree }) => Some(match counts.get(subtree) {
                Some(&c) => c,
                None => {
                    let c = repo.load_tree(subtree)?.nodes.len();
                    counts.insert(*subtree, c);
                    c
                }
            }),
            _ => None,
        };
        present = node.is_some();
        let previous = last.clone();
        if let Some(n) = &node {
            last = Some(n.clone());
        }
        steps.push(Step { snapshot: entry.id, time: entry.snapshot.time, event, node, previous, entries });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browse::diff::{Contents, contents};
    use crate::test_fixtures::*;

    #[test]
    fn events_over_time() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        let root = |files: Vec<(&str, &str)>| {
            let nodes = files.into_iter().map(|(n, t)| file(&repo, n, t)).collect();
            tree(&repo, vec![dir(&repo, "a", nodes)])
        };
        let snapshots = vec![
            entry(0, &["/a"], root(vec![("x", "one")])),
            entry(1, &["/a"], root(vec![("x", "one"), ("y", "new")])),
            entry(2, &["/a"], root(vec![("x", "two")])),
            entry(3, &["/a"], root(vec![])),
            entry(4, &["/a"], root(vec![])),
            entry(5, &["/a"], root(vec![("x", "three")])),
        ];
        let events = |p: &str| -> Vec<&'static str> {
            history(&repo, &snapshots, Path::new(p)).unwrap().iter().map(|s| s.event.name()).collect()
        };
        assert_eq!(events("/a/x"), ["created", "unchanged", "modified", "deleted", "absent", "came back"]);
        assert_eq!(events("/a/y"), ["absent", "created", "deleted", "absent", "absent", "absent"]);
        assert_eq!(events("/a/x/deeper"), ["absent"; 6]);
        let steps = history(&repo, &snapshots, Path::new("/a")).unwrap();
        let entries: Vec<Option<usize>> = steps.iter().map(|s| s.entries).collect();
        assert_eq!(entries, [Some(1), Some(2), Some(1), Some(0), Some(0), Some(1)]);
        assert_eq!(steps[4].event, Event::Unchanged, "the same empty folder");
        // The deletion carries what was deleted, for --content.
        let x = history(&repo, &snapshots, Path::new("/a/x")).unwrap();
        let gone = x[3].previous.as_ref().unwrap();
        assert_eq!(contents(&repo, gone, 1024).unwrap(), Contents::Text("two".into()));
        assert_eq!(contents(&repo, gone, 1).unwrap(), Contents::TooLarge);
        assert!(history(&repo, &snapshots, Path::new("/")).is_err());
    }
}
