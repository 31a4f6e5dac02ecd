//! The retention policy engine: which snapshots of one group a set of keep
//! rules keeps, and why. Pure: no repository, no clock (the caller passes
//! `now`), so it is tested against a reference model (`retention_tests.rs`).
//!
//! Semantics (restic's, with the differences noted):
//! - Snapshots are taken newest first by `(time, id)`. Calendar buckets
//!   (hour, day, ISO week, month, year) are read in each snapshot's own
//!   recorded local time and UTC offset, so a snapshot taken at 23:30 on a
//!   laptop in Tokyo counts for that Tokyo day whatever the clock of the
//!   machine that runs `forget`.
//! - `--keep-daily N` keeps the newest snapshot of each of the N newest days
//!   that have snapshots. A bucket is counted once even when a change of
//!   time zone makes its snapshots non-adjacent (restic would count it
//!   twice). If fewer than N buckets exist, the oldest snapshot is kept too
//!   (as newer restic does), so a young repository keeps its whole span.
//! - `--keep-within SPAN` counts back from the group's latest snapshot, not
//!   from now; `--keep-within-daily SPAN` keeps the newest of every day
//!   within that span.
//! - Never removed, and never counted in a bucket: snapshots dated more than
//!   [`FUTURE_TOLERANCE_SECONDS`] past `now` (a flood of forged future
//!   snapshots must not push real history out of the buckets).
//! - Never removed: pinned snapshots and the group's newest (non-future)
//!   snapshot.
//! - `restore-preserve` snapshots (what a restore replaced) are not counted
//!   in buckets: they are kept for [`PRESERVE_DAYS`] days after they were
//!   taken by a rule of their own, or by a pin or a tag rule.

use std::collections::HashSet;
use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::Offset;

use crate::format::Timestamp;
use crate::format::retention::{KeepRules, Span};
use crate::id::Id;
use crate::snapshot::snapshots::PRESERVE_TAG;

/// How far past `now` a snapshot may be dated and still count (clocks of
/// machines sharing a repository disagree a little).
pub const FUTURE_TOLERANCE_SECONDS: i64 = 3600;
/// How long `restore-preserve` snapshots are kept.
pub const PRESERVE_DAYS: i64 = 30;

/// One snapshot as the engine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: Id,
    pub time: Timestamp,
    pub tags: Vec<String>,
    pub pinned: bool,
}

/// The calendar period of a counting rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// Every snapshot is its own bucket (`--keep-last`).
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Bucket {
    pub const CALENDAR: [Bucket; 5] = [Bucket::Hourly, Bucket::Daily, Bucket::Weekly, Bucket::Monthly, Bucket::Yearly];

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Last => "last",
            Bucket::Hourly => "hourly",
            Bucket::Daily => "daily",
            Bucket::Weekly => "weekly",
            Bucket::Monthly => "monthly",
            Bucket::Yearly => "yearly",
        }
    }

    /// The bucket of a snapshot at local time `t`: equal keys, same bucket.
    /// Weeks are ISO weeks (Monday first; the ISO year at the year's edge).
    pub fn key(self, t: &Timestamp, position: usize) -> i64 {
        let dt = local_datetime(t);
        let (y, m, d, h) = (dt.year() as i64, dt.month() as i64, dt.day() as i64, dt.hour() as i64);
        match self {
            Bucket::Last => position as i64,
            Bucket::Hourly => ((y * 100 + m) * 100 + d) * 100 + h,
            Bucket::Daily => (y * 100 + m) * 100 + d,
            Bucket::Weekly => {
                let w = dt.date().iso_week_date();
                w.year() as i64 * 100 + w.week() as i64
            }
            Bucket::Monthly => y * 100 + m,
            Bucket::Yearly => y,
        }
    }

    fn count(self, rules: &KeepRules) -> u32 {
        match self {
            Bucket::Last => rules.last,
            Bucket::Hourly => rules.hourly,
            Bucket::Daily => rules.daily,
            Bucket::Weekly => rules.weekly,
            Bucket::Monthly => rules.monthly,
            Bucket::Yearly => rules.yearly,
        }
    }

    fn within(self, rules: &KeepRules) -> Option<Span> {
        match self {
            Bucket::Last => None,
            Bucket::Hourly => rules.within_hourly,
            Bucket::Daily => rules.within_daily,
            Bucket::Weekly => rules.within_weekly,
            Bucket::Monthly => rules.within_monthly,
            Bucket::Yearly => rules.within_yearly,
        }
        .filter(|s| !s.is_zero())
    }
}

/// Why a snapshot is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Pinned,
    /// Dated more than an hour in the future: never counted nor removed.
    Future,
    /// The group's newest snapshot.
    Newest,
    /// A `restore-preserve` snapshot younger than [`PRESERVE_DAYS`].
    Preserve,
    /// Carries every tag of this `--keep-tag` list.
    Tag(Vec<String>),
    /// The newest of its bucket, among the first N buckets.
    Count(Bucket),
    /// The oldest snapshot, kept because this rule's N buckets were not filled.
    Oldest(Bucket),
    /// Within `--keep-within` of the latest.
    Within,
    /// The newest of its bucket within `--keep-within-<bucket>` of the latest.
    WithinBucket(Bucket),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Pinned => f.write_str("pinned"),
            Reason::Future => f.write_str("dated in the future"),
            Reason::Newest => f.write_str("newest"),
            Reason::Preserve => write!(f, "{PRESERVE_TAG} (kept {PRESERVE_DAYS} days)"),
            Reason::Tag(tags) => write!(f, "tag {}", tags.join(",")),
            Reason::Count(b) => f.write_str(b.name()),
            Reason::Oldest(b) => write!(f, "oldest {}", b.name()),
            Reason::Within => f.write_str("within"),
            Reason::WithinBucket(b) => write!(f, "within-{}", b.name()),
        }
    }
}

/// What the policy decided for one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub id: Id,
    pub time: Timestamp,
    /// Empty: removed.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Applies `rules` to one group of snapshots. Returns one decision per
/// candidate, newest first.
pub fn apply(candidates: &[Candidate], rules: &KeepRules, now: &Timestamp) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse((c.time, c.id)));
    let future_limit = now.unix_seconds.saturating_add(FUTURE_TOLERANCE_SECONDS);
    let is_future = |c: &Candidate| c.time.unix_seconds > future_limit;
    let is_preserve = |c: &Candidate| c.tags.iter().any(|t| t == PRESERVE_TAG);
    let counted = |c: &Candidate| !is_future(c) && !is_preserve(c);
    let latest = sorted.iter().find(|c| counted(c)).map(|c| (c.id, c.time));
    let oldest = sorted.iter().rev().find(|c| counted(c)).map(|c| c.id);
    let preserve_after = now.unix_seconds.saturating_sub(PRESERVE_DAYS * 86400);
    let since = |span: Option<Span>| -> Option<Instant> {
        let span = span.filter(|s| !s.is_zero())?;
        latest.map(|(_, t)| span_before(&t, &span))
    };
    let within = since(rules.within);

    let all_buckets = [Bucket::Last, Bucket::Hourly, Bucket::Daily, Bucket::Weekly, Bucket::Monthly, Bucket::Yearly];
    let mut left: Vec<u32> = all_buckets.iter().map(|b| b.count(rules)).collect();
    let mut seen: Vec<HashSet<i64>> = vec![HashSet::new(); all_buckets.len()];
    let within_since: Vec<Option<Instant>> = Bucket::CALENDAR.iter().map(|b| since(b.within(rules))).collect();
    let mut within_seen: Vec<HashSet<i64>> = vec![HashSet::new(); Bucket::CALENDAR.len()];

    let mut decisions = Vec::with_capacity(sorted.len());
    let mut position = 0usize;
    for c in &sorted {
        let mut reasons = Vec::new();
        if c.pinned {
            reasons.push(Reason::Pinned);
        }
        if is_future(c) {
            reasons.push(Reason::Future);
            decisions.push(Decision { id: c.id, time: c.time, reasons });
            continue;
        }
        if is_preserve(c) && c.time.unix_seconds > preserve_after {
            reasons.push(Reason::Preserve);
        }
        for list in rules.tags.iter().filter(|l| !l.is_empty()) {
            if list.iter().all(|t| c.tags.contains(t)) {
                reasons.push(Reason::Tag(list.clone()));
            }
        }
        if counted(c) {
            if latest.is_some_and(|(id, _)| id == c.id) {
                reasons.push(Reason::Newest);
            }
            let t = instant(&c.time);
            if within.is_some_and(|since| t > since) {
                reasons.push(Reason::Within);
            }
            for (i, bucket) in all_buckets.iter().enumerate() {
                if left[i] > 0 && seen[i].insert(bucket.key(&c.time, position)) {
                    left[i] -= 1;
                    reasons.push(Reason::Count(*bucket));
                }
            }
            for (i, bucket) in Bucket::CALENDAR.iter().enumerate() {
                if within_since[i].is_some_and(|since| t > since) && within_seen[i].insert(bucket.key(&c.time, 0)) {
                    reasons.push(Reason::WithinBucket(*bucket));
                }
            }
            position += 1;
        }
        decisions.push(Decision { id: c.id, time: c.time, reasons });
    }
    // A rule whose N buckets were not all filled keeps the oldest snapshot
    // as well, so that the history it covers is as long as it can be.
    if let Some(oldest) = oldest
        && let Some(d) = decisions.iter_mut().find(|d| d.id == oldest)
    {
        for (i, bucket) in all_buckets.iter().enumerate() {
            if left[i] > 0 && !d.reasons.contains(&Reason::Count(*bucket)) {
                d.reasons.push(Reason::Oldest(*bucket));
            }
        }
    }
    decisions
}

/// An instant as `(seconds, nanoseconds)`: compares like time itself.
pub type Instant = (i64, u32);

pub fn instant(t: &Timestamp) -> Instant {
    (t.unix_seconds, t.nanos)
}

/// The moment `span` before `t`, counted on `t`'s own local calendar
/// (a month back from 31 March is the last day of February). A span too
/// large for the calendar reaches back to the beginning of time.
pub fn span_before(t: &Timestamp, span: &Span) -> Instant {
    let offset = Offset::from_seconds(t.offset_seconds).unwrap_or(Offset::UTC);
    let back = jiff::Span::new()
        .try_years(span.years)
        .and_then(|s| s.try_months(span.months))
        .and_then(|s| s.try_days(span.days))
        .and_then(|s| s.try_hours(span.hours));
    let earlier =
        back.ok().and_then(|back| local_datetime(t).checked_sub(back).ok()).and_then(|dt| offset.to_timestamp(dt).ok());
    match earlier {
        Some(ts) => (ts.as_second(), ts.subsec_nanosecond().max(0) as u32),
        None => (i64::MIN, 0),
    }
}

/// The wall-clock time a snapshot recorded (its instant in its own offset).
/// Times and offsets outside the calendar's range (only a damaged or forged
/// snapshot has them) are clamped to its ends and to UTC.
fn local_datetime(t: &Timestamp) -> DateTime {
    let ts = jiff::Timestamp::new(t.unix_seconds, t.nanos.min(999_999_999) as i32).unwrap_or(if t.unix_seconds < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    let offset = Offset::from_seconds(t.offset_seconds).unwrap_or(Offset::UTC);
    // Near the calendar's ends an offset can push the local time past them.
    offset.to_datetime(ts)
}

/// Reads a span as restic writes it: numbers each followed by `y`, `m`
/// (months), `d` or `h`, such as `1y6m`, `14d` or `36h`.
pub fn parse_span(text: &str) -> Option<Span> {
    let mut span = Span::default();
    let mut digits = String::new();
    let mut any = false;
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let n: u32 = digits.parse().ok()?;
        digits.clear();
        let slot = match ch {
            'y' => &mut span.years,
            'm' => &mut span.months,
            'd' => &mut span.days,
            'h' => &mut span.hours,
            _ => return None,
        };
        *slot = slot.checked_add(n)?;
        any = true;
    }
    (digits.is_empty() && any).then_some(span)
}

/// The form `parse_span` reads: `1y6m`, `0h` for nothing.
pub fn format_span(span: &Span) -> String {
    let mut out = String::new();
    for (n, unit) in [(span.years, 'y'), (span.months, 'm'), (span.days, 'd'), (span.hours, 'h')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { String::from("0h") } else { out }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
