//! Restoring past damage and beside concurrent runs (issue 9, items 3 and
//! 8): one damaged tree costs only its folder (named, exit 3); a blob stored
//! twice restores from its good copy; a snapshot committed after a reader
//! read the index still restores (R5); a snapshot file removed while
//! `snapshots` lists is left out without a warning.

use std::fs;
use std::path::{Path, PathBuf};

use cairn_core::backend::FileKind;
use cairn_core::format::{BlobKind, NodeKind};
use cairn_core::repo::Repository;
use cairn_core::repo::index::BlobLocation;
use cairn_core::snapshot::{snapshots, tree};

use crate::common::*;
use crate::hooks::{Hook, spawn};

fn open(env: &Env) -> Repository {
    Repository::open(&env.repo, Some(PASSWORD.as_bytes())).unwrap()
}

/// The node at absolute `path` in the latest snapshot.
fn node_in_latest(repo: &Repository, path: &Path) -> cairn_core::format::Node {
    let (all, _) = snapshots::list(repo).unwrap();
    let root = all.last().expect("a snapshot").snapshot.tree;
    tree::lookup(repo, &root, &fs::canonicalize(path).unwrap()).unwrap().expect("in the snapshot")
}

/// Flips one byte in the middle of the stored blob at `loc`.
fn damage(repo: &Repository, loc: &BlobLocation) {
    let pack = repo.backend().local_path(FileKind::Pack, &loc.pack).unwrap();
    let mut bytes = fs::read(&pack).unwrap();
    bytes[loc.offset as usize + loc.length as usize / 2] ^= 0x20;
    fs::write(&pack, bytes).unwrap();
}

fn restore_latest(env: &Env, target: &Path) -> std::process::Output {
    env.cairn().args(["restore", "latest", "--target"]).arg(target).output().unwrap()
}

#[test]
fn a_damaged_tree_is_named_and_everything_else_restores_with_exit_3() {
    let env = Env::new();
    let src = env.path("src");
    for (rel, seed) in [("a/one", 1), ("b/two", 2), ("b/deep/three", 3), ("c/four", 4)] {
        fs::create_dir_all(src.join(rel).parent().unwrap()).unwrap();
        fs::write(src.join(rel), noise(20_000, seed)).unwrap();
    }
    env.snapshot_json(&[&src]);
    let repo = open(&env);
    let NodeKind::Dir { subtree } = node_in_latest(&repo, &src.join("b")).kind else { panic!("b is a folder") };
    damage(&repo, &repo.locate(BlobKind::Tree, &subtree).expect("b's tree is stored as a tree"));

    let target = env.path("out");
    // Without the local cache: its tree cache holds the good copy the
    // snapshot wrote (and would restore b whole); the damage is the storage's.
    let out = env.cairn().args(["--no-cache", "restore", "latest", "--target"]).arg(&target).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "finished but incomplete:\n{err}");
    let b = restored(&target, &src).join("b");
    assert!(
        err.lines().any(|l| l.contains(&b.display().to_string()) && l.contains("could not be read")),
        "the damaged folder is named:\n{err}"
    );
    assert!(!b.exists(), "the folder is left out, not restored empty");
    for whole in ["a", "c"] {
        assert_same_tree(&src.join(whole), &restored(&target, &src).join(whole));
    }
}

#[test]
fn a_blob_stored_twice_restores_from_its_good_copy() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), noise(50_000, 7)).unwrap();
    // Two runs store the same data: the first waits with its pack written
    // and no index yet, so the second does not know of it.
    let hook = Hook::new(env.path("hook"), "packs-done");
    let mut first = env.std_cairn();
    first.args(["snapshot", "--no-default-excludes"]).arg(&src);
    hook.pause(&mut first, None);
    let mut first = spawn(first);
    hook.wait(&mut first, 1);
    env.snapshot_json(&[&src]);
    hook.release_all();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr_of(&first));

    let repo = open(&env);
    let NodeKind::File { content, .. } = node_in_latest(&repo, &src.join("f")).kind else { panic!("a file") };
    let copies = repo.locations(BlobKind::Data, &content[0]);
    assert_eq!(copies.len(), 2, "both copies are indexed: {copies:?}");
    damage(&repo, &copies[0]);

    let target = env.path("out");
    let out = restore_latest(&env, &target);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_same_tree(&src, &restored(&target, &src));
}

#[test]
fn a_snapshot_committed_after_the_restore_read_the_index_restores() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("old"), noise(10_000, 1)).unwrap();
    env.snapshot_json(&[&src]);
    // The restore has read the index and waits; meanwhile a run commits
    // new data. `latest` is chosen after, so it is the new snapshot.
    let hook = Hook::new(env.path("hook"), "index-loaded");
    let target = env.path("out");
    let mut restore = env.std_cairn();
    restore.args(["restore", "latest", "--target"]).arg(&target);
    hook.pause(&mut restore, None);
    let mut restore = spawn(restore);
    hook.wait(&mut restore, 1);
    fs::write(src.join("new"), noise(10_000, 2)).unwrap();
    env.snapshot_json(&[&src]);
    hook.release_all();
    let out = restore.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_same_tree(&src, &restored(&target, &src));
}

#[test]
fn a_snapshot_removed_while_listing_is_left_out_without_a_warning() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"one").unwrap();
    env.snapshot_json(&[&src]);
    fs::write(src.join("f"), b"two").unwrap();
    env.snapshot_json(&[&src]);
    let files: Vec<PathBuf> = fs::read_dir(env.repo.join("snapshots")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2);

    // Without the cache, which would answer for a file it already holds.
    let hook = Hook::new(env.path("hook"), "snapshots-listed");
    let mut list = env.std_cairn();
    list.args(["snapshots", "--json", "--no-cache"]);
    hook.pause(&mut list, None);
    let mut list = spawn(list);
    hook.wait(&mut list, 1);
    fs::remove_file(&files[0]).unwrap(); // as a prune would
    hook.release_all();
    let out = list.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "", "no warning for a file that went away");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = files[1].file_name().unwrap().to_str().unwrap();
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], kept, "{listed}");
}
