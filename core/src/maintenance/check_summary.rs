//! What `check` found wrong with the blobs snapshots need, told once per
//! cause (a missing pack, a damaged pack, a lost index) with counts, rather
//! than once per blob: one flipped byte in an index must read as one
//! problem, not as the thousand files it touches.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::format::BlobKind;
use crate::id::Id;
use crate::repo::rebuild::plural;

/// Why a blob a snapshot needs cannot be read through the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cause {
    /// Listed in the index, in a pack that is gone.
    MissingPack(Id),
    /// Its pack is there but the blob (or its header) is damaged.
    DamagedIn(Id),
    /// In no index, but an intact pack's header lists it: readers find it,
    /// and `repair index` makes that permanent.
    InPackHeaders,
    /// In no index and in no readable pack header.
    Lost,
}

#[derive(Default)]
struct Affected {
    blobs: HashSet<(BlobKind, Id)>,
    places: usize,
    snapshots: BTreeSet<Id>,
    /// The first place met: "/w/x in snapshot 1a2b3c4d".
    first: String,
}

#[derive(Default)]
pub(super) struct Damage {
    by_cause: BTreeMap<Cause, Affected>,
}

impl Damage {
    /// Blob (`kind`, `id`) needed at `path` of `snapshot` cannot be read
    /// through the index, because of `cause`.
    pub(super) fn record(&mut self, cause: Cause, kind: BlobKind, id: Id, snapshot: Id, path: &str) {
        let affected = self.by_cause.entry(cause).or_default();
        if affected.first.is_empty() {
            affected.first = format!("{path} in snapshot {}", snapshot.short());
        }
        affected.blobs.insert((kind, id));
        affected.places += 1;
        affected.snapshots.insert(snapshot);
    }

    /// Whether blobs were found only through pack headers.
    pub(super) fn index_needs_repair(&self) -> bool {
        self.by_cause.contains_key(&Cause::InPackHeaders)
    }

    /// What `pack` being missing costs, to add to its line; empty when no
    /// snapshot needs it.
    pub(super) fn missing_pack_cost(&self, pack: &Id) -> String {
        self.by_cause.get(&Cause::MissingPack(*pack)).map(cost).unwrap_or_default()
    }

    /// One line per cause other than missing packs (those are told on the
    /// pack's own line, with `missing_pack_cost`).
    pub(super) fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (cause, affected) in &self.by_cause {
            let n = plural(affected.blobs.len(), "blob", "blobs");
            match cause {
                Cause::MissingPack(_) => {}
                Cause::DamagedIn(pack) => lines.push(format!("pack {pack}: {n} damaged{}", cost(affected))),
                Cause::InPackHeaders => lines.push(format!(
                    "{n} in no index, but intact packs hold them (an index file is damaged or lost){}; \
                     they still restore, and `cairn repair index` indexes them again",
                    cost(affected)
                )),
                Cause::Lost => lines.push(format!("{n} in no index and in no pack: lost{}", cost(affected))),
            }
        }
        lines
    }
}

/// ": needed by 3 files in 2 snapshots (first: /w/x in snapshot 1a2b3c4d)".
fn cost(affected: &Affected) -> String {
    format!(
        ": needed by {} in {} (first: {})",
        plural(affected.places, "entry", "entries"),
        plural(affected.snapshots.len(), "snapshot", "snapshots"),
        affected.first
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_cause_with_counts() {
        let mut d = Damage::default();
        let (s1, s2) = (Id([1; 32]), Id([2; 32]));
        for i in 0..500u16 {
            let blob = Id([(i % 250) as u8; 32]);
            d.record(Cause::InPackHeaders, BlobKind::Data, blob, if i < 10 { s1 } else { s2 }, "/a");
        }
        d.record(Cause::Lost, BlobKind::Tree, Id([9; 32]), s1, "/b");
        let lines = d.lines();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[0].starts_with("250 blobs in no index, but intact packs hold them"), "{}", lines[0]);
        assert!(lines[0].contains("needed by 500 entries in 2 snapshots (first: /a in snapshot 01010101)"));
        assert!(lines[1].starts_with("1 blob in no index and in no pack: lost: needed by 1 entry in 1 snapshot"));
        assert!(d.index_needs_repair());
        assert_eq!(d.missing_pack_cost(&Id([3; 32])), "");
    }
}
