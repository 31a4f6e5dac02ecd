//! Paths typed by the user, as snapshots store them: a path at or below a
//! symlink that a snapshot followed (`cairn snapshot ~/linked`) names what
//! is stored under the link's target (core's `snapshot::links`).

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::Repository;
use cairn_core::snapshot::links;

use crate::output;

/// `path` translated through the links snapshots recorded, with a note
/// (unless `quiet`) when it was.
pub fn as_stored(repo: &Repository, path: PathBuf, quiet: bool) -> Result<PathBuf> {
    match links::through_links(repo, &path)? {
        Some(stored) => {
            if !quiet {
                output::note(format!(
                    "{} is a symlink the snapshot followed; its contents are stored under {}",
                    path.display(),
                    stored.display()
                ));
            }
            Ok(stored)
        }
        None => Ok(path),
    }
}
