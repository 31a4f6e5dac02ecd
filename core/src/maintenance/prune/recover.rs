//! Needed blobs that no index lists, found again in the headers of the
//! packs in `data/` that no index lists.
//!
//! They are legitimate, not damage: a prune whose sweep waited for a live
//! snapshot run (P6 step 2) leaves the packs it unlisted in `data/`, and
//! that run may have deduplicated against them (its index was read before
//! the prune) and then committed. The sweep that waited never sees that
//! snapshot; the next prune's plan does, and indexes those packs again
//! instead of refusing (format-spec §6, "Plan").

use std::collections::HashSet;

use crate::format::{BlobKind, IndexedPack};
use crate::id::Id;
use crate::repo::{Repository, rebuild};

/// The packs among `candidates` whose headers list one of `wanted`, and
/// which of `wanted` they hold. A pack whose header cannot be read holds
/// nothing here (what it held stays missing, and the caller refuses).
pub(super) fn find_in_headers(
    repo: &Repository,
    candidates: &[Id],
    wanted: &HashSet<(BlobKind, Id)>,
) -> (Vec<IndexedPack>, HashSet<(BlobKind, Id)>) {
    let mut holding = Vec::new();
    let mut found = HashSet::new();
    if wanted.is_empty() || candidates.is_empty() {
        return (holding, found);
    }
    for pack in rebuild::read_headers(repo, candidates).packs {
        let hits: Vec<_> = pack.entries.iter().map(|e| (e.kind, e.id)).filter(|k| wanted.contains(k)).collect();
        if !hits.is_empty() {
            found.extend(hits);
            holding.push(pack);
        }
    }
    (holding, found)
}
