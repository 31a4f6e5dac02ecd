//! Listing snapshot manifests and choosing one: by reference (`latest`,
//! `latest~N`, a full id or a unique prefix of at least 4 hex digits) or by
//! time (the newest taken at or before a moment), among those matching a
//! host / path / tag filter.

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

/// The tag of the snapshots a restore takes of what it is about to replace.
/// They hold only those files, so `latest`, `--at` and parent selection
/// pass over them unless asked for by this tag.
pub const PRESERVE_TAG: &str = "restore-preserve";

/// Which snapshots a command considers.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub host: Option<String>,
    /// Each must lie inside (or be) one of the snapshot's paths.
    pub paths: Vec<std::path::PathBuf>,
    /// The snapshot must carry all of these.
    pub tags: Vec<String>,
}

impl Filter {
    pub fn matches(&self, s: &Snapshot) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let preserve_wanted = self.tags.iter().any(|t| t == PRESERVE_TAG);
        self.host.as_ref().is_none_or(|h| &s.host == h)
            && self.tags.iter().all(|t| s.tags.contains(t))
            && (preserve_wanted || !s.tags.iter().any(|t| t == PRESERVE_TAG))
            && self
                .paths
                .iter()
                .all(|p| s.paths.iter().any(|sp| p.starts_with(std::path::Path::new(std::ffi::OsStr::from_bytes(sp)))))
    }
}

/// How a command names its snapshot.
#[derive(Clone, Debug)]
pub enum Selector {
    /// `latest`, `latest~N`, an id or a unique prefix.
    Reference(String),
    /// The newest snapshot taken at or before this moment.
    At(crate::format::Timestamp),
}

/// Chooses one snapshot among those matching `filter`.
pub fn select(repo: &Repository, selector: &Selector, filter: &Filter) -> Result<SnapshotEntry> {
    match selector {
        Selector::Reference(r) => resolve_filtered(repo, r, filter),
        Selector::At(at) => {
            let (all, _) = list(repo)?;
            let matching: Vec<SnapshotEntry> = all.into_iter().filter(|e| filter.matches(&e.snapshot)).collect();
            at_or_before(&matching, at).cloned()
        }
    }
}

/// The newest of `sorted` (oldest first) taken at or before `at`.
pub fn at_or_before<'a>(sorted: &'a [SnapshotEntry], at: &crate::format::Timestamp) -> Result<&'a SnapshotEntry> {
    let key = (at.unix_seconds, at.nanos);
    sorted.iter().rev().find(|e| (e.snapshot.time.unix_seconds, e.snapshot.time.nanos) <= key).ok_or_else(|| {
        match (sorted.first(), sorted.last()) {
            (Some(first), Some(last)) => Error::NoSnapshotAt {
                wanted: crate::timefmt::rfc3339(at),
                earliest: format!("{} ({})", crate::timefmt::rfc3339(&first.snapshot.time), first.id.short()),
                latest: format!("{} ({})", crate::timefmt::rfc3339(&last.snapshot.time), last.id.short()),
            },
            _ => Error::NoSnapshots,
        }
    })
}

/// Resolves `latest`, `latest~N`, a full id or a unique hex prefix (4+
/// digits); `latest` forms count only snapshots matching `filter`.
pub fn resolve_filtered(repo: &Repository, reference: &str, filter: &Filter) -> Result<SnapshotEntry> {
    if let Some(rest) = reference.strip_prefix("latest") {
        let back: usize = match rest.strip_prefix('~') {
            None if rest.is_empty() => 0,
            Some(n) => n
                .parse()
                .map_err(|_| Error::InvalidArgument(format!("{reference:?}: write latest~N with N a whole number")))?,
            None => return Err(Error::InvalidArgument(format!("{reference:?} is not a snapshot reference"))),
        };
        let (all, _) = list(repo)?;
        let matching: Vec<SnapshotEntry> = all.into_iter().filter(|e| filter.matches(&e.snapshot)).collect();
        if matching.is_empty() {
            return Err(Error::NoSnapshots);
        }
        let count = matching.len();
        return matching.into_iter().rev().nth(back).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{reference}: only {count} snapshots match, so latest~{} is the oldest",
                count - 1
            ))
        });
    }
    resolve(repo, reference)
}

/// Resolves `latest`, a full id or a unique hex prefix (4+ digits).
pub fn resolve(repo: &Repository, reference: &str) -> Result<SnapshotEntry> {
    if reference.starts_with("latest") {
        return resolve_filtered(repo, reference, &Filter::default());
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
    all.iter().rev().filter(|e| !e.snapshot.tags.iter().any(|t| t == PRESERVE_TAG)).find(|e| {
        e.snapshot.host == host && e.snapshot.paths.iter().map(|p| p.as_slice()).eq(paths.iter().map(|p| p.as_slice()))
    })
}
