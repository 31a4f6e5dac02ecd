//! `cairn copy`: snapshots of one repository copied into another, with
//! any backends, passwords and keys on either side.
//!
//! - **Which snapshots.** A source snapshot is skipped when the destination
//!   has a snapshot whose id or `original` equals the source's id or
//!   `original` (format-spec §10): a copy records the id of the snapshot
//!   first taken, so copying again, or copying a copy back, adds nothing.
//! - **Which blobs.** When both repositories name blobs alike (the same
//!   blob-id key: `init --copy-chunker-params`, or both unencrypted), a blob
//!   keeps its id and only those the destination lacks are copied; a tree
//!   the destination holds is skipped with everything below it, and trees
//!   are stored unchanged. Otherwise every blob is re-identified with the
//!   destination's key and the trees are rewritten (`rewrite.rs`), memoised
//!   for the run. Either way every blob is opened, verified against its id,
//!   and sealed again under the destination's keys.
//! - **Kill safety.** Each snapshot goes through the destination's
//!   `BlobSaver`, like a snapshot run: its packs, then one index file, then
//!   the manifest. A copy killed part way leaves packs no index lists
//!   (prune removes them) and no manifest, and the next copy starts that
//!   snapshot again.

mod blobs;
mod rewrite;

use std::collections::HashMap;

use serde::Serialize;

use crate::error::Result;
use crate::format::{Snapshot, Timestamp};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::snapshots::{self, SnapshotEntry};

/// What to copy.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Snapshot references in the source (`latest`, ids, prefixes); empty:
    /// every snapshot.
    pub snapshots: Vec<String>,
    /// Count what would be copied, write nothing.
    pub dry_run: bool,
}

/// One snapshot copied (or, in a dry run, to be copied).
#[derive(Clone, Debug, Serialize)]
pub struct CopiedSnapshot {
    /// Its id in the source.
    pub source: Id,
    /// Its id in the destination; `None` in a dry run.
    pub copy: Option<Id>,
    pub time: Timestamp,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    /// Bytes of new pack files (0 in a dry run).
    pub bytes_added: u64,
    /// Plaintext bytes of the data blobs copied.
    pub raw_bytes: u64,
}

/// What a copy did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CopyReport {
    pub copied: Vec<CopiedSnapshot>,
    /// Source snapshots the destination had already (by id or original).
    pub already_present: Vec<Id>,
    /// Whether the repositories name blobs alike (copied by id, trees unchanged).
    pub same_blob_ids: bool,
    /// Unreadable source snapshot files, skipped (one line each).
    pub problems: Vec<String>,
}

/// Progress of a copy, for the command line.
#[derive(Clone, Debug)]
pub enum CopyEvent<'a> {
    /// About to copy this source snapshot (number `index` of `total`).
    Starting { index: usize, total: usize, source: &'a Id },
    /// This source snapshot is copied.
    Copied(&'a CopiedSnapshot),
}

/// Whether two repositories give the same bytes the same blob id (and so
/// can share blobs and trees unchanged).
pub fn same_blob_ids(src: &Repository, dst: &Repository) -> bool {
    let probe = b"cairn copy: do both repositories name blobs alike?";
    src.keys().blob_id(probe) == dst.keys().blob_id(probe)
}

/// The id a snapshot is known by across copies: its `original`, or its own.
fn first_id(entry: &SnapshotEntry) -> Id {
    entry.snapshot.original.unwrap_or(entry.id)
}

/// Copies the snapshots `opts` name from `src` into `dst` (opened to write,
/// registered as a writer), oldest first.
pub fn copy(
    src: &Repository,
    dst: &Repository,
    opts: &CopyOptions,
    progress: &mut dyn FnMut(CopyEvent<'_>),
) -> Result<CopyReport> {
    let (all, problems) = snapshots::list(src)?;
    let mut chosen = if opts.snapshots.is_empty() {
        all.clone()
    } else {
        let mut picked: Vec<SnapshotEntry> = Vec::new();
        for reference in &opts.snapshots {
            let entry = snapshots::resolve(src, reference)?;
            if !picked.iter().any(|p| p.id == entry.id) {
                picked.push(entry);
            }
        }
        picked
    };
    chosen.sort_by(|a, b| a.snapshot.time.cmp(&b.snapshot.time).then(a.id.cmp(&b.id)));
    // Listing the destination's snapshots also makes its index current
    // enough for the blobs they need (read again on a miss).
    let (present, _) = snapshots::list(dst)?;
    // Every id a destination snapshot is known by → its id there.
    let mut known: HashMap<Id, Id> = HashMap::new();
    for entry in &present {
        known.insert(entry.id, entry.id);
        known.insert(first_id(entry), entry.id);
    }
    let by_id: HashMap<Id, &SnapshotEntry> = all.iter().map(|e| (e.id, e)).collect();
    let same = same_blob_ids(src, dst);
    let mut report = CopyReport { same_blob_ids: same, problems, ..CopyReport::default() };
    let (to_copy, already): (Vec<_>, Vec<_>) =
        chosen.into_iter().partition(|e| !known.contains_key(&e.id) && !known.contains_key(&first_id(e)));
    report.already_present = already.iter().map(|e| e.id).collect();
    let mut memo = rewrite::Memo::default();
    let total = to_copy.len();
    for (index, entry) in to_copy.iter().enumerate() {
        progress(CopyEvent::Starting { index, total, source: &entry.id });
        // A source listed twice under different ids (a copy and its
        // original both in the source) is copied once.
        if known.contains_key(&first_id(entry)) {
            report.already_present.push(entry.id);
            continue;
        }
        let parent = entry.snapshot.parent.and_then(|p| {
            let first = by_id.get(&p).map_or(p, |e| first_id(e));
            known.get(&first).copied()
        });
        let copied = copy_one(src, dst, entry, parent, same, &mut memo, opts.dry_run)?;
        if let Some(id) = copied.copy {
            known.insert(id, id);
            known.insert(first_id(entry), id);
        } else {
            // A dry run: later sources with the same original are not counted twice.
            known.insert(first_id(entry), entry.id);
        }
        progress(CopyEvent::Copied(&copied));
        report.copied.push(copied);
    }
    Ok(report)
}

/// Copies one snapshot: its blobs (packs, then the index), then the manifest.
fn copy_one(
    src: &Repository,
    dst: &Repository,
    entry: &SnapshotEntry,
    parent: Option<Id>,
    same: bool,
    memo: &mut rewrite::Memo,
    dry_run: bool,
) -> Result<CopiedSnapshot> {
    let mut copied = CopiedSnapshot {
        source: entry.id,
        copy: None,
        time: entry.snapshot.time,
        data_blobs: 0,
        tree_blobs: 0,
        bytes_added: 0,
        raw_bytes: 0,
    };
    let walk = blobs::walk(src, dst, &entry.snapshot.tree, same, memo)?;
    copied.raw_bytes = walk.raw_bytes(src);
    if dry_run {
        copied.data_blobs = walk.data.len() as u64;
        copied.tree_blobs = walk.trees.len() as u64;
        return Ok(copied);
    }
    let saver = dst.saver().without_tree_cache();
    blobs::copy_data(src, dst, &saver, &walk.data, same, memo)?;
    let tree = if same {
        blobs::copy_trees_unchanged(&saver, &walk)?;
        entry.snapshot.tree
    } else {
        rewrite::rewrite_trees(&saver, &walk, &entry.snapshot.tree, memo)?
    };
    // Packs, then their index: only then the manifest that needs them.
    let stats = saver.finish()?;
    copied.data_blobs = stats.data_blobs;
    copied.tree_blobs = stats.tree_blobs;
    copied.bytes_added = stats.bytes_added;
    let snapshot = copy_of(&entry.snapshot, entry.id, tree, parent);
    copied.copy = Some(dst.save_snapshot(&snapshot)?);
    Ok(copied)
}

/// The manifest of a copy of `source` (id `source_id`) whose root tree is
/// `tree` in the destination: version 3, naming the first snapshot.
pub fn copy_of(source: &Snapshot, source_id: Id, tree: Id, parent: Option<Id>) -> Snapshot {
    Snapshot { version: 3, tree, parent, original: Some(source.original.unwrap_or(source_id)), ..source.clone() }
}

#[cfg(test)]
mod tests;
