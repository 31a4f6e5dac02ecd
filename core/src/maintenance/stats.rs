//! `stats`: how big the repository is and how well it deduplicates. The
//! unused bytes (what a prune could give back) come from the index files
//! and a walk of every snapshot's trees; no pack is read.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::backend::FileKind;
use crate::error::Result;
use crate::format::{BlobKind, NodeKind};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::snapshots::{self, PRESERVE_TAG};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub snapshots: u64,
    /// Sum over all snapshots of the bytes of their files (what restoring
    /// every snapshot would write).
    pub restore_size: u64,
    /// The same for the latest snapshot alone.
    pub latest_restore_size: u64,
    /// Bytes of all pack files.
    pub stored_size: u64,
    /// `restore_size / stored_size` (0 for an empty repository).
    pub deduplication_ratio: f64,
    pub packs: u64,
    /// Distinct blobs in the index.
    pub blobs: u64,
    /// Bytes in packs that no snapshot needs: blobs no snapshot references,
    /// second copies of blobs, pack headers of packs holding nothing
    /// needed, and packs no index lists.
    pub unused_size: u64,
    pub index_files: u64,
    /// Snapshot files and index files that could not be read.
    pub problems: Vec<String>,
}

/// What `cairn status` shows of a repository, cheaply: the snapshot files
/// (small) and the pack listing (names and sizes), no pack read.
#[derive(Debug, Default, Serialize)]
pub struct Overview {
    pub snapshots: u64,
    pub packs: u64,
    /// Bytes of all pack files.
    pub stored_size: u64,
}

pub fn overview(repo: &Repository) -> Result<Overview> {
    let packs = repo.backend().list(FileKind::Pack)?;
    Ok(Overview {
        snapshots: repo.list_snapshot_files()?.len() as u64,
        packs: packs.len() as u64,
        stored_size: packs.iter().map(|(_, size)| size).sum(),
    })
}

pub fn stats(repo: &Repository) -> Result<Stats> {
    let (all, mut problems) = snapshots::list(repo)?;
    repo.refresh_index()?;
    let mut s = Stats { snapshots: all.len() as u64, ..Stats::default() };
    s.restore_size = all.iter().map(|e| e.snapshot.summary.total_bytes).sum();
    s.latest_restore_size = all
        .iter()
        .rev()
        .find(|e| !e.snapshot.tags.iter().any(|t| t == PRESERVE_TAG))
        .map_or(0, |e| e.snapshot.summary.total_bytes);

    let packs = repo.backend().list(FileKind::Pack)?;
    s.packs = packs.len() as u64;
    s.stored_size = packs.iter().map(|(_, size)| size).sum();
    s.deduplication_ratio = if s.stored_size == 0 { 0.0 } else { s.restore_size as f64 / s.stored_size as f64 };

    let used = referenced_blobs(repo, &all.iter().map(|e| e.snapshot.tree).collect::<Vec<_>>())?;

    // Walk every index file's entries: the first copy of a referenced blob
    // is used; everything else in an indexed pack is not.
    let index_files = repo.backend().list(FileKind::Index)?;
    s.index_files = index_files.len() as u64;
    let mut counted: HashSet<(BlobKind, Id)> = HashSet::new();
    let mut blobs: HashSet<(BlobKind, Id)> = HashSet::new();
    // Per indexed pack: bytes of blobs a snapshot needs, and of the others.
    let mut per_pack: HashMap<Id, (u64, u64)> = HashMap::new();
    for (id, _) in index_files {
        let file = match repo.read_index_file(&id) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("index {id}: {e}"));
                continue;
            }
        };
        for pack in file.packs {
            if per_pack.contains_key(&pack.pack) {
                continue; // listed by an earlier index file too
            }
            let slot = per_pack.entry(pack.pack).or_default();
            for e in pack.entries {
                let key = (e.kind, e.id);
                blobs.insert(key);
                if used.contains(&key) && counted.insert(key) {
                    slot.0 += u64::from(e.length);
                } else {
                    slot.1 += u64::from(e.length);
                }
            }
        }
    }
    s.blobs = blobs.len() as u64;
    // A pack nothing needs is unused whole (header included), and so is a
    // pack no index lists (left by a killed run); in a pack still needed,
    // only the blobs nobody needs.
    s.unused_size = packs
        .iter()
        .map(|(id, size)| match per_pack.get(id) {
            Some((used, unused)) if *used > 0 => *unused,
            _ => *size,
        })
        .sum();
    s.problems = problems;
    Ok(s)
}

/// Every (kind, id) a snapshot's trees reach, trees included.
fn referenced_blobs(repo: &Repository, roots: &[Id]) -> Result<HashSet<(BlobKind, Id)>> {
    let mut used = HashSet::new();
    let mut seen_trees = HashSet::new();
    let mut stack: Vec<Id> = roots.to_vec();
    while let Some(tree_id) = stack.pop() {
        if !seen_trees.insert(tree_id) {
            continue;
        }
        // A tree written by an older cairn may be indexed as a data blob.
        let kind = repo.locate_tree(&tree_id).map_or(BlobKind::Tree, |loc| loc.kind);
        used.insert((kind, tree_id));
        let tree = repo.load_tree(&tree_id)?;
        for node in tree.nodes {
            match node.kind {
                NodeKind::Dir { subtree } => stack.push(subtree),
                NodeKind::File { content, .. } => used.extend(content.into_iter().map(|id| (BlobKind::Data, id))),
                _ => {}
            }
        }
    }
    Ok(used)
}
