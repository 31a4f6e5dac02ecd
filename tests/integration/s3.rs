//! cairn on an S3 repository (the real binary against moto's server mode on
//! 127.0.0.1, started by the tests): the everyday commands, the errors a
//! user meets first (wrong credentials, a missing bucket) in one line, and
//! faults through a proxy in front of the server: the server gone in the
//! middle of a snapshot's uploads, injected 500s and slow answers. After
//! each, the repository checks clean and every earlier snapshot restores.

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_core::backend::s3::test_server::{FaultProxy, MotoServer, TEST_ENV};

use crate::common::*;

/// One moto for the whole test binary (it dies with the process).
fn moto() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(MotoServer::start)
}

fn bucket_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cairn-it-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// `cairn` on the repository at `location` with the test credentials.
fn cairn(env: &Env, location: &str) -> std::process::Command {
    let mut cmd = env.std_cairn();
    cmd.env("CAIRN_REPO", location);
    for (name, value) in TEST_ENV {
        cmd.env(name, value);
    }
    cmd
}

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("run cairn")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), stdout_of(&out), stderr_of(&out));
    out
}

fn init(env: &Env, location: &str) {
    ok(run(cairn(env, location).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])));
}

fn snapshot(env: &Env, location: &str, src: &Path) -> Output {
    run(cairn(env, location).args(["snapshot", "--json", "--no-default-excludes"]).arg(src))
}

fn snapshot_id(out: &Output) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(out), stderr_of(out)));
    json["id"].as_str().expect("an id").to_string()
}

/// Restores snapshot `id` (of the folder `src`) and compares it with
/// `expected` (a copy of `src` as it was then).
fn restore_equals(env: &Env, location: &str, id: &str, src: &Path, expected: &Path) {
    let target = env.path(&format!("restore-{id}-{}", bucket_name()));
    ok(run(cairn(env, location).args(["restore", id, "--target"]).arg(&target)));
    assert_same_tree(expected, &restored(&target, src));
}

/// The failure is said in one line (no backtrace, no request dump).
fn one_line(out: &Output) -> String {
    assert!(!out.status.success(), "it should fail: {}", stdout_of(out));
    let err = stderr_of(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    lines[0].to_string()
}

#[test]
fn s3_everyday_commands_work_on_a_bucket() {
    let env = Env::empty();
    let location = format!("{}/repos/me", moto().bucket(&bucket_name()));
    init(&env, &location);
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 7).unwrap();
    let first = snapshot(&env, &location, &src);
    let first_id = snapshot_id(&ok(first));
    let first_copy = env.path("first");
    copy_tree(&src, &first_copy);
    cairn_testgen::tick(&src, 1).unwrap();
    let second_id = snapshot_id(&ok(snapshot(&env, &location, &src)));

    let out = ok(run(cairn(&env, &location).args(["--json", "snapshots"])));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let out = ok(run(cairn(&env, &location).args(["diff", &first_id, &second_id])));
    assert!(!stdout_of(&out).trim().is_empty(), "the tick changed files: the diff says which");
    restore_equals(&env, &location, &first_id, &src, &first_copy);
    restore_equals(&env, &location, &second_id, &src, &src);

    ok(run(cairn(&env, &location).args(["forget", "--keep-last", "1"])));
    ok(run(cairn(&env, &location).arg("prune")));
    ok(run(cairn(&env, &location).args(["check", "--read-data"])));
    let out = ok(run(cairn(&env, &location).args(["--json", "snapshots"])));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    restore_equals(&env, &location, &second_id, &src, &src);
    // A second init on the same prefix is refused.
    let out = run(cairn(&env, &location).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]));
    assert!(!out.status.success(), "{}", stdout_of(&out));
}

#[test]
fn s3_wrong_credentials_are_one_clear_line() {
    let env = Env::empty();
    let server = MotoServer::start_checking_credentials();
    let location = format!("s3:{}/cairn-any-bucket", server.endpoint());
    let out = run(cairn(&env, &location).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]));
    let line = one_line(&out);
    assert!(line.contains("access denied: check AWS credentials"), "{line}");
    let out = run(cairn(&env, &location).arg("snapshots"));
    let line = one_line(&out);
    assert!(line.contains("access denied"), "{line}");
}

#[test]
fn s3_no_credentials_at_all_is_one_clear_line() {
    let env = Env::empty();
    let location = format!("s3:{}/cairn-any-bucket", moto().endpoint());
    // Neither the AWS variables nor a profile file (HOME is the test's own).
    let mut cmd = env.std_cairn();
    cmd.env("CAIRN_REPO", &location).env("CAIRN_PASSWORD", "pw");
    let out = run(cmd.arg("snapshots"));
    let line = one_line(&out);
    assert!(line.contains("no AWS credentials") && line.contains("AWS_ACCESS_KEY_ID"), "{line}");
}

#[test]
fn s3_a_missing_bucket_is_one_clear_line() {
    let env = Env::empty();
    let location = format!("s3:{}/cairn-never-made", moto().endpoint());
    let out = run(cairn(&env, &location).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]));
    let line = one_line(&out);
    assert!(line.contains("bucket cairn-never-made does not exist: create it first"), "{line}");
    let out = run(cairn(&env, &location).arg("snapshots"));
    let line = one_line(&out);
    assert!(line.contains("does not exist"), "{line}");
}

/// A bucket on moto reached through a fault proxy, with one snapshot of
/// `src` taken before any fault.
struct Faulty {
    env: Env,
    proxy: FaultProxy,
    location: String,
    src: std::path::PathBuf,
    first_id: String,
    first_copy: std::path::PathBuf,
}

fn faulty() -> Faulty {
    let env = Env::empty();
    let bucket = bucket_name();
    moto().bucket(&bucket);
    let proxy = FaultProxy::start(moto().addr());
    let location = format!("s3:{}/{bucket}", proxy.endpoint());
    init(&env, &location);
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 11).unwrap();
    let first_id = snapshot_id(&ok(snapshot(&env, &location, &src)));
    let first_copy = env.path("first");
    copy_tree(&src, &first_copy);
    // New data for the next snapshot: files it must upload.
    cairn_testgen::tick(&src, 1).unwrap();
    std::fs::write(src.join("big-new-file"), pseudo_random(3 << 20)).unwrap();
    Faulty { env, proxy, location, src, first_id, first_copy }
}

/// Bytes that do not compress or deduplicate.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn s3_server_gone_in_the_middle_of_the_uploads() {
    let f = faulty();
    // The first pack upload of the next snapshot is cut, and the server
    // stays away for the rest of it.
    f.proxy.stop_after("/data/", 1);
    let out = snapshot(&f.env, &f.location, &f.src);
    assert!(f.proxy.is_stopped(), "the snapshot reached the uploads");
    let line = one_line(&out);
    assert!(line.contains("s3:"), "names the object: {line}");
    f.proxy.restart();
    ok(run(cairn(&f.env, &f.location).args(["check", "--read-data"])));
    let out = ok(run(cairn(&f.env, &f.location).args(["--json", "snapshots"])));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "the cut snapshot was not saved: {listed}");
    restore_equals(&f.env, &f.location, &f.first_id, &f.src, &f.first_copy);
    let next = snapshot_id(&ok(snapshot(&f.env, &f.location, &f.src)));
    ok(run(cairn(&f.env, &f.location).args(["check", "--read-data"])));
    restore_equals(&f.env, &f.location, &next, &f.src, &f.src);
}

#[test]
fn s3_injected_500s_are_retried() {
    let f = faulty();
    f.proxy.fail_every(3);
    let next = snapshot_id(&ok(snapshot(&f.env, &f.location, &f.src)));
    assert!(f.proxy.failed() > 0, "faults were injected");
    ok(run(cairn(&f.env, &f.location).args(["check", "--read-data"])));
    f.proxy.fail_every(0);
    restore_equals(&f.env, &f.location, &f.first_id, &f.src, &f.first_copy);
    restore_equals(&f.env, &f.location, &next, &f.src, &f.src);
}

#[test]
fn s3_slow_answers_still_work() {
    let f = faulty();
    f.proxy.delay(Duration::from_millis(300));
    let next = snapshot_id(&ok(snapshot(&f.env, &f.location, &f.src)));
    ok(run(cairn(&f.env, &f.location).arg("check")));
    f.proxy.delay(Duration::ZERO);
    restore_equals(&f.env, &f.location, &next, &f.src, &f.src);
}
