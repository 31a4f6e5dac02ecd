//! S3 Object Lock through the real binary on moto (started here): `init
//! --object-lock 30d` sets the bucket's default retention, `forget
//! --keep-last 1 --prune` keeps what the bucket retains and says so (text
//! and `--json`), the repository checks clean and every snapshot restores,
//! and a DELETE of a retained version is refused by the server. A bucket
//! without Object Lock is refused by `init --object-lock` and stays empty;
//! in a bucket with Object Lock but no retention, prune deletes every
//! version of what it removes, not only adds delete markers.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_core::backend::s3::test_server::{MotoServer, TEST_ENV, raw_request};

use crate::common::*;

fn moto() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(MotoServer::start)
}

fn bucket_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cairn-lock-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

fn cairn(env: &Env, location: &str) -> Command {
    let mut cmd = env.std_cairn();
    cmd.env("CAIRN_REPO", location);
    for (name, value) in TEST_ENV {
        cmd.env(name, value);
    }
    cmd
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run cairn");
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), stdout_of(&out), stderr_of(&out));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(out), stderr_of(out)))
}

const WEAK_KDF: [&str; 4] = ["--kdf-memory-kib", "8", "--kdf-iterations", "1"];

/// A bucket-level GET (moto does not check signatures): status and body.
fn get(path: &str) -> (u16, String) {
    raw_request(moto().addr(), "GET", path, &[], b"").expect("moto answers")
}

/// Every `(key, version id, is a delete marker)` in the bucket.
fn versions(bucket: &str) -> Vec<(String, String, bool)> {
    let (status, text) = get(&format!("/{bucket}?versions"));
    assert_eq!(status, 200, "{text}");
    let mut out = Vec::new();
    for (tag, marker) in [("<Version>", false), ("<DeleteMarker>", true)] {
        for part in text.split(tag).skip(1) {
            let field = |name: &str| {
                let open = format!("<{name}>");
                let start = part.find(&open).map(|i| i + open.len())?;
                let end = part[start..].find('<')?;
                Some(part[start..start + end].to_string())
            };
            out.push((field("Key").expect("a key"), field("VersionId").expect("a version"), marker));
        }
    }
    out
}

fn snapshot(env: &Env, location: &str, src: &Path) -> String {
    let out = ok(cairn(env, location).args(["snapshot", "--json", "--no-default-excludes"]).arg(src));
    json(&out)["id"].as_str().expect("an id").to_string()
}

#[test]
fn init_sets_the_retention_and_prune_keeps_what_the_bucket_retains() {
    let env = Env::empty();
    let bucket = bucket_name();
    let location = moto().bucket_with_object_lock(&bucket, 0, "");
    let out = ok(cairn(&env, &location).args(["init", "--object-lock", "30d"]).args(WEAK_KDF));
    assert!(
        stdout_of(&out).contains("Object Lock: every object uploaded to the bucket is retained 30 days (governance)"),
        "{}",
        stdout_of(&out)
    );
    let (status, config) = get(&format!("/{bucket}?object-lock"));
    assert_eq!(status, 200, "{config}");
    assert!(config.contains("<Mode>GOVERNANCE</Mode>") && config.contains("<Days>30</Days>"), "{config}");

    // Three snapshots of a changing tree, each state kept aside.
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 11).unwrap();
    let mut taken = Vec::new();
    for n in 0..3 {
        if n > 0 {
            cairn_testgen::tick(&src, n).unwrap();
        }
        let id = snapshot(&env, &location, &src);
        let state = env.path(&format!("state-{n}"));
        copy_tree(&src, &state);
        taken.push((id, state));
    }

    // Forget asks to remove two; the bucket retains them: kept, said so, exit 0.
    let out = ok(cairn(&env, &location).args(["forget", "--keep-last", "1", "--prune"]));
    let text = stdout_of(&out);
    assert!(text.contains("removed 0 snapshots"), "{text}");
    assert!(
        text.contains("kept 2 snapshots locked until ") && text.contains("(Object Lock): a later forget removes them"),
        "{text}"
    );
    // `--json`: the snapshots kept, and prune's fields.
    let out = ok(cairn(&env, &location).args(["--json", "forget", "--keep-last", "1", "--prune"]));
    let report = json(&out);
    assert_eq!(report["locked"].as_array().map(Vec::len), Some(2), "{report}");
    assert_eq!(report["removed"].as_array().map(Vec::len), Some(0), "{report}");
    let listed = json(&ok(cairn(&env, &location).args(["snapshots", "--json"])));
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "every snapshot is still there: {listed}");

    // Prune alone: nothing unreferenced, but the index files it rewrote are
    // retained: kept, with the date, in its JSON.
    let prune = json(&ok(cairn(&env, &location).args(["--json", "prune"])));
    let result = &prune["result"];
    assert_eq!(result["locked_packs"], 0, "{prune}");
    assert!(result["locked_index_files"].as_u64().is_some_and(|n| n > 0), "{prune}");
    assert!(result["locked_until"].as_str().is_some_and(|d| d.len() == 10), "{prune}");
    assert_eq!(result["index_files_removed"], 0, "{prune}");

    ok(cairn(&env, &location).args(["check", "--read-data"]));
    for (n, (id, state)) in taken.iter().enumerate() {
        let target = env.path(&format!("restore-{n}"));
        ok(cairn(&env, &location).args(["restore", id, "--target"]).arg(&target));
        assert_same_tree(state, &restored(&target, &src));
    }

    // The lock holds against the same credentials: a DELETE of a retained
    // version (a snapshot forget wanted gone) is refused, and it stays.
    let snap = versions(&bucket)
        .into_iter()
        .find(|(key, _, marker)| key.starts_with("snapshots/") && !marker)
        .expect("a snapshot version");
    let path = format!("/{bucket}/{}?versionId={}", snap.0, snap.1);
    let (status, text) = raw_request(moto().addr(), "DELETE", &path, &[], b"").expect("moto answers");
    // moto answers 403 with an empty body (AWS: AccessDenied).
    assert_eq!(status, 403, "a retained version is not deleted: {text}");
    assert!(versions(&bucket).contains(&snap), "still there");
}

#[test]
fn init_with_object_lock_refuses_a_bucket_without_it_and_creates_nothing() {
    let env = Env::empty();
    let bucket = bucket_name();
    let location = moto().bucket(&bucket);
    let out = cairn(&env, &location).args(["init", "--object-lock", "30d"]).args(WEAK_KDF).output().unwrap();
    assert!(!out.status.success(), "{}", stdout_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("bucket {bucket} was not created with Object Lock enabled"))
            && err.contains("--object-lock-enabled-for-bucket")
            && err.contains("nothing was created"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(versions(&bucket).is_empty(), "the bucket stays empty");
    let (_, config) = get(&format!("/{bucket}?object-lock"));
    assert!(config.contains("ObjectLockConfigurationNotFoundError"), "{config}");
}

/// Object Lock on, no retention: what prune removes is gone with all its
/// versions (a delete marker alone would free nothing).
#[test]
fn prune_in_a_versioned_bucket_deletes_every_version() {
    let env = Env::empty();
    let bucket = bucket_name();
    let location = moto().bucket_with_object_lock(&bucket, 0, "");
    ok(cairn(&env, &location).arg("init").args(WEAK_KDF));
    // Two unrelated trees (another path: no mass-deletion alarm); the
    // first snapshot is forgotten by id, its packs pruned.
    let old_src = env.path("old");
    cairn_testgen::init(&old_src, cairn_testgen::Scale::Tiny, 12).unwrap();
    let first = snapshot(&env, &location, &old_src);
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 13).unwrap();
    let last = snapshot(&env, &location, &src);
    let before: Vec<String> =
        versions(&bucket).into_iter().filter(|(k, _, _)| k.starts_with("data/")).map(|(k, _, _)| k).collect();

    let out = ok(cairn(&env, &location).args(["forget", &first, "--prune"]));
    assert!(!stdout_of(&out).contains("Object Lock"), "nothing is retained: {}", stdout_of(&out));
    let after = versions(&bucket);
    assert!(after.iter().all(|(_, _, marker)| !marker), "no delete markers: {after:?}");
    let packs: Vec<&String> = after.iter().filter(|(k, _, _)| k.starts_with("data/")).map(|(k, _, _)| k).collect();
    assert!(packs.len() < before.len(), "packs were deleted with their versions: {before:?} → {packs:?}");
    ok(cairn(&env, &location).args(["check", "--read-data"]));
    let target = env.path("restore");
    ok(cairn(&env, &location).args(["restore", &last, "--target"]).arg(&target));
    assert_same_tree(&src, &restored(&target, &src));
}
