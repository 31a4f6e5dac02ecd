//! `find`: which snapshots hold entries whose absolute path matches a glob,
//! and the distinct versions of each such entry over time.
//!
//! Globs are gitignore-style (`globset`): `*` and `?` stay within one name,
//! `**` crosses folders. A pattern without `/` matches the entry's name at
//! any depth (`CLAUDE.md`, `*.jsonl`); one starting with `/` matches the
//! whole absolute path; any other pattern with a `/` matches the end of the
//! path at a name boundary (`.claude/*.md` is `**/.claude/*.md`).
//! `globset` (by ripgrep's author, well kept, already used by the restorer's
//! `--path` globs) compiles the glob once; matching a path is a regex match.
//!
//! Cost: each snapshot's tree is matched once per distinct (tree id, path),
//! so a subtree unchanged since an earlier snapshot is neither read nor
//! matched again; the work grows with what changed between snapshots.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};

use crate::browse::walk;
use crate::error::{Error, Result};
use crate::format::{NodeKind, Timestamp};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::snapshots::SnapshotEntry;
use crate::snapshot::tree::name_to_path;

/// Deeper trees than this are treated as damaged (a real path holds at
/// most 2048 names within PATH_MAX); it bounds the recursion.
const MAX_DEPTH: usize = 4096;

/// A compiled `find` pattern.
pub struct Pattern {
    matcher: GlobMatcher,
    /// Match against the entry's name only (the pattern has no `/`).
    name_only: bool,
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern> {
        let name_only = !pattern.contains('/');
        let full = if name_only || pattern.starts_with('/') || pattern.starts_with("**") {
            pattern.to_string()
        } else {
            format!("**/{pattern}")
        };
        let glob = GlobBuilder::new(&full)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("bad pattern {pattern:?}: {e}")))?;
        Ok(Pattern { matcher: glob.compile_matcher(), name_only })
    }

    /// Whether the entry `name` at absolute `path` matches.
    pub fn matches(&self, path: &Path, name: &[u8]) -> bool {
        if self.name_only { self.matcher.is_match(name_to_path(name)) } else { self.matcher.is_match(path) }
    }
}

/// One run of snapshots (consecutive among those holding the path's
/// folder) in which an entry had the same type and contents.
#[derive(Clone, Debug)]
pub struct Version {
    pub first_snapshot: Id,
    pub first_time: Timestamp,
    pub last_snapshot: Id,
    pub last_time: Timestamp,
    /// How many snapshots the run spans.
    pub snapshots: usize,
    /// `file`, `dir`, `symlink`, ... (see `listing::type_name`).
    pub kind: &'static str,
    /// Bytes of a file, 0 otherwise.
    pub size: u64,
    /// The first later snapshot that covers the path but lacks it: it was
    /// deleted (or renamed) before that one.
    pub gone_in: Option<(Id, Timestamp)>,
}

/// A matching path and its versions, oldest first.
#[derive(Clone, Debug)]
pub struct Found {
    pub path: PathBuf,
    pub versions: Vec<Version>,
}

/// What find gathered.
#[derive(Clone, Debug, Default)]
pub struct FindResult {
    /// Sorted by path.
    pub found: Vec<Found>,
    /// Distinct trees read (the rest were matched from memory).
    pub trees_read: u64,
}

/// A matching entry of one tree.
struct Hit {
    /// Index into `Matcher::paths`.
    path: u32,
    key: [u8; 32],
    kind: &'static str,
    size: u64,
}

/// The matches in one subtree: its own entries' and those below, shared
/// between every snapshot whose tree holds the same subtree at the same path.
#[derive(Default)]
struct Matches {
    here: Vec<Hit>,
    below: Vec<Arc<Matches>>,
}

struct Matcher<'a> {
    repo: &'a Repository,
    pattern: &'a Pattern,
    memo: HashMap<(Id, PathBuf), Arc<Matches>>,
    empty: Arc<Matches>,
    trees_read: u64,
    /// Every matching path, numbered once, so that following a path across
    /// snapshots is an array access.
    paths: Vec<PathBuf>,
    numbers: HashMap<PathBuf, u32>,
}

impl Matcher<'_> {
    fn scan(&mut self, tree_id: &Id, dir: &Path, depth: usize) -> Result<Arc<Matches>> {
        let key = (*tree_id, dir.to_path_buf());
        if let Some(m) = self.memo.get(&key) {
            return Ok(m.clone());
        }
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(format!("tree {tree_id}"), "folders nested implausibly deep"));
        }
        let tree = self.repo.load_tree(tree_id)?;
        self.trees_read += 1;
        let mut m = Matches::default();
        for node in &tree.nodes {
            let path = dir.join(name_to_path(&node.name));
            if self.pattern.matches(&path, &node.name) {
                let number = match self.numbers.get(&path) {
                    Some(&n) => n,
                    None => {
                        let n = u32::try_from(self.paths.len())
                            .map_err(|_| Error::InvalidArgument("more than 4 billion matching paths".into()))?;
                        self.paths.push(path.clone());
                        self.numbers.insert(path.clone(), n);
                        n
                    }
                };
                m.here.push(Hit {
                    path: number,
                    key: walk::content_key(&node.kind),
                    kind: crate::browse::listing::type_name(node),
                    size: crate::browse::listing::size(node),
                });
            }
            if let NodeKind::Dir { subtree } = &node.kind {
                let below = self.scan(subtree, &path, depth + 1)?;
                if !below.here.is_empty() || !below.below.is_empty() {
                    m.below.push(below);
                }
            }
        }
        let m = if m.here.is_empty() && m.below.is_empty() { self.empty.clone() } else { Arc::new(m) };
        self.memo.insert(key, m.clone());
        Ok(m)
    }
}

/// One version while it is being gathered: snapshot indexes.
struct Run {
    first: usize,
    last: usize,
    count: usize,
    kind: &'static str,
    size: u64,
    gone: Option<usize>,
}

/// A path's versions while they are being gathered.
struct Track {
    runs: Vec<Run>,
    key: [u8; 32],
    /// Index of the last snapshot that held the path.
    seen: usize,
    /// Whether the last run is still going (not ended by a gap).
    open: bool,
}

/// Finds every entry of `snapshots` (oldest first) matching `pattern`.
pub fn find(repo: &Repository, snapshots: &[SnapshotEntry], pattern: &Pattern) -> Result<FindResult> {
    let mut matcher = Matcher {
        repo,
        pattern,
        memo: HashMap::new(),
        empty: Arc::default(),
        trees_read: 0,
        paths: Vec::new(),
        numbers: HashMap::new(),
    };
    let mut tracks: Vec<Option<Track>> = Vec::new();
    for (i, entry) in snapshots.iter().enumerate() {
        let root = matcher.scan(&entry.snapshot.tree, Path::new("/"), 0)?;
        tracks.resize_with(matcher.paths.len(), || None);
        let mut stack = vec![root.as_ref()];
        while let Some(m) = stack.pop() {
            stack.extend(m.below.iter().map(Arc::as_ref));
            for hit in &m.here {
                let fresh = || Run { first: i, last: i, count: 1, kind: hit.kind, size: hit.size, gone: None };
                // Numbers come from `matcher.paths`, which `tracks` was just sized to.
                let slot = &mut tracks[hit.path as usize];
                match slot {
                    None => *slot = Some(Track { runs: vec![fresh()], key: hit.key, seen: i, open: true }),
                    Some(t) => {
                        match t.runs.last_mut() {
                            Some(run) if t.open && t.key == hit.key => {
                                run.last = i;
                                run.count += 1;
                            }
                            _ => t.runs.push(fresh()),
                        }
                        (t.key, t.seen, t.open) = (hit.key, i, true);
                    }
                }
            }
        }
        // Paths this snapshot covers but lacks were deleted before it; a
        // snapshot of other paths says nothing about them.
        for (number, slot) in tracks.iter_mut().enumerate() {
            if let Some(t) = slot
                && t.open
                && t.seen != i
                && crate::snapshot::select::covers(entry, &matcher.paths[number])
            {
                t.open = false;
                if let Some(run) = t.runs.last_mut() {
                    run.gone = Some(i);
                }
            }
        }
    }
    let at = |i: usize| (snapshots[i].id, snapshots[i].snapshot.time);
    let mut found: Vec<Found> = matcher
        .paths
        .into_iter()
        .zip(tracks)
        .filter_map(|(path, track)| {
            let versions = track?
                .runs
                .into_iter()
                .map(|r| Version {
                    first_snapshot: at(r.first).0,
                    first_time: at(r.first).1,
                    last_snapshot: at(r.last).0,
                    last_time: at(r.last).1,
                    snapshots: r.count,
                    kind: r.kind,
                    size: r.size,
                    gone_in: r.gone.map(at),
                })
                .collect();
            Some(Found { path, versions })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(FindResult { found, trees_read: matcher.trees_read })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        let p = Path::new(path);
        let name = p.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
        Pattern::new(pattern).unwrap().matches(p, name)
    }

    #[test]
    fn glob_rules() {
        assert!(m("CLAUDE.md", "/home/u/.claude/CLAUDE.md"));
        assert!(!m("CLAUDE.md", "/home/u/CLAUDE.md.bak"));
        assert!(m("*.jsonl", "/h/.claude/projects/x/abc.jsonl"));
        assert!(m("/h/*/CLAUDE.md", "/h/.claude/CLAUDE.md"));
        assert!(!m("/h/*.md", "/h/.claude/CLAUDE.md"), "* does not cross /");
        assert!(m("/h/**/*.md", "/h/.claude/CLAUDE.md"));
        assert!(m(".claude/*.md", "/home/u/.claude/CLAUDE.md"));
        assert!(!m(".claude/*.md", "/home/u/x.claude/CLAUDE.md"));
        assert!(m("**/projects/*/README.md", "/a/projects/p1/README.md"));
        assert!(Pattern::new("[").is_err());
    }

    #[test]
    fn versions_fold_across_snapshots_of_other_paths() {
        use crate::test_fixtures::*;
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        let root_a = |files: Vec<(&str, &str)>| {
            let nodes = files.into_iter().map(|(n, t)| file(&repo, n, t)).collect();
            tree(&repo, vec![dir(&repo, "a", nodes)])
        };
        let a4 = root_a(vec![("x", "one")]);
        let snapshots = vec![
            entry(0, &["/a"], root_a(vec![("x", "one"), ("y.md", "m1")])),
            entry(1, &["/b"], tree(&repo, vec![dir(&repo, "b", vec![file(&repo, "x", "other")])])),
            entry(2, &["/a"], root_a(vec![("x", "one"), ("y.md", "m2")])),
            entry(3, &["/a"], root_a(vec![("y.md", "m2")])),
            entry(4, &["/a"], a4),
            entry(5, &["/a"], a4),
        ];
        let ids: Vec<Id> = snapshots.iter().map(|e| e.id).collect();
        let got = find(&repo, &snapshots, &Pattern::new("x").unwrap()).unwrap();
        let spans = |f: &Found| -> Vec<(Id, Id, usize, Option<Id>)> {
            f.versions
                .iter()
                .map(|v| (v.first_snapshot, v.last_snapshot, v.snapshots, v.gone_in.map(|g| g.0)))
                .collect()
        };
        assert_eq!(got.found.len(), 2);
        assert_eq!(got.found[0].path, PathBuf::from("/a/x"));
        // The snapshot of /b neither breaks nor extends the run of /a/x.
        assert_eq!(spans(&got.found[0]), vec![(ids[0], ids[2], 2, Some(ids[3])), (ids[4], ids[5], 2, None)]);
        assert_eq!(spans(&got.found[1]), vec![(ids[1], ids[1], 1, None)]);

        let md = find(&repo, &snapshots, &Pattern::new("/a/*.md").unwrap()).unwrap();
        assert_eq!(md.found.len(), 1);
        let v = &md.found[0].versions;
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].size, v[1].snapshots, v[1].gone_in.map(|g| g.0)), (2, 2, Some(ids[4])));

        // A snapshot whose tree was seen already reads no tree.
        let fewer = find(&repo, &snapshots[..5], &Pattern::new("x").unwrap()).unwrap();
        assert_eq!(fewer.trees_read, got.trees_read);
    }
}
