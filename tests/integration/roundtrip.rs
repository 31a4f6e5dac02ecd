//! Snapshot and restore round trips: an agent workspace plus a tree of edge
//! cases, compared byte for byte and by metadata; deduplication; partial
//! restores; unencrypted repositories; concurrent snapshots.

use std::ffi::OsStr;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// Every kind of entry a snapshot must carry.
pub fn make_edge_cases(root: &Path) {
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("empty-file"), b"").unwrap();
    fs::write(root.join("private.txt"), b"secret\n").unwrap();
    fs::set_permissions(root.join("private.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("script.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("script.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("script.sh", root.join("link-to-script")).unwrap();
    symlink("does/not/exist", root.join("dangling-link")).unwrap();
    fs::write(root.join("original"), b"linked content\n".repeat(100)).unwrap();
    fs::hard_link(root.join("original"), root.join("hard-link")).unwrap();
    fs::write(root.join(OsStr::from_bytes(b"caf\xe9-latin1-\xff.txt")), b"not utf-8 name").unwrap();
    let mut deep = root.to_path_buf();
    for i in 0..40 {
        deep.push(format!("level-{i:02}-with-a-longish-name"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom.txt"), b"deep down").unwrap();
    let status = std::process::Command::new("mkfifo").arg(root.join("a-fifo")).status().unwrap();
    assert!(status.success());
    // A 100 MB file that is mostly holes, with some data in the middle and at the end.
    let mut sparse = fs::File::create(root.join("sparse-100mb.img")).unwrap();
    sparse.set_len(100 * 1024 * 1024).unwrap();
    sparse.seek(SeekFrom::Start(40 * 1024 * 1024)).unwrap();
    sparse.write_all(&b"some data in the middle ".repeat(10_000)).unwrap();
    sparse.seek(SeekFrom::Start(100 * 1024 * 1024 - 5)).unwrap();
    sparse.write_all(b"tail!").unwrap();
    drop(sparse);
    // As root (CI) this must work; elsewhere the xattr checks are skipped.
    set_test_xattr(&root.join("private.txt"), "user.cairn-test", b"xattr value");
    // Someone else's file and folder (root only; `assert_same_tree` then
    // compares owners).
    if is_root() {
        fs::create_dir_all(root.join("theirs")).unwrap();
        fs::write(root.join("theirs/file"), b"owned by 1234:5678").unwrap();
        std::os::unix::fs::chown(root.join("theirs/file"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::chown(root.join("theirs"), Some(4321), Some(8765)).unwrap();
    } else {
        eprintln!("note: not root: no files of other owners in the edge cases");
    }
}

#[test]
fn agent_tree_and_edge_cases_round_trip() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src.join("workspace"), cairn_testgen::Scale::Tiny, 7).unwrap();
    make_edge_cases(&src.join("edge"));
    settle();

    let first = env.snapshot_json(&[&src]);
    assert!(first["summary"]["data_blobs_added"].as_u64().unwrap() > 0);
    let packs_before = fs::read_dir(env.repo.join("index")).unwrap().count();

    // Nothing changed: no data blob, no file read (parent's chunk lists reused).
    let second = env.snapshot_json(&[&src]);
    assert_eq!(second["summary"]["data_blobs_added"], 0, "{second}");
    assert_eq!(second["summary"]["files_read"], 0, "{second}");
    assert_eq!(second["parent"], first["id"]);
    // Even reading everything again (--force) adds no data blob.
    let out = env.cairn().args(["snapshot", "--json", "--force", "--no-default-excludes"]).arg(&src).output().unwrap();
    let forced: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(forced["summary"]["data_blobs_added"], 0, "{forced}");
    assert!(forced["summary"]["files_read"].as_u64().unwrap() > 100);
    assert!(fs::read_dir(env.repo.join("index")).unwrap().count() <= packs_before + 2);

    let target = env.path("restore");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    let restored_private = restored(&target, &src.join("edge/private.txt"));
    if xattr::get(src.join("edge/private.txt"), "user.cairn-test").ok().flatten().is_some() {
        assert_eq!(xattr::get(&restored_private, "user.cairn-test").unwrap().unwrap(), b"xattr value");
    }
    // The sparse file is restored with holes, not 100 MB of zeros on disk.
    let md = fs::metadata(restored(&target, &src.join("edge/sparse-100mb.img"))).unwrap();
    assert!(std::os::unix::fs::MetadataExt::blocks(&md) * 512 < 20 * 1024 * 1024);

    env.cairn().args(["check", "--read-data"]).assert().success();

    // The first snapshot, by id prefix, restores too.
    let prefix = &first["id"].as_str().unwrap()[..6];
    let target1 = env.path("restore-first");
    env.cairn().args(["restore", prefix, "--target"]).arg(&target1).assert().success();
    assert_same_tree(&src, &restored(&target1, &src));
}

#[test]
fn restore_selected_paths_only() {
    let env = Env::new();
    let src = env.path("src");
    make_edge_cases(&src);
    fs::remove_file(src.join("sparse-100mb.img")).unwrap();
    env.snapshot_json(&[&src]);
    let target = env.path("out");
    let wanted = fs::canonicalize(src.join("script.sh")).unwrap();
    let deep = fs::canonicalize(src.join("level-00-with-a-longish-name")).unwrap();
    env.cairn()
        .args(["restore", "latest", "--target"])
        .arg(&target)
        .arg("--path")
        .arg(&wanted)
        .arg("--path")
        .arg(&deep)
        .assert()
        .success();
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("script.sh")).unwrap(), b"#!/bin/sh\necho hi\n");
    assert!(!base.join("private.txt").exists());
    assert_same_tree(&src.join("level-00-with-a-longish-name"), &base.join("level-00-with-a-longish-name"));

    // A path that is not in the snapshot: an error, and nothing written.
    let target2 = env.path("out2");
    let out = env
        .cairn()
        .args(["restore", "latest", "--target"])
        .arg(&target2)
        .args(["--path", "/no/such/path"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("/no/such/path"), "{}", stderr_of(&out));
    assert!(!target2.exists());
}

#[test]
fn restore_refuses_non_empty_target_without_overwrite() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"new").unwrap();
    env.snapshot_json(&[&src]);
    let target = env.path("out");
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("keep.txt"), b"mine").unwrap();
    let out = env.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("--overwrite"), "{}", stderr_of(&out));
    env.cairn().args(["restore", "latest", "--overwrite", "--target"]).arg(&target).assert().success();
    assert_eq!(fs::read(restored(&target, &src).join("a.txt")).unwrap(), b"new");
    assert_eq!(fs::read(target.join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn unencrypted_repository_round_trips_and_verifies() {
    let env = Env::empty();
    let plain = || {
        let mut cmd = bare_cairn(env.dir.path());
        cmd.env("CAIRN_REPO", &env.repo);
        cmd
    };
    plain().args(["init", "--no-encryption"]).assert().success();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 3).unwrap();
    plain().args(["snapshot", "--no-default-excludes"]).arg(&src).assert().success();
    plain().args(["check", "--read-data"]).assert().success();
    let target = env.path("out");
    plain().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    // A password given for an unencrypted repository is refused: it would
    // otherwise hide a downgrade of an encrypted one.
    let out = env.cairn().arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("not encrypted"), "{}", stderr_of(&out));
}

/// `to` made an exact copy of `from` (contents, modes, times).
fn copy_tree(from: &Path, to: &Path) {
    if to.exists() {
        fs::remove_dir_all(to).unwrap();
    }
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

/// Two snapshots of trees that share most files run at the same time, for
/// several rounds. The pause hook holds each run right after its first
/// pack is durable until both got there, so both have written the shared
/// blobs into packs of their own and neither has written its index yet:
/// the overlap is certain, not left to the scheduler.
#[test]
fn concurrent_snapshots_both_succeed() {
    let env = Env::new();
    let a = env.path("a");
    let b = env.path("b");
    cairn_testgen::init(&a, cairn_testgen::Scale::Tiny, 1).unwrap();
    for round in 1..=3u32 {
        if round > 1 {
            cairn_testgen::tick(&a, round).unwrap();
        }
        copy_tree(&a, &b);
        fs::write(a.join("only-in-a.txt"), format!("a, round {round}\n")).unwrap();
        fs::write(b.join("only-in-b.txt"), format!("b, round {round}\n")).unwrap();

        let hooks: Vec<Hook> =
            ["a", "b"].iter().map(|n| Hook::new(env.path(&format!("hook-{n}-{round}")), "pack-durable")).collect();
        let mut children: Vec<std::process::Child> = [&a, &b]
            .iter()
            .zip(&hooks)
            .map(|(src, hook)| {
                let mut cmd = env.std_cairn();
                cmd.args(["snapshot", "--json", "--no-default-excludes"]).arg(src);
                hook.pause(&mut cmd, None);
                spawn(cmd)
            })
            .collect();
        // Both have a durable pack and no index before either goes on.
        for (hook, child) in hooks.iter().zip(&mut children) {
            hook.wait(child, 1);
        }
        assert_eq!(fs::read_dir(env.repo.join("index")).unwrap().count(), 2 * (round as usize - 1), "no new index yet");
        for hook in &hooks {
            hook.release_all();
        }
        let mut ids = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr_of(&out));
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            // Each stored the shared changes itself, not just its own file.
            assert!(summary["summary"]["data_blobs_added"].as_u64().unwrap() > 1, "round {round}: {summary}");
            ids.push(summary["id"].as_str().unwrap().to_string());
        }

        env.cairn().args(["check", "--read-data"]).assert().success();
        for ((src, id), name) in [&a, &b].into_iter().zip(&ids).zip(["ra", "rb"]) {
            let target = env.path(&format!("{name}-{round}"));
            env.cairn().args(["restore", id, "--target"]).arg(&target).assert().success();
            assert_same_tree(src, &restored(&target, src));
        }
    }
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 6);
}
