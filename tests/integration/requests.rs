//! Few requests (issue 14): with the local cache, a no-change snapshot of a
//! remote repository reads no index file and no tree from the storage, and
//! its request count (as `snapshot --json` reports it) does not grow with
//! the history. (Trees of a repository in a local folder are not cached:
//! read from its packs, they still do not grow with the history.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cairn_core::backend::s3::test_server::{MotoServer, TEST_ENV};

use crate::common::*;

/// A repository: the environment's local one, or one on S3 (moto).
struct Repo<'a> {
    env: &'a Env,
    s3: Option<String>,
}

impl Repo<'_> {
    fn cairn(&self) -> std::process::Command {
        let mut cmd = self.env.std_cairn();
        if let Some(location) = &self.s3 {
            cmd.env("CAIRN_REPO", location);
            for (name, value) in TEST_ENV {
                cmd.env(name, value);
            }
        }
        cmd
    }

    fn snapshot_json(&self, src: &Path) -> serde_json::Value {
        let out = self.cairn().args(["snapshot", "--json", "--no-default-excludes"]).arg(src).output().unwrap();
        assert!(out.status.success(), "snapshot failed: {}", stderr_of(&out));
        serde_json::from_slice(&out.stdout).expect("snapshot --json prints JSON")
    }
}

fn requests(summary: &serde_json::Value) -> serde_json::Value {
    summary["requests"].clone()
}

/// Snapshots of `src` changed each time (a new file: one more pack, one
/// more index file) until the repository holds `total` snapshots.
fn grow_history(repo: &Repo, src: &Path, from: usize, total: usize) {
    for n in from..total {
        fs::write(src.join(format!("new-{n}.bin")), noise(3000, n as u64)).unwrap();
        repo.snapshot_json(src);
    }
}

/// The requests of a no-change snapshot, after the racy window: of the
/// first snapshot that reads no file (files the last change left racy are
/// read once more, by design). Its writes are its marker and snapshot, and
/// one tree pack and its index when an ancestor folder of the snapshot's
/// path (the shared temporary folder, busy with other tests) changed: the
/// writes are counted apart, the reads compared.
fn no_change_requests(repo: &Repo, src: &Path) -> serde_json::Value {
    settle();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let summary = repo.snapshot_json(src);
        if summary["summary"]["files_read"] == 0 {
            let mut counts = requests(&summary);
            let tree_written = summary["summary"]["tree_blobs_added"].as_u64().unwrap() > 0;
            let expected_creates = if tree_written { 4 } else { 2 };
            assert_eq!(counts["create"], expected_creates, "{summary}");
            let total = counts["total"].as_u64().unwrap() - expected_creates;
            counts["create"] = 0.into();
            counts["total"] = total.into();
            return counts;
        }
        seen.push(summary["summary"].clone());
    }
    panic!("four snapshots of an unchanged tree each read files: {seen:?}");
}

/// No index file or snapshot read; no tree either where `trees_cached`.
fn assert_reads_no_index_tree_or_snapshot(counts: &serde_json::Value, trees_cached: bool) {
    let by_folder = &counts["reads_by_folder"];
    for folder in ["index", "snapshots"] {
        assert!(by_folder.get(folder).is_none(), "{folder} read: {counts}");
    }
    if trees_cached {
        assert!(by_folder.get("data").is_none(), "data read: {counts}");
        assert_eq!(counts["read_range"], 0, "{counts}");
    }
    let sum: u64 = ["list", "read", "read_range", "read_tail", "create", "remove"]
        .iter()
        .map(|op| counts[op].as_u64().expect("a count"))
        .sum();
    assert_eq!(counts["total"], sum, "{counts}");
}

/// The history grows from 5 to 50 snapshots; the no-change snapshot's
/// requests are the same, and none reads an index file, a tree or a
/// snapshot. Returns the last no-change counts.
fn constant_as_history_grows(repo: &Repo, src: &Path) -> serde_json::Value {
    grow_history(repo, src, 0, 5);
    let after_5 = no_change_requests(repo, src);
    assert_reads_no_index_tree_or_snapshot(&after_5, repo.s3.is_some());
    grow_history(repo, src, 7, 50);
    let after_50 = no_change_requests(repo, src);
    // Besides its own writes: the listings, the config and key; nothing
    // read grows with the history.
    assert_eq!(after_5, after_50, "the request count grew with the history");
    after_50
}

/// The same on S3 (moto, started here): the no-change snapshot's requests
/// are its listings, the config and key, and its own two writes.
/// One moto for this module's tests.
fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(MotoServer::start)
}

#[test]
fn on_s3_a_no_change_snapshot_costs_the_same_after_5_and_after_50_snapshots() {
    let moto = moto();
    let env = Env::empty();
    let repo = Repo { env: &env, s3: Some(format!("{}/history", moto.bucket("cairn-requests-test"))) };
    let init = repo.cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).output().unwrap();
    assert!(init.status.success(), "{}", stderr_of(&init));
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 16).unwrap();
    settle();
    let counts = constant_as_history_grows(&repo, &src);
    assert_eq!(counts["remove"], 0, "{counts}");
}

#[test]
fn a_no_change_snapshot_costs_the_same_after_5_and_after_50_snapshots() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 14).unwrap();
    settle();
    constant_as_history_grows(&Repo { env: &env, s3: None }, &src);
    // --verbose says it in one line: the total and each operation.
    settle();
    let out = env.cairn().args(["snapshot", "--verbose", "--no-default-excludes"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let line = stdout.lines().find(|l| l.starts_with("requests: ")).unwrap_or_else(|| panic!("no line in {stdout}"));
    let numbers: Vec<u64> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap()).collect();
    assert_eq!(numbers.len(), 7, "{line}");
    assert_eq!(numbers[0], numbers[1..].iter().sum::<u64>(), "{line}");
    let words = ["list", "read", "read_range", "read_tail", "create", "remove"];
    for (n, word) in numbers[1..].iter().zip(words) {
        assert!(line.contains(&format!("{n} {word}")), "{line}");
    }
    assert!(line.contains(" 0 read_tail,"), "{line}");
}

fn tree_cache_entries(env: &Env) -> Vec<PathBuf> {
    let root = env.path(".cache/cairn");
    let repo_cache = fs::read_dir(&root).unwrap().next().expect("a cache folder").unwrap().path();
    let mut entries = Vec::new();
    for fan in fs::read_dir(repo_cache.join("trees")).expect("a tree cache") {
        for entry in fs::read_dir(fan.unwrap().path()).unwrap() {
            entries.push(entry.unwrap().path());
        }
    }
    entries.sort();
    entries
}

/// Every tree entry replaced by another tree's (a planted cache cannot make
/// a snapshot see another tree), or by garbage: the snapshot reads the
/// trees from the repository instead, stays right, and `check` is clean.
#[test]
fn planted_or_corrupt_tree_cache_entries_are_ignored() {
    let moto = moto();
    let env = Env::empty();
    let repo = Repo { env: &env, s3: Some(moto.bucket("cairn-requests-planted")) };
    let init = repo.cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).output().unwrap();
    assert!(init.status.success(), "{}", stderr_of(&init));
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 15).unwrap();
    settle();
    repo.snapshot_json(&src);
    let entries = tree_cache_entries(&env);
    assert!(entries.len() > 2, "{entries:?}");
    let contents: Vec<Vec<u8>> = entries.iter().map(|e| fs::read(e).unwrap()).collect();
    for (n, entry) in entries.iter().enumerate() {
        let planted = if n % 2 == 0 { contents[(n + 1) % contents.len()].clone() } else { b"garbage".to_vec() };
        fs::write(entry, planted).unwrap();
    }
    settle();
    let summary = repo.snapshot_json(&src);
    assert_eq!(summary["summary"]["files_read"], 0, "the parent's trees were read right: {summary}");
    assert!(summary["requests"]["read_range"].as_u64().unwrap() > 0, "trees read from the repository: {summary}");
    // Rewritten: the next no-change snapshot reads no tree again.
    let again = repo.snapshot_json(&src);
    assert_eq!(again["requests"]["read_range"], 0, "{again}");
    let target = env.path("restored");
    let out = repo.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_same_tree(&src, &restored(&target, &src));
    let out = repo.cairn().args(["check", "--read-data"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
}

/// A repository in a local folder keeps no tree cache: its packs are as
/// near as the cache would be.
#[test]
fn a_local_repository_keeps_no_tree_cache() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 17).unwrap();
    env.snapshot_json(&[&src]);
    env.snapshot_json(&[&src]);
    let root = env.path(".cache/cairn");
    let repo_cache = fs::read_dir(&root).unwrap().next().expect("a cache folder").unwrap().path();
    assert!(!repo_cache.join("trees").exists(), "{:?}", listing(&repo_cache));
}
