//! Paths given through a symlink that a snapshot followed
//! (`cairn snapshot ~/linked`, `~/linked` → `/data/p`): the snapshot stores
//! the contents under the target and records the pair, so a command given
//! the link's path looks under the target instead.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::repo::Repository;
use crate::snapshot::snapshots;

/// Each of `paths` translated through the links recorded by the newest
/// snapshot that followed a symlink at or above it; `None` when no snapshot
/// did. The snapshots are listed once for all the paths (none when no path
/// is given).
pub fn through_links(repo: &Repository, paths: &[PathBuf]) -> Result<Vec<Option<PathBuf>>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let (all, _) = snapshots::list(repo)?;
    Ok(paths.iter().map(|path| translate(all.iter().rev().map(|e| &e.snapshot), path)).collect())
}

/// The first of `snapshots` (newest first) whose links change `path`.
fn translate<'a>(snapshots: impl Iterator<Item = &'a crate::format::Snapshot>, path: &Path) -> Option<PathBuf> {
    snapshots.map(|s| s.stored_path(path)).find(|p| p != path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::recipe::{GivenLink, Recipe};
    use serde_bytes::ByteBuf;

    #[test]
    fn the_newest_snapshot_with_a_matching_link_decides() {
        let id = crate::id::Id::default();
        let mut old = crate::test_fixtures::snapshot(1, &["/old"], id);
        let link =
            |t: &[u8]| GivenLink { given: ByteBuf::from(b"/h/linked".to_vec()), target: ByteBuf::from(t.to_vec()) };
        old.version = 2;
        old.recipe = Some(Recipe { links: vec![link(b"/old")], ..Recipe::default() });
        let mut new = old.clone();
        new.recipe = Some(Recipe { links: vec![link(b"/new")], ..Recipe::default() });
        let plain = crate::test_fixtures::snapshot(3, &["/h"], id);
        let newest_first = [&plain, &new, &old];
        assert_eq!(translate(newest_first.into_iter(), Path::new("/h/linked/x")), Some(PathBuf::from("/new/x")));
        assert_eq!(translate(newest_first.into_iter(), Path::new("/h/other")), None);
    }
}
