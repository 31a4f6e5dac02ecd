//! The archiver against a filesystem that changes under it: racily clean
//! files (rewritten within the timestamp granularity of the parent's read),
//! fifos that must never be opened.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

fn snapshot(env: &Env, args: &[&str], path: &Path) -> serde_json::Value {
    let out = env.cairn().args(["snapshot", "--json", "--no-default-excludes"]).args(args).arg(path).output().unwrap();
    assert!(out.status.success(), "snapshot {args:?} failed: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(&out)))
}

/// Nanoseconds since the epoch of an RFC 3339 time as `snapshot --json` prints it.
fn nanos_of(rfc3339: &str) -> i128 {
    let ts: jiff::Timestamp = rfc3339.parse().unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    ts.as_nanosecond()
}

/// True when `path`'s ctime falls in the window after which the snapshot
/// `parent` cannot vouch for it: at or after its start less one second.
fn racy_for(parent: &serde_json::Value, path: &Path) -> bool {
    let md = fs::symlink_metadata(path).unwrap();
    let ctime = i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec());
    let started = nanos_of(parent["time"].as_str().unwrap())
        - i128::from(parent["summary"]["duration_ms"].as_u64().unwrap()) * 1_000_000;
    ctime >= started - 1_000_000_000
}

#[test]
fn a_file_changed_just_before_the_parent_is_read_again() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let path = src.join("a.txt");
    fs::write(&path, b"version one").unwrap();
    // Real time, right after the file was written: its ctime is within the
    // parent's window, so an unchanged stat proves nothing.
    let first = snapshot(&env, &[], &src);
    assert_eq!(first["summary"]["files_read"], 1, "{first}");
    // Only a machine stalled for over a second between the write and the
    // snapshot could leave the file outside the window.
    let racy = racy_for(&first, &path);
    assert!(racy, "the file was written less than a second before the snapshot started: {first}");

    let second = snapshot(&env, &[], &src);
    assert_eq!(second["parent"], first["id"]);
    assert_eq!(second["summary"]["files_read"], 1, "{second}");
    assert_eq!(second["summary"]["bytes_read"], 11, "{second}");
    assert_eq!(second["summary"]["files_unchanged"], 1, "{second}");
    assert_eq!(second["summary"]["data_blobs_added"], 0, "{second}");

    // Same size, new bytes, the old mtime put back, in the same second.
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    fs::write(&path, b"version two").unwrap();
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    let third = snapshot(&env, &[], &src);
    assert_eq!(third["summary"]["files_read"], 1, "{third}");
    assert_eq!(third["summary"]["files_changed"], 1, "{third}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_eq!(fs::read(restored(&target, &src).join("a.txt")).unwrap(), b"version two");
}

#[test]
fn a_parent_recorded_in_the_past_vouches_for_no_file() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"one").unwrap();
    fs::write(src.join("b.txt"), b"two").unwrap();
    let first = snapshot(&env, &["--time", "2020-01-01T00:00:00Z"], &src);
    let second = snapshot(&env, &[], &src);
    assert_eq!(second["parent"], first["id"]);
    assert_eq!(second["summary"]["files_read"], 2, "{second}");
    assert_eq!(second["summary"]["files_unchanged"], 2, "{second}");
}

#[test]
fn files_older_than_the_window_are_reused() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"one").unwrap();
    fs::write(src.join("b.txt"), b"two").unwrap();
    // Recorded in 2100: both files were changed long before it started.
    let first = snapshot(&env, &["--time", "@4102444800"], &src);
    let second = snapshot(&env, &[], &src);
    assert_eq!(second["parent"], first["id"]);
    assert_eq!(second["summary"]["files_read"], 0, "{second}");
    assert_eq!(second["summary"]["files_unchanged"], 2, "{second}");
}

#[test]
fn a_fifo_is_stored_as_a_fifo_without_being_opened() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("plain.txt"), b"plain").unwrap();
    let status = std::process::Command::new("mkfifo").arg(src.join("pipe")).status().unwrap();
    assert!(status.success());
    // No writer ever opens the fifo: reading it would hang the snapshot.
    let mut child = env
        .std_cairn()
        .args(["snapshot", "--json", "--no-default-excludes"])
        .arg(&src)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the snapshot hung on the fifo");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["files_read"], 1, "{v}");
    assert_eq!(v["summary"]["others"], 1, "{v}");
    assert_eq!(v["summary"]["warnings"], 0, "{v}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let pipe = fs::symlink_metadata(restored(&target, &src).join("pipe")).unwrap();
    assert!(pipe.file_type().is_fifo());
}
