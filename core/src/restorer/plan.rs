//! Which entries of a snapshot a restore touches: the selected paths
//! (literal paths or globs), narrowed by include/exclude globs, gathered
//! from the trees before anything is written.

use std::path::{Path, PathBuf};

use globset::GlobSet;

use crate::fs::patterns::glob_set;

use crate::error::{Error, Result};
use crate::format::{Node, NodeKind, Tree};
use crate::repo::Repository;
use crate::snapshot::tree::{PathTrie, lookup, name_to_path};

/// What to restore, as given by the user.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Absolute paths (a file or a folder) or absolute globs; empty for all.
    pub paths: Vec<PathBuf>,
    /// Globs a file must match (any), if any are given.
    pub include: Vec<String>,
    /// Globs a file must not match.
    pub exclude: Vec<String>,
}

/// One entry to restore, at its original absolute path.
#[derive(Clone, Debug)]
pub struct Planned {
    pub path: PathBuf,
    pub node: Node,
    /// Inside a selected path. False for the folders on the way to one,
    /// which a restore creates if missing but otherwise leaves alone.
    pub selected: bool,
}

#[derive(Default)]
pub struct Plan {
    /// Folders, parents before children.
    pub dirs: Vec<Planned>,
    pub files: Vec<Planned>,
    /// Symlinks, fifos, sockets, devices.
    pub others: Vec<Planned>,
    /// Folders left out because their tree could not be read (damaged,
    /// missing), each at its original path with why: the rest is restored.
    pub damaged: Vec<(PathBuf, String)>,
}

/// Whether a path could be a glob (it may still name an entry literally).
pub fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

struct Matchers {
    trie: PathTrie,
    paths: GlobSet,
    has_globs: bool,
    include: GlobSet,
    has_include: bool,
    exclude: GlobSet,
}

/// Gathers the plan. A path is looked up literally first (a name may hold
/// `[`, `*` or `?`, as Next.js's `app/[slug]/page.tsx` does) and is taken
/// as a glob only when the snapshot has no such path. Literal paths must
/// exist in the snapshot (checked first, so a typo writes nothing); a glob
/// that matches nothing is an error.
pub fn plan(repo: &Repository, root: &crate::id::Id, sel: &Selection) -> Result<Plan> {
    let mut globs: Vec<&PathBuf> = Vec::new();
    let mut literal: Vec<&PathBuf> = Vec::new();
    for p in &sel.paths {
        let found = match lookup(repo, root, p) {
            Ok(node) => p.as_path() == Path::new("/") || node.is_some(),
            Err(Error::PathNotInSnapshot(_)) => false,
            Err(e) => return Err(e),
        };
        if found {
            literal.push(p);
        } else if is_glob(p) {
            globs.push(p);
        } else {
            return Err(Error::PathNotInSnapshot(p.display().to_string()));
        }
    }
    let literal: Vec<PathBuf> = literal.into_iter().cloned().collect();
    let mut trie = PathTrie::from_paths(&literal);
    if sel.paths.is_empty() || literal.iter().any(|p| p.as_path() == Path::new("/")) {
        trie.selected = true;
    }
    let m = Matchers {
        trie,
        paths: glob_set(&globs.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>())?,
        has_globs: !globs.is_empty(),
        include: glob_set(&sel.include)?,
        has_include: !sel.include.is_empty(),
        exclude: glob_set(&sel.exclude)?,
    };
    let mut plan = Plan::default();
    let tree = repo.load_tree(root)?;
    let selected = m.trie.selected;
    walk(repo, &tree, Path::new("/"), Some(&m.trie), selected, &m, &mut plan)?;
    // (A glob may have matched inside a folder whose tree is damaged.)
    if m.has_globs && plan.files.is_empty() && plan.others.is_empty() && plan.dirs.is_empty() && plan.damaged.is_empty()
    {
        let shown: Vec<String> = globs.iter().map(|g| g.display().to_string()).collect();
        return Err(Error::PathNotInSnapshot(shown.join(", ")));
    }
    Ok(plan)
}

/// Walks one tree. `trie` is where we are among the literal paths (None
/// once off them); `selected` is true inside a selected path. Returns
/// whether anything below was planned.
fn walk(
    repo: &Repository,
    tree: &Tree,
    dir: &Path,
    trie: Option<&PathTrie>,
    selected: bool,
    m: &Matchers,
    plan: &mut Plan,
) -> Result<bool> {
    let mut any = false;
    for node in &tree.nodes {
        let path = dir.join(name_to_path(&node.name));
        let child_trie = trie.and_then(|t| t.children.get(node.name.as_slice()));
        let child_selected =
            selected || child_trie.is_some_and(|t| t.selected) || (m.has_globs && m.paths.is_match(&path));
        // Off the literal paths and outside a selection, only globs can
        // still select something deeper.
        if !child_selected && child_trie.is_none() && !m.has_globs {
            continue;
        }
        match &node.kind {
            NodeKind::Dir { subtree } => {
                let sub = match repo.load_tree(subtree) {
                    Ok(sub) => sub,
                    // One damaged tree does not stop the restore: the folder
                    // is named and left out whole (not created empty, which
                    // would look restored), and everything else goes on.
                    Err(e) => {
                        plan.damaged.push((path, format!("not restored: its contents could not be read: {e}")));
                        continue;
                    }
                };
                let mark = plan.dirs.len();
                plan.dirs.push(Planned { path: path.clone(), node: node.clone(), selected: child_selected });
                let below = walk(repo, &sub, &path, child_trie, child_selected, m, plan)?;
                // A folder on the way to nothing selected is not created.
                if below || (child_selected && !m.has_include) {
                    any = true;
                } else {
                    plan.dirs.truncate(mark);
                }
            }
            _ if child_selected && wanted(m, &path) => {
                let planned = Planned { path, node: node.clone(), selected: true };
                if matches!(node.kind, NodeKind::File { .. }) {
                    plan.files.push(planned);
                } else {
                    plan.others.push(planned);
                }
                any = true;
            }
            _ => {}
        }
    }
    Ok(any)
}

fn wanted(m: &Matchers, path: &Path) -> bool {
    (!m.has_include || m.include.is_match(path)) && !m.exclude.is_match(path)
}
