//! What a restore must bring back besides bytes: hard links as one inode
//! (also at the original places, after an agent wrote through one name),
//! ownership (as root), and xattrs, including their changes alone (seen by
//! the next snapshot and by diff) and ones added since (removed again);
//! special files left alone when as in the snapshot.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::common::*;

fn restore_json(env: &Env, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = env.cairn().args(["restore", "latest", "--to-original", "--json"]).args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v, stderr_of(&out))
}

/// The action `restore --json` reports for `path`.
fn action_of(v: &serde_json::Value, path: &Path) -> String {
    let actions = v["actions"].as_array().unwrap();
    let found = actions.iter().find(|a| a["path"] == path.to_str().unwrap());
    found.map_or_else(|| format!("not listed in {v}"), |a| a["action"].as_str().unwrap().to_string())
}

fn inode(path: &Path) -> (u64, u64) {
    let md = fs::symlink_metadata(path).unwrap();
    (md.ino(), md.nlink())
}

#[test]
fn hard_links_written_through_come_back_as_one_inode() {
    let env = Env::new();
    let work = fs::canonicalize(env.dir.path()).unwrap().join("work");
    fs::create_dir_all(&work).unwrap();
    let (hard, hard2, other) = (work.join("hard.txt"), work.join("hard2.txt"), work.join("other.txt"));
    fs::write(&hard, "one\n").unwrap();
    fs::hard_link(&hard, &hard2).unwrap();
    fs::write(&other, "other\n").unwrap();
    let mtime = fs::metadata(&hard).unwrap().mtime();
    env.snapshot_json(&[&work]);
    let work_arg = work.to_str().unwrap();

    // The agent writes through one name: both names show it (one inode).
    fs::write(&hard, "changed\n").unwrap();
    let (code, v, err) = restore_json(&env, &["--overwrite", "--dry-run", "--path", work_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((v["replaced"].as_u64(), v["unchanged"].as_u64(), v["skipped"].as_u64()), (Some(2), Some(1), Some(0)));
    assert_eq!((action_of(&v, &hard), action_of(&v, &hard2)), ("replace".into(), "replace".into()));
    assert_eq!(fs::read_to_string(&hard2).unwrap(), "changed\n", "a dry run changes nothing");

    let (code, v, err) = restore_json(&env, &["--overwrite", "--path", work_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!((v["replaced"].as_u64(), v["unchanged"].as_u64(), v["skipped"].as_u64()), (Some(2), Some(1), Some(0)));
    for name in [&hard, &hard2] {
        assert_eq!(fs::read_to_string(name).unwrap(), "one\n", "{}", name.display());
        assert_eq!(fs::metadata(name).unwrap().mtime(), mtime);
    }
    assert_eq!(inode(&hard), inode(&hard2), "one inode again");
    assert_eq!(inode(&hard).1, 2);

    // The link broken (same bytes, two inodes): not as in the snapshot.
    fs::remove_file(&hard2).unwrap();
    fs::copy(&hard, &hard2).unwrap();
    let same_time = fs::File::options().write(true).open(&hard2).unwrap();
    same_time.set_modified(fs::metadata(&hard).unwrap().modified().unwrap()).unwrap();
    let (code, v, err) = restore_json(&env, &["--path", work_arg]);
    assert_eq!(code, Some(3), "{v}");
    assert!(err.contains("no longer hard-linked"), "{err}");
    assert_eq!(v["skipped"], 2, "{v}");
    assert_ne!(inode(&hard).0, inode(&hard2).0, "nothing replaced without --overwrite");
    let (code, v, err) = restore_json(&env, &["--overwrite", "--path", work_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["replaced"], 2, "{v}");
    assert_eq!(inode(&hard), inode(&hard2));
    assert_eq!(inode(&hard).1, 2);

    // One name deleted: linked back to the name left alone, nothing replaced.
    let kept_inode = inode(&hard).0;
    fs::remove_file(&hard2).unwrap();
    let (code, v, err) = restore_json(&env, &["--path", work_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((v["created"].as_u64(), v["replaced"].as_u64(), v["unchanged"].as_u64()), (Some(1), Some(0), Some(2)));
    assert_eq!(inode(&hard2), (kept_inode, 2), "linked to the kept name");
    assert_eq!(fs::read_to_string(&hard2).unwrap(), "one\n");
}

#[test]
fn ownership_comes_back_as_root() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(work.join("d")).unwrap();
    let f = work.join("d/owned.txt");
    fs::write(&f, "someone else's\n").unwrap();
    if !is_root() {
        eprintln!("note: not root: cannot chown; ownership is not exercised");
        return;
    }
    std::os::unix::fs::chown(&f, Some(1234), Some(5678)).unwrap();
    std::os::unix::fs::chown(work.join("d"), Some(4321), Some(8765)).unwrap();
    env.snapshot_json(&[&work]);
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let owner = |p: &Path| {
        let md = fs::symlink_metadata(p).unwrap();
        (md.uid(), md.gid())
    };
    assert_eq!(owner(&restored(&target, &f)), (1234, 5678));
    assert_eq!(owner(&restored(&target, &work.join("d"))), (4321, 8765));

    // Only the owner changed: the file differs from the snapshot, and
    // --overwrite gives it its owner back.
    std::os::unix::fs::chown(&f, Some(0), Some(0)).unwrap();
    let (code, v, _) = restore_json(&env, &["--path", f.to_str().unwrap()]);
    assert_eq!((code, v["skipped"].as_u64()), (Some(3), Some(1)), "{v}");
    let (code, v, err) = restore_json(&env, &["--overwrite", "--path", f.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["replaced"], 1, "{v}");
    assert_eq!(owner(&f), (1234, 5678));
}

/// One change of `--json` diff output, as (change letter, path).
fn diff_changes(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let out = env.cairn().args(["diff", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = v["changes"].as_array().unwrap().iter().filter(|c| c["type"] != "dir");
    changes.map(|c| (c["change"].as_str().unwrap().to_string(), c["path"].as_str().unwrap().to_string())).collect()
}

#[test]
fn an_xattr_change_alone_is_snapshotted_and_diffed() {
    let env = Env::new();
    let work = fs::canonicalize(env.dir.path()).unwrap().join("work");
    fs::create_dir_all(&work).unwrap();
    let f = work.join("tagged.txt");
    fs::write(&f, "same bytes\n").unwrap();
    fs::write(work.join("plain.txt"), "untouched\n").unwrap();
    if !set_test_xattr(&f, "user.colour", b"red") {
        return;
    }
    let first = env.snapshot_json(&[&work]);
    xattr::set(&f, "user.colour", b"blue").unwrap();
    xattr::set(&f, "user.added", b"new").unwrap();
    let f_str = f.to_str().unwrap().to_string();
    assert_eq!(diff_changes(&env, &[first["id"].as_str().unwrap()]), vec![("m".to_string(), f_str.clone())]);
    let second = env.snapshot_json(&[&work]);
    assert_eq!(second["parent"], first["id"]);
    assert_eq!(second["summary"]["data_blobs_added"], 0, "the bytes did not change: {second}");
    let ids = [first["id"].as_str().unwrap(), second["id"].as_str().unwrap()];
    assert_eq!(diff_changes(&env, &ids), vec![("m".to_string(), f_str.clone())]);
    assert_eq!(diff_changes(&env, &[ids[1]]), vec![], "the live files are as the second snapshot");

    let target = env.path("out");
    env.cairn().args(["restore", ids[1], "--target"]).arg(&target).assert().success();
    let back = restored(&target, &f);
    assert_eq!(xattr::get(&back, "user.colour").unwrap().as_deref(), Some(&b"blue"[..]));
    assert_eq!(xattr::get(&back, "user.added").unwrap().as_deref(), Some(&b"new"[..]));
}

#[test]
fn xattrs_added_since_the_snapshot_are_removed_by_overwrite() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(&work).unwrap();
    let bare = work.join("bare.txt");
    let tagged = work.join("tagged.txt");
    fs::write(&bare, "no xattrs\n").unwrap();
    fs::write(&tagged, "one xattr\n").unwrap();
    if !set_test_xattr(&tagged, "user.keep", b"1") {
        return;
    }
    env.snapshot_json(&[&work]);
    xattr::set(&bare, "user.extra", b"agent").unwrap();
    xattr::set(&work, "user.extra", b"on the folder").unwrap();
    xattr::set(&tagged, "user.keep", b"2").unwrap();
    xattr::set(&tagged, "user.extra", b"agent").unwrap();

    let (code, v, _) = restore_json(&env, &["--path", work.to_str().unwrap()]);
    assert_eq!(code, Some(3), "the xattrs differ from the snapshot: {v}");
    assert_eq!(v["skipped"], 2, "{v}");
    assert!(xattr::get(&bare, "user.extra").unwrap().is_some(), "nothing changed without --overwrite");

    let (code, v, err) = restore_json(&env, &["--overwrite", "--path", work.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["replaced"], 2, "{v}");
    let names = |p: &Path| xattr::list(p).unwrap().map(|n| n.to_string_lossy().into_owned()).collect::<Vec<_>>();
    assert_eq!(names(&bare), Vec::<String>::new(), "the added xattr is gone");
    assert_eq!(names(&work), Vec::<String>::new(), "from the folder too (restored in place)");
    assert_eq!(names(&tagged), vec!["user.keep".to_string()]);
    assert_eq!(xattr::get(&tagged, "user.keep").unwrap().as_deref(), Some(&b"1"[..]));
    // The agent's xattrs are in the preserve snapshot.
    let undo = env.path("undo");
    let preserve = v["preserved_snapshot"].as_str().unwrap();
    env.cairn().args(["restore", preserve, "--target"]).arg(&undo).assert().success();
    assert_eq!(xattr::get(restored(&undo, &bare), "user.extra").unwrap().as_deref(), Some(&b"agent"[..]));
}

#[test]
fn a_fifo_as_in_the_snapshot_is_left_alone_and_its_mode_put_back() {
    let env = Env::new();
    let work = fs::canonicalize(env.dir.path()).unwrap().join("work");
    fs::create_dir_all(&work).unwrap();
    let fifo = work.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o640)).unwrap();
    env.snapshot_json(&[&work]);
    let (code, v, err) = restore_json(&env, &["--path", work.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(action_of(&v, &fifo), "unchanged");

    fs::set_permissions(&fifo, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, v, _) = restore_json(&env, &["--path", work.to_str().unwrap()]);
    assert_eq!((code, action_of(&v, &fifo)), (Some(3), "skip".to_string()), "{v}");
    let (code, v, err) = restore_json(&env, &["--overwrite", "--path", work.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(action_of(&v, &fifo), "replace");
    let md = fs::symlink_metadata(&fifo).unwrap();
    assert!(md.file_type().is_fifo());
    assert_eq!(md.mode() & 0o7777, 0o640);
}
