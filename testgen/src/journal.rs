//! [`TickReport`] and the journal that builds it: records each file operation of a
//! tick as it happens and folds them into one exact, non-overlapping report (a file
//! created then edited is only "created", a renamed file only "renamed", and so on).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

/// What one `tick` did. Paths are relative to the workspace root and sorted (as paths,
/// component by component); each path appears in at most one list.
///
/// The paths whose content changed are exactly `modified ∪ appended ∪ created ∪`
/// (rename targets); the paths that are gone are exactly `deleted ∪` (rename sources).
/// `touched` files kept their content and only got a new mtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Existing files whose content was rewritten in place.
    pub modified: Vec<PathBuf>,
    /// New files (paths that did not exist before the tick).
    pub created: Vec<PathBuf>,
    /// Files removed.
    pub deleted: Vec<PathBuf>,
    /// Session transcripts that grew by appending.
    pub appended: Vec<PathBuf>,
    /// `(from, to)` moves; content unchanged, mtime kept.
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Files whose mtime was set to the tick's time without changing content.
    pub touched: Vec<PathBuf>,
}

impl TickReport {
    /// A one-line summary for humans.
    pub fn summary(&self) -> String {
        format!(
            "modified {}, appended {}, created {}, deleted {}, renamed {}, touched {}",
            self.modified.len(),
            self.appended.len(),
            self.created.len(),
            self.deleted.len(),
            self.renamed.len(),
            self.touched.len()
        )
    }
}

#[derive(Clone, Copy, Default)]
struct Flags {
    modified: bool,
    appended: bool,
    touched: bool,
}

/// A file as it stands now, keyed by its current path.
struct Live {
    /// The path it had before the tick, `None` if it was created during the tick.
    origin: Option<String>,
    flags: Flags,
}

/// Operations of one tick, in order.
#[derive(Default)]
pub(crate) struct Journal {
    live: BTreeMap<String, Live>,
    /// Pre-tick paths that no longer exist.
    gone: BTreeSet<String>,
}

impl Journal {
    fn entry(&mut self, path: &str) -> &mut Live {
        self.live
            .entry(path.to_string())
            .or_insert_with(|| Live { origin: Some(path.to_string()), flags: Flags::default() })
    }

    pub(crate) fn created(&mut self, path: &str) {
        // Re-creating a path deleted earlier in the tick amounts to rewriting it.
        let origin = self.gone.remove(path).then(|| path.to_string());
        let flags = Flags { modified: origin.is_some(), ..Flags::default() };
        self.live.insert(path.to_string(), Live { origin, flags });
    }

    pub(crate) fn modified(&mut self, path: &str) {
        self.entry(path).flags.modified = true;
    }

    pub(crate) fn appended(&mut self, path: &str) {
        self.entry(path).flags.appended = true;
    }

    pub(crate) fn touched(&mut self, path: &str) {
        self.entry(path).flags.touched = true;
    }

    pub(crate) fn deleted(&mut self, path: &str) {
        let origin = match self.live.remove(path) {
            Some(l) => l.origin,
            None => Some(path.to_string()),
        };
        if let Some(o) = origin {
            self.gone.insert(o);
        }
    }

    pub(crate) fn renamed(&mut self, from: &str, to: &str) {
        let l = self.live.remove(from).unwrap_or(Live { origin: Some(from.to_string()), flags: Flags::default() });
        if self.gone.remove(to) {
            // Replacing a file deleted earlier in the tick: `to` was rewritten, and
            // `from` (if it existed before) is gone.
            if let Some(o) = l.origin {
                self.gone.insert(o);
            }
            self.live.insert(
                to.to_string(),
                Live { origin: Some(to.to_string()), flags: Flags { modified: true, ..Flags::default() } },
            );
        } else {
            self.live.insert(to.to_string(), l);
        }
    }

    /// Every path the tick created, deleted or moved, old and new (for stamping their
    /// parent directories).
    pub(crate) fn structural_paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self.gone.iter().cloned().collect();
        for (path, l) in &self.live {
            if l.origin.as_deref() != Some(path.as_str()) {
                v.push(path.clone());
            }
        }
        v
    }

    pub(crate) fn finish(self) -> TickReport {
        let mut r = TickReport::default();
        for (path, l) in self.live {
            match l.origin {
                None => r.created.push(path.into()),
                Some(o) if o != path => {
                    // A file moved in from a path that is otherwise gone.
                    r.renamed.push((o.into(), path.into()));
                }
                Some(_) => {
                    if l.flags.modified {
                        r.modified.push(path.into());
                    } else if l.flags.appended {
                        r.appended.push(path.into());
                    } else if l.flags.touched {
                        r.touched.push(path.into());
                    }
                }
            }
        }
        r.deleted = self.gone.into_iter().map(PathBuf::from).collect();
        // Sort as paths (component-wise), like a sorted directory walk.
        for v in [&mut r.modified, &mut r.created, &mut r.deleted, &mut r.appended, &mut r.touched] {
            v.sort();
        }
        r.renamed.sort();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn folds_overlapping_operations() {
        let mut j = Journal::default();
        j.created("new");
        j.modified("new");
        j.touched("new");
        j.modified("a");
        j.appended("a");
        j.appended("t");
        j.touched("u");
        j.renamed("r1", "r2");
        j.deleted("d");
        j.created("tmp");
        j.deleted("tmp");
        j.deleted("x");
        j.created("x");
        let r = j.finish();
        assert_eq!(r.created, p(&["new"]));
        assert_eq!(r.modified, p(&["a", "x"]));
        assert_eq!(r.appended, p(&["t"]));
        assert_eq!(r.touched, p(&["u"]));
        assert_eq!(r.deleted, p(&["d"]));
        assert_eq!(r.renamed, vec![(PathBuf::from("r1"), PathBuf::from("r2"))]);
    }

    #[test]
    fn rename_chains_and_created_then_renamed() {
        let mut j = Journal::default();
        j.renamed("a", "b");
        j.renamed("b", "c");
        j.created("n");
        j.renamed("n", "m");
        j.renamed("q", "z");
        j.deleted("z");
        let r = j.finish();
        assert_eq!(r.renamed, vec![(PathBuf::from("a"), PathBuf::from("c"))]);
        assert_eq!(r.created, p(&["m"]));
        assert_eq!(r.deleted, p(&["q"]));
    }
}
