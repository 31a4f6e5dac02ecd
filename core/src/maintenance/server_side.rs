//! Maintenance on the server's side: what `cairn serve --maintain` runs on
//! each repository it serves, on its own schedule and as its own user, since
//! the clients of an append-only server may no longer delete anything.
//!
//! [`run_due`] runs the tasks that are due — forget with the repository's
//! stored policy (snapshots dated by when the server received them, not by
//! the time they claim: [`forget::Dating::Arrival`]), prune, and a check that
//! reads a rotating subset of the packs — and returns the new
//! [`ServeReport`], which the server keeps as JSON and hands to clients
//! (`GET cairn/maintenance`) for `cairn status`. Failures are recorded in the
//! report, one line each, never raised: a server must keep serving.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::marker::MarkerRole;
use crate::maintenance::check::{self, CheckOptions};
use crate::maintenance::forget::{self, Dating, GroupBy};
use crate::maintenance::prune::{self, PruneOptions, SweepOutcome};
use crate::maintenance::read_subset::ReadSubset;
use crate::repo::{OpenOptions, Repository, now_timestamp};
use crate::snapshot::policy_store::{self, PolicySource};
use crate::snapshot::snapshots::Filter;

/// The largest report a client reads (a report is a few hundred bytes; a
/// server that sends more is refused, not believed).
pub const MAX_REPORT_LEN: usize = 64 * 1024;
/// The version of the report's JSON.
pub const REPORT_VERSION: u32 = 1;
/// The most lines of errors a task keeps (the first ones).
const MAX_ERRORS: usize = 20;
/// The longest line kept in a report.
const MAX_LINE: usize = 500;

/// What the server's maintenance of one repository last did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServeReport {
    pub version: u32,
    /// When maintenance last looked at the repository (RFC 3339, UTC).
    #[serde(default)]
    pub checked_at: Option<String>,
    /// The repository could not be opened (then no task ran).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub forget: Option<TaskRecord>,
    #[serde(default)]
    pub prune: Option<TaskRecord>,
    #[serde(default)]
    pub check: Option<TaskRecord>,
    /// The slice the next rotating check reads (`N` of `N/M`).
    #[serde(default)]
    pub next_subset: u64,
}

/// The last run of one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// When it ended (RFC 3339, UTC).
    pub time: String,
    pub ok: bool,
    /// Its outcome in one line ("removed 3 of 40 snapshots").
    pub outcome: String,
    #[serde(default)]
    pub errors: Vec<String>,
}

impl TaskRecord {
    pub fn ended_at(&self) -> Option<jiff::Timestamp> {
        self.time.parse().ok()
    }
}

impl ServeReport {
    /// Reads a report as a server sent it: at most [`MAX_REPORT_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<ServeReport> {
        let what = "the server's maintenance report";
        if bytes.len() > MAX_REPORT_LEN {
            return Err(Error::corrupt(what, format!("{} bytes, more than {MAX_REPORT_LEN}", bytes.len())));
        }
        let report: ServeReport = serde_json::from_slice(bytes).map_err(|e| Error::corrupt(what, e))?;
        if report.version != REPORT_VERSION {
            return Err(Error::corrupt(what, format!("version {}, this cairn reads {REPORT_VERSION}", report.version)));
        }
        Ok(report)
    }

    /// The report as JSON (always under [`MAX_REPORT_LEN`]: lines and
    /// their count are bounded when recorded).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// How often each task runs (`None`: never).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub forget_every: Option<Duration>,
    pub prune_every: Option<Duration>,
    pub check_every: Option<Duration>,
    /// The packs a check reads; an `N/M` subset rotates through the slices.
    pub check_subset: ReadSubset,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            forget_every: Some(Duration::from_secs(3600)),
            prune_every: Some(Duration::from_secs(86_400)),
            check_every: Some(Duration::from_secs(7 * 86_400)),
            check_subset: ReadSubset::Slice { n: 1, m: 4 },
        }
    }
}

/// Whether a task last done at `last` and run every `every` (`None`:
/// never) is due at `now`. A last time in the future (the clock was set
/// back) makes it due rather than putting it off until the clock catches up.
pub fn is_due(last: Option<jiff::Timestamp>, every: Option<Duration>, now: jiff::Timestamp) -> bool {
    let Some(every) = every else { return false };
    let Some(last) = last else { return true };
    let Ok(every) = jiff::SignedDuration::try_from(every) else { return false };
    last > now || now.duration_since(last) >= every
}

/// Runs on the repository at `path` the tasks of `schedule` that are due
/// at `now` after `previous`, and returns the new report (tasks not run keep
/// their previous record).
pub fn run_due(
    path: &Path,
    password: &[u8],
    schedule: &Schedule,
    previous: &ServeReport,
    now: jiff::Timestamp,
) -> ServeReport {
    let mut report = previous.clone();
    report.version = REPORT_VERSION;
    report.checked_at = Some(now.to_string());
    let last = |t: &Option<TaskRecord>| t.as_ref().and_then(TaskRecord::ended_at);
    let forget_due = is_due(last(&previous.forget), schedule.forget_every, now);
    let prune_due = is_due(last(&previous.prune), schedule.prune_every, now);
    let check_due = is_due(last(&previous.check), schedule.check_every, now);
    if !(forget_due || prune_due || check_due) {
        return report;
    }
    let open = |role| {
        Repository::open_with_options(
            path,
            &OpenOptions { password: Some(password), register: role, ..OpenOptions::default() },
        )
    };
    // One open first, so that a wrong password or a missing repository is
    // one error line rather than one per task.
    match open(None) {
        Ok(repo) => {
            report.error = None;
            if forget_due {
                report.forget = Some(record(forget_task(&repo)));
            }
        }
        Err(e) => {
            report.error = Some(line(&format!("could not open {}: {e}", path.display())));
            return report;
        }
    }
    if prune_due {
        let done = open(Some(MarkerRole::Prune)).and_then(|repo| {
            repo.claim_prune()?;
            prune_task(&repo)
        });
        report.prune = Some(record(done));
    }
    if check_due {
        let (subset, next) = schedule.check_subset.rotation(previous.next_subset);
        let done = open(Some(MarkerRole::Check)).and_then(|repo| check_task(&repo, subset));
        if done.as_ref().is_ok_and(|(ok, _, _)| *ok) {
            report.next_subset = next;
        }
        report.check = Some(record(done));
    }
    report
}

/// A task's outcome: whether all went well, its line, its errors.
type Done = (bool, String, Vec<String>);

fn record(done: Result<Done>) -> TaskRecord {
    let time = jiff::Timestamp::now().to_string();
    match done {
        Ok((ok, outcome, errors)) => TaskRecord {
            time,
            ok,
            outcome: line(&outcome),
            errors: errors.iter().take(MAX_ERRORS).map(|e| line(e)).collect(),
        },
        Err(e) => TaskRecord { time, ok: false, outcome: line(&format!("failed: {e}")), errors: Vec::new() },
    }
}

/// One line of at most [`MAX_LINE`] characters.
fn line(text: &str) -> String {
    let one: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one.char_indices().nth(MAX_LINE) {
        Some((cut, _)) => format!("{}…", &one[..cut]),
        None => one,
    }
}

/// Forget by the repository's policy, every host's snapshots grouped by
/// host and paths, dated by arrival.
pub fn forget_task(repo: &Repository) -> Result<Done> {
    let (rules, source) = policy_store::load(repo)?;
    let arrivals: HashMap<_, _> = repo
        .backend()
        .list_times(FileKind::Snapshot)?
        .into_iter()
        .filter_map(|(id, _, time)| time.map(|t| (id, t)))
        .collect();
    let plan = forget::plan_dated(
        repo,
        &rules,
        GroupBy::DEFAULT,
        &Filter::default(),
        &now_timestamp(),
        Dating::Arrival(&arrivals),
    )?;
    let ids = plan.to_remove();
    let total: usize = plan.groups.iter().map(|g| g.snapshots.len()).sum::<usize>() + plan.late.len();
    let removed = forget::remove(repo, &ids)?;
    let mut errors = plan.problems.clone();
    errors.extend(removed.failed.iter().map(|(id, e)| format!("could not remove snapshot {}: {e}", id.short())));
    let source = match source {
        PolicySource::Stored { .. } => "the repository's policy",
        PolicySource::Default => "the default policy",
    };
    let mut outcome = format!("removed {} of {total} snapshots by {source}", removed.removed.len());
    if !plan.late.is_empty() {
        outcome.push_str(&format!(
            "; {} kept uncounted (received more than a day after the time they record)",
            plan.late.len()
        ));
    }
    Ok((errors.is_empty(), outcome, errors))
}

/// Prune with the defaults of `cairn prune`.
pub fn prune_task(repo: &Repository) -> Result<Done> {
    let plan = prune::plan(repo, &PruneOptions::default())?;
    let report = prune::execute(repo, plan)?;
    let mut errors = report.warnings.clone();
    let freed = report.freed_bytes();
    let mut outcome = format!(
        "deleted {} packs, repacked {}, freed {freed} bytes; packs now take {} bytes",
        report.sweep.deleted.len(),
        report.repacked_packs,
        report.size_after
    );
    match &report.sweep.outcome {
        SweepOutcome::Done => {}
        SweepOutcome::Blocked(runs) => outcome.push_str(&format!(
            "; {} packs left for a later prune (another run is active: {})",
            report.sweep.waiting.len(),
            runs.join("; ")
        )),
        SweepOutcome::Missing(what) => errors.push(what.clone()),
    }
    Ok((errors.is_empty(), outcome, errors))
}

/// Check the repository, reading the data of `subset` of the packs.
pub fn check_task(repo: &Repository, subset: ReadSubset) -> Result<Done> {
    let report = check::check(repo, CheckOptions { read_data: false, read_subset: Some(subset) })?;
    let outcome = format!(
        "{} problems; {} snapshots, {} packs, data of {} packs read (subset {subset})",
        report.errors.len(),
        report.snapshots,
        report.packs,
        report.packs_read.len()
    );
    Ok((report.errors.is_empty(), outcome, report.errors))
}

#[cfg(test)]
#[path = "server_side_tests.rs"]
mod tests;
