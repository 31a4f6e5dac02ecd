//! `cairn status` (issue 12, point 6): quiet and exit 0 when all is well;
//! loud (a PROBLEM line each on stderr, exit 1) when the last snapshot is
//! older than twice the schedule's interval, an alarm is unacknowledged or
//! the last run failed; `--ack` acknowledges the alarm; `--json`.

use std::fs;

use crate::common::*;
use crate::profiles::Home;

fn status(home: &Home, args: &[&str]) -> std::process::Output {
    home.cairn().arg("status").args(args).output().unwrap()
}

#[test]
fn status_after_a_good_run_is_calm_and_complete() {
    let home = Home::new();
    home.init();
    home.append_config("every = \"1h\"\n");
    home.cairn().arg("run").assert().success();
    let out = status(&home, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    let text = stdout_of(&out);
    for want in
        ["last snapshot", "last run", "(ok)", "next run", "(every 1h)", "last check", "last drill", "1 snapshot,"]
    {
        assert!(text.contains(want), "{want:?} missing in {text}");
    }
    let out = status(&home, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["loud"], false);
    assert_eq!(v["repository"]["snapshots"], 1);
    assert_eq!(v["every"], "1h");
    assert!(v["last_snapshot"]["age_seconds"].as_u64().unwrap() < 3600);
    // As the timer and cron start it: at the top of the next local hour
    // (a whole number of quarter hours in UTC, whatever the time zone).
    let next: jiff::Timestamp = v["next_run"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.as_second() % 900, 0, "next run {next} is not on the hour");
}

#[test]
fn an_old_last_snapshot_makes_status_loud() {
    let home = Home::new();
    home.init();
    home.append_config("every = \"1h\"\n");
    // The only snapshot is from long ago.
    home.cairn().args(["snapshot", "--quiet", "--time", "2020-01-01 00:00"]).assert().success();
    let out = status(&home, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.starts_with("cairn: PROBLEM: the last snapshot (") && err.contains("more than twice"), "{err}");
    // Without a schedule there is no interval to be late against.
    let text = fs::read_to_string(home.config_file()).unwrap().replace("every = \"1h\"\n", "");
    fs::write(home.config_file(), text).unwrap();
    let out = status(&home, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("not scheduled"));
}

#[test]
fn an_unacknowledged_alarm_is_loud_until_acknowledged() {
    let home = Home::new();
    home.init();
    home.cairn().arg("run").assert().success();
    let file = home.state_dir("default").join("state.json");
    let mut state = home.state("default");
    state["alarm"] = serde_json::json!({
        "time": "2026-01-01T00:00:00Z", "snapshot": "abcd1234", "pinned_parent": "0123abcd",
        "vanished": 400, "truncated": 0, "protected": 12, "acknowledged": false,
    });
    fs::write(&file, serde_json::to_vec(&state).unwrap()).unwrap();
    let out = status(&home, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("mass-deletion alarm at 2026-01-01T00:00:00Z: 400 files vanished"));
    let out = status(&home, &["--ack"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("acknowledged"));
    assert_eq!(home.state("default")["alarm"]["acknowledged"], true);
    assert_eq!(status(&home, &[]).status.code(), Some(0));
}

#[test]
fn a_failed_last_run_is_loud() {
    let home = Home::new();
    home.init();
    home.cairn().arg("run").assert().success();
    fs::remove_dir_all(home.path(".claude")).unwrap();
    home.cairn().arg("run").assert().code(1);
    let out = status(&home, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("PROBLEM: the last run ("), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&status(&home, &["--json"]).stdout).unwrap();
    assert_eq!(v["loud"], true);
}

#[test]
fn status_shows_the_servers_maintenance_and_is_loud_when_it_failed() {
    let home = Home::new();
    home.init();
    home.cairn().arg("run").assert().success();
    // The storage answers with a server's report (a test backend standing
    // in for `cairn serve --maintain`; the real one is tested in serve).
    let report = home.path("report.json");
    let task =
        |ok: bool, outcome: &str| serde_json::json!({"time": "2026-01-02T03:04:05Z", "ok": ok, "outcome": outcome});
    let mut doc = serde_json::json!({
        "version": 1, "checked_at": "2026-01-02T03:05:00Z",
        "forget": task(true, "removed 3 of 40 snapshots by the repository's policy"),
        "prune": task(true, "deleted 2 packs"),
    });
    fs::write(&report, doc.to_string()).unwrap();
    let run = |args: &[&str]| {
        home.cairn().env("CAIRN_TEST_SERVER_REPORT", &report).arg("status").args(args).output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(text.contains("server forget    2026-01-02T03:04:05Z, ok: removed 3 of 40 snapshots"), "{text}");
    assert!(text.contains("server check     never"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&run(&["--json"]).stdout).unwrap();
    assert_eq!(v["server_maintenance"]["forget"]["outcome"], "removed 3 of 40 snapshots by the repository's policy");

    // A failed task, and a report the client cannot believe, are problems.
    doc["check"] = task(false, "1 problems; \u{1b}[31m");
    fs::write(&report, doc.to_string()).unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("PROBLEM: the server's last check (2026-01-02T03:04:05Z) failed"),
        "{}",
        stderr_of(&out)
    );
    assert!(!stdout_of(&out).contains('\u{1b}'), "the server's words are cleaned");
    fs::write(&report, vec![b' '; 65 * 1024]).unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("the server's maintenance report cannot be read"), "{}", stderr_of(&out));
    // Without a report (a local folder), nothing about a server.
    assert!(!stdout_of(&status(&home, &[])).contains("server "));
}
