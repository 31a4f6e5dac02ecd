//! What the snapshots need: every tree and data blob their trees reach,
//! keyed by `(kind, id)` (R9). Each tree is read once however many
//! snapshots share it, a level of the walk at a time, in parallel.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::format::{BlobKind, NodeKind, Tree};
use crate::id::Id;
use crate::names::escape;
use crate::repo::Repository;

/// No copy chosen yet (see [`Needs::used`]).
pub(super) const NO_COPY: u64 = u64::MAX;

/// Trees loaded at once: bounds the memory of one step of a wide level.
const TREES_PER_BATCH: usize = 1024;

/// Whether the repository's in-memory index lists a blob; on the first miss
/// the index files are read again (R5: snapshots listed after the index was
/// loaded may need blobs of index files written since). Prune keeps no
/// index of its own beside the repository's: it would double the memory.
pub(super) struct Indexed<'r> {
    repo: &'r Repository,
    reloaded: bool,
}

impl<'r> Indexed<'r> {
    pub fn new(repo: &'r Repository) -> Self {
        Indexed { repo, reloaded: false }
    }

    fn contains(&mut self, kind: BlobKind, id: &Id) -> Result<bool> {
        if self.repo.is_indexed(kind, id) {
            return Ok(true);
        }
        if !self.reloaded {
            self.reloaded = true;
            self.repo.refresh_index()?;
            return Ok(self.repo.is_indexed(kind, id));
        }
        Ok(false)
    }
}

/// A blob a snapshot needs that the index does not list.
#[derive(Clone, Debug)]
pub(super) struct MissingBlob {
    pub kind: BlobKind,
    pub blob: Id,
    pub snapshot: Id,
    pub path: String,
}

impl MissingBlob {
    pub fn into_error(self) -> Error {
        Error::PruneBlobMissing { blob: self.blob, snapshot: self.snapshot.short(), path: self.path }
    }
}

#[derive(Default)]
pub(super) struct Needs {
    /// Every blob a snapshot needs, with the copy the plan keeps
    /// (`pack position << 32 | entry position`; [`NO_COPY`] until chosen).
    pub used: HashMap<(BlobKind, Id), u64>,
    /// Trees already walked (by id: a tree's id fixes everything below it).
    pub visited: HashSet<Id>,
    /// The snapshots walked.
    pub snapshots: HashSet<Id>,
}

/// One tree to read: its id, the snapshot that led here and the path.
struct Pending {
    tree: Id,
    snapshot: Id,
    path: String,
}

impl Needs {
    /// Adds what the snapshots `roots` (snapshot id, root tree) need. A
    /// blob `index` does not list is pushed to `missing` (a tree is still
    /// read when some pack header has it, so that what it needs is known).
    pub fn walk(
        &mut self,
        repo: &Repository,
        index: &mut Indexed,
        roots: &[(Id, Id)],
        missing: &mut Vec<MissingBlob>,
    ) -> Result<()> {
        let mut level: Vec<Pending> = Vec::new();
        for (snapshot, tree) in roots {
            if self.snapshots.insert(*snapshot) {
                level.push(Pending { tree: *tree, snapshot: *snapshot, path: String::new() });
            }
        }
        while !level.is_empty() {
            let mut next = Vec::new();
            let fresh: Vec<Pending> = level.into_iter().filter(|p| self.visited.insert(p.tree)).collect();
            for batch in fresh.chunks(TREES_PER_BATCH) {
                let trees: Vec<Result<Tree>> = batch.par_iter().map(|p| repo.load_tree(&p.tree)).collect();
                for (pending, tree) in batch.iter().zip(trees) {
                    let indexed = self.record_tree(index, pending, missing)?;
                    let tree = match tree {
                        // Recorded as missing: said once, by the caller.
                        Err(_) if !indexed => continue,
                        other => other,
                    };
                    let tree = tree.map_err(|e| {
                        Error::PruneRefused(format!(
                            "tree {} (snapshot {} at {}) could not be read: {e}",
                            pending.tree,
                            pending.snapshot.short(),
                            shown(&pending.path)
                        ))
                    })?;
                    for node in tree.nodes {
                        let path = format!("{}/{}", pending.path, escape(&node.name));
                        match node.kind {
                            NodeKind::Dir { subtree } => {
                                next.push(Pending { tree: subtree, snapshot: pending.snapshot, path });
                            }
                            NodeKind::File { content, .. } => {
                                for blob in content {
                                    if !index.contains(BlobKind::Data, &blob)? {
                                        missing.push(MissingBlob {
                                            kind: BlobKind::Data,
                                            blob,
                                            snapshot: pending.snapshot,
                                            path: path.clone(),
                                        });
                                    }
                                    self.used.entry((BlobKind::Data, blob)).or_insert(NO_COPY);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            level = next;
        }
        Ok(())
    }

    /// The tree itself is needed: as a tree blob, or else (trees written
    /// before R9) as a data blob of the same id.
    /// Returns whether the index lists it.
    fn record_tree(&mut self, index: &mut Indexed, pending: &Pending, missing: &mut Vec<MissingBlob>) -> Result<bool> {
        let kind = if index.contains(BlobKind::Tree, &pending.tree)? {
            BlobKind::Tree
        } else if index.contains(BlobKind::Data, &pending.tree)? {
            BlobKind::Data
        } else {
            missing.push(MissingBlob {
                kind: BlobKind::Tree,
                blob: pending.tree,
                snapshot: pending.snapshot,
                path: shown(&pending.path),
            });
            // Needed all the same: the plan may find it in an unindexed
            // pack's header and keep that pack (recover.rs).
            self.used.entry((BlobKind::Tree, pending.tree)).or_insert(NO_COPY);
            return Ok(false);
        };
        self.used.entry((kind, pending.tree)).or_insert(NO_COPY);
        Ok(true)
    }
}

/// The root folder is shown as `/`.
fn shown(path: &str) -> String {
    if path.is_empty() { String::from("/") } else { path.to_string() }
}
