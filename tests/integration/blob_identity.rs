//! Blob identity and missing packs (issue 9 items 1 and 2), through the
//! real binary: a file whose bytes equal a tree's encoding must not stand
//! in for that tree, and a pack lost by hand must not poison later
//! snapshots; `check` names what needs the lost pack.

use std::fs;
use std::path::PathBuf;

use crate::common::*;

/// An empty folder's tree encodes to these two bytes (version 1, no nodes).
const EMPTY_TREE_ENCODING: &[u8] = b"\x01\x00";

#[test]
fn a_file_equal_to_an_empty_trees_encoding_does_not_replace_that_tree() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("a")).unwrap();
    fs::write(src.join("a/two"), EMPTY_TREE_ENCODING).unwrap();
    env.snapshot_json(&[&src.join("a")]);
    // The empty folder's tree has the same id as the file's chunk.
    fs::create_dir(src.join("empty")).unwrap();
    env.snapshot_json(&[&src]);

    let out = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&out).assert().success();
    assert_same_tree(&src, &restored(&out, &src));
    env.cairn().args(["check", "--read-data"]).assert().success();
}

/// The files under `data/` that appeared since `before`.
fn new_packs(env: &Env, before: &[(PathBuf, u64)]) -> Vec<PathBuf> {
    new_files(before, &env.repo_listing())
        .into_iter()
        .filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with("data"))
        .collect()
}

#[test]
fn a_pack_deleted_by_hand_is_stored_again_and_named_by_check() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("lost"), noise(300_000, 1)).unwrap();
    let before = env.repo_listing();
    let first = env.snapshot_json(&[&src]);
    // Only the data pack of `lost` goes: the trees stay readable.
    let lost_pack = new_packs(&env, &before)
        .into_iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .expect("a data pack was written");
    // A second snapshot, unchanged, shares the first one's chunks.
    fs::write(src.join("kept"), noise(1000, 2)).unwrap();
    let second = env.snapshot_json(&[&src]);
    fs::remove_file(&lost_pack).unwrap();

    // Before anything is stored again, check names every snapshot and path
    // that needs the lost pack.
    let check = env.cairn().arg("check").output().unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", stdout_of(&check));
    let report = stdout_of(&check);
    let pack_name = lost_pack.file_name().unwrap().to_str().unwrap();
    // The pack on one line, with what it costs (not one line per blob).
    assert!(
        report
            .lines()
            .any(|l| l.starts_with(&format!("error: pack {pack_name} is listed in the index but missing: needed by"))),
        "{report}"
    );
    for snap in [&first, &second] {
        let short = &snap["id"].as_str().unwrap()[..8];
        assert!(
            report.lines().any(|l| l.starts_with("error: ") && l.contains(short) && l.contains("/lost")),
            "check names snapshot {short} and /lost:\n{report}"
        );
    }

    let out = env.cairn().args(["snapshot", "--json", "--no-default-excludes"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("missing from data/")).collect();
    assert_eq!(warnings.len(), 1, "one warning for the missing pack:\n{stderr}");
    assert!(warnings[0].contains("1 pack"), "{stderr}");
    let third: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(third["summary"]["data_blobs_added"].as_u64().unwrap() > 0, "lost data stored again: {third}");

    let target = env.path("out");
    env.cairn().args(["restore", third["id"].as_str().unwrap(), "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
}
