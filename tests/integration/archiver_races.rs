//! The archiver against a filesystem that changes under it: racily clean
//! files (rewritten within the timestamp granularity of the parent's read),
//! fifos that must never be opened, files deleted or replaced between the
//! walk's stat and the read (made certain with the pause hook).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::hooks::{Hook, spawn};

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
    // The parent is recorded at the second the file was changed: however
    // long the machine stalls before or during the run, the file's ctime
    // is at or after the parent's start less one second (the racy cutoff),
    // so an unchanged stat proves nothing and the next run must read it.
    let ctime = fs::symlink_metadata(&path).unwrap().ctime();
    let first = snapshot(&env, &["--time", &format!("@{ctime}")], &src);
    assert_eq!(first["summary"]["files_read"], 1, "{first}");
    assert!(racy_for(&first, &path), "racy by construction: {first}");

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

/// Runs a snapshot of `src` that stops after the walk stat-ed `victim` and
/// before it opens it, lets `meanwhile` change the file, then lets the run
/// go on. Returns the run's output.
fn snapshot_changing_under_the_walk(env: &Env, src: &Path, victim: &Path, meanwhile: impl FnOnce()) -> Output {
    let hook = Hook::new(env.path("hook"), "file-stat");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--json", "--no-default-excludes"]).arg(src);
    let victim = fs::canonicalize(victim).unwrap();
    hook.pause(&mut cmd, Some(&victim));
    let mut child = spawn(cmd);
    assert_eq!(hook.wait(&mut child, 1), victim.display().to_string());
    meanwhile();
    hook.release_all();
    child.wait_with_output().unwrap()
}

/// A small tree: the victim and a bystander that must be stored either way.
fn two_files(env: &Env) -> (PathBuf, PathBuf) {
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("bystander.txt"), b"always stored").unwrap();
    let victim = src.join("notes.md");
    fs::write(&victim, b"old version\n").unwrap();
    (src, victim)
}

/// The output's JSON summary, after checking it exited 0 (not 3: nothing
/// that exists was unreadable) and noted the victim on a `note:` line.
fn summary_noting(out: &Output, victim: &Path, how: &str) -> serde_json::Value {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(0), "a file changed under the walk is no failure:\n{err}");
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(
        err.lines().any(|l| l.starts_with("note: ") && l.contains(name) && l.contains(how)),
        "a note names {name} as {how}:\n{err}"
    );
    assert!(!err.contains("warning:"), "no warning:\n{err}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

#[test]
fn a_file_replaced_by_rename_between_walk_and_read_is_noted_and_exits_0() {
    let env = Env::new();
    let (src, victim) = two_files(&env);
    let out = snapshot_changing_under_the_walk(&env, &src, &victim, || {
        // What editors and agents do on save: write a temporary, rename it over.
        let temp = src.join(".notes.md.swp");
        fs::write(&temp, b"new version, longer than the old\n").unwrap();
        fs::rename(&temp, &victim).unwrap();
    });
    let summary = summary_noting(&out, &victim, "replaced");
    assert_eq!(summary["summary"]["warnings"], 1, "{summary}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("bystander.txt")).unwrap(), b"always stored");
    // The walk's file is gone; the new one is another file it never stat-ed.
    assert!(!base.join("notes.md").exists(), "skipped, as the note says");
    env.cairn().args(["check", "--read-data"]).assert().success();

    // The next run stores the new version.
    let next = snapshot(&env, &[], &src);
    assert_eq!(next["summary"]["warnings"], 0, "{next}");
    let again = env.path("again");
    env.cairn().args(["restore", "latest", "--target"]).arg(&again).assert().success();
    assert_same_tree(&src, &restored(&again, &src));
}

#[test]
fn a_file_deleted_between_walk_and_read_is_noted_and_exits_0() {
    let env = Env::new();
    let (src, victim) = two_files(&env);
    let out = snapshot_changing_under_the_walk(&env, &src, &victim, || fs::remove_file(&victim).unwrap());
    let summary = summary_noting(&out, &victim, "deleted");
    assert_eq!(summary["summary"]["warnings"], 1, "{summary}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    env.cairn().args(["check", "--read-data"]).assert().success();
}

/// `restore --to-original` first snapshots what it will replace. A file an
/// editor saves over (rename) during that safety snapshot is new data the
/// safety snapshot did not store: the restore must not overwrite it, and
/// refuses as it does when the safety snapshot could not read a file.
#[test]
fn a_file_replaced_during_the_restores_safety_snapshot_is_not_overwritten() {
    let env = Env::new();
    let (src, victim) = two_files(&env);
    snapshot(&env, &[], &src);
    fs::write(&victim, b"local edits, not in any snapshot\n").unwrap();

    let hook = Hook::new(env.path("hook"), "file-stat");
    let mut cmd = env.std_cairn();
    cmd.args(["restore", "latest", "--to-original", "--overwrite"]);
    let canonical = fs::canonicalize(&victim).unwrap();
    hook.pause(&mut cmd, Some(&canonical));
    let mut child = spawn(cmd);
    hook.wait(&mut child, 1);
    let temp = src.join(".notes.md.swp");
    fs::write(&temp, b"the editor's save\n").unwrap();
    fs::rename(&temp, &victim).unwrap();
    hook.release_all();
    let out = child.wait_with_output().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"the editor's save\n", "{}", stderr_of(&out));
    // Refused as a whole, as when the safety snapshot could not read a file:
    // the run's promise is that nothing is replaced before it is safe.
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("could not preserve everything"), "{}", stderr_of(&out));
}
