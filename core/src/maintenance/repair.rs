//! `repair index`: rebuilds the index from pack headers.
//!
//! Packs that no readable index file lists have their headers read
//! (`repo::rebuild`) and written into new index files. Only then, once
//! those are durable, are the index files that failed their checksum or
//! decoding removed. A readable index file is never removed or rewritten
//! (its entries may name packs that are gone, which only `check` can say
//! what to do about), nor is one that could not be read for another reason
//! (an I/O error, a newer version): its entries cannot be re-derived here.

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::index_files::bounded_index_files;
use crate::repo::rebuild;

#[derive(Debug, Default)]
pub struct RepairReport {
    /// Index files that are damaged and removed (or, in a dry run, would be).
    pub damaged_indexes: Vec<(Id, String)>,
    /// Index files that could not be read for another reason; left alone.
    pub unreadable_indexes: Vec<(Id, String)>,
    /// Packs whose headers are now indexed (or would be), and their blobs.
    pub packs_indexed: usize,
    pub blobs_indexed: usize,
    /// Packs no index lists whose header cannot be read; left alone.
    pub unreadable_packs: Vec<(Id, String)>,
    /// How many new index files those packs take (or would).
    pub index_files: usize,
    /// The new index files (empty in a dry run).
    pub written: Vec<Id>,
}

/// Rebuilds the index from pack headers; with `dry_run`, only says what
/// it would do.
pub fn repair_index(repo: &Repository, dry_run: bool) -> Result<RepairReport> {
    if !dry_run {
        // Repairing replaces index files: it deletes the old ones.
        repo.refuse_if_append_only()?;
    }
    let mut report = RepairReport::default();
    // The index as the files say now, not as when the repository was opened.
    repo.refresh_index()?;
    for (id, _) in repo.backend().list(FileKind::Index)? {
        match repo.read_index_file(&id) {
            Ok(_) => {}
            Err(e @ Error::Corrupt { .. }) => report.damaged_indexes.push((id, e.to_string())),
            Err(e) => report.unreadable_indexes.push((id, e.to_string())),
        }
    }
    let reading = rebuild::read_headers(repo, &rebuild::unindexed_packs(repo)?);
    report.packs_indexed = reading.packs.len();
    report.blobs_indexed = reading.packs.iter().map(|p| p.entries.len()).sum();
    report.unreadable_packs = reading.unreadable.iter().map(|(id, e)| (*id, e.to_string())).collect();
    let files = bounded_index_files(reading.packs);
    report.index_files = files.len();
    if dry_run {
        return Ok(report);
    }
    let damaged: Vec<Id> = report.damaged_indexes.iter().map(|(id, _)| *id).collect();
    let mut removed: Vec<Id> = Vec::new();
    for file in files {
        let bytes = repo.seal_index_file(&file)?;
        // Without encryption the rebuilt file can be byte for byte the one
        // that was damaged, so it has the damaged file's name, and writing
        // it would find the name taken and keep the damaged bytes. That one
        // goes first: it was unreadable, so nothing is lost meanwhile.
        let id = Id::of_file_bytes(&bytes);
        if damaged.contains(&id) {
            repo.backend().remove(FileKind::Index, &id)?;
            removed.push(id);
        }
        report.written.push(repo.backend().write(FileKind::Index, &bytes)?);
    }
    // Every new index file is durable (the backend syncs before naming it):
    // only now can the damaged ones go.
    for id in damaged.iter().filter(|id| !removed.contains(id)) {
        repo.backend().remove(FileKind::Index, id)?;
    }
    repo.refresh_index()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlobKind;
    use crate::test_fixtures::*;

    fn index_files(r: &Repository) -> Vec<Id> {
        r.backend().list(FileKind::Index).unwrap().into_iter().map(|(id, _)| id).collect()
    }

    #[test]
    fn a_damaged_index_is_rebuilt_from_pack_headers_and_then_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let r = repo(tmp.path());
        let root = tree(&r, vec![file(&r, "x", "some text"), file(&r, "y", "more text")]);
        store(&r, snapshot(0, &["/x", "/y"], root));
        let files = index_files(&r);
        let damaged = files[0];
        flip_byte(&r.backend().local_path(FileKind::Index, &damaged).unwrap(), 0);
        let opened = Repository::open(r.path(), None).unwrap();
        let lost = rebuild::unindexed_packs(&opened).unwrap().len();
        assert!(lost > 0);

        let dry = repair_index(&opened, true).unwrap();
        assert_eq!(dry.damaged_indexes.len(), 1);
        assert_eq!(dry.packs_indexed, lost);
        assert!(dry.written.is_empty());
        assert_eq!(index_files(&opened), files, "a dry run changes nothing");

        let done = repair_index(&opened, false).unwrap();
        assert_eq!((done.packs_indexed, done.written.len()), (lost, 1));
        let now = index_files(&opened);
        // Unencrypted, the rebuilt index is the very file that was damaged,
        // under the same name: written anew, not kept damaged.
        assert_eq!(now.len(), files.len(), "{now:?} {done:?}");
        assert!(now.contains(&done.written[0]));
        assert!(opened.read_index_file(&done.written[0]).is_ok());
        let reopened = Repository::open(r.path(), None).unwrap();
        assert!(reopened.index_problems().is_empty(), "{:?}", reopened.index_problems());
        assert!(reopened.load_tree(&root).is_ok());
        // Nothing left to do.
        let again = repair_index(&reopened, false).unwrap();
        assert_eq!((again.packs_indexed, again.damaged_indexes.len(), again.written.len()), (0, 0, 0));
    }

    #[test]
    fn readers_find_unindexed_blobs_in_pack_headers_and_say_so() {
        let tmp = tempfile::tempdir().unwrap();
        let r = repo(tmp.path());
        let root = tree(&r, vec![file(&r, "x", "some text")]);
        for id in index_files(&r) {
            std::fs::remove_file(r.backend().local_path(FileKind::Index, &id).unwrap()).unwrap();
        }
        let opened = Repository::open(r.path(), None).unwrap();
        assert!(opened.locate(BlobKind::Tree, &root).is_none());
        assert!(opened.header_scan_note().is_none());
        assert!(opened.load_tree(&root).is_ok());
        let note = opened.header_scan_note().unwrap();
        assert!(note.starts_with("1 blob in no index"), "{note}");
        // The saver is not fooled: the blob counts as not stored.
        assert!(!opened.is_indexed(BlobKind::Tree, &root));
    }
}
