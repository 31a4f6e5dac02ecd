//! Bad input and faults: wrong password, missing repository, unreadable and
//! changing files, missing paths. Damaged repository files: `damage.rs`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;
use crate::hooks::{Hook, spawn};

#[test]
fn wrong_password_is_one_line_and_touches_nothing() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    env.snapshot_json(&[&src]);
    let before = env.repo_listing();
    for cmd in [vec!["snapshots"], vec!["snapshot", src.to_str().unwrap()], vec!["check"]] {
        let out = env.cairn().env("CAIRN_PASSWORD", "wrong").args(&cmd).output().unwrap();
        // 12: wrong password, as restic's.
        assert_eq!(out.status.code(), Some(12), "{cmd:?}");
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("wrong password"), "{err}");
    }
    assert_eq!(env.repo_listing(), before);
}

#[test]
fn missing_or_foreign_repository_is_named() {
    let env = Env::empty();
    let missing = env.path("nowhere");
    let out = env.cairn().env("CAIRN_REPO", &missing).arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(10), "no repository");
    assert!(stderr_of(&out).contains(missing.to_str().unwrap()), "{}", stderr_of(&out));
    // Core says what is wrong; the command line says which of its flags to use.
    assert!(
        stderr_of(&out).contains("run `cairn init`") && stderr_of(&out).contains("CAIRN_REPO"),
        "{}",
        stderr_of(&out)
    );
    let foreign = env.path("photos");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("cat.jpg"), b"meow").unwrap();
    let out = env.cairn().env("CAIRN_REPO", &foreign).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(10), "no repository");
    assert!(stderr_of(&out).contains("no repository at"), "{}", stderr_of(&out));
    // init refuses a non-empty folder.
    let out = env.cairn().env("CAIRN_REPO", &foreign).arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read_dir(&foreign).unwrap().count(), 1);
}

#[test]
fn missing_path_fails_before_any_write() {
    let env = Env::new();
    let before = env.repo_listing();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let out = env.cairn().arg("snapshot").arg(&src).arg(env.path("not-there")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("not-there"), "{}", stderr_of(&out));
    assert_eq!(env.repo_listing(), before);
}

/// Runs `cairn` as an unprivileged user when the tests run as root (root
/// reads any file whatever its mode).
fn as_unprivileged(env: &Env, args: &[&str], paths: &[&Path]) -> std::process::Output {
    let root = rustix_is_root();
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_cairn"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("CAIRN_REPO", &env.repo)
        .env("CAIRN_PASSWORD", PASSWORD)
        .args(args)
        .args(paths);
    cmd.output().unwrap()
}

fn rustix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes everything under `dir` accessible to the unprivileged user.
fn open_up(dir: &Path) {
    let status = std::process::Command::new("chmod").arg("-R").arg("a+rwX").arg(dir).status().unwrap();
    assert!(status.success());
}

#[test]
fn unreadable_file_and_folder_warn_and_exit_3() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("locked-dir")).unwrap();
    fs::write(src.join("readable.txt"), b"fine").unwrap();
    fs::write(src.join("locked.txt"), b"secret").unwrap();
    fs::write(src.join("locked-dir/inner.txt"), b"hidden").unwrap();
    open_up(env.dir.path());
    fs::set_permissions(src.join("locked.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(src.join("locked-dir"), fs::Permissions::from_mode(0o000)).unwrap();

    let out = as_unprivileged(&env, &["snapshot", "--json", "--no-default-excludes"], &[&src]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    for name in ["locked.txt", "locked-dir"] {
        assert!(err.lines().any(|l| l.starts_with("warning: ") && l.contains(name)), "{name}:\n{err}");
    }
    // The snapshot was saved all the same, and its summary says what is missing.
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(&out)));
    let id = v["id"].as_str().unwrap_or_else(|| panic!("a snapshot id: {v}"));
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{v}");
    assert_eq!(v["dry_run"], false, "{v}");
    assert_eq!(v["summary"]["warnings"], 2, "{v}");
    assert_eq!(v["summary"]["files_read"], 1, "only readable.txt: {v}");
    assert_eq!(v["summary"]["files_new"], 1, "{v}");
    let warnings: Vec<&str> = v["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert_eq!(warnings.len(), 2, "{v}");
    for name in ["locked.txt", "locked-dir"] {
        assert!(warnings.iter().any(|w| w.contains(name) && w.contains("not stored")), "{name}: {warnings:?}");
    }
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"].as_str(), Some(id), "the saved snapshot is the one reported");

    fs::set_permissions(src.join("locked-dir"), fs::Permissions::from_mode(0o755)).unwrap();
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("readable.txt")).unwrap(), b"fine");
    assert!(!base.join("locked.txt").exists());
}

/// A transcript an agent appends to while it is read. The file-read hook
/// stops the run after each read attempt of the file, before it checks the
/// file held still, and lines are appended right then: every attempt sees
/// the file grow, so the run gives up after its three attempts, warns, and
/// stores the last version it read, exactly two batches longer.
#[test]
fn file_growing_while_read_is_stored_consistently() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let log = src.join("transcript.jsonl");
    let line = b"{\"type\":\"assistant\",\"message\":\"working on it, one more tool call\"}\n";
    let initial = line.repeat(20_000);
    let batch = line.repeat(1_000);
    fs::write(&log, &initial).unwrap();
    let hook = Hook::new(env.path("hook"), "file-read");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--json", "--no-default-excludes"]).arg(&src);
    hook.pause(&mut cmd, Some(&fs::canonicalize(&log).unwrap()));
    let mut child = spawn(cmd);
    for attempt in 1..=3 {
        hook.wait(&mut child, attempt);
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, &batch).unwrap();
        drop(f);
        hook.release(attempt);
    }
    // Any further attempt reads a file that holds still.
    hook.release_all();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["warnings"], 1, "{v}");
    let warning = v["warnings"][0].as_str().unwrap();
    assert!(warning.contains("transcript.jsonl") && warning.contains("changed while being read"), "{warning}");
    assert!(stderr_of(&out).lines().any(|l| l.starts_with("warning: ") && l.contains("changed while being read")));

    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let stored = fs::read(restored(&target, &src).join("transcript.jsonl")).unwrap();
    let now = fs::read(&log).unwrap();
    assert_eq!(now.len(), initial.len() + 3 * batch.len());
    // The last attempt read the file after two batches were appended.
    assert_eq!(stored.len(), initial.len() + 2 * batch.len(), "grew while read; the last read is stored");
    assert!(now.starts_with(&stored), "the stored version is a prefix of the file");
    assert_eq!(stored.len() % line.len(), 0, "whole lines only, as the appender wrote them");
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let env = Env::empty();
    let out = env.cairn().arg("snapshot").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "missing PATH is an error");
    let out = env.cairn().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    env.cairn().arg("--help").assert().success();
    env.cairn().arg("--version").assert().success();
}

#[test]
fn a_thousand_levels_deep_round_trips() {
    let env = Env::new();
    let src = env.path("src");
    let mut deep = src.clone();
    for _ in 0..1000 {
        deep.push("d");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom.txt"), b"still here").unwrap();
    env.snapshot_json(&[&src]);
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_eq!(fs::read(restored(&target, &deep).join("bottom.txt")).unwrap(), b"still here");
    env.cairn().arg("check").assert().success();
    let out = env.cairn().args(["diff", "latest"]).output().unwrap();
    assert!(stdout_of(&out).starts_with("0 added"), "{}", stdout_of(&out));
}
