//! Restores to the original places that must not destroy the wrong thing:
//! folders on the way that became symlinks, folders left out of a snapshot
//! on purpose, hard links whose first copy failed, names that look like
//! globs, and relative paths with `..`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::common::*;

fn restore_to_original(env: &Env, args: &[&str]) -> std::process::Output {
    env.cairn().args(["restore", "latest", "--to-original"]).args(args).output().unwrap()
}

#[test]
fn a_folder_on_the_way_that_became_a_symlink_is_never_replaced() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(work.join("sub")).unwrap();
    fs::write(work.join("sub/f"), "mine\n").unwrap();
    env.snapshot_json(&[&work]);
    // The agent swapped `work` (a folder only on the way to the selected
    // file) for a symlink to somewhere else.
    let elsewhere = env.path("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::remove_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &work).unwrap();
    let out = restore_to_original(&env, &["--overwrite", "--path", work.join("sub/f").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("never replaced"), "{}", stderr_of(&out));
    assert!(fs::symlink_metadata(&work).unwrap().file_type().is_symlink(), "the symlink is left alone");
    assert!(!elsewhere.join("sub").exists(), "nothing is written through it");
}

#[test]
fn delete_keeps_folders_left_out_of_the_snapshot_on_purpose() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(work.join("node_modules/pkg")).unwrap();
    fs::write(work.join("node_modules/pkg/index.js"), "old\n").unwrap();
    fs::write(work.join("kept.txt"), "kept\n").unwrap();
    // The snapshot's time is in whole seconds: be born a second before it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = env
        .cairn()
        .args(["snapshot", "--json", "--no-default-excludes", "--exclude", "node_modules"])
        .arg(&work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // npm install: node_modules changes (its ctime is new), a file appears.
    fs::write(work.join("node_modules/new-dep.js"), "new\n").unwrap();
    fs::write(work.join("agent-junk.txt"), "junk\n").unwrap();
    let out = restore_to_original(&env, &["--delete", "--json", "--path", work.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(work.join("node_modules/pkg/index.js").is_file(), "the excluded folder is kept");
    assert!(work.join("node_modules/new-dep.js").is_file());
    assert!(!work.join("agent-junk.txt").exists(), "a brand-new file is deleted");
    assert!(work.join("kept.txt").is_file());
}

#[test]
fn hard_link_followers_are_not_linked_to_what_the_failed_first_copy_left() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("small"), "small\n").unwrap();
    env.snapshot_json(&[&work]);
    let before = env.repo_listing();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(work.join("h1"), &data).unwrap();
    fs::hard_link(work.join("h1"), work.join("h2")).unwrap();
    env.snapshot_json(&[&work]);
    damage_newest_pack(&env, &before);
    // The agent made them two different files.
    fs::remove_file(work.join("h1")).unwrap();
    fs::remove_file(work.join("h2")).unwrap();
    fs::write(work.join("h1"), "agent one\n").unwrap();
    fs::write(work.join("h2"), "agent two\n").unwrap();
    let out = restore_to_original(&env, &["--overwrite", "--json", "--path", work.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("h2: not restored: it is a hard link to"), "{err}");
    // The totals say what happened, not what was planned.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["replaced"].as_u64(), v["skipped"].as_u64()), (Some(0), Some(2)), "{v}");
    assert_eq!(v["actions"].as_array().unwrap().iter().filter(|a| a["action"] == "skip").count(), 2, "{v}");
    assert_eq!(fs::read_to_string(work.join("h1")).unwrap(), "agent one\n");
    assert_eq!(fs::read_to_string(work.join("h2")).unwrap(), "agent two\n", "not linked to the agent's h1");
}

#[test]
fn a_name_with_brackets_is_a_path_not_a_glob() {
    let env = Env::new();
    let app = env.path("app");
    fs::create_dir_all(app.join("[slug]")).unwrap();
    fs::create_dir_all(app.join("s")).unwrap();
    fs::write(app.join("[slug]/page.tsx"), "export default 1;\n").unwrap();
    fs::write(app.join("s/page.tsx"), "export default 2;\n").unwrap();
    env.snapshot_json(&[&app]);
    fs::remove_file(app.join("[slug]/page.tsx")).unwrap();
    fs::remove_file(app.join("s/page.tsx")).unwrap();
    let page = app.join("[slug]/page.tsx");
    let out = restore_to_original(&env, &["--path", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fs::read_to_string(&page).unwrap(), "export default 1;\n");
    assert!(!app.join("s/page.tsx").exists(), "not taken as the glob [slug] (one of s, l, u, g)");
    // The same with --at, which chooses the snapshot by the paths.
    fs::remove_file(&page).unwrap();
    let out = env.cairn().args(["restore", "--to-original", "--at", "now", "--path"]).arg(&page).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(page.is_file());
    // A real glob still works.
    let out = restore_to_original(&env, &["--path", app.join("*/page.tsx").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(app.join("s/page.tsx").is_file());
}

#[test]
fn relative_paths_with_dot_dot_mean_what_the_shell_means() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(work.join("sub")).unwrap();
    fs::write(work.join("x"), "top x\n").unwrap();
    fs::write(work.join("sub/x"), "sub x\n").unwrap();
    env.snapshot_json(&[&work]);
    fs::remove_file(work.join("x")).unwrap();
    fs::remove_file(work.join("sub/x")).unwrap();
    let out = env
        .cairn()
        .current_dir(work.join("sub"))
        .args(["restore", "latest", "--to-original", "--path", "../x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fs::read_to_string(work.join("x")).unwrap(), "top x\n");
    assert!(!work.join("sub/x").exists());
    // diff takes it the same way.
    let out = env.cairn().current_dir(work.join("sub")).args(["diff", "latest", "../x"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn read_only_files_get_their_xattrs_and_folders_their_mode() {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(work.join("d")).unwrap();
    let f = work.join("d/ro.txt");
    fs::write(&f, "read only\n").unwrap();
    let has_xattrs = set_test_xattr(&f, "user.cairn", b"kept");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(work.join("d"), fs::Permissions::from_mode(0o750)).unwrap();
    env.snapshot_json(&[&work]);
    fs::remove_dir_all(work.join("d")).unwrap();
    let out = restore_to_original(&env, &["--path", work.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    if has_xattrs {
        assert_eq!(xattr::get(&f, "user.cairn").unwrap().as_deref(), Some(&b"kept"[..]));
    }
    assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o444);
    assert_eq!(fs::metadata(work.join("d")).unwrap().mode() & 0o7777, 0o750);
}
