//! Whole-tree operations besides init and tick: `disaster` (delete every markdown
//! file) and `stats` (file and byte totals with and without the excluded folders).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Generated;
use crate::fsutil::{self, ext};

/// See [`crate::disaster`].
pub(crate) fn disaster(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut gone = Vec::new();
    for e in fsutil::walk(root, false)? {
        if ext(&e.rel) == "md" {
            fs::remove_file(root.join(&e.rel))?;
            gone.push(PathBuf::from(e.rel));
        }
    }
    gone.sort();
    Ok(gone)
}

/// File and byte totals of a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Everything (except the metadata file).
    pub all: Generated,
    /// Without `node_modules/` and `target/` folders.
    pub without_excluded: Generated,
}

/// See [`crate::stats`].
pub(crate) fn stats(root: &Path) -> io::Result<Stats> {
    let mut all = Generated { files: 0, bytes: 0 };
    let mut kept = all;
    for e in fsutil::walk(root, false)? {
        all.files += 1;
        all.bytes += e.size;
        if !fsutil::is_excluded(&e.rel) {
            kept.files += 1;
            kept.bytes += e.size;
        }
    }
    Ok(Stats { all, without_excluded: kept })
}
