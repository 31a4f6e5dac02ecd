//! The everyday commands a restic user reaches for: `dump`, `key passwd`,
//! `CAIRN_PASSWORD_COMMAND`, `snapshots --latest N` and `snapshots ID...`.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::common::*;
use crate::hooks::Hook;

const WEAK_KDF: [&str; 4] = ["--kdf-memory-kib", "8", "--kdf-iterations", "1"];

fn snapshot_at(env: &Env, src: &Path, time: &str) -> String {
    let out = env.cairn().args(["snapshot", "--json", "--time", time]).arg(src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_str().expect("snapshot id").to_string()
}

#[test]
fn dump_streams_one_file_and_refuses_a_folder_clearly() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    // Many chunks: the bytes come out whole and in order.
    let big = noise(3_000_000, 7);
    fs::write(src.join("big.bin"), &big).unwrap();
    fs::write(src.join("notes.md"), b"first\n").unwrap();
    snapshot_at(&env, &src, "2026-11-20 10:00");
    fs::write(src.join("notes.md"), b"second\n").unwrap();
    snapshot_at(&env, &src, "2026-11-20 12:00");

    let out = env.cairn().arg("dump").arg("latest").arg(src.join("big.bin")).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout == big, "dumped bytes differ from the file");
    let out = env.cairn().args(["dump", "latest"]).arg(src.join("notes.md")).output().unwrap();
    assert_eq!(out.stdout, b"second\n");
    let out = env.cairn().args(["dump", "--at", "2026-11-20 11:00"]).arg(src.join("notes.md")).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"first\n");
    let out = env.cairn().args(["dump", "latest~1"]).arg(src.join("notes.md")).output().unwrap();
    assert_eq!(out.stdout, b"first\n");

    // A folder: one line saying what to do, nothing on stdout.
    let out = env.cairn().args(["dump", "latest"]).arg(src.join("sub")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr_of(&out);
    assert!(err.contains("is a dir") && err.contains("cairn restore"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // A path the snapshot lacks names the closest ones.
    let out = env.cairn().args(["dump", "latest"]).arg(src.join("notes.mdx")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("notes.md"), "{}", stderr_of(&out));
}

#[test]
fn key_passwd_replaces_the_key_and_the_old_password_stops_working() {
    let env = Env::new();
    let new_pw = env.path("new-password");
    fs::write(&new_pw, "a new secret\n").unwrap();
    let out = env.cairn().args(["key", "passwd", "--new-password-file"]).arg(&new_pw).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("password changed"), "{}", stdout_of(&out));
    assert_eq!(fs::read_dir(env.repo.join("keys")).unwrap().count(), 1, "the old key file is gone");
    let out = env.cairn().arg("snapshots").output().unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("wrong password"), "{}", stderr_of(&out));
    env.cairn().env("CAIRN_PASSWORD", "a new secret").arg("check").assert().success();
    // No new password anywhere, and no terminal: one clear line.
    let out = env.cairn().env("CAIRN_PASSWORD", "a new secret").args(["key", "passwd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("--new-password-file"), "{}", stderr_of(&out));
}

#[test]
fn key_passwd_rewrites_the_default_password_file_and_survives_a_crash_at_each_step() {
    let env = Env::empty();
    let home = env.dir.path();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), b"a").unwrap();
    bare_cairn(home).arg("init").args(WEAK_KDF).assert().success();
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    let pw_file = home.join(".config/cairn/password");
    let opens_with = |password: &str| {
        bare_cairn(home)
            .env("CAIRN_REPO", home.join(".local/share/cairn/repo"))
            .env("CAIRN_PASSWORD", password)
            .arg("snapshots")
            .output()
            .unwrap()
            .status
            .success()
    };

    // Killed at each step: the password file always opens the repository.
    for point in ["key-added", "password-file-rewritten"] {
        let before = fs::read_to_string(&pw_file).unwrap().trim().to_string();
        let hook = Hook::new(env.path(&format!("hook-{point}")), point);
        let mut cmd = bare_std_cairn(home);
        cmd.args(["key", "passwd", "--generate"]);
        hook.abort(&mut cmd);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", stderr_of(&out));
        assert!(hook.was_reached(1), "{point}");
        let now = fs::read_to_string(&pw_file).unwrap().trim().to_string();
        assert_eq!(now == before, point == "key-added", "{point}: the file is rewritten after the new key only");
        assert!(opens_with(&now), "{point}: the password file opens the repository");
        assert!(opens_with(&before), "{point}: the old key is removed last");
        bare_cairn(home).arg("snapshots").assert().success();
    }

    // A full run: the file holds a new password, the only one that works.
    let before = fs::read_to_string(&pw_file).unwrap().trim().to_string();
    let out = bare_cairn(home).args(["key", "passwd", "--generate"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(pw_file.to_str().unwrap()), "{}", stdout_of(&out));
    let now = fs::read_to_string(&pw_file).unwrap().trim().to_string();
    assert_ne!(now, before);
    assert_eq!(now.len(), 43);
    assert!(opens_with(&now) && !opens_with(&before));
    // The keys the interrupted runs left are named.
    assert!(stderr_of(&out).contains("other key files remain"), "{}", stderr_of(&out));
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    // --generate needs the password to come from that file.
    let out = bare_cairn(home).env("CAIRN_PASSWORD", &now).args(["key", "passwd", "--generate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("--new-password-file"), "{}", stderr_of(&out));
}

#[test]
fn the_password_command_variable_opens_the_repository() {
    let env = Env::new();
    let out = env
        .cairn()
        .env_remove("CAIRN_PASSWORD")
        .env("CAIRN_PASSWORD_COMMAND", format!("echo '{PASSWORD}'"))
        .arg("snapshots")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = env.cairn().env_remove("CAIRN_PASSWORD").env("CAIRN_PASSWORD_COMMAND", "false").arg("snapshots").output();
    assert_eq!(out.unwrap().status.code(), Some(1));
}

#[test]
fn snapshots_shows_the_latest_n_or_the_ones_named() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), b"a").unwrap();
    let ids: Vec<String> = ["2026-11-20 10:00", "2026-11-20 11:00", "2026-11-20 12:00"]
        .iter()
        .map(|t| snapshot_at(&env, &src, t))
        .collect();
    let listed = |args: &[&str]| -> Vec<String> {
        let out = env.cairn().args(["snapshots", "--json"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(&["--latest", "2"]), ids[1..]);
    assert_eq!(listed(&["--latest", "9"]), ids);
    assert_eq!(listed(&[&ids[2][..8], &ids[0]]), [ids[0].clone(), ids[2].clone()]);
    assert_eq!(listed(&["latest"]), [ids[2].clone()]);
    let out = env.cairn().args(["snapshots", "deadbeef"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("deadbeef"), "{}", stderr_of(&out));
}
