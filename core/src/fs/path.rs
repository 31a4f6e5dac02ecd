//! The one path cleaner: paths as a person typed them, made absolute and
//! lexically clean in the form snapshots record them.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

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
    Ok(normalize_given(paths, false)?.paths)
}

/// Paths given to a snapshot, in the form it records them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Given {
    /// Sorted, without paths inside another one.
    pub paths: Vec<PathBuf>,
    /// `(symlink as given, canonical path it names)` for each given path
    /// that was a symlink and was followed; sorted, deduplicated.
    pub links: Vec<(PathBuf, PathBuf)>,
}

/// As [`normalize_paths`]; with `follow_links`, a path whose last
/// component is a symlink is replaced by the canonical path it names
/// (which must exist), and the pair is listed in `links`.
pub fn normalize_given(paths: &[PathBuf], follow_links: bool) -> Result<Given> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in paths {
        let md = std::fs::symlink_metadata(p).at(p)?;
        let abs = std::path::absolute(p).at(p)?;
        let clean = lexical_clean(&abs);
        let resolved = match (clean.parent(), clean.file_name()) {
            (Some(parent), Some(name)) => std::fs::canonicalize(parent).at(parent)?.join(name),
            _ => clean,
        };
        if follow_links && md.file_type().is_symlink() {
            let target = std::fs::canonicalize(&resolved).map_err(|e| {
                let named = std::fs::read_link(&resolved).map(|t| t.display().to_string()).unwrap_or_default();
                Error::InvalidArgument(format!(
                    "{} is a symlink to {named:?}, which cannot be followed: {e}",
                    resolved.display()
                ))
            })?;
            links.push((resolved, target.clone()));
            out.push(target);
        } else {
            out.push(resolved);
        }
    }
    out.sort();
    out.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for p in out {
        if !kept.iter().any(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    links.sort();
    links.dedup();
    Ok(Given { paths: kept, links })
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

    #[test]
    fn a_given_symlink_is_followed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(real.join("data")).unwrap();
        std::os::unix::fs::symlink(real.join("data"), real.join("linked")).unwrap();
        std::os::unix::fs::symlink(real.join("gone"), real.join("dangling")).unwrap();
        let kept = normalize_given(&[real.join("linked")], false).unwrap();
        assert_eq!(kept, Given { paths: vec![real.join("linked")], links: vec![] });
        let followed = normalize_given(&[real.join("linked")], true).unwrap();
        assert_eq!(followed.paths, vec![real.join("data")]);
        assert_eq!(followed.links, vec![(real.join("linked"), real.join("data"))]);
        // The link and its target given together: one path, the link kept.
        let both = normalize_given(&[real.join("linked"), real.join("data")], true).unwrap();
        assert_eq!(both.paths, vec![real.join("data")]);
        assert_eq!(both.links.len(), 1);
        let err = normalize_given(&[real.join("dangling")], true).unwrap_err().to_string();
        assert!(err.contains("dangling") && err.contains("cannot be followed"), "{err}");
    }
}
