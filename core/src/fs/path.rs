//! The one path cleaner: paths as a person typed them, made absolute and
//! lexically clean in the form snapshots record them.

use std::path::{Component, Path, PathBuf};

use crate::error::{IoContext, Result};

/// A path as typed, in the form snapshots record it: absolute (against the
/// current folder), `.` and `..` removed lexically, and symlinks in its
/// parent folders resolved when that parent still exists (as `snapshot`
/// does; a parent the agent deleted is kept as written).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let clean = lexical_clean(&std::path::absolute(path).at(path)?);
    if let (Some(parent), Some(name)) = (clean.parent(), clean.file_name())
        && let Ok(real) = std::fs::canonicalize(parent)
    {
        return Ok(real.join(name));
    }
    Ok(clean)
}

/// Makes each path absolute and lexically clean, resolving symlinks in its
/// parent folders but not in its last component (a symlink given is stored
/// as a symlink). Paths inside another given path are dropped. Every path
/// must exist.
pub fn normalize_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        std::fs::symlink_metadata(p).at(p)?;
        let abs = std::path::absolute(p).at(p)?;
        let clean = lexical_clean(&abs);
        let resolved = match (clean.parent(), clean.file_name()) {
            (Some(parent), Some(name)) => std::fs::canonicalize(parent).at(parent)?.join(name),
            _ => clean,
        };
        out.push(resolved);
    }
    out.sort();
    out.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for p in out {
        if !kept.iter().any(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    Ok(kept)
}

/// `path` made absolute by the names alone: `.` dropped, `..` taking the
/// previous name off (never above `/`), symlinks not consulted.
fn lexical_clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_is_clean() {
        let p = absolute(Path::new("/no/such/../thing/./x/")).unwrap();
        assert_eq!(p, PathBuf::from("/no/thing/x"));
        let here = absolute(Path::new("rel")).unwrap();
        assert!(here.is_absolute() && here.ends_with("rel"));
    }

    #[test]
    fn nested_paths_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("b")).unwrap();
        let got = normalize_paths(&[a.join("b"), a.clone(), a.join("b/../b")]).unwrap();
        assert_eq!(got, vec![std::fs::canonicalize(&a).unwrap()]);
        assert!(normalize_paths(&[dir.path().join("missing")]).is_err());
    }
}
