//! No single file can stop a snapshot (issue 9 item 5): pseudo filesystems
//! are skipped by default (their mount points kept as empty folders, one
//! note each), fifos are never read, and a file whose read makes no
//! progress is skipped after the stall limit with a warning and exit 3.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// The lines of `stderr` that start with `prefix` and contain `needle`.
fn lines_with<'a>(stderr: &'a str, prefix: &str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.starts_with(prefix) && l.contains(needle)).collect()
}

/// `cairn ls latest PATH -R`, one path a line.
fn listed(env: &Env, path: &Path) -> Vec<String> {
    let out = env.cairn().args(["ls", "latest", "-R"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out).lines().map(str::to_string).collect()
}

#[test]
fn snapshot_of_proc_finishes_with_one_note_and_an_empty_folder() {
    if !Path::new("/proc/self/mountinfo").exists() {
        eprintln!("note: no /proc here; nothing to test");
        return;
    }
    let env = Env::new();
    // Before the fix this read /proc/kmsg, which blocks forever.
    let out = env.cairn().args(["snapshot", "/proc"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(lines_with(&stderr, "note: /proc: ", "proc is a pseudo filesystem").len(), 1, "{stderr}");
    assert!(stderr.contains("--include-pseudo-fs"), "the note says how to store it: {stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let out = env.cairn().args(["ls", "latest", "/proc"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stdout_of(&out).contains("/proc/"), "nothing below /proc is stored: {}", stdout_of(&out));
}

/// Unmounts when dropped, even when the test fails.
struct ProcMount(PathBuf);

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_pseudo_filesystem_met_in_the_walk_is_kept_as_an_empty_folder_and_noted_once() {
    if !is_root() {
        eprintln!("note: not root: cannot mount a proc filesystem; not exercised");
        return;
    }
    let env = Env::new();
    let src = fs::canonicalize(env.dir.path()).unwrap().join("src");
    let mount_point = src.join("machine/proc");
    fs::create_dir_all(&mount_point).unwrap();
    fs::write(src.join("notes.md"), b"kept").unwrap();
    let status = std::process::Command::new("mount").args(["-t", "proc", "proc"]).arg(&mount_point).status().unwrap();
    assert!(status.success(), "running as root, yet cannot mount proc at {}", mount_point.display());
    let _mounted = ProcMount(mount_point.clone());

    let out = env.cairn().args(["snapshot", "--no-default-excludes"]).arg(&src).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let note = format!("note: {}: proc is a pseudo filesystem", mount_point.display());
    assert_eq!(stderr.lines().filter(|l| l.starts_with(&note)).count(), 1, "{stderr}");
    let paths = listed(&env, &src);
    assert!(paths.iter().any(|p| p.ends_with("/notes.md")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/machine/proc")), "the mount point is kept: {paths:?}");
    assert!(!paths.iter().any(|p| p.contains("/machine/proc/")), "nothing below it: {paths:?}");

    // Asked for, its contents are stored (a small folder of it that never blocks).
    let random = mount_point.join("sys/kernel/random");
    let out = env.cairn().args(["snapshot", "--include-pseudo-fs"]).arg(&random).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("pseudo filesystem"), "{stderr}");
    assert!(listed(&env, &random).iter().any(|p| p.ends_with("/boot_id")));
}

#[test]
fn a_tree_with_fifos_finishes_and_the_fifos_are_stored_not_read() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"before").unwrap();
    fs::write(src.join("z.txt"), b"after").unwrap();
    for name in ["no-writer", "held-open"] {
        let status = std::process::Command::new("mkfifo").arg(src.join(name)).status().unwrap();
        assert!(status.success());
    }
    // A writer that keeps a fifo open and never writes: a read would block.
    let _writer = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3<>'{}'; exec sleep 1000", src.join("held-open").display()))
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _writer = Kill(_writer);

    let v = env.snapshot_json(&[&src]);
    assert_eq!(v["summary"]["warnings"], 0, "{v}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let base = restored(&target, &src);
    use std::os::unix::fs::FileTypeExt;
    for name in ["no-writer", "held-open"] {
        assert!(fs::symlink_metadata(base.join(name)).unwrap().file_type().is_fifo(), "{name} restored as a fifo");
    }
    assert_eq!(fs::read(base.join("z.txt")).unwrap(), b"after");
}

#[test]
fn a_file_whose_read_never_progresses_is_skipped_and_the_snapshot_finishes() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"first").unwrap();
    fs::write(src.join("stuck.log"), b"on a hung filesystem").unwrap();
    fs::write(src.join("z.txt"), b"last").unwrap();
    let stuck = fs::canonicalize(src.join("stuck.log")).unwrap();

    // The read-block point holds this file's read forever, as a hung FUSE
    // or NFS server would; the limit is small only to keep the test short.
    let hook = Hook::new(env.path("hook"), "read-block");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--json", "--no-default-excludes", "--read-stall-limit", "2s"]).arg(&src);
    hook.pause(&mut cmd, Some(&stuck));
    let out = spawn(cmd).wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(3), "finished, but incomplete: {stderr}");
    assert!(hook.was_reached(1), "the read did start");
    let warned = lines_with(&stderr, "warning: ", "stuck.log: not stored: reading made no progress for 2 s");
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("--read-stall-limit"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["warnings"], 1, "{v}");

    // Never half-recorded: the stalled file has no node; the rest is whole.
    hook.release_all();
    let paths = listed(&env, &src);
    assert!(!paths.iter().any(|p| p.ends_with("stuck.log")), "{paths:?}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("a.txt")).unwrap(), b"first");
    assert_eq!(fs::read(base.join("z.txt")).unwrap(), b"last");
    assert!(!base.join("stuck.log").exists());
    env.cairn().arg("check").assert().success();

    // Next time the filesystem answers: the file is stored.
    env.cairn().args(["snapshot", "--no-default-excludes"]).arg(&src).assert().success();
    assert!(listed(&env, &src).iter().any(|p| p.ends_with("stuck.log")));
}

#[test]
fn a_bad_stall_limit_is_refused() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    for bad in ["0", "soon", "-5s"] {
        let out = env.cairn().args(["snapshot", "--read-stall-limit", bad]).arg(&src).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr_of(&out));
    }
    let out = env
        .cairn()
        .args(["snapshot", "--read-stall-limit", "90s"])
        .arg(&src)
        .env("CAIRN_READ_STALL_LIMIT", "x")
        .output();
    assert!(out.unwrap().status.success(), "the flag wins over the variable");
}
