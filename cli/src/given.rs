//! Paths typed by the user, as snapshots store them: a path at or below a
//! symlink that a snapshot followed (`cairn snapshot ~/linked`) names what
//! is stored under the link's target (core's `snapshot::links`).

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::Repository;
use cairn_core::snapshot::links;

use crate::output;

/// `paths` translated through the links snapshots recorded, with a note
/// (unless `quiet`) for each one that was.
pub fn as_stored(repo: &Repository, paths: Vec<PathBuf>, quiet: bool) -> Result<Vec<PathBuf>> {
    let translated = links::through_links(repo, &paths)?;
    Ok(paths
        .into_iter()
        .zip(translated)
        .map(|(path, stored)| match stored {
            Some(stored) => {
                if !quiet {
                    output::note(format!(
                        "{} is a symlink the snapshot followed; its contents are stored under {}",
                        path.display(),
                        stored.display()
                    ));
                }
                stored
            }
            None => path,
        })
        .collect())
}
