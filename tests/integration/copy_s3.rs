//! `cairn copy` between a local repository and one on S3 (moto's server
//! mode on 127.0.0.1, started here; A's harness): local → S3 with another
//! password, then S3 → a local repository made with
//! `--copy-chunker-params` from the S3 one. Each copy restores byte for
//! byte, checks clean with `--read-data`, and a second copy adds nothing.

use std::sync::OnceLock;

use cairn_core::backend::s3::test_server::{MotoServer, TEST_ENV};

use crate::common::*;

const OTHER: &str = "the bucket's password";

fn moto() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(MotoServer::start)
}

/// `cairn` on `repo` with `password` and the test credentials.
fn cairn(env: &Env, repo: &str, password: &str) -> std::process::Command {
    let mut cmd = env.std_cairn();
    cmd.env("CAIRN_REPO", repo).env("CAIRN_PASSWORD", password);
    for (name, value) in TEST_ENV {
        cmd.env(name, value);
    }
    cmd
}

fn ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("run cairn");
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), stdout_of(&out), stderr_of(&out));
    out
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

fn init(env: &Env, repo: &str, password: &str, extra: &[&str]) {
    ok(cairn(env, repo, password).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).args(extra));
}

/// Every snapshot of `repo` restores to what its original restores to in `source`.
fn copies_restore(env: &Env, (source, source_pw): (&str, &str), (repo, pw): (&str, &str), tag: &str) {
    let list = |r: &str, p: &str| json(&ok(cairn(env, r, p).args(["snapshots", "--json"]))).as_array().unwrap().clone();
    let originals = list(source, source_pw);
    let copies = list(repo, pw);
    assert_eq!(copies.len(), originals.len(), "{tag}");
    for (n, copy) in copies.iter().enumerate() {
        let first = copy["original"].as_str().unwrap();
        let source_snapshot = originals
            .iter()
            .find(|s| s["id"] == first || s["original"] == first)
            .expect("the original is in the source");
        let (a, b) = (env.path(&format!("{tag}-a-{n}")), env.path(&format!("{tag}-b-{n}")));
        ok(cairn(env, source, source_pw)
            .args(["restore", source_snapshot["id"].as_str().unwrap(), "--target"])
            .arg(&a));
        ok(cairn(env, repo, pw).args(["restore", copy["id"].as_str().unwrap(), "--target"]).arg(&b));
        assert_same_tree(&a, &b);
    }
}

fn password_file(env: &Env, name: &str, password: &str) -> std::path::PathBuf {
    let file = env.path(name);
    std::fs::write(&file, format!("{password}\n")).unwrap();
    file
}

#[test]
fn copy_from_local_to_s3_and_back_into_a_repository_with_its_chunker_params() {
    let env = Env::new();
    let local = env.repo.to_str().unwrap().to_string();
    let tree = env.path("tree");
    cairn_testgen::init(&tree, cairn_testgen::Scale::Tiny, 7).unwrap();
    env.snapshot_json(&[&tree]);
    cairn_testgen::tick(&tree, 1).unwrap();
    env.snapshot_json(&[&tree]);

    // Local → S3, another password.
    let bucket = format!("{}/offsite", moto().bucket(&format!("cairn-copy-{}", std::process::id())));
    init(&env, &bucket, OTHER, &[]);
    let bucket_pw = password_file(&env, "bucket-password", OTHER);
    let copy_to = |env: &Env| {
        json(&ok(cairn(env, &local, PASSWORD)
            .args(["copy", "--json", "--to", &bucket, "--to-password-file"])
            .arg(&bucket_pw)))
    };
    let first = copy_to(&env);
    assert_eq!(first["copied"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(copy_to(&env)["copied"].as_array().unwrap().len(), 0, "idempotent");
    ok(cairn(&env, &bucket, OTHER).args(["check", "--read-data"]));
    copies_restore(&env, (&local, PASSWORD), (&bucket, OTHER), "up");

    // S3 → a new local repository that cuts and names blobs as the bucket's.
    let back = env.path("back");
    let back = back.to_str().unwrap();
    init(
        &env,
        back,
        "back password",
        &["--copy-chunker-params", &bucket, "--from-password-file", bucket_pw.to_str().unwrap()],
    );
    let down = json(&ok(cairn(&env, back, "back password")
        .args(["copy", "--json", "--from", &bucket, "--from-password-file"])
        .arg(&bucket_pw)));
    assert_eq!(down["copied"].as_array().unwrap().len(), 2, "{down}");
    assert_eq!(down["same_blob_ids"], true, "{down}");
    ok(cairn(&env, back, "back password").args(["check", "--read-data"]));
    copies_restore(&env, (&local, PASSWORD), (back, "back password"), "down");
    // The local source knows these copies by their original: nothing to copy.
    let back_pw = password_file(&env, "back-password", "back password");
    let none = json(&ok(cairn(&env, &local, PASSWORD)
        .args(["copy", "--json", "--to", back, "--to-password-file"])
        .arg(&back_pw)));
    assert_eq!(none["copied"].as_array().unwrap().len(), 0, "{none}");
}
