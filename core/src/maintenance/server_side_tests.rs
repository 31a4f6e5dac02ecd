//! Tests of the server's maintenance: the report's bounds, the schedule,
//! and forget by arrival against forged snapshots.

use std::fs::File;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::format::Timestamp;
use crate::format::retention::KeepRules;
use crate::test_fixtures;

const DAY: i64 = 86_400;

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Stores a snapshot recording `time` (by `user`) and makes the storage
/// say it arrived at `arrived` (the file's modification time).
fn plant(repo: &Repository, time: i64, arrived: i64, user: &str) -> crate::id::Id {
    let root = test_fixtures::tree(repo, Vec::new());
    let mut s = test_fixtures::snapshot(0, &["/home/u"], root);
    s.time = Timestamp { unix_seconds: time, nanos: 0, offset_seconds: 0 };
    s.user = user.into();
    let e = test_fixtures::store(repo, s);
    let path = repo.backend().local_path(FileKind::Snapshot, &e.id).unwrap();
    let when = UNIX_EPOCH + Duration::from_secs(arrived as u64);
    File::options().write(true).open(&path).unwrap().set_modified(when).unwrap();
    e.id
}

fn snapshot_ids(repo: &Repository) -> Vec<crate::id::Id> {
    repo.backend().list(FileKind::Snapshot).unwrap().into_iter().map(|(id, _)| id).collect()
}

#[test]
fn forged_snapshots_cannot_push_out_the_history_the_server_received() {
    let dir = tempfile::tempdir().unwrap();
    let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
    policy_store::store(&repo, &KeepRules { daily: 7, ..KeepRules::default() }, "h", "u").unwrap();
    let today = now_secs() / DAY * DAY;
    // Real history: one snapshot at noon on each of the six days before
    // yesterday, each received when it was taken.
    let real: Vec<_> = (2..=7).map(|d| today - d * DAY + DAY / 2).map(|t| plant(&repo, t, t, "u")).collect();
    // The agent uploads now: a later snapshot on each of those days (the
    // newest of its day by the time it records), and a flood dated now.
    let now = now_secs();
    let backdated: Vec<_> = (2..=7).map(|d| plant(&repo, today - d * DAY + DAY / 2 + 3600, now, "agent")).collect();
    let flood: Vec<_> = (0..20).map(|i| plant(&repo, now - 60 - i, now, "agent")).collect();

    // Dated by the time they record (what a client's forget does), the
    // forgeries would win every day and the real history would go.
    let claimed = forget::plan(
        &repo,
        &KeepRules { daily: 7, ..KeepRules::default() },
        GroupBy::DEFAULT,
        &Filter::default(),
        &now_timestamp(),
    )
    .unwrap();
    assert!(real.iter().all(|id| claimed.to_remove().contains(id)), "the attack works on recorded times");

    let (ok, outcome, errors) = forget_task(&repo).unwrap();
    assert!(ok, "{outcome} {errors:?}");
    let left = snapshot_ids(&repo);
    for id in &real {
        assert!(left.contains(id), "real snapshot {id} was forgotten: {outcome}");
    }
    // The back-dated ones arrived days after the time they record: kept,
    // uncounted; the flood shares one day's bucket and all but one go.
    assert!(backdated.iter().all(|id| left.contains(id)));
    assert_eq!(flood.iter().filter(|id| left.contains(id)).count(), 1, "{outcome}");
    assert!(outcome.starts_with("removed 19 of 32 snapshots by the repository's policy"), "{outcome}");
    assert!(outcome.contains("6 kept uncounted"), "{outcome}");
}

#[test]
fn run_due_runs_what_is_due_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
    policy_store::store(&repo, &KeepRules { last: 2, ..KeepRules::default() }, "h", "u").unwrap();
    let now = now_secs();
    for i in 0..4 {
        plant(&repo, now - 600 + i, now - 600 + i, "u");
    }
    let path = dir.path().join("repo");
    drop(repo);
    let schedule = Schedule { check_subset: ReadSubset::Slice { n: 1, m: 2 }, ..Schedule::default() };
    let t0 = jiff::Timestamp::now();
    let first = run_due(&path, b"pw", &schedule, &ServeReport::default(), t0);
    assert_eq!(first.error, None);
    for task in [&first.forget, &first.prune, &first.check] {
        let task = task.as_ref().unwrap();
        assert!(task.ok, "{task:?}");
    }
    assert!(first.forget.as_ref().unwrap().outcome.starts_with("removed 2 of 4"), "{first:?}");
    assert!(first.check.as_ref().unwrap().outcome.contains("subset 1/2"), "{first:?}");
    assert_eq!(first.next_subset, 2);
    let repo = Repository::open(&path, Some(b"pw")).unwrap();
    assert_eq!(snapshot_ids(&repo).len(), 2);

    // Ten minutes later nothing is due: the report is the same but for
    // when it looked.
    let later = t0.checked_add(jiff::SignedDuration::from_mins(10)).unwrap();
    let second = run_due(&path, b"pw", &schedule, &first, later);
    assert_eq!(ServeReport { checked_at: None, ..second.clone() }, ServeReport { checked_at: None, ..first.clone() });

    // A day later forget and prune are due, the weekly check is not.
    let next_day = t0.checked_add(jiff::SignedDuration::from_hours(25)).unwrap();
    let third = run_due(&path, b"pw", &schedule, &second, next_day);
    assert_ne!(third.forget, first.forget);
    assert_ne!(third.prune, first.prune);
    assert_eq!(third.check, first.check);

    // The JSON goes back and forth whole.
    assert_eq!(ServeReport::parse(&third.to_json()).unwrap(), third);

    // A wrong password is one error line, and no task is recorded as run.
    let wrong = run_due(&path, b"nope", &schedule, &ServeReport::default(), t0);
    assert!(wrong.error.as_deref().is_some_and(|e| e.contains("could not open")), "{wrong:?}");
    assert_eq!((wrong.forget, wrong.prune, wrong.check), (None, None, None));
}

#[test]
fn reports_are_bounded_and_versioned() {
    let big = format!("{{\"version\":1,\"error\":\"{}\"}}", "x".repeat(MAX_REPORT_LEN));
    assert!(ServeReport::parse(big.as_bytes()).is_err());
    assert!(ServeReport::parse(b"{\"version\":2}").is_err());
    assert!(ServeReport::parse(b"not json").is_err());
    assert_eq!(ServeReport::parse(b"{\"version\":1}").unwrap(), ServeReport { version: 1, ..ServeReport::default() });
    // Lines are cut and cleaned when recorded.
    let r = record(Ok((false, "a\nb".repeat(1000), vec!["e".into(); 100])));
    assert!(!r.outcome.contains('\n') && r.outcome.chars().count() <= MAX_LINE + 1);
    assert_eq!(r.errors.len(), MAX_ERRORS);
}

#[test]
fn tasks_are_due_after_their_interval_and_never_when_never() {
    let now: jiff::Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
    let day = Some(Duration::from_secs(86_400));
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
    assert!(is_due(None, day, now));
    assert!(is_due(at("2026-01-09T00:00:00Z"), day, now));
    assert!(!is_due(at("2026-01-09T00:00:01Z"), day, now));
    assert!(!is_due(None, None, now));
    assert!(is_due(at("2026-01-11T00:00:00Z"), day, now), "a last time in the future is due");
}
