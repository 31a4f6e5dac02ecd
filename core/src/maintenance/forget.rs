//! `forget`: removes snapshot manifests, by policy or by id. It never
//! removes a pack, an index or anything a snapshot run writes, so it is
//! safe beside running snapshots on any machine (a run's parent is
//! informational; format-spec §6). Space is given back by `prune`.
//!
//! The plan (which snapshots a policy keeps, and why) is computed first and
//! is what `--dry-run` prints; executing it removes exactly the snapshots it
//! marks for removal, re-checking pins made in the meantime.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::Timestamp;
use crate::format::retention::KeepRules;
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::pins;
use crate::snapshot::retention::{self, Candidate, Decision, Reason};
use crate::snapshot::snapshots::{self, SnapshotEntry};

/// Which fields of a snapshot put it in a group of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupBy {
    pub host: bool,
    pub paths: bool,
    pub tags: bool,
}

impl GroupBy {
    /// restic's default: host and paths.
    pub const DEFAULT: GroupBy = GroupBy { host: true, paths: true, tags: false };
    pub const NONE: GroupBy = GroupBy { host: false, paths: false, tags: false };

    /// `host,paths,tags` (any subset) or `none`.
    pub fn parse(text: &str) -> Result<GroupBy> {
        let mut g = GroupBy::NONE;
        if text.trim() == "none" {
            return Ok(g);
        }
        for part in text.split(',').map(str::trim) {
            match part {
                "host" => g.host = true,
                "paths" | "path" => g.paths = true,
                "tags" | "tag" => g.tags = true,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "cannot group by {part:?}; use host, paths and tags separated by commas, or none"
                    )));
                }
            }
        }
        Ok(g)
    }
}

/// The values a group shares (`None` for a field not grouped by).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    pub host: Option<String>,
    pub paths: Option<Vec<Vec<u8>>>,
    pub tags: Option<Vec<String>>,
}

/// One group and the decision for each of its snapshots, newest first.
#[derive(Clone, Debug)]
pub struct GroupPlan {
    pub key: GroupKey,
    pub snapshots: Vec<(SnapshotEntry, Decision)>,
}

#[derive(Clone, Debug)]
pub struct ForgetPlan {
    pub groups: Vec<GroupPlan>,
    /// Snapshots dated more than an hour in the future (kept, not counted).
    pub future: Vec<SnapshotEntry>,
    /// Snapshot and pin files that could not be read (never removed).
    pub problems: Vec<String>,
    /// Dated by arrival only: snapshots that reached the storage long after
    /// the time they record, or whose arrival the storage does not know
    /// (kept, not counted; see [`Dating::Arrival`]).
    pub late: Vec<SnapshotEntry>,
}

impl ForgetPlan {
    pub fn to_remove(&self) -> Vec<Id> {
        self.groups.iter().flat_map(|g| &g.snapshots).filter(|(_, d)| !d.keep()).map(|(e, _)| e.id).collect()
    }
}

/// How far after the time it records a snapshot may reach the storage and
/// still be dated by its arrival (a long first snapshot, a slow upload).
pub const LATE_TOLERANCE_SECONDS: i64 = 86_400;

/// Which time puts a snapshot in the policy's buckets.
#[derive(Clone, Copy, Debug)]
pub enum Dating<'a> {
    /// The time the snapshot records (its writer's clock): `cairn forget`.
    Recorded,
    /// The time the storage received the snapshot file (its modification
    /// time on the server), read in the snapshot's recorded UTC offset: the
    /// server's retention (format-spec §10.1). A client can write any
    /// `time` into a snapshot but cannot make the server receive it in the
    /// past, so forged snapshots land in the buckets of the hours they were
    /// uploaded in and cannot displace earlier history. A snapshot that
    /// arrived more than [`LATE_TOLERANCE_SECONDS`] after its recorded time
    /// (a repository copied in without its files' times, or a forgery
    /// back-dated to look old), or whose arrival is unknown, is kept and
    /// not counted: neither dating of it can be trusted to remove anything.
    Arrival(&'a HashMap<Id, SystemTime>),
}

/// Applies `rules` to every snapshot accepted by `filter`, group by group.
/// `filter` narrows what is considered (restore-preserve snapshots are
/// always considered: they have a rule of their own).
pub fn plan(
    repo: &Repository,
    rules: &KeepRules,
    group_by: GroupBy,
    filter: &snapshots::Filter,
    now: &Timestamp,
) -> Result<ForgetPlan> {
    plan_dated(repo, rules, group_by, filter, now, Dating::Recorded)
}

/// [`plan`] with snapshots dated as `dating` says.
pub fn plan_dated(
    repo: &Repository,
    rules: &KeepRules,
    group_by: GroupBy,
    filter: &snapshots::Filter,
    now: &Timestamp,
    dating: Dating<'_>,
) -> Result<ForgetPlan> {
    if rules.is_empty() {
        return Err(Error::InvalidArgument(String::from(
            "the policy is empty and would remove every snapshot but the newest; give at least one --keep-* rule",
        )));
    }
    let (all, mut problems) = snapshots::list(repo)?;
    let (pinned, pin_problems) = pins::list(repo)?;
    problems.extend(pin_problems);
    let mut groups: BTreeMap<GroupKey, Vec<SnapshotEntry>> = BTreeMap::new();
    for entry in all.into_iter().filter(|e| filter.matches_listing(&e.snapshot)) {
        groups.entry(key_of(&entry, group_by)).or_default().push(entry);
    }
    let mut plan = ForgetPlan { groups: Vec::new(), future: Vec::new(), problems, late: Vec::new() };
    for (key, all_entries) in groups {
        let mut entries = Vec::with_capacity(all_entries.len());
        let mut candidates = Vec::with_capacity(all_entries.len());
        for e in all_entries {
            let Some(time) = date(&e, dating) else {
                plan.late.push(e);
                continue;
            };
            candidates.push(Candidate {
                id: e.id,
                time,
                tags: e.snapshot.tags.clone(),
                pinned: pinned.contains_key(&e.id),
            });
            entries.push(e);
        }
        if entries.is_empty() {
            continue;
        }
        let by_id: BTreeMap<Id, SnapshotEntry> = entries.into_iter().map(|e| (e.id, e)).collect();
        let decisions = retention::apply(&candidates, rules, now);
        let mut snapshots = Vec::with_capacity(decisions.len());
        for d in decisions {
            let entry = by_id[&d.id].clone();
            if d.reasons.contains(&Reason::Future) {
                plan.future.push(entry.clone());
            }
            snapshots.push((entry, d));
        }
        plan.groups.push(GroupPlan { key, snapshots });
    }
    Ok(plan)
}

/// The time that buckets `entry`, or `None` when it must be kept uncounted.
fn date(entry: &SnapshotEntry, dating: Dating<'_>) -> Option<Timestamp> {
    let recorded = entry.snapshot.time;
    let Dating::Arrival(arrivals) = dating else { return Some(recorded) };
    let since_epoch = arrivals.get(&entry.id)?.duration_since(UNIX_EPOCH).ok()?;
    let arrived = Timestamp {
        unix_seconds: i64::try_from(since_epoch.as_secs()).ok()?,
        nanos: since_epoch.subsec_nanos(),
        offset_seconds: recorded.offset_seconds,
    };
    (arrived.unix_seconds.saturating_sub(recorded.unix_seconds) <= LATE_TOLERANCE_SECONDS).then_some(arrived)
}

fn key_of(entry: &SnapshotEntry, by: GroupBy) -> GroupKey {
    let s = &entry.snapshot;
    let mut tags = s.tags.clone();
    tags.sort();
    tags.dedup();
    GroupKey {
        host: by.host.then(|| s.host.clone()),
        paths: by.paths.then(|| s.paths.iter().map(|p| p.to_vec()).collect()),
        tags: by.tags.then_some(tags),
    }
}

/// The snapshots named by `references` (ids, prefixes, `latest`…), for an
/// explicit `forget ID...`. Refuses pinned ones: unpinning is a separate,
/// deliberate step.
pub fn resolve_explicit(repo: &Repository, references: &[String]) -> Result<Vec<SnapshotEntry>> {
    let (pinned, _) = pins::list(repo)?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in references {
        let entry = snapshots::resolve(repo, r)?;
        if pinned.contains_key(&entry.id) {
            return Err(Error::InvalidArgument(format!(
                "snapshot {} is pinned; `cairn unpin {}` first if it should go",
                entry.id.short(),
                entry.id.short()
            )));
        }
        if seen.insert(entry.id) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// What a forget removed, and what it could not.
#[derive(Debug, Default)]
pub struct Removed {
    pub removed: Vec<Id>,
    /// Pinned between the plan and now: kept.
    pub pinned_meanwhile: Vec<Id>,
    pub failed: Vec<(Id, String)>,
    /// Retained by the storage (Object Lock): kept for now.
    pub locked: crate::maintenance::locked::Locked,
}

/// Removes the snapshot files `ids`, skipping any pinned since the plan
/// was made. Continues past a failure so that one bad file does not stop
/// the rest; each failure is reported.
pub fn remove(repo: &Repository, ids: &[Id]) -> Result<Removed> {
    repo.refuse_if_append_only()?;
    let (pinned, _) = pins::list(repo)?;
    let mut out = Removed::default();
    for id in ids {
        if pinned.contains_key(id) {
            out.pinned_meanwhile.push(*id);
            continue;
        }
        match crate::maintenance::locked::remove_unless_locked(repo, FileKind::Snapshot, id, None) {
            Ok(None) => out.removed.push(*id),
            Ok(Some(until)) => out.locked.files.push((*id, 0, until)),
            Err(e) => out.failed.push((*id, e.to_string())),
        }
    }
    Ok(out)
}
