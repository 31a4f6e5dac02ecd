//! Finding what a snapshot's copy needs (the trees below its root and the
//! data blobs they name that the destination lacks) and copying data blobs
//! on several threads: each opened from the source, verified against its
//! id, and saved through the destination's `BlobSaver`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::rewrite::Memo;
use crate::error::{Error, Result};
use crate::format::{BlobKind, NodeKind, Tree};
use crate::id::Id;
use crate::repo::{BlobSaver, Repository};

/// What one snapshot's copy must store.
pub(super) struct Walk {
    /// Source data blobs to copy, each once, in pack order of the source.
    pub data: Vec<Id>,
    /// Source trees to copy (or rewrite), with their stored plaintext.
    pub trees: HashMap<Id, (Tree, Vec<u8>)>,
}

impl Walk {
    /// Plaintext bytes of the data blobs to copy (as the source's index says).
    pub fn raw_bytes(&self, src: &Repository) -> u64 {
        self.data.iter().filter_map(|id| src.locate(BlobKind::Data, id)).map(|l| u64::from(l.raw_length)).sum()
    }
}

/// Walks the trees below `root` in `src`. With the same blob ids (`same`)
/// a tree or data blob the destination holds is skipped (a tree with all
/// below it: it was stored after its subtrees, format-spec §11);
/// otherwise what this run already copied (`memo`) is.
pub(super) fn walk(src: &Repository, dst: &Repository, root: &Id, same: bool, memo: &Memo) -> Result<Walk> {
    let tree_done = |id: &Id| if same { dst.locate_tree(id).is_some() } else { memo.trees.contains_key(id) };
    let data_done = |id: &Id| if same { dst.is_indexed(BlobKind::Data, id) } else { memo.data.contains_key(id) };
    let mut trees = HashMap::new();
    let mut data = Vec::new();
    let mut seen_data = HashSet::new();
    // An explicit stack, not recursion: a hostile source's deep nesting
    // cannot overflow the stack.
    let mut stack = vec![*root];
    while let Some(id) = stack.pop() {
        if trees.contains_key(&id) || tree_done(&id) {
            continue;
        }
        let (tree, raw) = src.load_tree_with_plaintext(&id)?;
        for node in &tree.nodes {
            match &node.kind {
                NodeKind::File { content, .. } => {
                    for blob in content {
                        if !data_done(blob) && seen_data.insert(*blob) {
                            data.push(*blob);
                        }
                    }
                }
                NodeKind::Dir { subtree } => stack.push(*subtree),
                _ => {}
            }
        }
        trees.insert(id, (tree, raw));
    }
    // Read in the order the source stores them: consecutive ranges of the
    // same pack files.
    data.sort_by_cached_key(|id| src.locate(BlobKind::Data, id).map(|l| (l.pack, l.offset)));
    Ok(Walk { data, trees })
}

/// Copies the data blobs `ids` from `src` through `saver`, on a few
/// threads. Without the same blob ids each is re-identified with the
/// destination's key and the new id recorded in `memo`.
pub(super) fn copy_data(
    src: &Repository,
    dst: &Repository,
    saver: &BlobSaver<'_>,
    ids: &[Id],
    same: bool,
    memo: &mut Memo,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let mapped = Mutex::new(Vec::new());
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8).min(ids.len().max(1));
    let work = || {
        let mut mine = Vec::new();
        loop {
            if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                break;
            }
            let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
            let step = src.load_blob(id).and_then(|raw| {
                let new_id = if same { *id } else { dst.keys().blob_id(&raw) };
                saver.save_with_id(BlobKind::Data, new_id, &raw).map(|_| new_id)
            });
            match step {
                Ok(new_id) => mine.push((*id, new_id)),
                Err(e) => {
                    failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                    break;
                }
            }
        }
        mapped.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(work);
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if !same {
        memo.data.extend(mapped.into_inner().unwrap_or_else(|p| p.into_inner()));
    }
    Ok(())
}

/// Stores the walked trees unchanged (the same blob ids on both sides).
pub(super) fn copy_trees_unchanged(saver: &BlobSaver<'_>, walk: &Walk) -> Result<()> {
    for (id, (_, raw)) in &walk.trees {
        saver.save_with_id(BlobKind::Tree, *id, raw)?;
    }
    Ok(())
}
