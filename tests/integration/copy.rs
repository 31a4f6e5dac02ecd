//! `cairn copy` through the real binary, between local repositories with
//! different passwords: what is copied (only what the destination lacks,
//! nothing the second time, a copy of a copy recognised by its original),
//! that every copy restores byte for byte and checks clean, a copy killed
//! during its pack uploads and finished by the next one, `--dry-run`, and
//! `init --copy-chunker-params` (copies share blobs with native snapshots).

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::common::*;
use crate::hooks::{Hook, spawn};

const OTHER: &str = "another password for the destination";

/// `cairn` on `repo` with `password` (the env's HOME and clean environment).
fn on(env: &Env, repo: &Path, password: &str) -> Command {
    let mut cmd = env.cairn();
    cmd.env("CAIRN_REPO", repo).env("CAIRN_PASSWORD", password);
    cmd
}

fn init(env: &Env, repo: &Path, password: &str, extra: &[&str]) {
    on(env, repo, password)
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])
        .args(extra)
        .assert()
        .success();
}

/// A password file holding `password`.
fn password_file(env: &Env, name: &str, password: &str) -> PathBuf {
    let file = env.path(name);
    fs::write(&file, format!("{password}\n")).unwrap();
    file
}

/// `cairn -r SRC copy --json ARGS` run as `cmd` says; the JSON summary.
fn copy_json(mut cmd: impl std::borrow::BorrowMut<Command>, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = cmd.borrow_mut().args(["copy", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "copy failed: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).expect("copy --json prints JSON")
}

/// Snapshot ids and originals of `repo`, oldest first.
fn snapshots(env: &Env, repo: &Path, password: &str) -> Vec<serde_json::Value> {
    let out = on(env, repo, password).args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn check_read_data(env: &Env, repo: &Path, password: &str) -> String {
    let out = on(env, repo, password).args(["check", "--read-data"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "check:\n{}{}", stdout_of(&out), stderr_of(&out));
    stdout_of(&out)
}

fn restore(env: &Env, repo: &Path, password: &str, id: &str, target: &Path) {
    on(env, repo, password).args(["restore", id, "--target"]).arg(target).assert().success();
}

/// A source repository (the env's) with `count` snapshots of a tree that
/// changes between them; returns the tree's folder.
fn source_with_history(env: &Env, count: u32) -> PathBuf {
    let tree = env.path("tree");
    cairn_testgen::init(&tree, cairn_testgen::Scale::Tiny, 3).unwrap();
    for hour in 0..count {
        if hour > 0 {
            cairn_testgen::tick(&tree, hour).unwrap();
        }
        fs::write(tree.join(format!("hour-{hour}.bin")), noise(300_000, u64::from(hour) + 1)).unwrap();
        env.snapshot_json(&[&tree]);
    }
    tree
}

/// Every snapshot of `dst` restores to what its original restores to in the env's repository.
fn assert_copies_restore(env: &Env, dst: &Path, password: &str, tag: &str) {
    let originals = snapshots(env, &env.repo, PASSWORD);
    let copies: Vec<_> = snapshots(env, dst, password).into_iter().filter(|s| !s["original"].is_null()).collect();
    assert_eq!(copies.len(), originals.len(), "{tag}");
    for (n, copy) in copies.iter().enumerate() {
        let original = copy["original"].as_str().expect("a copy names its original");
        let source = originals.iter().find(|s| s["id"] == original).expect("the original is in the source");
        let a = env.path(&format!("{tag}-src-{n}"));
        let b = env.path(&format!("{tag}-dst-{n}"));
        restore(env, &env.repo, PASSWORD, source["id"].as_str().unwrap(), &a);
        restore(env, dst, password, copy["id"].as_str().unwrap(), &b);
        assert_same_tree(&a, &b);
    }
}

#[test]
fn copies_only_what_is_missing_with_other_passwords_and_recognises_copies_of_copies() {
    let env = Env::new();
    source_with_history(&env, 3);
    let dst = env.path("dst");
    init(&env, &dst, OTHER, &[]);
    let to_file = password_file(&env, "to-password", OTHER);

    // Only the first snapshot, by id prefix, then everything.
    let first = snapshots(&env, &env.repo, PASSWORD)[0]["id"].as_str().unwrap().to_string();
    let one = copy_json(
        env.cairn(),
        &["--to".as_ref(), dst.as_os_str(), "--to-password-file".as_ref(), to_file.as_os_str(), first[..8].as_ref()],
    );
    assert_eq!(one["copied"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["same_blob_ids"], false, "unrelated keys: {one}");
    // The other password by its variable this time.
    let all = copy_json(env.cairn().env("CAIRN_TO_PASSWORD_FILE", &to_file), &["--to".as_ref(), dst.as_os_str()]);
    assert_eq!(all["copied"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all["already_present"].as_array().unwrap().len(), 1, "{all}");
    assert!(all["data_blobs"].as_u64().unwrap() > 0, "{all}");
    check_read_data(&env, &dst, OTHER);
    assert_copies_restore(&env, &dst, OTHER, "a");

    // Idempotent: nothing the second time, and the destination unchanged.
    let before = listing(&dst);
    let again = copy_json(env.cairn().env("CAIRN_TO_PASSWORD_FILE", &to_file), &["--to".as_ref(), dst.as_os_str()]);
    assert_eq!(again["copied"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["already_present"].as_array().unwrap().len(), 3, "{again}");
    let after: Vec<_> = listing(&dst).into_iter().filter(|(p, _)| !p.starts_with(dst.join("locks"))).collect();
    let before: Vec<_> = before.into_iter().filter(|(p, _)| !p.starts_with(dst.join("locks"))).collect();
    assert_eq!(before, after, "a copy with nothing to do writes nothing");

    // A third repository copies from dst (--from: copies of copies keep the
    // original), after which the source has nothing new for it.
    let third = env.path("third");
    init(&env, &third, "third password", &[]);
    let from_file = password_file(&env, "from-password", OTHER);
    let from = copy_json(
        on(&env, &third, "third password"),
        &["--from".as_ref(), dst.as_os_str(), "--from-password-file".as_ref(), from_file.as_os_str()],
    );
    assert_eq!(from["copied"].as_array().unwrap().len(), 3, "{from}");
    let third_file = password_file(&env, "third-password", "third password");
    let none = copy_json(
        env.cairn(),
        &["--to".as_ref(), third.as_os_str(), "--to-password-file".as_ref(), third_file.as_os_str()],
    );
    assert_eq!(none["copied"].as_array().unwrap().len(), 0, "recognised by the original: {none}");
    assert_copies_restore(&env, &third, "third password", "c");
}

#[test]
fn a_dry_run_writes_nothing_and_a_wrong_password_is_refused() {
    let env = Env::new();
    source_with_history(&env, 2);
    let dst = env.path("dst");
    // The other direction's variable in the environment is no error (a
    // cron job may set both): neither for init nor for copy.
    on(&env, &dst, OTHER)
        .env("CAIRN_FROM_PASSWORD_FILE", env.path("nowhere"))
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])
        .assert()
        .success();
    let to_file = password_file(&env, "to-password", OTHER);
    let before = listing(&dst);
    let dry = copy_json(
        env.cairn().env("CAIRN_FROM_PASSWORD_FILE", env.path("nowhere")),
        &["--dry-run".as_ref(), "--to".as_ref(), dst.as_os_str(), "--to-password-file".as_ref(), to_file.as_os_str()],
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["copied"].as_array().unwrap().len(), 2, "{dry}");
    assert!(dry["data_blobs"].as_u64().unwrap() > 0, "{dry}");
    assert_eq!(listing(&dst), before, "a dry run writes nothing");

    let wrong = password_file(&env, "wrong", "not it");
    let out = env.cairn().args(["copy", "--to"]).arg(&dst).arg("--to-password-file").arg(&wrong).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr_of(&out).contains("password"), "{}", stderr_of(&out));
    assert!(snapshots(&env, &dst, OTHER).is_empty());
}

#[test]
fn a_copy_killed_during_its_pack_uploads_is_finished_by_the_next() {
    let env = Env::new();
    source_with_history(&env, 3);
    let dst = env.path("dst");
    init(&env, &dst, OTHER, &[]);
    let to_file = password_file(&env, "to-password", OTHER);
    for point in ["pack-durable", "index-written"] {
        let hook = Hook::new(env.path(&format!("hook-{point}")), point);
        let mut cmd = env.std_cairn();
        cmd.args(["copy", "--to"]).arg(&dst).arg("--to-password-file").arg(&to_file);
        hook.abort(&mut cmd);
        let out = spawn(cmd).wait_with_output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: killed: {:?}\n{}", out.status, stderr_of(&out));
        assert!(hook.was_reached(1), "{point}");
        check_read_data(&env, &dst, OTHER);
    }
    // The first kill came before any manifest; the second after one index.
    assert!(snapshots(&env, &dst, OTHER).is_empty(), "no manifest before its index");
    let done =
        copy_json(env.cairn(), &["--to".as_ref(), dst.as_os_str(), "--to-password-file".as_ref(), to_file.as_os_str()]);
    assert_eq!(done["copied"].as_array().unwrap().len(), 3, "{done}");
    check_read_data(&env, &dst, OTHER);
    assert_copies_restore(&env, &dst, OTHER, "k");
}

#[test]
fn copy_chunker_params_makes_copies_and_native_snapshots_share_blobs() {
    let env = Env::new();
    let tree = source_with_history(&env, 2);
    let src_file = password_file(&env, "src-password", PASSWORD);
    let related = env.path("related");
    init(
        &env,
        &related,
        OTHER,
        &["--copy-chunker-params", env.repo.to_str().unwrap(), "--from-password-file", src_file.to_str().unwrap()],
    );
    let unrelated = env.path("unrelated");
    init(&env, &unrelated, OTHER, &[]);
    let to_file = password_file(&env, "to-password", OTHER);
    let mut added = Vec::new();
    for dst in [&related, &unrelated] {
        let copied = copy_json(
            env.cairn(),
            &["--to".as_ref(), dst.as_os_str(), "--to-password-file".as_ref(), to_file.as_os_str()],
        );
        assert_eq!(copied["same_blob_ids"], dst == &related, "{copied}");
        assert_eq!(copied["copied"].as_array().unwrap().len(), 2, "{copied}");
        check_read_data(&env, dst, OTHER);
        // A native snapshot of the same tree, every file read again.
        let out = on(&env, dst, OTHER)
            .args(["snapshot", "--json", "--no-default-excludes", "--force"])
            .arg(&tree)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        added.push(summary["summary"]["data_blobs_added"].as_u64().unwrap());
    }
    assert_eq!(added[0], 0, "same chunker and ids: the native snapshot finds every chunk ({added:?})");
    assert!(added[1] > 0, "other chunker: the same files are cut and named otherwise ({added:?})");
    assert_copies_restore(&env, &related, OTHER, "r");

    // An unencrypted destination cannot carry an encrypted source's key.
    let plain = env.path("plain");
    let out = on(&env, &plain, OTHER)
        .args(["init", "--no-encryption", "--copy-chunker-params"])
        .arg(&env.repo)
        .arg("--from-password-file")
        .arg(&src_file)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr_of(&out).contains("--no-encryption"), "{}", stderr_of(&out));
    assert!(!plain.join("config").exists());
}
