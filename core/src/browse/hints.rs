//! Hints for a path that is not in a snapshot: the existing paths closest
//! to it, for error messages.

use std::path::{Path, PathBuf};

use crate::format::{Node, NodeKind};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::tree::{components, name_to_path};

/// Up to `n` existing paths of the snapshot tree `root_tree` that are
/// closest to `missing`: the entries of the deepest folder of `missing`
/// that exists, ranked by edit distance to the first name that does not
/// (ignoring case first), then by the longest common prefix. Cheap: it
/// reads one tree per component. A hint for error messages, so a tree that
/// cannot be read just ends the search (the caller reports the real error).
pub fn closest_paths(repo: &Repository, root_tree: &Id, missing: &Path, n: usize) -> Vec<PathBuf> {
    let Ok(mut tree) = repo.load_tree(root_tree) else { return Vec::new() };
    let mut dir = PathBuf::from("/");
    for name in components(missing) {
        match tree.find(&name).map(|node| &node.kind) {
            Some(NodeKind::Dir { subtree }) => match repo.load_tree(subtree) {
                Ok(t) => {
                    dir.push(name_to_path(&name));
                    tree = t;
                }
                Err(_) => return Vec::new(),
            },
            // Missing here, or not a folder while the path goes on below it.
            _ => {
                let mut ranked: Vec<(usize, usize, usize, &Node)> = tree
                    .nodes
                    .iter()
                    .map(|node| {
                        let (a, b) = (&node.name[..], &name[..]);
                        (
                            edit_distance(&a.to_ascii_lowercase(), &b.to_ascii_lowercase()),
                            edit_distance(a, b),
                            usize::MAX - common_prefix(a, b),
                            node,
                        )
                    })
                    .collect();
                ranked.sort_by(|x, y| (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)).then(x.3.name.cmp(&y.3.name)));
                return ranked.into_iter().take(n).map(|(.., node)| dir.join(name_to_path(&node.name))).collect();
            }
        }
    }
    Vec::new()
}

/// Names longer than this are compared by their first bytes only.
const NAME_LIMIT: usize = 256;

/// Levenshtein distance between two names, in bytes.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let (a, b) = (&a[..a.len().min(NAME_LIMIT)], &b[..b.len().min(NAME_LIMIT)]);
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x.eq_ignore_ascii_case(y)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"CLAUDE.md", b"CLAUDE.md"), 0);
        assert_eq!(edit_distance(b"claude.md", b"CLAUDE.md"), 6);
        assert_eq!(common_prefix(b"Cargo.toml", b"cargo.lock"), 6);
    }

    #[test]
    fn closest_paths_rank_the_deepest_existing_folder() {
        use crate::test_fixtures::*;
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        let a = dir(
            &repo,
            "a",
            vec![file(&repo, "settings.json", "{}"), file(&repo, "CLAUDE.md", "# hi"), dir(&repo, "todos", vec![])],
        );
        let root = tree(&repo, vec![a]);
        let close = |p: &str, n| closest_paths(&repo, &root, Path::new(p), n);
        assert_eq!(close("/a/setings.json", 1), vec![PathBuf::from("/a/settings.json")]);
        assert_eq!(close("/a/claude.md", 1), vec![PathBuf::from("/a/CLAUDE.md")]);
        assert_eq!(close("/a/settings.json/x", 1), vec![PathBuf::from("/a/settings.json")]);
        assert_eq!(close("/zzz/q", 3), vec![PathBuf::from("/a")]);
        assert_eq!(close("/a/todo", 5).len(), 3);
        assert_eq!(close("/a/todo", 5)[0], PathBuf::from("/a/todos"));
        assert!(close("/a/todos", 3).is_empty(), "an existing folder has nothing closer");
    }
}
