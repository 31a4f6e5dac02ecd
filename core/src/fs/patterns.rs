//! Path patterns in the syntax of `snapshot --exclude` (gitignore, rooted
//! at `/`, a pattern with an inner `/` matching at any depth), for commands
//! that narrow what they report (`diff --exclude` / `--include`). A path
//! matches when it or one of its folders does. Also the glob sets over
//! absolute paths of restore's selection and the alarm's protected files.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, Result};
use crate::fs::exclude::unanchored;

#[derive(Clone, Debug)]
pub struct PathPatterns {
    matcher: Gitignore,
}

impl PathPatterns {
    /// `None` when there are no patterns; an error names a bad one.
    pub fn new(patterns: &[String]) -> Result<Option<PathPatterns>> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut builder = GitignoreBuilder::new("/");
        for p in patterns {
            builder
                .add_line(None, &unanchored(p))
                .map_err(|e| Error::InvalidArgument(format!("pattern {p:?}: {e}")))?;
        }
        let matcher = builder.build().map_err(|e| Error::InvalidArgument(format!("patterns: {e}")))?;
        Ok(Some(PathPatterns { matcher }))
    }

    /// True when the absolute `path` or a folder above it matches (the last
    /// matching pattern decides, `!` re-including, as in git).
    pub fn matches(&self, path: &Path, is_dir: bool) -> bool {
        path.is_absolute() && self.matcher.matched_path_or_any_parents(path, is_dir).is_ignore()
    }
}

/// A glob over absolute paths (restore's `--path`/`--include`, the alarm's
/// protected globs): `*` stays within a name, `**` crosses folders; a
/// pattern without `/` matches a name at any depth.
fn glob(pattern: &str) -> Result<Glob> {
    let full = if pattern.contains('/') { pattern.to_string() } else { format!("**/{pattern}") };
    GlobBuilder::new(&full)
        .literal_separator(true)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("bad glob {pattern:?}: {e}")))
}

/// The globs `patterns` as one set (see `glob`).
pub fn glob_set(patterns: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(glob(p)?);
    }
    b.build().map_err(|e| Error::InvalidArgument(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_matches_through_its_folders() {
        let p = PathPatterns::new(&["node_modules/".into(), "*.log".into(), "a/b".into()]).unwrap().unwrap();
        assert!(p.matches(Path::new("/w/node_modules"), true));
        assert!(p.matches(Path::new("/w/node_modules/x/y.js"), false));
        assert!(!p.matches(Path::new("/w/node_modules"), false));
        assert!(p.matches(Path::new("/w/x.log"), false));
        assert!(p.matches(Path::new("/deep/a/b/c"), false));
        assert!(!p.matches(Path::new("/w/src/main.rs"), false));
        assert!(PathPatterns::new(&[]).unwrap().is_none());
    }
}
