//! A file planted in a repository under a valid-looking name, larger than
//! any valid file of its kind, is refused by its size before it is read:
//! `snapshots`, `snapshot` and `check` stay small (peak RSS measured with
//! `/usr/bin/time`, per child process) and name the file.

use std::fs;
use std::path::Path;

use crate::common::*;

/// Peak memory the commands may reach: a planted file of 4 GiB must not
/// become a buffer, whatever else they hold.
const MAX_RSS_KIB: u64 = 100 * 1024;
const PLANTED_LEN: u64 = 4 << 30;

/// Runs `cmd` under `/usr/bin/time -f %M` and returns its output and its
/// peak resident set in KiB (GNU time reports the child's own ru_maxrss).
fn run_measured(env: &Env, cmd: std::process::Command) -> (std::process::Output, u64) {
    let report = env.path("time-report");
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed.arg("-f").arg("%M").arg("-o").arg(&report).arg(cmd.get_program()).args(cmd.get_args());
    timed.env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            timed.env(key, value);
        }
    }
    let out = timed.output().expect("run /usr/bin/time (package `time`)");
    let text = fs::read_to_string(&report).expect("time wrote its report");
    let kib = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("report {text:?}"));
    (out, kib)
}

/// A sparse file of `PLANTED_LEN` bytes named like a real file of `folder`.
fn plant(env: &Env, folder: &str) -> String {
    let name = "ab".repeat(32);
    let file = fs::File::create(env.repo.join(folder).join(&name)).unwrap();
    file.set_len(PLANTED_LEN).unwrap();
    format!("{folder}/{name}")
}

fn assert_small_and_named(env: &Env, args: &[&str], planted: &str, succeeds: bool) {
    let mut cmd = env.std_cairn();
    cmd.args(args);
    let (out, kib) = run_measured(env, cmd);
    // `check` lists its findings on standard output, the others warn.
    let said = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(kib < MAX_RSS_KIB, "cairn {args:?} peaked at {kib} KiB: {said}");
    assert!(said.contains(planted) && said.contains("larger than any valid"), "cairn {args:?}: {said}");
    assert_eq!(out.status.success(), succeeds, "cairn {args:?}: {said}");
}

fn planted_file_is_refused_unread(folder: &str) {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "some text").unwrap();
    env.snapshot_json(&[&src]);
    let planted = plant(&env, folder);
    assert_small_and_named(&env, &["snapshots"], &planted, true);
    assert_small_and_named(&env, &["snapshot", src.to_str().unwrap()], &planted, true);
    assert_small_and_named(&env, &["check"], &planted, false);
    // The repository's own snapshots are all still there and readable.
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{}", stderr_of(&out));
    restore_matches(&env, &src);
}

fn restore_matches(env: &Env, src: &Path) {
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(src, &restored(&target, src));
}

#[test]
fn a_huge_planted_index_file_is_refused_by_its_size() {
    planted_file_is_refused_unread("index");
}

#[test]
fn a_huge_planted_snapshot_file_is_refused_by_its_size() {
    planted_file_is_refused_unread("snapshots");
}
