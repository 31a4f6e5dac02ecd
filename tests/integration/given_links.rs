//! Symlinks given on the command line (issue 10 item 5): `cairn snapshot
//! ~/linked`, where `~/linked` → a folder, stores the folder's contents
//! under its real path and records the link, so `ls`, `history`, `diff` and
//! `restore` work with either path; a path that stored no file warns.

use std::fs;
use std::os::unix::fs::symlink;

use crate::common::*;

#[test]
fn a_symlink_given_is_followed_and_either_path_works() {
    let env = Env::new();
    let data = env.path("data/p");
    fs::create_dir_all(data.join("src")).unwrap();
    fs::write(data.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(data.join("README.md"), "# p\n").unwrap();
    let home = env.path("home");
    fs::create_dir_all(&home).unwrap();
    let linked = home.join("linked");
    symlink(&data, &linked).unwrap();
    let data = fs::canonicalize(&data).unwrap();
    let linked = fs::canonicalize(&home).unwrap().join("linked");

    let out = env.cairn().args(["snapshot", "--json"]).arg(&linked).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("warning"), "{}", stderr_of(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["summary"]["files_new"], 2, "{summary}");

    // ls by either path.
    for path in [&linked, &data] {
        let out = env.cairn().args(["ls", "latest"]).arg(path).output().unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), stderr_of(&out));
        assert!(stdout_of(&out).contains("README.md"), "{}", stdout_of(&out));
    }

    // history by either path.
    fs::write(data.join("README.md"), "# p, edited\n").unwrap();
    env.cairn().arg("snapshot").arg(&linked).assert().success();
    for path in [linked.join("README.md"), data.join("README.md")] {
        let out = env.cairn().arg("history").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), stderr_of(&out));
        assert!(stdout_of(&out).lines().count() >= 2, "{}", stdout_of(&out));
    }

    // diff against the live files by either path.
    fs::write(data.join("src/main.rs"), "fn main() { changed() }\n").unwrap();
    for path in [&linked, &data] {
        let out = env.cairn().args(["diff", "latest"]).arg(path).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        assert!(text.contains("main.rs") && text.contains("1 modified"), "{}: {text}", path.display());
    }

    // restore through the link's path writes into the real folder and
    // leaves the link a link.
    let out = env
        .cairn()
        .args(["restore", "latest", "--to-original", "--overwrite", "--path"])
        .arg(linked.join("src/main.rs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fs::read_to_string(data.join("src/main.rs")).unwrap(), "fn main() {}\n");
    assert!(fs::symlink_metadata(&linked).unwrap().file_type().is_symlink());
}

#[test]
fn a_path_that_stores_no_file_warns_and_a_dangling_link_fails() {
    let env = Env::new();
    let empty = env.path("empty");
    fs::create_dir_all(empty.join("node_modules")).unwrap();
    fs::write(empty.join("node_modules/x.js"), "x").unwrap();
    let full = env.path("full");
    fs::create_dir_all(&full).unwrap();
    fs::write(full.join("f"), "f").unwrap();
    let out = env.cairn().arg("snapshot").arg(&empty).arg(&full).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "saved: {}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("warning:") && err.contains("empty: no file stored"), "{err}");
    assert!(!err.contains("full: no file"), "{err}");

    let dangling = env.path("dangling");
    symlink(env.path("gone"), &dangling).unwrap();
    let out = env.cairn().arg("snapshot").arg(&dangling).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("cannot be followed"), "{}", stderr_of(&out));
}
