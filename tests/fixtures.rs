//! The checked-in format-v1 repository (`tests/fixtures/repo-v1`, made by
//! `tests/fixtures/make-repo-v1.sh`) must keep opening, checking and
//! restoring byte for byte: a change that breaks old repositories fails here.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const PASSWORD: &str = "cairn-fixture";
/// 2025-06-01T12:00:00Z, the mtime the script gives every entry.
const MTIME: i64 = 1_748_779_200;

fn fixture_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repo-v1");
    let dst = dir.join("repo-v1");
    let status = std::process::Command::new("cp").arg("-r").arg(&src).arg(&dst).status().unwrap();
    assert!(status.success());
    dst
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

#[test]
fn fixture_repository_checks_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture_copy(dir.path());
    cairn(&repo, dir.path()).args(["check", "--read-data"]).assert().success();

    let out = cairn(&repo, dir.path()).args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["time"], "2025-06-01T12:00:00+00:00");
    assert_eq!(list[0]["host"], "fixture");
    assert_eq!(list[0]["tags"][0], "v1");
    assert_eq!(list[0]["paths"][0], "/tmp/cairn-fixture");
    assert_eq!(list[1]["parent"], list[0]["id"]);

    for (snapshot, hello) in
        [(list[0]["id"].as_str().unwrap(), "hello, cairn\n"), ("latest", "hello, cairn\nhello again\n")]
    {
        let target = dir.path().join(format!("out-{}", &snapshot[..4]));
        cairn(&repo, dir.path()).args(["restore", snapshot, "--target"]).arg(&target).assert().success();
        let root = target.join("tmp/cairn-fixture");
        assert_eq!(fs::read_to_string(root.join("hello.txt")).unwrap(), hello);
        assert_eq!(fs::read(root.join("sub/numbers.txt")).unwrap(), numbers());
        assert_eq!(fs::read(root.join("sub/empty")).unwrap(), b"");
        assert_eq!(fs::read_link(root.join("link")).unwrap(), Path::new("hello.txt"));
        assert!(root.join("emptydir").is_dir());
        assert_eq!(fs::read_dir(root.join("emptydir")).unwrap().count(), 0);
        assert_eq!(fs::metadata(root.join("hello.txt")).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::metadata(root.join("sub/numbers.txt")).unwrap().mtime(), MTIME);
        assert_eq!(fs::symlink_metadata(root.join("link")).unwrap().mtime(), MTIME);
    }

    let out = cairn(&repo, dir.path()).env("CAIRN_PASSWORD", "not it").arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
