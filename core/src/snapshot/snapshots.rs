//! Listing snapshot manifests and choosing one: by reference (`latest`,
//! `latest~N`, a full id or a unique prefix of at least 4 hex digits) or by
//! time (the newest taken at or before a moment), among those matching a
//! host / path / tag filter.

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
    let listing = repo.list_snapshot_files()?;
    let present: Vec<Id> = listing.iter().map(|(id, _)| *id).collect();
    // Sizes as listed: a file too large to be a snapshot is refused unread.
    let sizes: std::collections::HashMap<Id, u64> = listing.into_iter().collect();
    let read = |id: &Id| match repo.load_snapshot_listed(id, sizes.get(id).copied()) {
        Ok(snapshot) => Ok(Some(snapshot)),
        // Removed since the listing (a concurrent prune): simply not listed.
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(format!("snapshot {id}: {e}")),
    };
    let (found, problems) = repo.read_through_cache("snapshots", &present, read);
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
    /// For choosing a snapshot to work on: `restore-preserve` snapshots
    /// (which hold only what a restore replaced) only when asked for by tag.
    pub fn matches(&self, s: &Snapshot) -> bool {
        let preserve_wanted = self.tags.iter().any(|t| t == PRESERVE_TAG);
        self.matches_listing(s) && (preserve_wanted || !s.tags.iter().any(|t| t == PRESERVE_TAG))
    }

    /// For listing (`cairn snapshots`): every snapshot that matches host,
    /// tags and paths, `restore-preserve` ones included.
    pub fn matches_listing(&self, s: &Snapshot) -> bool {
        use std::os::unix::ffi::OsStrExt;
        self.host.as_ref().is_none_or(|h| &s.host == h)
            && self.tags.iter().all(|t| s.tags.contains(t))
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
                wanted: crate::snapshot::timefmt::rfc3339(at),
                earliest: format!("{} ({})", crate::snapshot::timefmt::rfc3339(&first.snapshot.time), first.id.short()),
                latest: format!("{} ({})", crate::snapshot::timefmt::rfc3339(&last.snapshot.time), last.id.short()),
            },
            _ => Error::NoSnapshots,
        }
    })
}

/// Resolves `latest`, `latest~N`, a full id or a unique hex prefix (4+
/// digits); `latest` forms count only snapshots matching `filter`.
pub fn resolve_filtered(repo: &Repository, reference: &str, filter: &Filter) -> Result<SnapshotEntry> {
    if let Some(back) = latest_back(reference)? {
        let (all, _) = list(repo)?;
        let matching: Vec<SnapshotEntry> = all.into_iter().filter(|e| filter.matches(&e.snapshot)).collect();
        return nth_newest(matching, back, reference);
    }
    resolve(repo, reference)
}

/// How far back from the newest a `latest` / `latest~N` reference counts
/// (`None` when `reference` is no `latest` form).
pub fn latest_back(reference: &str) -> Result<Option<usize>> {
    let Some(rest) = reference.strip_prefix("latest") else { return Ok(None) };
    match rest.strip_prefix('~') {
        None if rest.is_empty() => Ok(Some(0)),
        Some(n) => n
            .parse()
            .map(Some)
            .map_err(|_| Error::InvalidArgument(format!("{reference:?}: write latest~N with N a whole number"))),
        None => Err(Error::InvalidArgument(format!("{reference:?} is not a snapshot reference"))),
    }
}

/// The snapshot `back` places before the newest of `matching` (oldest first).
pub fn nth_newest(matching: Vec<SnapshotEntry>, back: usize, reference: &str) -> Result<SnapshotEntry> {
    if matching.is_empty() {
        return Err(Error::NoSnapshots);
    }
    let count = matching.len();
    matching.into_iter().rev().nth(back).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{reference}: only {count} snapshots match, so latest~{} is the oldest",
            count - 1
        ))
    })
}

/// True when `text` is written as a snapshot reference (`latest`,
/// `latest~N`, or 4 to 64 hex digits), whether or not such a snapshot
/// exists: how a command tells a reference from a path among its arguments.
pub fn looks_like_reference(text: &str) -> bool {
    text.starts_with("latest") || ((4..=64).contains(&text.len()) && crate::id::is_hex(text))
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
    let matches: Vec<(Id, u64)> =
        repo.list_snapshot_files()?.into_iter().filter(|(id, _)| id.to_hex().starts_with(&lower)).collect();
    match matches.as_slice() {
        [] => Err(Error::SnapshotNotFound(reference.to_string())),
        [(id, size)] => match repo.load_snapshot_listed(id, Some(*size)) {
            Ok(snapshot) => Ok(SnapshotEntry { id: *id, snapshot }),
            // Removed since the listing: as if it had never been listed.
            Err(e) if e.is_not_found() => Err(Error::SnapshotNotFound(reference.to_string())),
            Err(e) => Err(e),
        },
        _ => Err(Error::AmbiguousSnapshot(reference.to_string())),
    }
}

/// The newest snapshot of the same host and the same set of paths.
pub fn find_parent<'a>(all: &'a [SnapshotEntry], host: &str, paths: &[Vec<u8>]) -> Option<&'a SnapshotEntry> {
    all.iter().rev().filter(|e| !e.snapshot.tags.iter().any(|t| t == PRESERVE_TAG)).find(|e| {
        e.snapshot.host == host && e.snapshot.paths.iter().map(|p| p.as_slice()).eq(paths.iter().map(|p| p.as_slice()))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::backend::FileKind;
    use crate::format::Timestamp;
    use crate::test_fixtures::{entry, flip_byte, repo, snapshot, store};

    fn snapshot_with(hour: i64, host: &str, tags: &[&str]) -> Snapshot {
        Snapshot {
            host: host.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..snapshot(hour, &["/w"], Id([hour as u8; 32]))
        }
    }

    fn hours(entries: &[SnapshotEntry]) -> Vec<i64> {
        entries.iter().map(|e| (e.snapshot.time.unix_seconds - 1_748_736_000) / 3600).collect()
    }

    fn hour_of(entry: &SnapshotEntry) -> i64 {
        hours(std::slice::from_ref(entry))[0]
    }

    #[test]
    fn list_is_oldest_first_and_names_unreadable_snapshots() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        for hour in [2, 0, 3, 1] {
            store(&repo, snapshot_with(hour, "h", &[]));
        }
        // Two taken in the same second are ordered by id.
        let twin_a = store(&repo, snapshot_with(1, "other", &[]));
        let twin_b = store(&repo, snapshot_with(1, "third", &[]));
        let damaged = store(&repo, snapshot_with(4, "h", &[]));
        flip_byte(&repo.backend().local_path(FileKind::Snapshot, &damaged.id).unwrap(), 0);

        let (all, problems) = list(&repo).unwrap();
        assert_eq!(hours(&all), [0, 1, 1, 1, 2, 3]);
        let same_second: Vec<Id> = all[1..4].iter().map(|e| e.id).collect();
        let mut sorted = same_second.clone();
        sorted.sort();
        assert_eq!(same_second, sorted);
        assert!(same_second.contains(&twin_a.id) && same_second.contains(&twin_b.id));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with(&format!("snapshot {}", damaged.id)), "{problems:?}");
    }

    #[test]
    fn filter_by_host_tags_and_paths_hides_restore_snapshots() {
        let s = Snapshot {
            paths: vec![b"/home/u/work"[..].to_vec().into(), b"/etc"[..].to_vec().into()],
            ..snapshot_with(0, "h", &["daily", "x"])
        };
        let host = |h: &str| Filter { host: Some(h.into()), ..Filter::default() };
        let tags = |t: &[&str]| Filter { tags: t.iter().map(|t| t.to_string()).collect(), ..Filter::default() };
        let paths = |p: &[&str]| Filter { paths: p.iter().map(PathBuf::from).collect(), ..Filter::default() };
        assert!(Filter::default().matches(&s));
        assert!(host("h").matches(&s));
        assert!(!host("H").matches(&s));
        assert!(tags(&["daily"]).matches(&s) && tags(&["x", "daily"]).matches(&s));
        assert!(!tags(&["daily", "weekly"]).matches(&s), "every tag is required");
        assert!(paths(&["/home/u/work"]).matches(&s));
        assert!(paths(&["/home/u/work/deep/file", "/etc/hosts"]).matches(&s));
        assert!(!paths(&["/home/u"]).matches(&s), "above the snapshot's paths");
        assert!(!paths(&["/home/u/workshop"]).matches(&s), "a longer name is not inside");
        assert!(!paths(&["/etc", "/var"]).matches(&s), "every path must be inside");

        let preserve = snapshot_with(1, "h", &[PRESERVE_TAG]);
        assert!(!Filter::default().matches(&preserve));
        assert!(!host("h").matches(&preserve));
        assert!(tags(&[PRESERVE_TAG]).matches(&preserve));
    }

    #[test]
    fn latest_forms_count_matching_snapshots_back_from_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        assert!(matches!(resolve(&repo, "latest"), Err(Error::NoSnapshots)));
        store(&repo, snapshot_with(0, "a", &[]));
        store(&repo, snapshot_with(1, "b", &[]));
        store(&repo, snapshot_with(2, "a", &[]));
        store(&repo, snapshot_with(3, "a", &[PRESERVE_TAG]));
        let hour = |r: &str, f: &Filter| resolve_filtered(&repo, r, f).map(|e| hour_of(&e));
        let all = Filter::default();
        let host_a = Filter { host: Some("a".into()), ..Filter::default() };
        assert_eq!(hour("latest", &all).unwrap(), 2, "restore snapshots are passed over");
        assert_eq!(hour("latest~0", &all).unwrap(), 2);
        assert_eq!(hour("latest~1", &all).unwrap(), 1);
        assert_eq!(hour("latest~2", &all).unwrap(), 0);
        assert_eq!(hour("latest~1", &host_a).unwrap(), 0, "only matching snapshots count");
        let preserve = Filter { tags: vec![PRESERVE_TAG.into()], ..Filter::default() };
        assert_eq!(hour("latest", &preserve).unwrap(), 3);
        assert_eq!(resolve(&repo, "latest~1").map(|e| hour_of(&e)).unwrap(), 1);

        match hour("latest~3", &all) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("only 3 snapshots match, so latest~2"), "{m}"),
            other => panic!("{other:?}"),
        }
        match hour("latest~2", &host_a) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("only 2 snapshots match, so latest~1"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(hour(&format!("latest~{}", u64::MAX), &all), Err(Error::InvalidArgument(_))));
        for bad in ["latest~", "latest~x", "latest~-1", "latest-1", "latestx", "latest~1~1"] {
            assert!(matches!(hour(bad, &all), Err(Error::InvalidArgument(_))), "{bad}");
        }
        let nobody = Filter { host: Some("nobody".into()), ..Filter::default() };
        assert!(matches!(hour("latest", &nobody), Err(Error::NoSnapshots)));
    }

    #[test]
    fn ids_resolve_by_unique_prefix_of_at_least_four_digits() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        let one = store(&repo, snapshot_with(0, "h", &[]));
        let two = store(&repo, snapshot_with(1, "h", &[]));
        let hex = one.id.to_hex();
        assert_ne!(hex[..4], two.id.to_hex()[..4], "pick other fixtures: these ids share a prefix");
        let id = |r: &str| resolve(&repo, r).map(|e| e.id);
        assert_eq!(id(&hex).unwrap(), one.id);
        assert_eq!(id(&hex[..4]).unwrap(), one.id);
        assert_eq!(id(&hex[..4].to_uppercase()).unwrap(), one.id);
        assert_eq!(id(&two.id.to_hex()[..10]).unwrap(), two.id);
        assert_eq!(resolve(&repo, &hex).unwrap().snapshot, one.snapshot);
        for bad in ["", "abc", "xyz1", "12 4", "ab-cd"] {
            assert!(matches!(id(bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
        assert!(matches!(id(&format!("{hex}0")), Err(Error::InvalidArgument(_))), "65 digits");
        let unused = (0..=0xffffu32)
            .map(|n| format!("{n:04x}"))
            .find(|p| !hex.starts_with(p) && !two.id.to_hex().starts_with(p))
            .unwrap();
        assert!(matches!(id(&unused), Err(Error::SnapshotNotFound(_))));

        // A third snapshot file whose name shares the first six digits.
        let seventh = if &hex[6..7] == "0" { "1" } else { "0" };
        let twin = format!("{}{seventh}{}", &hex[..6], "0".repeat(57));
        std::fs::write(repo.path().join("snapshots").join(&twin), b"not a snapshot").unwrap();
        assert!(matches!(id(&hex[..4]), Err(Error::AmbiguousSnapshot(_))));
        assert!(matches!(id(&hex[..6]), Err(Error::AmbiguousSnapshot(_))));
        assert_eq!(id(&hex[..7]).unwrap(), one.id);
        assert!(matches!(id(&twin), Err(Error::Corrupt { .. })), "found by name, refused by contents");
    }

    #[test]
    fn at_or_before_takes_the_newest_not_after_the_moment() {
        let root = Id([1; 32]);
        let mut sorted = vec![entry(0, &["/w"], root), entry(1, &["/w"], root), entry(2, &["/w"], root)];
        sorted[2].snapshot.time.nanos = 500;
        let at = |hour: i64, nanos: u32| Timestamp {
            unix_seconds: 1_748_736_000 + hour * 3600,
            nanos,
            // The offset a time was written in does not move it.
            offset_seconds: 7200,
        };
        let pick = |t: Timestamp| at_or_before(&sorted, &t).map(hour_of);
        assert_eq!(pick(at(0, 0)).unwrap(), 0, "exactly at a snapshot");
        assert_eq!(pick(at(1, 999_999_999)).unwrap(), 1);
        assert_eq!(pick(at(2, 499)).unwrap(), 1, "nanoseconds count");
        assert_eq!(pick(at(2, 500)).unwrap(), 2);
        assert_eq!(pick(at(100, 0)).unwrap(), 2);
        match pick(at(-1, 0)) {
            Err(Error::NoSnapshotAt { earliest, latest, .. }) => {
                assert!(earliest.contains(&sorted[0].id.short()), "{earliest}");
                assert!(latest.contains(&sorted[2].id.short()), "{latest}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(at_or_before(&[], &at(0, 0)), Err(Error::NoSnapshots)));
    }

    #[test]
    fn select_by_time_among_matching_snapshots() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo(tmp.path());
        store(&repo, snapshot_with(0, "a", &[]));
        store(&repo, snapshot_with(1, "b", &[]));
        store(&repo, snapshot_with(2, "a", &[PRESERVE_TAG]));
        let at = Selector::At(Timestamp { unix_seconds: 1_748_736_000 + 2 * 3600, nanos: 0, offset_seconds: 0 });
        assert_eq!(hour_of(&select(&repo, &at, &Filter::default()).unwrap()), 1);
        let host_a = Filter { host: Some("a".into()), ..Filter::default() };
        assert_eq!(hour_of(&select(&repo, &at, &host_a).unwrap()), 0);
        let latest = Selector::Reference("latest".into());
        assert_eq!(hour_of(&select(&repo, &latest, &host_a).unwrap()), 0);
    }

    #[test]
    fn parent_has_the_same_host_and_paths_and_is_no_restore_snapshot() {
        let root = Id([1; 32]);
        let with = |hour, host: &str, paths: &[&str], tags: &[&str]| {
            let mut e = entry(hour, paths, root);
            e.snapshot.host = host.into();
            e.snapshot.tags = tags.iter().map(|t| t.to_string()).collect();
            e
        };
        let all = vec![
            with(0, "h", &["/a"], &[]),
            with(1, "h", &["/a", "/b"], &[]),
            with(2, "other", &["/a"], &[]),
            with(3, "h", &["/a"], &[PRESERVE_TAG]),
            with(4, "h", &["/a/sub"], &[]),
        ];
        let parent = |host: &str, paths: &[&str]| {
            let paths: Vec<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
            find_parent(&all, host, &paths).map(hour_of)
        };
        assert_eq!(parent("h", &["/a"]), Some(0));
        assert_eq!(parent("h", &["/a", "/b"]), Some(1));
        assert_eq!(parent("h", &["/b"]), None);
        assert_eq!(parent("other", &["/a"]), Some(2));
        assert_eq!(parent("x", &["/a"]), None);
    }
}
