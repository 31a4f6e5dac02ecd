//! Bad input and faults: wrong password, missing repository, unreadable and
//! changing files, missing paths, and damaged repository files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

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
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
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
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains(missing.to_str().unwrap()), "{}", stderr_of(&out));
    let foreign = env.path("photos");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("cat.jpg"), b"meow").unwrap();
    let out = env.cairn().env("CAIRN_REPO", &foreign).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
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

    let out = as_unprivileged(&env, &["snapshot"], &[&src]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    assert!(err.contains("locked.txt"), "{err}");
    assert!(err.contains("locked-dir"), "{err}");
    assert!(stdout_of(&out).contains("snapshot"), "summary still printed");

    fs::set_permissions(src.join("locked-dir"), fs::Permissions::from_mode(0o755)).unwrap();
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("readable.txt")).unwrap(), b"fine");
    assert!(!base.join("locked.txt").exists());
}

#[test]
fn file_growing_while_read_is_stored_consistently() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let log = src.join("transcript.jsonl");
    let line = b"{\"type\":\"assistant\",\"message\":\"working on it, one more tool call\"}\n";
    fs::write(&log, line.repeat(300_000)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let log = log.clone();
        std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::io::Write::write_all(&mut f, line).unwrap();
            }
        })
    };
    let out = env.cairn().arg("snapshot").arg(&src).output().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    appender.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let stored = fs::read(restored(&target, &src).join("transcript.jsonl")).unwrap();
    let now = fs::read(&log).unwrap();
    assert!(stored.len() >= line.len() * 300_000);
    assert!(now.starts_with(&stored), "the stored version is a prefix of the file");
    assert_eq!(stored.len() % line.len(), 0, "whole lines only, as the appender wrote them");
}

/// Two snapshots; returns the repository files the second one added.
fn two_snapshots(env: &Env) -> (PathBuf, Vec<PathBuf>) {
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 11).unwrap();
    env.snapshot_json(&[&src]);
    // Keep what snapshot 1 restores to, to compare after the damage.
    let good = env.path("good");
    env.cairn().args(["restore", "latest", "--target"]).arg(&good).assert().success();
    let before = env.repo_listing();
    cairn_testgen::tick(&src, 1).unwrap();
    env.snapshot_json(&[&src]);
    (good, new_files(&before, &env.repo_listing()))
}

fn damage(path: &Path, how: &str) {
    let mut bytes = fs::read(path).unwrap();
    match how {
        "truncate" => bytes.truncate(bytes.len() / 2),
        _ => {
            let i = bytes.len() / 3;
            bytes[i] ^= 0x40;
        }
    }
    fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_files_are_named_by_check_and_other_snapshots_restore() {
    for (folder, how) in [("data", "flip"), ("data", "truncate"), ("index", "flip"), ("snapshots", "truncate")] {
        let env = Env::new();
        let (good, added) = two_snapshots(&env);
        let victim = added
            .iter()
            .filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with(folder))
            .max_by_key(|p| fs::metadata(p).unwrap().len())
            .unwrap_or_else(|| panic!("snapshot 2 added no {folder} file"))
            .clone();
        damage(&victim, how);
        let name = victim.file_name().unwrap().to_str().unwrap().to_string();

        let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{folder}/{how}: check must fail");
        let report = stdout_of(&out);
        assert!(report.contains(&name), "{folder}/{how}: check names {name}:\n{report}");
        if folder != "data" || how != "flip" {
            // Structure damage is found without reading data too.
            let out = env.cairn().arg("check").output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{folder}/{how}: plain check must fail:\n{}", stdout_of(&out));
        }

        // The first snapshot still restores byte for byte.
        let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = list[0]["id"].as_str().unwrap().to_string();
        let target = env.path("again");
        env.cairn().args(["restore", &first, "--target"]).arg(&target).assert().success();
        assert_same_tree(&good, &target);
    }
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
