//! Comparing two snapshots, or a snapshot and the live filesystem: what was
//! added, deleted, modified, changed type or changed only metadata. Subtrees
//! whose tree ids are equal are skipped without being read, so the cost of a
//! diff grows with what changed, not with the size of the tree.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{FORMAT_VERSION, Node, NodeKind, Snapshot, Tree};
use crate::fs::exclude::{ExcludeOptions, ExcludeRules, Scope};
use crate::fs::fsmeta;
use crate::fs::patterns::PathPatterns;
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::tree::{PathTrie, name_to_path};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ChangeKind {
    Added,
    Deleted,
    /// Contents differ.
    Modified,
    /// File became folder, symlink became file, and so on.
    TypeChanged,
    /// Same contents; mode, owner, mtime or xattrs differ.
    Metadata,
}

impl ChangeKind {
    /// The one-letter code, as `git diff --name-status`.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
            ChangeKind::Modified => 'M',
            ChangeKind::TypeChanged => 'T',
            ChangeKind::Metadata => 'm',
        }
    }
}

#[derive(Clone, Debug)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
    pub old: Option<Node>,
    pub new: Option<Node>,
}

/// Which paths a diff reports: everything, or what lies under one of these
/// absolute paths; narrowed by `--include` / `--exclude` patterns (the
/// syntax of `snapshot --exclude`; a path matches through its folders).
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    pub paths: Vec<PathBuf>,
    /// Only paths matching these are reported.
    pub include: Option<PathPatterns>,
    /// Paths matching these are not reported.
    pub exclude: Option<PathPatterns>,
}

impl PathFilter {
    /// True when `path` (a folder when `is_dir`) is under a filter path (or
    /// there is no filter) and the patterns let it through.
    fn reports(&self, path: &Path, is_dir: bool) -> bool {
        (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p)))
            && self.include.as_ref().is_none_or(|p| p.matches(path, is_dir))
            && !self.exclude.as_ref().is_some_and(|p| p.matches(path, is_dir))
    }

    /// True when something under `path` may be reported.
    fn enters(&self, path: &Path) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p) || p.starts_with(path))
    }
}

/// A short description of a node's type, for output.
pub fn type_name(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::File { .. } => "file",
        NodeKind::Dir { .. } => "dir",
        NodeKind::Symlink { .. } => "symlink",
        NodeKind::Fifo => "fifo",
        NodeKind::Socket => "socket",
        NodeKind::CharDevice { .. } => "chardev",
        NodeKind::BlockDevice { .. } => "blockdev",
    }
}

pub fn size_of(node: &Node) -> u64 {
    match &node.kind {
        NodeKind::File { size, .. } => *size,
        _ => 0,
    }
}

fn is_dir(node: Option<&Node>) -> bool {
    node.is_some_and(|n| matches!(n.kind, NodeKind::Dir { .. }))
}

fn same_type(a: &Node, b: &Node) -> bool {
    std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind)
}

/// Metadata a person cares about; a folder's own mtime and every ctime and
/// inode change with unrelated events and are not reported.
fn same_metadata(a: &Node, b: &Node) -> bool {
    let times = matches!(a.kind, NodeKind::Dir { .. }) || a.mtime == b.mtime;
    a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.xattrs == b.xattrs && times
}

/// Same contents: `NodeKind`'s equality (a file's size and chunk list, a
/// link's target, a device's number — the one definition, which
/// `walk::content_key` hashes), except that a folder's own contents are its
/// entries, compared one by one below it rather than by tree id.
fn same_content(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Dir { .. }, NodeKind::Dir { .. }) => true,
        (x, y) => x == y,
    }
}

/// What changed from `old` to `new` (`None`: nothing to report).
fn classify(old: Option<&Node>, new: Option<&Node>) -> Option<ChangeKind> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(ChangeKind::Added),
        (Some(_), None) => Some(ChangeKind::Deleted),
        (Some(a), Some(b)) if !same_type(a, b) => Some(ChangeKind::TypeChanged),
        (Some(a), Some(b)) if !same_content(a, b) => Some(ChangeKind::Modified),
        (Some(a), Some(b)) if !same_metadata(a, b) => Some(ChangeKind::Metadata),
        _ => None,
    }
}

/// The changes between two snapshot trees (roots of `/`).
pub fn diff_trees(repo: &Repository, old_root: &Id, new_root: &Id, filter: &PathFilter) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut d = Differ { repo, filter, out: &mut out };
    d.trees(Path::new("/"), Some(*old_root), Some(*new_root))?;
    Ok(out)
}

struct Differ<'a> {
    repo: &'a Repository,
    filter: &'a PathFilter,
    out: &'a mut Vec<Change>,
}

impl Differ<'_> {
    fn load(&self, id: Option<Id>) -> Result<Tree> {
        match id {
            Some(id) => self.repo.load_tree(&id),
            None => Ok(Tree { version: FORMAT_VERSION, nodes: Vec::new() }),
        }
    }

    fn trees(&mut self, dir: &Path, old: Option<Id>, new: Option<Id>) -> Result<()> {
        if old == new || !self.filter.enters(dir) {
            return Ok(());
        }
        let (a, b) = (self.load(old)?, self.load(new)?);
        let mut names: BTreeMap<&[u8], (Option<&Node>, Option<&Node>)> = BTreeMap::new();
        for n in &a.nodes {
            names.entry(n.name.as_slice()).or_default().0 = Some(n);
        }
        for n in &b.nodes {
            names.entry(n.name.as_slice()).or_default().1 = Some(n);
        }
        for (name, pair) in names {
            let path = dir.join(name_to_path(name));
            self.nodes(&path, pair.0, pair.1)?;
        }
        Ok(())
    }

    fn nodes(&mut self, path: &Path, old: Option<&Node>, new: Option<&Node>) -> Result<()> {
        if !self.filter.enters(path) {
            return Ok(());
        }
        let subtree = |n: Option<&Node>| match n.map(|n| &n.kind) {
            Some(NodeKind::Dir { subtree }) => Some(*subtree),
            _ => None,
        };
        if old.is_none() && new.is_none() {
            return Ok(());
        }
        let kind = classify(old, new);
        if let Some(kind) = kind
            && self.filter.reports(path, is_dir(new.or(old)))
        {
            self.out.push(Change { path: path.to_path_buf(), kind, old: old.cloned(), new: new.cloned() });
        }
        let (a, b) = (subtree(old), subtree(new));
        if a.is_some() || b.is_some() {
            self.trees(path, a, b)?;
        }
        Ok(())
    }
}

/// The exclude rules a snapshot was taken with, to apply to the live side,
/// and whether it recorded them. A version-1 snapshot did not: the default
/// rules of this cairn stand in for them.
pub fn live_rules(snapshot: &Snapshot) -> Result<(ExcludeRules, bool)> {
    match &snapshot.recipe {
        Some(recipe) => Ok((ExcludeRules::from_record(&recipe.excludes)?, true)),
        None => {
            Ok((ExcludeRules::new(&ExcludeOptions { default_excludes: true, ..ExcludeOptions::default() })?, false))
        }
    }
}

/// The changes from a snapshot to the live filesystem at the snapshot's
/// paths. Live entries that `rules` (the snapshot's, see [`live_rules`])
/// leave out count as absent, exactly as a snapshot taken now with those
/// rules would record them. A file whose stat matches its node is taken as
/// unchanged without being read; others are read and chunked (nothing is
/// stored) to tell a content change from a metadata change.
pub fn diff_live(
    repo: &Repository,
    root: &Id,
    paths: &[PathBuf],
    rules: &ExcludeRules,
    filter: &PathFilter,
) -> Result<Vec<Change>> {
    let trie = PathTrie::from_paths(paths);
    let mut out = Vec::new();
    let mut live = Live { repo, rules, filter, out: &mut out };
    let tree = repo.load_tree(root)?;
    let root_dir = Path::new("/");
    let scope = if trie.selected {
        Some(Scope::root(&std::fs::symlink_metadata(root_dir).map_err(|e| Error::io(root_dir, e))?))
    } else {
        None
    };
    live.level(root_dir, Some(&tree), &trie, scope.as_ref(), None)?;
    Ok(out)
}

struct Live<'a> {
    repo: &'a Repository,
    rules: &'a ExcludeRules,
    filter: &'a PathFilter,
    out: &'a mut Vec<Change>,
}

/// A live folder's names, sorted as bytes.
fn live_names(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        names.push(e.map_err(|e| Error::io(dir, e))?.file_name().as_bytes().to_vec());
    }
    names.sort();
    Ok(names)
}

impl Live<'_> {
    /// Compares one folder. Above the snapshot's paths (`scope` none) only
    /// the names leading to them are compared; inside one, `scope` holds the
    /// exclude rules in force in `dir`. A folder that cannot be listed is an
    /// error naming it, not a list of deletions.
    /// `listed`: the folder's sorted names when the caller already read them.
    fn level(
        &mut self,
        dir: &Path,
        tree: Option<&Tree>,
        trie: &PathTrie,
        scope: Option<&Scope>,
        listed: Option<Vec<Vec<u8>>>,
    ) -> Result<()> {
        let mut names: BTreeMap<Vec<u8>, Option<&Node>> = BTreeMap::new();
        for n in tree.map(|t| t.nodes.as_slice()).unwrap_or_default() {
            names.insert(n.name.to_vec(), Some(n));
        }
        let own_scope;
        let within = match scope {
            Some(scope) => {
                let listed = match listed {
                    Some(names) => names,
                    None => live_names(dir)?,
                };
                for name in &listed {
                    names.entry(name.clone()).or_default();
                }
                // A `.gitignore` problem was reported by the snapshot; here
                // the good lines apply and the rest is ignored.
                own_scope = (self.rules.enter(dir, &listed, scope).0, listed);
                Some((own_scope.0.as_ref().unwrap_or(scope), own_scope.1.as_slice()))
            }
            None => {
                for name in trie.children.keys() {
                    names.entry(name.clone()).or_default();
                }
                None
            }
        };
        let empty = PathTrie::default();
        for (name, old) in names {
            let child_trie = trie.children.get(&name);
            if within.is_none() && child_trie.is_none() {
                continue;
            }
            let path = dir.join(name_to_path(&name));
            // A path given to the snapshot is never excluded; below it the
            // folder's rules apply.
            let child_within = if child_trie.is_some_and(|t| t.selected) { None } else { within };
            let given = within.is_none() && child_trie.is_some_and(|t| t.selected);
            self.entry(&path, old, child_trie.unwrap_or(&empty), child_within, given)?;
        }
        Ok(())
    }

    /// One entry. `within`: the scope and sorted names of its folder when it
    /// lies inside a snapshot path (and may be excluded); `given`: it is a
    /// snapshot path itself.
    fn entry(
        &mut self,
        path: &Path,
        old: Option<&Node>,
        trie: &PathTrie,
        within: Option<(&Scope, &[Vec<u8>])>,
        given: bool,
    ) -> Result<()> {
        if !self.filter.enters(path) {
            return Ok(());
        }
        let mut md = match std::fs::symlink_metadata(path) {
            Ok(md) => Some(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(path, e)),
        };
        // A live folder inside a snapshot path is listed once, here, for
        // its marker files and then for its entries.
        let mut listed = None;
        if let (Some(m), Some((scope, siblings))) = (&md, within) {
            let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
            let mut excluded = self.rules.check_entry(path, name, m, scope, siblings).is_some();
            if !excluded && m.is_dir() {
                let names = live_names(path)?;
                excluded = self.rules.check_listing(path, &names).is_some();
                listed = Some(names);
            }
            if excluded {
                md = None;
            }
        }
        let new = md.as_ref().map(|md| self.live_node(path, md, old)).transpose()?;
        if old.is_none() && new.is_none() {
            return Ok(());
        }
        let kind = classify(old, new.as_ref());
        if let Some(kind) = kind
            && self.filter.reports(path, is_dir(new.as_ref().or(old)))
        {
            self.out.push(Change { path: path.to_path_buf(), kind, old: old.cloned(), new: new.clone() });
        }
        let old_tree = match old.map(|n| &n.kind) {
            Some(NodeKind::Dir { subtree }) => Some(self.repo.load_tree(subtree)?),
            _ => None,
        };
        let live_dir = md.as_ref().filter(|m| m.is_dir());
        if old_tree.is_some() || live_dir.is_some() {
            // Below a path that is not a folder on one side, everything on
            // the other side was added or deleted.
            let tree = old_tree.as_ref();
            if let Some(m) = live_dir {
                let given_scope;
                let scope = match within {
                    Some((scope, _)) => Some(scope),
                    None if given || trie.selected => {
                        given_scope = Scope::root(m);
                        Some(&given_scope)
                    }
                    None => None,
                };
                self.level(path, tree, trie, scope, listed)?;
            } else if let Some(t) = tree {
                self.deleted_below(path, t)?;
            }
        }
        Ok(())
    }

    fn deleted_below(&mut self, dir: &Path, tree: &Tree) -> Result<()> {
        for n in &tree.nodes {
            let path = dir.join(name_to_path(&n.name));
            if self.filter.reports(&path, is_dir(Some(n))) {
                self.out.push(Change {
                    path: path.clone(),
                    kind: ChangeKind::Deleted,
                    old: Some(n.clone()),
                    new: None,
                });
            }
            if let NodeKind::Dir { subtree } = &n.kind {
                let sub = self.repo.load_tree(subtree)?;
                self.deleted_below(&path, &sub)?;
            }
        }
        Ok(())
    }

    /// The node the archiver would record for a live entry, reading file
    /// contents only when the stat differs from the old node. A symlink
    /// whose target cannot be read is an error, not a made-up type.
    fn live_node(&self, path: &Path, md: &Metadata, old: Option<&Node>) -> Result<Node> {
        let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let kind = if md.is_dir() {
            // The subtree id is not computed: folders compare by entries.
            NodeKind::Dir { subtree: Id::default() }
        } else if md.is_file() {
            match old {
                Some(o) if fsmeta::unchanged_since(o, md) => o.kind.clone(),
                _ => NodeKind::File {
                    size: md.len(),
                    content: crate::archiver::content_ids(self.repo, path).map_err(|e| Error::io(path, e))?,
                },
            }
        } else {
            fsmeta::special_kind(path, md).map_err(|e| Error::io(path, e))?
        };
        Ok(fsmeta::node_from_metadata(name, md, kind, fsmeta::read_xattrs(path)))
    }
}

/// Text files larger than this are named, not shown, by content diffs.
pub const CONTENT_LIMIT: u64 = 1024 * 1024;

/// A file's contents, for showing text diffs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    Text(String),
    /// NUL in the first 8 KiB, or not UTF-8.
    Binary,
    /// Larger than the limit; not read.
    TooLarge,
    /// Not a regular file.
    NotAFile,
}

impl Contents {
    /// Text when the bytes have no NUL in the first 8 KiB and are UTF-8.
    pub fn of(bytes: Vec<u8>) -> Contents {
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return Contents::Binary;
        }
        String::from_utf8(bytes).map_or(Contents::Binary, Contents::Text)
    }
}

/// A stored file's contents if it is text of at most `limit` bytes.
pub fn contents(repo: &Repository, node: &Node, limit: u64) -> Result<Contents> {
    if !matches!(node.kind, NodeKind::File { .. }) {
        return Ok(Contents::NotAFile);
    }
    Ok(stored_contents(repo, node, limit)?.map_or(Contents::TooLarge, Contents::of))
}

/// A live file's contents if it is text of at most `limit` bytes.
pub fn live_contents(path: &Path, limit: u64) -> Result<Contents> {
    let md = std::fs::symlink_metadata(path).map_err(|e| crate::Error::io(path, e))?;
    if !md.is_file() {
        return Ok(Contents::NotAFile);
    }
    if md.len() > limit {
        return Ok(Contents::TooLarge);
    }
    std::fs::read(path).map(Contents::of).map_err(|e| crate::Error::io(path, e))
}

/// A file's bytes from the repository, or `None` when larger than `limit`.
pub fn stored_contents(repo: &Repository, node: &Node, limit: u64) -> Result<Option<Vec<u8>>> {
    let NodeKind::File { size, content } = &node.kind else { return Ok(None) };
    if *size > limit {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(*size as usize);
    for id in content {
        out.extend_from_slice(&repo.load_blob(id)?);
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
