//! Comparing two snapshots, or a snapshot and the live filesystem: what was
//! added, deleted, modified, changed type or changed only metadata. Subtrees
//! whose tree ids are equal are skipped without being read, so the cost of a
//! diff grows with what changed, not with the size of the tree.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{FORMAT_VERSION, Node, NodeKind, Tree};
use crate::fs::fsmeta;
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
/// absolute paths.
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    pub paths: Vec<PathBuf>,
}

impl PathFilter {
    /// True when `path` is under a filter path (or there is no filter).
    fn reports(&self, path: &Path) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p))
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
            && self.filter.reports(path)
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

/// The changes from a snapshot to the live filesystem at the snapshot's
/// paths. A file whose stat matches its node is taken as unchanged without
/// being read; others are read and chunked (nothing is stored) to tell a
/// content change from a metadata change.
pub fn diff_live(repo: &Repository, root: &Id, paths: &[PathBuf], filter: &PathFilter) -> Result<Vec<Change>> {
    let trie = PathTrie::from_paths(paths);
    let mut out = Vec::new();
    let mut live = Live { repo, filter, out: &mut out };
    let tree = repo.load_tree(root)?;
    live.level(Path::new("/"), Some(&tree), &trie, trie.selected)?;
    Ok(out)
}

struct Live<'a> {
    repo: &'a Repository,
    filter: &'a PathFilter,
    out: &'a mut Vec<Change>,
}

impl Live<'_> {
    /// Compares one folder. Above the snapshot's paths (`whole` false) only
    /// the names leading to them are compared. A folder that cannot be
    /// listed is an error naming it, not a list of deletions.
    fn level(&mut self, dir: &Path, tree: Option<&Tree>, trie: &PathTrie, whole: bool) -> Result<()> {
        let mut names: BTreeMap<Vec<u8>, (Option<&Node>, bool)> = BTreeMap::new();
        for n in tree.map(|t| t.nodes.as_slice()).unwrap_or_default() {
            names.entry(n.name.to_vec()).or_default().0 = Some(n);
        }
        if whole {
            for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
                let e = e.map_err(|e| Error::io(dir, e))?;
                names.entry(e.file_name().as_bytes().to_vec()).or_default().1 = true;
            }
        } else {
            for name in trie.children.keys() {
                names.entry(name.clone()).or_default().1 = true;
            }
        }
        let empty = PathTrie::default();
        for (name, (old, _)) in names {
            let child_trie = trie.children.get(&name);
            if !whole && child_trie.is_none() {
                continue;
            }
            let child_whole = whole || child_trie.is_some_and(|t| t.selected);
            let path = dir.join(name_to_path(&name));
            self.entry(&path, old, child_trie.unwrap_or(&empty), child_whole)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, old: Option<&Node>, trie: &PathTrie, whole: bool) -> Result<()> {
        if !self.filter.enters(path) {
            return Ok(());
        }
        let md = match std::fs::symlink_metadata(path) {
            Ok(md) => Some(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(path, e)),
        };
        let new = md.as_ref().map(|md| self.live_node(path, md, old)).transpose()?;
        if old.is_none() && new.is_none() {
            return Ok(());
        }
        let kind = classify(old, new.as_ref());
        if let Some(kind) = kind
            && self.filter.reports(path)
        {
            self.out.push(Change { path: path.to_path_buf(), kind, old: old.cloned(), new: new.clone() });
        }
        let old_tree = match old.map(|n| &n.kind) {
            Some(NodeKind::Dir { subtree }) => Some(self.repo.load_tree(subtree)?),
            _ => None,
        };
        let live_dir = md.as_ref().is_some_and(|m| m.is_dir());
        if old_tree.is_some() || live_dir {
            // Below a path that is not a folder on one side, everything on
            // the other side was added or deleted.
            let tree = old_tree.as_ref();
            if live_dir {
                self.level(path, tree, trie, whole)?;
            } else if let Some(t) = tree {
                self.deleted_below(path, t)?;
            }
        }
        Ok(())
    }

    fn deleted_below(&mut self, dir: &Path, tree: &Tree) -> Result<()> {
        for n in &tree.nodes {
            let path = dir.join(name_to_path(&n.name));
            if self.filter.reports(&path) {
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
