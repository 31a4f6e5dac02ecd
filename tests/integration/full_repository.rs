//! A repository on a full disk (a small tmpfs, root only): the snapshot
//! that runs out of space exits 1 with one clear line, leaves neither a
//! partial file under a final name nor its spool, and the repository still
//! checks clean and restores its earlier snapshot byte for byte.

use std::fs;

use crate::common::*;

#[test]
fn a_snapshot_that_fills_the_disk_fails_cleanly() {
    let mut env = Env::empty();
    let Some(_mount) = small_mount(&env.path("small"), "size=1m") else {
        return;
    };
    env.repo = env.path("small/repo");
    env.cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).assert().success();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("small"), b"fits").unwrap();
    env.snapshot_json(&[&src]);

    fs::write(src.join("large"), noise(3 << 20, 0x2545_F491_4F6C_DD1D)).unwrap();
    let out = env.cairn().args(["snapshot", "--no-default-excludes"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an error, not a snapshot with warnings");
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.contains("No space left on device"), "{err}");

    // Every file under a final name holds the bytes its name promises, and
    // the failed run removed its spool (a full disk must not stay full).
    for (path, _) in env.repo_listing() {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(!name.starts_with(".tmp-"), "left behind: {}", path.display());
        if name.len() == 64 {
            let bytes = fs::read(&path).unwrap();
            assert_eq!(cairn_core::Id::of_file_bytes(&bytes).to_hex(), name, "{} is partial", path.display());
        }
    }
    let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    let target = env.path("restored");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let back = restored(&target, &src);
    assert_eq!(fs::read(back.join("small")).unwrap(), b"fits");
    assert_eq!(fs::read_dir(&back).unwrap().count(), 1, "only the earlier snapshot's file");
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}
