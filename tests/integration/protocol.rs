//! The deletion protocol through the real binary (format-spec §6): new
//! repositories are format version 2; runs that write register a marker in
//! `locks/` and remove it; a killed run's marker blocks nothing; a run that
//! slept past the lapse limit starts over instead of committing.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// The files in `locks/` (none when the folder does not exist).
fn markers(repo: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(repo.join("locks")) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The plain `version` of the config: postcard, after the 8-byte magic.
fn config_version(repo: &Path) -> u8 {
    fs::read(repo.join("config")).unwrap()[8]
}

#[test]
fn init_makes_a_version_2_repository_and_runs_leave_no_marker_behind() {
    let env = Env::new();
    assert_eq!(config_version(&env.repo), 2);
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    env.snapshot_json(&[&src]);
    env.cairn().arg("check").assert().success();
    assert!(markers(&env.repo).is_empty(), "each run removed its marker: {:?}", markers(&env.repo));
}

#[test]
fn a_killed_snapshots_marker_blocks_nothing_and_check_notes_it() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("big"), noise(300_000, 1)).unwrap();
    let hook = Hook::new(env.path("hook"), "packs-done");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--no-default-excludes"]).arg(&src);
    hook.abort(&mut cmd);
    let out = spawn(cmd).wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", stderr_of(&out));
    let left = markers(&env.repo);
    assert_eq!(left.len(), 1, "the killed run's marker stays");

    // The next snapshot neither waits for it nor removes it (only prune does).
    fs::write(src.join("more"), "more").unwrap();
    env.snapshot_json(&[&src]);
    assert_eq!(markers(&env.repo), left);
    let out = env.cairn().arg("check").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report = stdout_of(&out);
    assert!(
        report.contains("note: a marker left by a run that ended: snapshot on")
            && report.contains("the next prune removes it"),
        "{report}"
    );
}

/// How old `file` is by the storage's clock: a file just written in the
/// same folder gives the storage's now.
fn age_by_storage(file: &Path) -> Option<Duration> {
    let probe = file.parent().unwrap().join(".probe");
    fs::write(&probe, b"").unwrap();
    let now = fs::metadata(&probe).unwrap().modified().unwrap();
    fs::remove_file(&probe).unwrap();
    let mtime = fs::metadata(file).ok()?.modified().unwrap();
    now.duration_since(mtime).ok()
}

#[test]
fn a_snapshot_that_slept_past_the_lapse_limit_starts_over_and_is_whole() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 3).unwrap();
    env.snapshot_json(&[&src]);
    cairn_testgen::tick(&src, 1).unwrap();
    fs::write(src.join("new.bin"), noise(200_000, 7)).unwrap();

    // Another host's run (no pid check) whose markers go stale in 6 s:
    // refreshed every second, lapsed after 3 s without a refresh.
    let stale = Duration::from_secs(6);
    let hook = Hook::new(env.path("hook"), "index-loaded");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--json", "--no-default-excludes"])
        .arg(&src)
        .env("CAIRN_TEST_MARKER_HOST", "elsewhere")
        .env("CAIRN_TEST_MARKER_STALE_SECS", stale.as_secs().to_string());
    hook.pause(&mut cmd, None);
    let mut child = spawn(cmd);
    hook.wait(&mut child, 1);
    // The laptop's lid closes: the whole process stops, refresh thread too.
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let marker = markers(&env.repo).pop().expect("the run registered before reading the index");
    // Until its marker is stale by the storage's clock (a prune elsewhere
    // would now judge the run dead). Polls the file system.
    while age_by_storage(&marker).is_some_and(|age| age <= stale) {
        std::thread::sleep(Duration::from_millis(50));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    hook.release_all();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("suspended for longer than") && stderr.contains("started over"), "{stderr}");

    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = summary["id"].as_str().unwrap();
    let target = env.path("out");
    env.cairn().args(["restore", id, "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    env.cairn().args(["check", "--read-data"]).assert().success();
    assert!(markers(&env.repo).is_empty(), "{:?}", markers(&env.repo));
}

#[test]
fn an_interrupted_snapshot_removes_its_marker() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    let hook = Hook::new(env.path("hook"), "index-loaded");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--no-default-excludes"]).arg(&src);
    hook.pause(&mut cmd, None);
    let mut child = spawn(cmd);
    hook.wait(&mut child, 1);
    assert_eq!(markers(&env.repo).len(), 1, "registered before the index was read");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    assert!(markers(&env.repo).is_empty(), "Ctrl-C removed the marker: {:?}", markers(&env.repo));
}

#[test]
fn a_repository_this_user_may_only_read_is_still_checked() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    env.snapshot_json(&[&src]);
    let root = is_root();
    // Readable by everyone, writable by no one but root; as root the check
    // runs as nobody (root writes anywhere).
    let mode = if root { "a+rX,go-w" } else { "a-w" };
    let chmod = |mode: &str, path: &Path| {
        assert!(std::process::Command::new("chmod").args(["-R", mode]).arg(path).status().unwrap().success());
    };
    chmod(mode, &env.repo);
    chmod("a+rx", env.dir.path());
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_cairn"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
    };
    let out = cmd
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path("nobody-home"))
        .env("CAIRN_REPO", &env.repo)
        .env("CAIRN_PASSWORD", PASSWORD)
        .arg("check")
        .output()
        .unwrap();
    chmod("u+w", &env.repo);
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    assert!(stderr_of(&out).contains("could not register in locks/"), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("no errors"), "{}", stdout_of(&out));
}
