//! `cairn prune` and `forget --prune` through the binary: the repository
//! shrinks and stays whole, `--dry-run` changes nothing, `--json`, a
//! missing blob stops prune, few index files after many snapshots, and
//! `stats` sees the unused space go.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Bytes of every pack file.
fn pack_bytes(env: &Env) -> u64 {
    listing(&env.repo.join("data")).iter().map(|(_, size)| size).sum()
}

fn index_files(env: &Env) -> usize {
    fs::read_dir(env.repo.join("index"))
        .unwrap()
        .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count()
}

fn snapshot_ids(env: &Env) -> Vec<String> {
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr_of(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

fn unused_bytes(env: &Env) -> u64 {
    json_of(&env.cairn().args(["stats", "--json"]).output().unwrap())["unused_size"].as_u64().unwrap()
}

/// A tree snapshotted `n` times, changing between snapshots (testgen's
/// hourly churn and one large file replaced each time, so that old
/// snapshots hold data the newer ones do not); returns the copy of the
/// tree as each snapshot saw it.
fn history(env: &Env, n: u32) -> (PathBuf, Vec<PathBuf>) {
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 7).unwrap();
    let mut copies = Vec::new();
    for hour in 1..=n {
        if hour > 1 {
            cairn_testgen::tick(&src, hour - 1).unwrap();
            settle();
        }
        fs::write(src.join("big.bin"), noise(2_000_000, u64::from(hour))).unwrap();
        env.snapshot_json(&[&src]);
        let copy = env.path(&format!("copy-{hour}"));
        copy_tree(&src, &copy);
        copies.push(copy);
    }
    (src, copies)
}

fn restores_as(env: &Env, snapshot: &str, src: &Path, expected: &Path) {
    let target = env.path(&format!("restore-{snapshot}"));
    env.cairn().args(["restore", snapshot, "--target"]).arg(&target).assert().success();
    assert_same_tree(expected, &restored(&target, src));
}

#[test]
fn forget_prune_shrinks_the_repository_and_keeps_what_is_kept() {
    let env = Env::new();
    let (src, copies) = history(&env, 5);
    let ids = snapshot_ids(&env);
    let before = pack_bytes(&env);
    assert!(index_files(&env) >= 5);

    let out = env.cairn().args(["forget", "--keep-last", "2", "--prune", "--json"]).output().unwrap();
    let json = json_of(&out);
    let prune = &json["prune"];
    assert_eq!(prune["dry_run"], false);
    assert!(prune["result"]["deleted_packs"].as_u64().unwrap() > 0, "{prune}");

    let after = pack_bytes(&env);
    assert!(after + 3 * 2_000_000 <= before, "three large files are gone: {before} -> {after}");
    assert!(index_files(&env) <= 2, "{} index files", index_files(&env));
    assert_eq!(snapshot_ids(&env), ids[3..], "the forgotten snapshots are gone");
    let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    restores_as(&env, &ids[3][..8], &src, &copies[3]);
    restores_as(&env, &ids[4][..8], &src, &copies[4]);
    // A second prune finds nothing to do.
    let out = env.cairn().arg("prune").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("nothing to prune"), "{}", stdout_of(&out));
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = Env::new();
    history(&env, 3);
    env.cairn().args(["forget", "--keep-last", "1"]).assert().success();
    let before = env.repo_listing();
    let out = env.cairn().args(["prune", "--dry-run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    for line in ["prune plan:", "packs to delete", "packs to repack", "unused after prune", "index files", "dry run"] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    let json = json_of(&env.cairn().args(["prune", "--dry-run", "--json"]).output().unwrap());
    assert_eq!(env.repo_listing(), before, "a dry run changes no file");
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["snapshots"], 1);
    for field in ["used_blobs", "used_bytes", "unused_before", "unused_after", "size_after", "index_files_before"] {
        assert!(json[field].as_u64().is_some(), "{field} in {json}");
    }
    assert!(json["unused_before"].as_u64().unwrap() >= 2 * 2_000_000, "{json}");
    assert!(json["delete"]["packs"].as_u64().is_some() && json["unindexed"]["packs"].as_u64().is_some());
    for field in ["bytes", "kept_bytes", "packs"] {
        assert!(json["repack"][field].as_u64().is_some(), "repack.{field} in {json}");
    }
    assert!(json["unused_after_percent"].as_f64().unwrap() <= 5.0);
    assert_eq!((json["index_files_before"].as_u64(), json["index_files_after"].as_u64()), (Some(3), Some(1)));
    assert!(json["result"].is_null(), "nothing was done");
    // forget --prune --dry-run changes nothing either, and plans as if
    // the snapshots were gone.
    let json = json_of(&env.cairn().args(["forget", "--keep-last", "1", "--prune", "-n", "--json"]).output().unwrap());
    assert_eq!(json["prune"]["dry_run"], true);
    assert_eq!(env.repo_listing(), before);
}

#[test]
fn stats_sees_the_unused_space_go() {
    let env = Env::new();
    history(&env, 3);
    env.cairn().args(["forget", "--keep-last", "1"]).assert().success();
    let unused = unused_bytes(&env);
    assert!(unused >= 2 * 2_000_000, "{unused}");
    let json = json_of(&env.cairn().args(["prune", "--json"]).output().unwrap());
    assert_eq!(json["dry_run"], false);
    let result = &json["result"];
    assert!(result["deleted_bytes"].as_u64().unwrap() >= 2 * 2_000_000, "{result}");
    assert_eq!(result["blocked_by"], serde_json::json!([]));
    assert!(result["missing"].is_null());
    let now = unused_bytes(&env);
    assert!(now <= json["unused_after"].as_u64().unwrap(), "{now} > plan's {}", json["unused_after"]);
    assert!(now * 20 <= pack_bytes(&env), "at most 5% unused: {now} of {}", pack_bytes(&env));
}

#[test]
fn a_missing_pack_of_a_kept_snapshot_stops_prune() {
    let env = Env::new();
    history(&env, 2);
    let ids = snapshot_ids(&env);
    env.cairn().args(["forget", "--keep-last", "1"]).assert().success();
    // The largest pack holds the kept snapshot's large file.
    let pack = listing(&env.repo.join("data")).into_iter().max_by_key(|(_, size)| *size).unwrap().0;
    fs::remove_file(&pack).unwrap();
    let before = env.repo_listing();
    let out = env.cairn().arg("prune").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("cairn: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let line = errors[0];
    assert!(line.contains("blob ") && line.contains("is missing"), "{line}");
    assert!(line.contains(&format!("snapshot {}", &ids[1][..8])), "names the snapshot: {line}");
    assert!(line.contains(" at /") && line.contains("nothing was deleted"), "names the path: {line}");
    assert_eq!(env.repo_listing(), before, "nothing was deleted");
}

/// Bytes of every pack of the repository at `repo`.
fn packs_at(repo: &Path) -> u64 {
    listing(&repo.join("data")).iter().map(|(_, size)| size).sum()
}

#[test]
fn a_prune_killed_at_any_step_is_finished_by_the_next() {
    let env = Env::new();
    let (src, copies) = history(&env, 3);
    env.cairn().args(["forget", "--keep-last", "1"]).assert().success();
    let clean = env.path("clean");
    copy_tree(&env.repo, &clean);
    let run = |repo: &Path, args: &[&str], hook: Option<&str>| {
        let mut cmd = env.std_cairn();
        cmd.env("CAIRN_REPO", repo).arg("--no-cache").args(args);
        if let Some(hook) = hook {
            cmd.env("CAIRN_TEST_HOOK", hook);
        }
        cmd.output().unwrap()
    };
    let out = run(&clean, &["prune"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let clean_size = packs_at(&clean);
    for point in ["prune-repacked", "prune-index-written", "prune-old-index-removed", "prune-pack-deleted"] {
        let repo = env.path(point);
        copy_tree(&env.repo, &repo);
        let out = run(&repo, &["prune"], Some(&format!("{point}:abort")));
        assert!(!out.status.success(), "{point}: the hook kills prune");
        let out = run(&repo, &["check"], None);
        assert!(out.status.success(), "{point}: {}{}", stdout_of(&out), stderr_of(&out));
        let out = run(&repo, &["prune"], None);
        assert!(out.status.success(), "{point}: {}", stderr_of(&out));
        assert_eq!(packs_at(&repo), clean_size, "{point}: the next prune finishes the job");
        let out = run(&repo, &["check", "--read-data"], None);
        assert!(out.status.success(), "{point}: {}{}", stdout_of(&out), stderr_of(&out));
        let target = env.path(&format!("restore-{point}"));
        let out = run(&repo, &["restore", "latest", "--target", target.to_str().unwrap()], None);
        assert!(out.status.success(), "{point}: {}", stderr_of(&out));
        assert_same_tree(&copies[2], &restored(&target, &src));
    }
}

/// The format version in a config file (cleartext: the magic, then the
/// version as a postcard varint, one byte for 1 and 2).
fn config_version(repo: &Path) -> u8 {
    fs::read(repo.join("config")).unwrap()[8]
}

#[test]
fn prune_upgrades_a_version_1_repository_once_and_it_still_restores() {
    let env = Env::empty();
    let repo = env.path("repo-v1");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repo-v1"), &repo);
    let cairn = |args: &[&str]| {
        let mut cmd = bare_std_cairn(env.dir.path());
        cmd.env("CAIRN_REPO", &repo).env("CAIRN_PASSWORD", "cairn-fixture").args(args);
        cmd.output().unwrap()
    };
    assert_eq!(config_version(&repo), 1);
    let before = env.path("before");
    let out = cairn(&["restore", "latest", "--target", before.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Something for prune to do: one of the two snapshots forgotten.
    let out = cairn(&["forget", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", stderr_of(&out));

    let out = cairn(&["prune", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("would upgrade the repository format 1 → 2"), "{}", stdout_of(&out));
    assert_eq!(config_version(&repo), 1, "a dry run does not upgrade");

    let out = cairn(&["prune"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let said = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert_eq!(said.matches("upgraded the repository format from 1 to 2").count(), 1, "{said}");
    assert_eq!(config_version(&repo), 2);
    let out = cairn(&["prune"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!format!("{}{}", stdout_of(&out), stderr_of(&out)).contains("upgraded"), "once");

    let out = cairn(&["check", "--read-data"]);
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    let after = env.path("after");
    let out = cairn(&["restore", "latest", "--target", after.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_same_tree(&before, &after);
}
