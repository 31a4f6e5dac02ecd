//! Trees rewritten for a destination that names blobs differently: every
//! data blob id and subtree id replaced by the destination's id of the same
//! plaintext, children before their parents. The mapping is kept for the
//! whole run (`Memo`), so a tree or blob shared by many snapshots is read
//! and stored once per run.

use std::collections::HashMap;

use super::blobs::Walk;
use crate::error::{Error, Result};
use crate::format::{NodeKind, Tree};
use crate::id::Id;
use crate::repo::BlobSaver;

/// Source id → destination id, for data blobs and trees copied in this run.
#[derive(Default)]
pub(super) struct Memo {
    pub data: HashMap<Id, Id>,
    pub trees: HashMap<Id, Id>,
}

/// Stores the rewritten trees below `root` (all in `walk` or `memo`) and
/// returns the destination's id of the root.
pub(super) fn rewrite_trees(saver: &BlobSaver<'_>, walk: &Walk, root: &Id, memo: &mut Memo) -> Result<Id> {
    // Post-order with an explicit stack: (tree, its children pushed yet).
    let mut stack = vec![(*root, false)];
    while let Some((id, expanded)) = stack.pop() {
        if memo.trees.contains_key(&id) {
            continue;
        }
        let (tree, _) = walk.trees.get(&id).ok_or_else(|| missing("tree", &id))?;
        if !expanded {
            stack.push((id, true));
            for node in &tree.nodes {
                if let NodeKind::Dir { subtree } = &node.kind
                    && !memo.trees.contains_key(subtree)
                {
                    stack.push((*subtree, false));
                }
            }
            continue;
        }
        let rewritten = rewrite(tree, memo)?;
        let new_id = saver.save_tree(&rewritten)?;
        memo.trees.insert(id, new_id);
    }
    memo.trees.get(root).copied().ok_or_else(|| missing("tree", root))
}

/// `tree` with every id replaced by the destination's.
fn rewrite(tree: &Tree, memo: &Memo) -> Result<Tree> {
    let mut out = tree.clone();
    for node in &mut out.nodes {
        match &mut node.kind {
            NodeKind::File { content, .. } => {
                for blob in content.iter_mut() {
                    *blob = *memo.data.get(blob).ok_or_else(|| missing("data blob", blob))?;
                }
            }
            NodeKind::Dir { subtree } => {
                *subtree = *memo.trees.get(subtree).ok_or_else(|| missing("tree", subtree))?;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn missing(what: &str, id: &Id) -> Error {
    Error::Internal(format!("copy: the {what} {id} was neither copied nor walked"))
}
