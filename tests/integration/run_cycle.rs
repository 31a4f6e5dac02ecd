//! `cairn run` (issue 12, point 2): after `init --paths`, a run with no
//! other argument does the whole cycle silently; a second run while one
//! holds the lock exits 11 at once; prune and check happen only when due,
//! the check's subset rotating; the log stays bounded; a failing step is
//! one line on stderr and the run's outcome is recorded.

use std::fs;

use crate::common::*;
use crate::hooks::{Hook, spawn};
use crate::profiles::Home;

#[test]
fn init_paths_then_run_takes_a_snapshot_silently() {
    let home = Home::new();
    home.init();
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(stdout_of(&out), "");
    assert_eq!(stderr_of(&out), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(home.snapshot_count(&[]), 1);
    let state = home.state("default");
    assert_eq!(state["last_run"]["exit_code"], 0);
    assert_eq!(state["last_run"]["message"], "ok");
    assert!(state["last_snapshot"]["time"].is_string());
    let log = fs::read_to_string(home.state_dir("default").join("run.log")).unwrap();
    assert_eq!(log.lines().count(), 1);
    assert!(log.contains(" exit=0 "), "{log}");
}

#[test]
fn a_second_run_while_one_holds_the_lock_exits_11_at_once() {
    let home = Home::new();
    home.init();
    let hook = Hook::new(home.path("hook"), "packs-done");
    let mut first = home.std_cairn();
    first.arg("run");
    hook.pause(&mut first, None);
    let mut first = spawn(first);
    hook.wait(&mut first, 1);
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(11));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("another `cairn run` of the profile `default` is running"), "{err}");
    // Another profile has its own lock.
    let text = fs::read_to_string(home.config_file()).unwrap();
    home.append_config(&format!(
        "\n[other]\nprune-every = \"never\"\ncheck-every = \"never\"\n{}",
        text.lines().filter(|l| !l.starts_with('[')).map(|l| format!("{l}\n")).collect::<String>()
    ));
    let out = home.cairn().args(["run", "--profile", "other"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    hook.release_all();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(home.snapshot_count(&[]), 2);
}

/// `run --verbose`: what the steps print.
fn verbose_run(home: &Home) -> String {
    let out = home.cairn().args(["run", "--verbose"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    stdout_of(&out)
}

/// Sets a key of the profile's state.json.
fn set_state(home: &Home, key: &str, value: serde_json::Value) {
    let file = home.state_dir("default").join("state.json");
    let mut state = home.state("default");
    state[key] = value;
    fs::write(file, serde_json::to_vec(&state).unwrap()).unwrap();
}

#[test]
fn prune_and_check_run_only_when_due_and_the_subset_rotates() {
    let home = Home::new();
    home.init();
    // The first run does everything: nothing was ever done.
    let first = verbose_run(&home);
    assert!(first.contains("no errors"), "{first}");
    let state = home.state("default");
    assert_eq!(state["last_check"]["subset"], "1/4");
    assert_eq!(state["next_subset"], 2);
    let pruned = state["last_prune"].clone();
    assert!(pruned.is_string());
    // Neither is due an instant later.
    let second = verbose_run(&home);
    assert!(!second.contains("no errors"), "{second}");
    assert!(second.contains("snapshot "), "{second}");
    assert_eq!(home.state("default")["next_subset"], 2);
    // A check a week and more ago: due, with the next slice.
    let mut last_check = home.state("default")["last_check"].clone();
    last_check["time"] = "2000-01-01T00:00:00Z".into();
    set_state(&home, "last_check", last_check);
    set_state(&home, "last_prune", "2000-01-01T00:00:00Z".into());
    let third = verbose_run(&home);
    assert!(third.contains("no errors"), "{third}");
    let state = home.state("default");
    assert_eq!(state["last_check"]["subset"], "2/4");
    assert_eq!(state["next_subset"], 3);
    assert_ne!(state["last_prune"], "2000-01-01T00:00:00Z");
    // `never` means never.
    home.append_config("check-every = \"never\"\nprune-every = \"never\"\n");
    set_state(&home, "last_prune", "2000-01-01T00:00:00Z".into());
    let mut last_check = home.state("default")["last_check"].clone();
    last_check["time"] = "2000-01-01T00:00:00Z".into();
    set_state(&home, "last_check", last_check);
    let fourth = verbose_run(&home);
    assert!(!fourth.contains("no errors"), "{fourth}");
    let state = home.state("default");
    assert_eq!(state["last_prune"], "2000-01-01T00:00:00Z");
    assert_eq!(state["last_check"]["time"], "2000-01-01T00:00:00Z");
}

#[test]
fn the_log_is_rotated_and_bounded() {
    let home = Home::new();
    home.init();
    home.cairn().arg("run").assert().success();
    let dir = home.state_dir("default");
    let big = "x".repeat(300 * 1024);
    for round in 1..=3 {
        fs::write(dir.join("run.log"), &big).unwrap();
        home.cairn().arg("run").assert().success();
        let log = fs::read_to_string(dir.join("run.log")).unwrap();
        assert_eq!(log.lines().count(), 1, "round {round}");
        assert_eq!(fs::metadata(dir.join("run.log.1")).unwrap().len(), big.len() as u64);
    }
    let mut names: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["run.lock", "run.log", "run.log.1", "run.log.2", "state.json"]);
}

#[test]
fn a_failing_step_is_one_line_and_the_run_goes_on() {
    let home = Home::new();
    home.init();
    home.cairn().arg("run").assert().success();
    // A path of the profile vanished: the snapshot fails, forget still runs.
    fs::remove_dir_all(home.path("projects")).unwrap();
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("cairn: error: snapshot failed: "), "{err}");
    assert_eq!(stdout_of(&out), "");
    let state = home.state("default");
    assert_eq!(state["last_run"]["exit_code"], 1);
    assert!(state["last_run"]["message"].as_str().unwrap().contains("no such file or folder"));
    // Without a profile there is nothing to run.
    let other = Home::new();
    let out = other.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("no profile: `cairn init --paths"), "{}", stderr_of(&out));
}

/// A mass deletion under `cairn run`: exit 4, the profile's `on-alert`
/// command runs, and the alarm is in the profile's state afterwards (the
/// run's own state write must not drop what the snapshot recorded), so
/// `status` is loud until `--ack`.
#[test]
fn an_alarm_during_run_is_recorded_and_runs_the_profiles_on_alert() {
    let home = Home::new();
    for i in 0..25 {
        fs::write(home.path(&format!("projects/app/note{i}.md")), format!("note {i}\n")).unwrap();
    }
    home.init();
    let alerted = home.path("alerted");
    home.append_config(&format!("on-alert = \"echo \\\"$CAIRN_ALARM_VANISHED\\\" > '{}'\"\n", alerted.display()));
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    for i in 0..25 {
        fs::remove_file(home.path(&format!("projects/app/note{i}.md"))).unwrap();
    }
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("ALARM"), "{}", stderr_of(&out));
    assert_eq!(fs::read_to_string(&alerted).unwrap().trim(), "25");
    let state = home.state("default");
    assert_eq!(state["alarm"]["vanished"], 25, "{state}");
    assert_eq!(state["alarm"]["acknowledged"], false);
    let out = home.cairn().arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    home.cairn().args(["status", "--ack"]).output().unwrap();
    let out = home.cairn().arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout_of(&out), stderr_of(&out));
}
