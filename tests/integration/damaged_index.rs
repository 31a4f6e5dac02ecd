//! Issue 10, item 7: one flipped byte in an index file must not cost what
//! intact packs still hold. Restore and ls find unindexed blobs in the pack
//! headers (with one note), check tells the damage in a few lines and
//! suggests `cairn repair index`, which rebuilds the index (`--dry-run`
//! first) and leaves a repository that checks clean.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// A generated tree in one snapshot, its restored copy, and its only index
/// file, now with one flipped byte.
fn damaged_index(env: &Env) -> (PathBuf, PathBuf) {
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 21).unwrap();
    env.snapshot_json(&[&src]);
    let good = env.path("good");
    env.cairn().args(["restore", "latest", "--target"]).arg(&good).assert().success();
    let index = only_index(&env.repo);
    let mut bytes = fs::read(&index).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&index, bytes).unwrap();
    (good, index)
}

fn index_files(repo: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = listing(&repo.join("index")).into_iter().map(|(p, _)| p).collect();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn only_index(repo: &Path) -> PathBuf {
    let files = index_files(repo);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn restore_and_ls_find_what_intact_packs_hold() {
    let env = Env::new();
    let listed_before = |env: &Env| stdout_of(&env.cairn().args(["ls", "latest", "-R"]).output().unwrap());
    let (good, _) = damaged_index(&env);
    let listed = listed_before(&env);
    // Without the cache, which still holds what the index said.
    let target = env.path("out");
    let out = env.cairn().args(["--no-cache", "restore", "latest", "--target"]).arg(&target).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_same_tree(&good, &target);
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("cairn repair index")).collect();
    assert_eq!(notes.len(), 1, "one note:\n{err}");
    assert!(notes[0].starts_with("note: ") && notes[0].contains("headers of"), "{err}");

    let out = env.cairn().args(["--no-cache", "ls", "latest", "-R"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), listed);
    assert!(stderr_of(&out).contains("cairn repair index"), "{}", stderr_of(&out));
}

#[test]
fn check_tells_a_damaged_index_in_a_few_lines_and_suggests_repair() {
    let env = Env::new();
    let (_, index) = damaged_index(&env);
    let out = env.cairn().arg("check").output().unwrap();
    let report = stdout_of(&out);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{report}{err}");
    // The damaged index, what it costs, one note for the packs it listed:
    // not one line per blob.
    assert!(report.lines().count() <= 4, "{report}");
    let name = index.file_name().unwrap().to_str().unwrap();
    assert!(report.lines().any(|l| l.starts_with("error: index ") && l.contains(name)), "{report}");
    assert!(report.contains("in no index, but intact packs hold them"), "{report}");
    assert!(err.contains("run `cairn repair index`"), "{err}");
}

#[test]
fn repair_index_rebuilds_from_pack_headers_after_a_dry_run() {
    let env = Env::new();
    let (good, damaged) = damaged_index(&env);
    let before = env.repo_listing();

    let out = env.cairn().args(["repair", "index", "--dry-run"]).output().unwrap();
    let said = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{}", stderr_of(&out));
    assert!(said.contains("would index") && said.contains("would remove 1 damaged index file"), "{said}");
    assert_eq!(env.repo_listing(), before, "a dry run changes nothing");

    let out = env.cairn().args(["repair", "index"]).output().unwrap();
    let said = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{}", stderr_of(&out));
    assert!(said.contains("remove 1 damaged index file") && !said.contains("would"), "{said}");
    let now = index_files(&env.repo);
    assert!(!now.contains(&damaged) && now.len() == 1, "{now:?}");

    let out = env.cairn().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout_of(&out), stderr_of(&out));
    let target = env.path("out");
    let out = env.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr_of(&out).contains("repair"), "the index is whole again: {}", stderr_of(&out));
    assert_same_tree(&good, &target);
    // Nothing left to do.
    let out = env.cairn().args(["repair", "index"]).output().unwrap();
    assert!(stdout_of(&out).contains("the index is whole"), "{}", stdout_of(&out));
}
