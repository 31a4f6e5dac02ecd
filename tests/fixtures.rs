//! The checked-in format-v1 repository (`tests/fixtures/repo-v1`, made by
//! `tests/fixtures/make-repo-v1.sh`) must keep opening, checking and
//! restoring byte for byte, with every mode and mtime, and must keep taking
//! new snapshots: a change that breaks old repositories fails here.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const PASSWORD: &str = "cairn-fixture";
/// 2025-06-01T12:00:00Z, the mtime the script gives every entry.
const MTIME: i64 = 1_748_779_200;
/// The mtime of `hello.txt` in the second snapshot (an hour later).
const MTIME_2: i64 = MTIME + 3600;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repo-v1")
}

fn fixture_copy(dir: &Path) -> PathBuf {
    let dst = dir.join("repo-v1");
    let status = std::process::Command::new("cp").arg("-a").arg(fixture()).arg(&dst).status().unwrap();
    assert!(status.success());
    dst
}

/// Every entry under `root` (relative path → metadata, not following links).
fn entries(root: &Path) -> BTreeMap<PathBuf, fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let md = fs::symlink_metadata(&path).unwrap();
            if md.is_dir() {
                stack.push(path.clone());
            }
            out.insert(path.strip_prefix(root).unwrap().to_path_buf(), md);
        }
    }
    out
}

/// Every file and folder under `root` with its bytes (None for folders),
/// mode and mtime: a repository must not change when it is only read.
fn contents(root: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, u32, i64)> {
    entries(root)
        .into_iter()
        .map(|(rel, md)| {
            let bytes = (!md.is_dir()).then(|| fs::read(root.join(&rel)).unwrap());
            (rel, (bytes, md.mode(), md.mtime()))
        })
        .collect()
}

fn cairn(repo: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TZ", "UTC")
        .env("CAIRN_REPO", repo)
        .env("CAIRN_PASSWORD", PASSWORD);
    cmd
}

fn numbers() -> Vec<u8> {
    (1..=30000).map(|i| format!("{i}\n")).collect::<String>().into_bytes()
}

fn snapshots(repo: &Path, home: &Path) -> Vec<serde_json::Value> {
    let out = cairn(repo, home).args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().clone()
}

/// Asserts the restored fixture tree at `root`: exactly these entries, with
/// their bytes, modes and mtimes.
fn assert_fixture_tree(root: &Path, hello: &str, hello_mtime: i64) {
    // (path, kind, mode, mtime): the whole tree, nothing more.
    let want: BTreeMap<&str, (&str, u32, i64)> = [
        ("emptydir", ("dir", 0o755, MTIME)),
        ("hello.txt", ("file", 0o640, hello_mtime)),
        ("link", ("symlink", 0o777, MTIME)),
        ("sub", ("dir", 0o755, MTIME)),
        ("sub/empty", ("file", 0o644, MTIME)),
        ("sub/numbers.txt", ("file", 0o644, MTIME)),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<String, (&str, u32, i64)> = entries(root)
        .into_iter()
        .map(|(rel, md)| {
            let kind = if md.is_dir() {
                "dir"
            } else if md.file_type().is_symlink() {
                "symlink"
            } else {
                "file"
            };
            (rel.to_str().unwrap().to_string(), (kind, md.mode() & 0o7777, md.mtime()))
        })
        .collect();
    let got: BTreeMap<&str, (&str, u32, i64)> = got.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(got, want, "entries, kinds, modes and mtimes under {}", root.display());
    let root_md = fs::metadata(root).unwrap();
    assert_eq!((root_md.mode() & 0o7777, root_md.mtime()), (0o755, MTIME), "the snapshot's root folder");
    assert_eq!(fs::read_to_string(root.join("hello.txt")).unwrap(), hello);
    assert_eq!(fs::read(root.join("sub/numbers.txt")).unwrap(), numbers());
    assert_eq!(fs::read(root.join("sub/empty")).unwrap(), b"");
    assert_eq!(fs::read_link(root.join("link")).unwrap(), Path::new("hello.txt"));
}

#[test]
fn fixture_repository_checks_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = contents(&fixture());
    let repo = fixture_copy(dir.path());
    assert_eq!(contents(&repo), pristine, "the copy is the fixture");
    cairn(&repo, dir.path()).args(["check", "--read-data"]).assert().success();

    let list = snapshots(&repo, dir.path());
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["time"], "2025-06-01T12:00:00+00:00");
    assert_eq!(list[0]["host"], "fixture");
    assert_eq!(list[0]["tags"], serde_json::json!(["v1"]));
    assert_eq!(list[0]["paths"], serde_json::json!(["/tmp/cairn-fixture"]));
    assert_eq!(list[1]["time"], "2025-06-01T13:00:00+00:00");
    assert_eq!(list[1]["parent"], list[0]["id"]);

    for (snapshot, hello, hello_mtime) in
        [(list[0]["id"].as_str().unwrap(), "hello, cairn\n", MTIME), ("latest", "hello, cairn\nhello again\n", MTIME_2)]
    {
        let target = dir.path().join(format!("out-{}", &snapshot[..4]));
        cairn(&repo, dir.path()).args(["restore", snapshot, "--target"]).arg(&target).assert().success();
        assert_fixture_tree(&target.join("tmp/cairn-fixture"), hello, hello_mtime);
    }

    let out = cairn(&repo, dir.path()).env("CAIRN_PASSWORD", "not it").arg("snapshots").output().unwrap();
    // 12: wrong password (README, "Exit codes").
    assert_eq!(out.status.code(), Some(12));

    // `check` registers a marker in `locks/` (format-spec §6) and removes it
    // when done: the folder is all it leaves, and the repository stays v1.
    assert!(fs::read_dir(repo.join("locks")).unwrap().next().is_none(), "check left its marker");
    fs::remove_dir(repo.join("locks")).unwrap();
    // Reading changed nothing in the repository, nor in the checked-in fixture.
    assert_eq!(contents(&repo), pristine, "check, snapshots and restore wrote to the repository");
    assert_eq!(contents(&fixture()), pristine, "the checked-in fixture changed");
}

#[test]
fn fixture_repository_takes_a_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture_copy(dir.path());
    let src = dir.path().join("new");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("hello.txt"), "hello, cairn\n").unwrap(); // a blob the fixture has
    fs::write(src.join("sub/numbers.txt"), numbers()).unwrap();
    fs::write(src.join("fresh.txt"), "written by today's cairn\n").unwrap();
    let out = cairn(&repo, dir.path()).args(["snapshot", "--json", "--host", "fixture"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["summary"]["files_new"], 3, "{summary}");

    cairn(&repo, dir.path()).args(["check", "--read-data"]).assert().success();
    let list = snapshots(&repo, dir.path());
    assert_eq!(list.len(), 3);
    let target = dir.path().join("out-new");
    cairn(&repo, dir.path()).args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let root = target.join(fs::canonicalize(&src).unwrap().strip_prefix("/").unwrap());
    assert_eq!(fs::read_to_string(root.join("fresh.txt")).unwrap(), "written by today's cairn\n");
    assert_eq!(fs::read(root.join("sub/numbers.txt")).unwrap(), numbers());
    // The old snapshots still restore beside the new one.
    let old = dir.path().join("out-old");
    cairn(&repo, dir.path())
        .args(["restore", list[0]["id"].as_str().unwrap(), "--target"])
        .arg(&old)
        .assert()
        .success();
    assert_fixture_tree(&old.join("tmp/cairn-fixture"), "hello, cairn\n", MTIME);
    // Snapshot, check and restore do not upgrade it (only prune does, before
    // it deletes): cairn 1 can still open it.
    assert_eq!(fs::read(repo.join("config")).unwrap(), fs::read(fixture().join("config")).unwrap());
    assert!(fs::read_dir(repo.join("locks")).unwrap().next().is_none(), "every run removed its marker");
}
