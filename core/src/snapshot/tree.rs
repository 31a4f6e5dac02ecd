//! The tree model: finding entries in trees, walking a snapshot's tree by
//! path, and the normalised absolute paths a snapshot records.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::{Node, NodeKind, Tree};
use crate::id::Id;
use crate::repo::Repository;

impl Tree {
    /// The entry called `name`, by binary search (nodes are sorted by name).
    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes.binary_search_by(|n| n.name.as_slice().cmp(name)).ok().map(|i| &self.nodes[i])
    }
}

/// The names along an absolute path, as bytes.
pub fn components(path: &Path) -> Vec<Vec<u8>> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

/// A trie of the snapshot paths below `/`: which names lead to a selected
/// path, and which are selected (stored whole).
#[derive(Debug, Default)]
pub struct PathTrie {
    pub selected: bool,
    pub children: BTreeMap<Vec<u8>, PathTrie>,
}

impl PathTrie {
    pub fn from_paths(paths: &[PathBuf]) -> PathTrie {
        let mut root = PathTrie::default();
        for p in paths {
            let mut node = &mut root;
            for name in components(p) {
                node = node.children.entry(name).or_default();
            }
            node.selected = true;
        }
        root
    }
}

/// Finds the node at an absolute path inside a snapshot's root tree.
/// Returns `None` for the root itself.
pub fn lookup(repo: &Repository, root: &Id, path: &Path) -> Result<Option<Node>> {
    if components(path).is_empty() {
        return Ok(None);
    }
    match PathFinder::new(repo, path).find(root)? {
        Some(node) => Ok(Some(node)),
        None => Err(Error::PathNotInSnapshot(path.display().to_string())),
    }
}

/// The one way to find what lies at a path in root trees. Following one path
/// through many snapshots (`history`), it remembers for each (tree id,
/// depth) what lies at the path below it, so a folder unchanged between
/// snapshots is read once.
pub struct PathFinder<'a> {
    repo: &'a Repository,
    names: Vec<Vec<u8>>,
    memo: HashMap<(Id, usize), Option<Node>>,
}

impl<'a> PathFinder<'a> {
    pub fn new(repo: &'a Repository, path: &Path) -> Self {
        PathFinder { repo, names: components(path), memo: HashMap::new() }
    }

    /// The node at the path below `root`, or `None` where it is missing (or
    /// a name on the way is not a folder).
    pub fn find(&mut self, root: &Id) -> Result<Option<Node>> {
        let mut visited: Vec<(Id, usize)> = Vec::new();
        let mut tree_id = *root;
        let mut found: Option<Node> = None;
        for (depth, name) in self.names.iter().enumerate() {
            if let Some(known) = self.memo.get(&(tree_id, depth)) {
                found = known.clone();
                break;
            }
            visited.push((tree_id, depth));
            let tree = self.repo.load_tree(&tree_id)?;
            match tree.find(name).cloned() {
                Some(n) if depth + 1 == self.names.len() => {
                    found = Some(n);
                    break;
                }
                Some(Node { kind: NodeKind::Dir { subtree }, .. }) => tree_id = subtree,
                _ => break,
            }
        }
        for key in visited {
            self.memo.insert(key, found.clone());
        }
        Ok(found)
    }
}

pub fn name_to_path(name: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_marks_selected() {
        let t = PathTrie::from_paths(&[PathBuf::from("/x/y"), PathBuf::from("/x/z")]);
        let x = &t.children[&b"x".to_vec()];
        assert!(!x.selected);
        assert!(x.children[&b"y".to_vec()].selected);
    }
}
