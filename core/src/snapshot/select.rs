//! Which snapshots a time-travel command (`find`, `history`) considers.

use std::path::Path;

use crate::error::Result;
use crate::format::Timestamp;
use crate::repo::Repository;
use crate::snapshot::snapshots::{self, Filter, SnapshotEntry};

/// The snapshots matching `filter`, oldest first, taken at or before
/// `until` when given, and a line for each snapshot that could not be read.
pub fn snapshots_matching(
    repo: &Repository,
    filter: &Filter,
    until: Option<&Timestamp>,
) -> Result<(Vec<SnapshotEntry>, Vec<String>)> {
    let (all, problems) = snapshots::list(repo)?;
    let key = |t: &Timestamp| (t.unix_seconds, t.nanos);
    let kept = all
        .into_iter()
        .filter(|e| filter.matches(&e.snapshot))
        .filter(|e| until.is_none_or(|u| key(&e.snapshot.time) <= key(u)))
        .collect();
    Ok((kept, problems))
}

/// Whether one of the snapshot's paths is `path` or a folder holding it.
pub fn covers(entry: &SnapshotEntry, path: &Path) -> bool {
    Filter { paths: vec![path.to_path_buf()], ..Filter::default() }.matches(&entry.snapshot)
}
