//! Issue 10, item 9: exit codes a script can act on (README, "Exit
//! codes"): 10 no repository and 12 wrong password are in faults.rs and
//! passwords.rs, 3 in faults.rs; here 130 for an interrupted snapshot,
//! which says one line and saves nothing.

use std::fs;

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// SIGINT to a snapshot stopped at `point`: exit 130, one line, no snapshot.
fn interrupted_at(point: &'static str) {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), b"some data").unwrap();
    let hook = Hook::new(env.path("hook"), point);
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot"]).arg(&src);
    hook.pause(&mut cmd, None);
    let mut child = spawn(cmd);
    hook.wait(&mut child, 1);
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{point}: {}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "cairn: interrupted; nothing was saved\n", "{point}");
    assert!(stdout_of(&out).is_empty(), "{point}: {}", stdout_of(&out));
    let snapshots = fs::read_dir(env.repo.join("snapshots")).unwrap().count();
    assert_eq!(snapshots, 0, "{point}: nothing was saved");
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    assert_eq!(stdout_of(&out).trim(), "[]", "{point}");
}

#[test]
fn an_interrupted_snapshot_exits_130_and_says_nothing_was_saved() {
    // While reading files, and at the last step before the manifest.
    for point in ["file-stat", "index-written"] {
        interrupted_at(point);
    }
}
