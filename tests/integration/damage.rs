//! Damaged repository files: every kind (data pack, tree pack, index,
//! snapshot, key, config), flipped byte or truncated. `check` exits 1 and
//! names the damaged file on an `error:` line; what does not depend on the
//! damaged file still restores byte for byte. A damaged key or config,
//! without which nothing opens, is one clear error line naming the file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// How a file is damaged.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// One bit flipped a third of the way in.
    Flip,
    /// Cut to half its length.
    Truncate,
}

fn damage(path: &Path, how: Damage) {
    let mut bytes = fs::read(path).unwrap();
    match how {
        Damage::Truncate => bytes.truncate(bytes.len() / 2),
        Damage::Flip => {
            let i = bytes.len() / 3;
            bytes[i] ^= 0x40;
        }
    }
    fs::write(path, bytes).unwrap();
}

/// Two snapshots of a generated tree; returns what the first restores to
/// and the repository files the second one added.
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

/// The largest of `files` under the repository folder `folder`.
fn largest_in(env: &Env, files: &[PathBuf], folder: &str) -> PathBuf {
    files
        .iter()
        .filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with(folder))
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap_or_else(|| panic!("no new {folder} file"))
        .clone()
}

/// Runs `check` (with `args`), asserts it exits 1 and names `name` on one
/// of its `error:` lines (not just anywhere in the output).
fn check_names(env: &Env, args: &[&str], name: &str, case: &str) {
    let out = env.cairn().arg("check").args(args).output().unwrap();
    let report = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{case} {args:?}: check must fail:\n{report}");
    assert!(
        report.lines().any(|l| l.starts_with("error: ") && l.contains(name)),
        "{case} {args:?}: an error line names {name}:\n{report}"
    );
    assert!(stderr_of(&out).contains("check found"), "{case}: {}", stderr_of(&out));
}

/// The oldest snapshot restores to exactly `good`.
fn first_restores(env: &Env, good: &Path, case: &str) {
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = list[0]["id"].as_str().unwrap_or_else(|| panic!("{case}: {list}")).to_string();
    let target = env.path("again");
    env.cairn().args(["restore", &first, "--target"]).arg(&target).assert().success();
    assert_same_tree(good, &target);
}

#[test]
fn damaged_files_are_named_by_check_and_other_snapshots_restore() {
    for folder in ["data", "index", "snapshots"] {
        for how in [Damage::Flip, Damage::Truncate] {
            let case = format!("{folder}/{how:?}");
            let env = Env::new();
            let (good, added) = two_snapshots(&env);
            let victim = largest_in(&env, &added, folder);
            damage(&victim, how);
            let name = victim.file_name().unwrap().to_str().unwrap();
            check_names(&env, &["--read-data"], name, &case);
            if folder != "data" || matches!(how, Damage::Truncate) {
                // Found without reading data too: the structure is damaged.
                check_names(&env, &[], name, &case);
            }
            first_restores(&env, &good, &case);
        }
    }
}

#[test]
fn a_damaged_tree_pack_is_named_and_the_first_snapshot_restores() {
    for how in [Damage::Flip, Damage::Truncate] {
        let case = format!("tree pack/{how:?}");
        let env = Env::new();
        let src = env.path("src");
        cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 12).unwrap();
        env.snapshot_json(&[&src]);
        let good = env.path("good");
        env.cairn().args(["restore", "latest", "--target"]).arg(&good).assert().success();
        // Only metadata changes: the second snapshot adds trees and no data,
        // so the one pack it writes holds trees.
        let before = env.repo_listing();
        let some_file = cairn_testgen_file(&src);
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        fs::File::options().write(true).open(&some_file).unwrap().set_modified(old).unwrap();
        let second = env.snapshot_json(&[&src]);
        assert_eq!(second["summary"]["data_blobs_added"], 0, "{second}");
        assert!(second["summary"]["tree_blobs_added"].as_u64().unwrap() > 0, "{second}");
        let added = new_files(&before, &env.repo_listing());
        let packs: Vec<&PathBuf> =
            added.iter().filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with("data")).collect();
        assert_eq!(packs.len(), 1, "{case}: one tree pack: {packs:?}");
        damage(packs[0], how);
        let name = packs[0].file_name().unwrap().to_str().unwrap();
        check_names(&env, &["--read-data"], name, &case);
        check_names(&env, &[], name, &case);
        first_restores(&env, &good, &case);
    }
}

/// Some regular file in the generated tree.
fn cairn_testgen_file(root: &Path) -> PathBuf {
    listing(root).into_iter().map(|(p, _)| p).find(|p| p.is_file()).expect("a file")
}

/// Asserts that `out` failed with one `cairn: error:` line naming `name`.
fn one_error_line_naming(out: &std::process::Output, name: &str, case: &str) {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(1), "{case}:\n{err}");
    assert!(!err.contains("panicked"), "{case}:\n{err}");
    assert_eq!(err.lines().count(), 1, "{case}: one line:\n{err}");
    assert!(err.starts_with("cairn: error: ") && err.contains(name), "{case}: names {name}:\n{err}");
}

/// A repository with one small snapshot.
fn small_repository() -> Env {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    env.snapshot_json(&[&src]);
    env
}

/// Without its key or config nothing opens: every command must say so in
/// one line that names the damaged file, exit 1, and never panic.
#[test]
fn a_damaged_key_or_config_is_one_clear_error_naming_it() {
    for (what, how) in
        [("keys", Damage::Flip), ("keys", Damage::Truncate), ("config", Damage::Flip), ("config", Damage::Truncate)]
    {
        let env = small_repository();
        let victim = if what == "config" {
            env.repo.join("config")
        } else {
            let keys: Vec<PathBuf> = fs::read_dir(env.repo.join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
            assert_eq!(keys.len(), 1);
            keys[0].clone()
        };
        damage(&victim, how);
        let name = victim.file_name().unwrap().to_str().unwrap();
        let target = env.path("out");
        let restore = vec!["restore", "latest", "--target", target.to_str().unwrap()];
        for args in [vec!["check"], vec!["check", "--read-data"], vec!["snapshots"], restore] {
            let out = env.cairn().args(&args).output().unwrap();
            one_error_line_naming(&out, name, &format!("{what}/{how:?} {args:?}"));
        }
    }
}

/// Every single damaged byte of the config: never a panic, never "wrong
/// password" (a damaged repository id fails to open the key as a wrong
/// password would; opening tells them apart), always one line saying the
/// config is damaged.
#[test]
fn every_damaged_config_byte_names_the_config() {
    let env = small_repository();
    let config = env.repo.join("config");
    let original = fs::read(&config).unwrap();
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x40;
        fs::write(&config, &bytes).unwrap();
        let out = env.cairn().arg("snapshots").output().unwrap();
        one_error_line_naming(&out, "config", &format!("byte {i} of {}", original.len()));
        let err = stderr_of(&out);
        assert!(!err.contains("wrong password"), "byte {i}: {err}");
    }
    fs::write(&config, &original).unwrap();
    env.cairn().arg("check").assert().success();
}
