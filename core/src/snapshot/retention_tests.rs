//! The policy engine against a small reference model over random time
//! series: gaps, duplicate times, DST changes, changes of time zone, future
//! dates, pins, tags and `restore-preserve` snapshots.
//!
//! The model states each rule on its own, the obvious way: group the
//! counted snapshots by a calendar key formatted with `strftime` in their
//! own offset, take the newest of each group, the N newest groups. The
//! engine walks the snapshots once with integer keys; the two must agree
//! on every reason of every snapshot.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::{Offset, TimeZone};
use proptest::prelude::*;

use super::*;

const HOUR: i64 = 3600;
const DAY: i64 = 86400;
/// 2026-03-01 00:00 UTC: series cross the European and American DST changes.
const BASE: i64 = 1_772_323_200;
/// UTC, CET, CEST (DST), EST, EDT, IST (+05:30), ACST (+09:30), NZDT.
const OFFSETS: [i32; 8] = [0, 3600, 7200, -18000, -14400, 19800, 34200, 46800];

fn id(n: usize) -> Id {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&(n as u64).to_be_bytes());
    Id(b)
}

fn at(seconds: i64, offset: i32) -> Timestamp {
    Timestamp { unix_seconds: seconds, nanos: 0, offset_seconds: offset }
}

fn zoned(t: &Timestamp) -> jiff::ZonedDateTime {
    jiff::Timestamp::new(t.unix_seconds, t.nanos as i32)
        .unwrap()
        .to_zoned_datetime(TimeZone::fixed(Offset::from_seconds(t.offset_seconds).unwrap()))
}

fn model_key(bucket: Bucket, t: &Timestamp, id: Id) -> String {
    let format = match bucket {
        Bucket::Last => return id.to_hex(),
        Bucket::Hourly => "%Y-%m-%d %H",
        Bucket::Daily => "%Y-%m-%d",
        Bucket::Weekly => "%G-W%V",
        Bucket::Monthly => "%Y-%m",
        Bucket::Yearly => "%Y",
    };
    zoned(t).strftime(format).to_string()
}

fn model_since(latest: &Timestamp, span: Option<Span>) -> Option<jiff::Timestamp> {
    let span = span.filter(|s| !s.is_zero())?;
    let back = jiff::Span::new().years(span.years).months(span.months).days(span.days).hours(span.hours);
    Some(zoned(latest).checked_sub(back).unwrap().timestamp())
}

fn ts(t: &Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::new(t.unix_seconds, t.nanos as i32).unwrap()
}

/// The newest of each bucket of `members` (newest first), newest bucket first.
fn newest_per_bucket<'a>(bucket: Bucket, members: &[&'a Candidate]) -> Vec<&'a Candidate> {
    let mut best: BTreeMap<String, &Candidate> = BTreeMap::new();
    for c in members {
        let slot = best.entry(model_key(bucket, &c.time, c.id)).or_insert(c);
        if (c.time, c.id) > (slot.time, slot.id) {
            *slot = c;
        }
    }
    let mut out: Vec<&Candidate> = best.into_values().collect();
    out.sort_by_key(|c| std::cmp::Reverse((c.time, c.id)));
    out
}

fn model(cands: &[Candidate], rules: &KeepRules, now: &Timestamp) -> BTreeMap<Id, BTreeSet<Reason>> {
    let mut out: BTreeMap<Id, BTreeSet<Reason>> = cands.iter().map(|c| (c.id, BTreeSet::new())).collect();
    let future = |c: &Candidate| c.time.unix_seconds > now.unix_seconds + HOUR;
    let preserve = |c: &Candidate| c.tags.iter().any(|t| t == PRESERVE_TAG);
    let counted: Vec<&Candidate> = cands.iter().filter(|c| !future(c) && !preserve(c)).collect();
    let newest = counted.iter().max_by_key(|c| (c.time, c.id)).copied();
    let oldest = counted.iter().min_by_key(|c| (c.time, c.id)).copied();
    for c in cands {
        let r = out.get_mut(&c.id).unwrap();
        if c.pinned {
            r.insert(Reason::Pinned);
        }
        if future(c) {
            r.insert(Reason::Future);
            continue;
        }
        if preserve(c) && c.time.unix_seconds > now.unix_seconds - 30 * DAY {
            r.insert(Reason::Preserve);
        }
        for list in &rules.tags {
            if !list.is_empty() && list.iter().all(|t| c.tags.contains(t)) {
                r.insert(Reason::Tag(list.clone()));
            }
        }
    }
    let Some(newest) = newest else { return out };
    out.get_mut(&newest.id).unwrap().insert(Reason::Newest);
    if let Some(since) = model_since(&newest.time, rules.within) {
        for c in counted.iter().filter(|c| ts(&c.time) > since) {
            out.get_mut(&c.id).unwrap().insert(Reason::Within);
        }
    }
    let counts = [
        (Bucket::Last, rules.last),
        (Bucket::Hourly, rules.hourly),
        (Bucket::Daily, rules.daily),
        (Bucket::Weekly, rules.weekly),
        (Bucket::Monthly, rules.monthly),
        (Bucket::Yearly, rules.yearly),
    ];
    for (bucket, n) in counts {
        let buckets = newest_per_bucket(bucket, &counted);
        for c in buckets.iter().take(n as usize) {
            out.get_mut(&c.id).unwrap().insert(Reason::Count(bucket));
        }
        if buckets.len() < n as usize {
            let r = out.get_mut(&oldest.unwrap().id).unwrap();
            if !r.contains(&Reason::Count(bucket)) {
                r.insert(Reason::Oldest(bucket));
            }
        }
    }
    let within = [
        (Bucket::Hourly, rules.within_hourly),
        (Bucket::Daily, rules.within_daily),
        (Bucket::Weekly, rules.within_weekly),
        (Bucket::Monthly, rules.within_monthly),
        (Bucket::Yearly, rules.within_yearly),
    ];
    for (bucket, span) in within {
        let Some(since) = model_since(&newest.time, span) else { continue };
        let inside: Vec<&Candidate> = counted.iter().filter(|c| ts(&c.time) > since).copied().collect();
        for c in newest_per_bucket(bucket, &inside) {
            out.get_mut(&c.id).unwrap().insert(Reason::WithinBucket(bucket));
        }
    }
    out
}

fn engine(cands: &[Candidate], rules: &KeepRules, now: &Timestamp) -> BTreeMap<Id, BTreeSet<Reason>> {
    let decisions = apply(cands, rules, now);
    assert_eq!(decisions.len(), cands.len(), "one decision per snapshot");
    decisions.into_iter().map(|d| (d.id, d.reasons.into_iter().collect())).collect()
}

/// A step of a series: the gap since the previous snapshot (0 makes
/// duplicate times), a time zone change, tags, a pin.
fn step() -> impl Strategy<Value = (i64, Option<usize>, u8, bool)> {
    let gap = prop_oneof![
        2 => Just(0i64),
        4 => 1..120i64 * 60,
        6 => HOUR..48 * HOUR,
        3 => DAY..40 * DAY,
        1 => 40 * DAY..400 * DAY,
    ];
    let zone_change = prop_oneof![8 => Just(None), 2 => (0..OFFSETS.len()).prop_map(Some)];
    (gap, zone_change, any::<u8>(), proptest::bool::weighted(0.1))
}

fn series() -> impl Strategy<Value = (Vec<Candidate>, Timestamp)> {
    (
        proptest::collection::vec(step(), 0..60),
        proptest::collection::vec((2 * HOUR..400 * DAY, 0..OFFSETS.len()), 0..4),
        0..72 * HOUR,
        any::<u32>(),
    )
        .prop_map(|(steps, future, after, nanos)| {
            let mut t = BASE;
            let mut offset = OFFSETS[1];
            let mut out = Vec::new();
            for (i, (gap, zone, bits, pinned)) in steps.into_iter().enumerate() {
                t += gap;
                if let Some(z) = zone {
                    offset = OFFSETS[z];
                }
                let mut tags = Vec::new();
                if bits & 1 != 0 {
                    tags.push(String::from("a"));
                }
                if bits & 2 != 0 {
                    tags.push(String::from("b"));
                }
                if bits >= 240 {
                    tags.push(String::from(PRESERVE_TAG));
                }
                let mut time = at(t, offset);
                time.nanos = if bits & 4 != 0 { nanos % 1_000_000_000 } else { 0 };
                out.push(Candidate { id: id(i), time, tags, pinned });
            }
            let now = at(t + after, OFFSETS[0]);
            for (k, (ahead, z)) in future.into_iter().enumerate() {
                let time = at(now.unix_seconds + ahead, OFFSETS[z]);
                out.push(Candidate { id: id(1000 + k), time, tags: Vec::new(), pinned: false });
            }
            (out, now)
        })
}

fn span() -> impl Strategy<Value = Option<Span>> {
    prop_oneof![
        3 => Just(None),
        2 => (0..2u32, 0..3u32, 0..20u32, 0..48u32).prop_map(|(years, months, days, hours)| Some(Span { years, months, days, hours })),
    ]
}

fn rules() -> impl Strategy<Value = KeepRules> {
    (
        proptest::collection::vec(0..6u32, 6),
        proptest::collection::vec(span(), 6),
        proptest::collection::vec(proptest::sample::select(vec![vec!["a"], vec!["a", "b"], vec!["b"]]), 0..2),
    )
        .prop_map(|(n, s, tags)| KeepRules {
            last: n[0],
            hourly: n[1],
            daily: n[2],
            weekly: n[3],
            monthly: n[4],
            yearly: n[5],
            within: s[0],
            within_hourly: s[1],
            within_daily: s[2],
            within_weekly: s[3],
            within_monthly: s[4],
            within_yearly: s[5],
            tags: tags.into_iter().map(|l| l.into_iter().map(String::from).collect()).collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn engine_agrees_with_the_model((cands, now) in series(), rules in rules()) {
        prop_assert_eq!(engine(&cands, &rules, &now), model(&cands, &rules, &now));
    }

    #[test]
    fn pinned_future_and_newest_are_never_removed((cands, now) in series(), rules in rules()) {
        let decisions = apply(&cands, &rules, &now);
        let newest = cands
            .iter()
            .filter(|c| c.time.unix_seconds <= now.unix_seconds + HOUR && !c.tags.iter().any(|t| t == PRESERVE_TAG))
            .max_by_key(|c| (c.time, c.id));
        for c in &cands {
            let d = decisions.iter().find(|d| d.id == c.id).unwrap();
            let must = c.pinned || c.time.unix_seconds > now.unix_seconds + HOUR || newest.is_some_and(|n| n.id == c.id);
            prop_assert!(!must || d.keep(), "{:?} removed", c);
        }
    }

    /// A flood of forged future snapshots changes nothing for the others.
    #[test]
    fn future_snapshots_do_not_push_history_out(
        (cands, now) in series(),
        rules in rules(),
        flood in proptest::collection::vec(2 * HOUR..1000 * DAY, 1..50),
    ) {
        let before = engine(&cands, &rules, &now);
        let mut flooded = cands.clone();
        for (k, ahead) in flood.iter().enumerate() {
            flooded.push(Candidate { id: id(5000 + k), time: at(now.unix_seconds + ahead, 0), tags: Vec::new(), pinned: false });
        }
        let after = engine(&flooded, &rules, &now);
        for (id, reasons) in &before {
            prop_assert_eq!(Some(reasons), after.get(id));
        }
        for k in 0..flood.len() {
            prop_assert_eq!(after.get(&id(5000 + k)), Some(&BTreeSet::from([Reason::Future])));
        }
    }

    /// Keeping more never removes more: raising a count keeps a superset.
    #[test]
    fn a_larger_count_keeps_a_superset((cands, now) in series(), rules in rules(), extra in 1..4u32) {
        let mut more = rules.clone();
        more.daily += extra;
        more.last += extra;
        let kept = |r: &KeepRules| -> BTreeSet<Id> {
            apply(&cands, r, &now).into_iter().filter(Decision::keep).map(|d| d.id).collect()
        };
        prop_assert!(kept(&rules).is_subset(&kept(&more)));
    }

    #[test]
    fn spans_read_back(years in 0..100u32, months in 0..100u32, days in 0..100u32, hours in 0..100u32) {
        let s = Span { years, months, days, hours };
        let text = format_span(&s);
        prop_assert_eq!(parse_span(&text), Some(s));
    }
}

fn hourly_series(start: i64, hours: i64, offset: i32) -> Vec<Candidate> {
    (0..hours)
        .map(|h| Candidate { id: id(h as usize), time: at(start + h * HOUR, offset), tags: vec![], pinned: false })
        .collect()
}

fn kept_ids(cands: &[Candidate], rules: &KeepRules, now: &Timestamp) -> Vec<usize> {
    let mut kept: Vec<usize> = apply(cands, rules, now)
        .into_iter()
        .filter(Decision::keep)
        .map(|d| u64::from_be_bytes(d.id.0[..8].try_into().unwrap()) as usize)
        .collect();
    kept.sort();
    kept
}

#[test]
fn days_are_read_in_the_snapshots_own_offset() {
    // 48 hourly snapshots from 2026-03-01 00:00 UTC, recorded at UTC+09:30:
    // local days start at 14:30 UTC, so the newest of each local day is the
    // one at 14:00 UTC, not the one at 23:00 UTC.
    let cands = hourly_series(BASE, 48, 34200);
    let now = at(BASE + 48 * HOUR, 0);
    let rules = KeepRules { daily: 5, ..KeepRules::default() };
    // Days: local 03-01 (ids 0..=14), 03-02 (15..=38), 03-03 (39..=47).
    assert_eq!(kept_ids(&cands, &rules, &now), vec![0, 14, 38, 47]);
}

#[test]
fn weeks_are_iso_weeks() {
    // 2026-12-28 (Monday) .. 2027-01-10: ISO weeks 2026-W53 and 2027-W01.
    let monday = 1_798_416_000; // 2026-12-28 00:00 UTC
    let cands: Vec<Candidate> = (0..14)
        .map(|d| Candidate { id: id(d), time: at(monday + d as i64 * DAY + 12 * HOUR, 0), tags: vec![], pinned: false })
        .collect();
    let rules = KeepRules { weekly: 2, ..KeepRules::default() };
    assert_eq!(kept_ids(&cands, &rules, &at(monday + 15 * DAY, 0)), vec![6, 13]);
}

#[test]
fn spans_parse_like_restics() {
    assert_eq!(parse_span("1y2m3d4h"), Some(Span { years: 1, months: 2, days: 3, hours: 4 }));
    assert_eq!(parse_span("36h"), Some(Span { hours: 36, ..Span::default() }));
    for bad in ["", "3", "d", "3w", "1.5d", "-1d", "99999999999d"] {
        assert_eq!(parse_span(bad), None, "{bad}");
    }
}

#[test]
fn absurd_times_do_not_panic() {
    let cands = vec![
        Candidate {
            id: id(1),
            time: Timestamp { unix_seconds: i64::MIN, nanos: u32::MAX, offset_seconds: i32::MIN },
            tags: vec![],
            pinned: false,
        },
        Candidate {
            id: id(2),
            time: Timestamp { unix_seconds: -400_000_000_000, nanos: 0, offset_seconds: 93_600 },
            tags: vec![],
            pinned: false,
        },
        Candidate { id: id(3), time: at(BASE, 0), tags: vec![], pinned: false },
    ];
    let rules = KeepRules {
        daily: 3,
        within: Some(Span { years: u32::MAX, ..Span::default() }),
        within_daily: Some(Span { days: u32::MAX, ..Span::default() }),
        ..KeepRules::default()
    };
    let d = apply(&cands, &rules, &at(BASE, 0));
    assert_eq!(d.len(), 3);
}
