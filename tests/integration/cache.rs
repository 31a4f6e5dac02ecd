//! The local cache (~/.cache/cairn/<repository id>/): used when it agrees
//! with the repository, ignored and rebuilt when corrupt or stale; deleting
//! it changes nothing but speed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

fn cache_dir(env: &Env) -> PathBuf {
    let root = env.dir.path().join(".cache/cairn");
    let mut dirs: Vec<_> = fs::read_dir(&root).expect("cache created").map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "one repository, one cache folder");
    dirs.pop().unwrap()
}

fn snapshot_ids(env: &Env) -> Vec<String> {
    let out = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn corrupt_stale_or_missing_cache_changes_nothing_but_speed() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 4).unwrap();
    env.snapshot_json(&[&src]);
    let cache = cache_dir(&env);
    assert!(cache.join("index").is_file() && cache.join("snapshots").is_file());
    let old_cache = env.path("old-cache");
    fs::create_dir_all(&old_cache).unwrap();
    for name in ["index", "snapshots"] {
        fs::copy(cache.join(name), old_cache.join(name)).unwrap();
    }

    let tick = cairn_testgen::tick(&src, 1).unwrap();
    settle();
    let second = env.snapshot_json(&[&src]);
    let all = snapshot_ids(&env);
    assert_eq!(all.len(), 2);

    // Stale: a cache from before the second snapshot.
    for name in ["index", "snapshots"] {
        fs::copy(old_cache.join(name), cache.join(name)).unwrap();
    }
    assert_eq!(snapshot_ids(&env), all);
    let third = env.snapshot_json(&[&src]);
    assert_eq!(third["parent"], second["id"], "the parent is found through a stale cache");
    assert_eq!(third["summary"]["files_read"], 0);

    // Corrupt: flipped bytes in both cache files. The commands that read
    // through the cache (restore, ls, diff) still answer right...
    let mut corrupt = Vec::new();
    for name in ["index", "snapshots"] {
        let mut bytes = fs::read(cache.join(name)).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0xff;
        fs::write(cache.join(name), &bytes).unwrap();
        corrupt.push(bytes);
    }
    let target = env.path("through-corrupt-cache");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    let out = env.cairn().args(["ls", "latest", "--json", "--recursive"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files_listed = listed.as_array().unwrap().iter().filter(|e| e["type"] != "dir").count();
    assert_eq!(files_listed, listing(&src).len(), "every file of the tree is listed");
    let out = env.cairn().args(["diff", "--json", &all[0], &all[1]]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let changes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let canon = fs::canonicalize(&src).unwrap();
    let added: BTreeSet<PathBuf> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "A" && c["type"] != "dir")
        .map(|c| Path::new(c["path"].as_str().unwrap()).strip_prefix(&canon).unwrap().to_path_buf())
        .collect();
    let want: BTreeSet<PathBuf> = tick.created.iter().chain(tick.renamed.iter().map(|(_, to)| to)).cloned().collect();
    assert!(!want.is_empty());
    assert_eq!(added, want, "the files tick 1 added");
    // ... and the cache files were rewritten into valid ones: changed from
    // the corrupt bytes, and trusted (so not rewritten) by the next command.
    let rewritten: Vec<Vec<u8>> = ["index", "snapshots"].iter().map(|n| fs::read(cache.join(n)).unwrap()).collect();
    assert_ne!(rewritten, corrupt);
    let all = snapshot_ids(&env);
    assert_eq!(all.len(), 3);
    env.cairn().args(["diff", "latest"]).assert().success();
    for (name, bytes) in ["index", "snapshots"].iter().zip(&rewritten) {
        assert_eq!(&fs::read(cache.join(name)).unwrap(), bytes, "{name}: used as it is, not rebuilt again");
    }
    let fourth = env.snapshot_json(&[&src]);
    assert_eq!(fourth["parent"], third["id"]);
    assert_eq!(fourth["summary"]["data_blobs_added"], 0);

    // A cached snapshot whose file is gone is not listed.
    let gone = env.repo.join("snapshots").join(fourth["id"].as_str().unwrap());
    fs::remove_file(gone).unwrap();
    assert_eq!(snapshot_ids(&env), all);

    // Deleted: same answers.
    fs::remove_dir_all(env.dir.path().join(".cache")).unwrap();
    assert_eq!(snapshot_ids(&env), all);
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));
    // --no-cache leaves no cache behind.
    fs::remove_dir_all(env.dir.path().join(".cache")).unwrap();
    env.cairn().args(["--no-cache", "snapshots"]).assert().success();
    assert!(!env.dir.path().join(".cache").exists());
}
