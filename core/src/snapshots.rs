//! Listing snapshot manifests and resolving a reference (`latest`, a full id
//! or a unique prefix of at least 4 hex digits) to one snapshot.

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::Snapshot;
use crate::id::{Id, is_hex};
use crate::repo::Repository;

#[derive(Clone, Debug)]
pub struct SnapshotEntry {
    pub id: Id,
    pub snapshot: Snapshot,
}

/// Every readable snapshot, oldest first, and a line for each unreadable one.
pub fn list(repo: &Repository) -> Result<(Vec<SnapshotEntry>, Vec<String>)> {
    let present: Vec<Id> = repo.backend().list(FileKind::Snapshot)?.into_iter().map(|(id, _)| id).collect();
    let read = |id: &Id| repo.load_snapshot(id).map_err(|e| format!("snapshot {id}: {e}"));
    let (found, problems) = match repo.cache() {
        Some(cache) => cache.snapshots(repo.keys(), &present, read),
        None => {
            let mut found = Vec::new();
            let mut problems = Vec::new();
            for id in &present {
                match read(id) {
                    Ok(s) => found.push((*id, s)),
                    Err(e) => problems.push(e),
                }
            }
            (found, problems)
        }
    };
    let mut entries: Vec<SnapshotEntry> =
        found.into_iter().map(|(id, snapshot)| SnapshotEntry { id, snapshot }).collect();
    entries.sort_by(|a, b| a.snapshot.time.cmp(&b.snapshot.time).then(a.id.cmp(&b.id)));
    Ok((entries, problems))
}

/// Resolves `latest`, a full id or a unique hex prefix (4+ digits).
pub fn resolve(repo: &Repository, reference: &str) -> Result<SnapshotEntry> {
    if reference == "latest" {
        let (all, _) = list(repo)?;
        return all.into_iter().next_back().ok_or(Error::NoSnapshots);
    }
    let lower = reference.to_ascii_lowercase();
    if lower.len() < 4 || lower.len() > 64 || !is_hex(&lower) {
        return Err(Error::InvalidArgument(format!(
            "{reference:?} is not a snapshot reference: give `latest`, an id, or at least 4 hex digits of one"
        )));
    }
    let matches: Vec<Id> = repo
        .backend()
        .list(FileKind::Snapshot)?
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| id.to_hex().starts_with(&lower))
        .collect();
    match matches.as_slice() {
        [] => Err(Error::SnapshotNotFound(reference.to_string())),
        [id] => Ok(SnapshotEntry { id: *id, snapshot: repo.load_snapshot(id)? }),
        _ => Err(Error::AmbiguousSnapshot(reference.to_string())),
    }
}

/// The newest snapshot of the same host and the same set of paths.
pub fn find_parent<'a>(all: &'a [SnapshotEntry], host: &str, paths: &[Vec<u8>]) -> Option<&'a SnapshotEntry> {
    all.iter().rev().find(|e| {
        e.snapshot.host == host && e.snapshot.paths.iter().map(|p| p.as_slice()).eq(paths.iter().map(|p| p.as_slice()))
    })
}
