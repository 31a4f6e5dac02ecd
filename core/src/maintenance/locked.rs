//! Deleting beside Object Lock: a file the storage still retains (an S3
//! bucket's default retention, `Backend::locked_until`) is not deleted but
//! kept and reported, so that prune and forget finish what they may and
//! say what a later run will remove. Nothing else changes: a pack kept so
//! stays unreferenced (the next prune deletes it), an index file kept so
//! keeps its packs indexed, a snapshot kept so stays a snapshot.

use std::time::SystemTime;

use crate::backend::FileKind;
use crate::error::Result;
use crate::id::Id;
use crate::repo::Repository;

/// Files a deletion kept because the storage retains them: id, size (0
/// where unknown) and until when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locked {
    pub files: Vec<(Id, u64, SystemTime)>,
}

impl Locked {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The latest date any of them is retained until.
    pub fn until(&self) -> Option<SystemTime> {
        self.files.iter().map(|(_, _, until)| *until).max()
    }

    /// One line: `kept 12 packs locked until 2027-01-01 (Object Lock): a
    /// later prune removes them`; `None` when nothing was kept.
    pub fn line(&self, one: &str, many: &str, later: &str) -> Option<String> {
        let until = self.until()?;
        let noun = if self.len() == 1 { one } else { many };
        Some(format!("kept {} {noun} locked until {} (Object Lock): {later}", self.len(), date(until)))
    }
}

/// A date as `2027-01-01` (UTC).
pub fn date(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_else(|_| "?".into())
}

/// Removes file `id` unless the storage retains it (`modified`: its time as
/// listed, where known); `Ok(Some(until))` when it was kept.
pub fn remove_unless_locked(
    repo: &Repository,
    kind: FileKind,
    id: &Id,
    modified: Option<SystemTime>,
) -> Result<Option<SystemTime>> {
    if let Some(until) = repo.backend().locked_until(kind, id, modified)? {
        return Ok(Some(until));
    }
    repo.backend().remove(kind, id)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::backend::Backend;
    use crate::backend::faults::FaultyBackend;
    use crate::backend::memory::MemoryBackend;
    use crate::maintenance::{check, forget, prune};
    use crate::test_fixtures::*;

    fn ids(backend: &dyn Backend, kind: FileKind) -> Vec<Id> {
        backend.list(kind).unwrap().into_iter().map(|(id, _)| id).collect()
    }

    /// Forget keeps a retained snapshot; prune keeps retained packs (and
    /// says until when), deletes nothing it must not, and a later prune,
    /// once the retention is over, deletes them.
    #[test]
    fn forget_and_prune_keep_what_the_storage_retains() {
        let until = SystemTime::now() + Duration::from_secs(86_400);
        let faulty = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new())));
        let r = Repository::init_with_backend(faulty.clone(), &init_options(Some(b"pw"))).unwrap();
        let old = store(&r, snapshot(1, &["/w"], tree(&r, vec![file(&r, "a", "only in the old one")])));
        let other = store(&r, snapshot(2, &["/w"], tree(&r, vec![file(&r, "b", "kept")])));
        let packs_before = ids(&*faulty, FileKind::Pack);

        faulty.lock_until(FileKind::Snapshot, old.id, until);
        let removed = forget::remove(&r, &[old.id]).unwrap();
        assert!(removed.removed.is_empty());
        assert_eq!(removed.locked.files, vec![(old.id, 0, until)]);
        assert!(ids(&*faulty, FileKind::Snapshot).contains(&old.id), "still there");

        // The retention of the snapshot is over; every pack is still retained.
        faulty.reset();
        assert_eq!(forget::remove(&r, &[old.id]).unwrap().removed, vec![old.id]);
        for pack in &packs_before {
            faulty.lock_until(FileKind::Pack, *pack, until);
        }
        let report = prune::execute(&r, prune::plan(&r, &Default::default()).unwrap()).unwrap();
        assert!(report.sweep.deleted.is_empty(), "{report:?}");
        assert!(!report.sweep.locked.is_empty(), "{report:?}");
        assert_eq!(report.sweep.locked.until(), Some(until));
        assert_eq!(ids(&*faulty, FileKind::Pack), packs_before, "nothing retained was deleted");
        let read_data = check::CheckOptions { read_data: true, read_subset: None };
        let checked = check::check(&r, read_data).unwrap();
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        assert_eq!(crate::snapshot::snapshots::list(&r).unwrap().0.len(), 1, "{other:?} stays");

        // Later: the retention is over, and the next prune deletes them.
        faulty.reset();
        let report = prune::execute(&r, prune::plan(&r, &Default::default()).unwrap()).unwrap();
        assert!(report.sweep.locked.is_empty());
        assert!(!report.sweep.deleted.is_empty(), "{report:?}");
        let kept = ids(&*faulty, FileKind::Pack);
        assert!(kept.len() < packs_before.len());
    }

    #[test]
    fn the_line_names_the_count_and_the_latest_date() {
        let day = |d: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(d * 86_400);
        let mut locked = Locked::default();
        assert_eq!(locked.line("pack", "packs", "later"), None);
        locked.files.push((Id([1; 32]), 10, day(20_454)));
        assert_eq!(
            locked.line("pack", "packs", "a later prune removes them").unwrap(),
            "kept 1 pack locked until 2026-01-01 (Object Lock): a later prune removes them"
        );
        locked.files.push((Id([2; 32]), 10, day(20_819)));
        assert_eq!(locked.line("pack", "packs", "x").unwrap(), "kept 2 packs locked until 2027-01-01 (Object Lock): x");
    }
}
