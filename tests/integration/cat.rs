//! `cairn cat`: every kind of object as JSON with the ids it should have,
//! prefixes where other commands take them, and a damaged object as one
//! error line.

use std::fs;
use std::path::PathBuf;

use crate::common::*;

fn cat(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.cairn().arg("cat").args(args).output().unwrap();
    assert!(out.status.success(), "cat {args:?}: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("cat {args:?} is not JSON ({e}): {}", stdout_of(&out)))
}

fn files_in(env: &Env, folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        listing(&env.repo.join(folder)).into_iter().map(|(p, _)| env.repo.join(folder).join(p)).collect();
    files.sort();
    files
}

fn name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

fn one_error_line(env: &Env, args: &[&str]) -> String {
    let out = env.cairn().args(["--no-cache", "cat"]).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "cat {args:?}: {}", stdout_of(&out));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("internal error") && !err.contains("panicked"), "{err}");
    err
}

#[test]
fn cat_prints_each_kind_as_json() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/a.txt"), "hello").unwrap();
    let snap = env.snapshot_json(&[&src]);
    let id = snap["id"].as_str().unwrap().to_string();
    env.cairn().args(["pin", &id]).assert().success();
    env.cairn().args(["policy", "set", "--keep-daily", "9"]).assert().success();

    let config = cat(&env, &["config"]);
    assert_eq!(config["repository_id"].as_str().unwrap().len(), 64);
    assert_eq!(config["encrypted"], true);
    assert_eq!(config["version"], 2);

    let s = cat(&env, &["snapshot", &id[..8]]);
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["paths"][0], src.to_str().unwrap());
    assert_eq!(cat(&env, &["snapshot", "latest"])["id"], id.as_str());

    // The root tree by id, and a folder's tree by SNAPSHOT:PATH.
    let tree_id = s["tree"].as_str().unwrap();
    let root = cat(&env, &["tree", tree_id]);
    assert_eq!(root["id"], tree_id);
    let sub = cat(&env, &["tree", &format!("{id}:{}", src.join("sub").display())]);
    assert_eq!(sub["nodes"][0]["name"], "a.txt");
    assert_eq!(sub["nodes"][0]["type"], "file");
    assert_eq!(sub["nodes"][0]["size"], 5);
    let a_blob = sub["nodes"][0]["content"][0].as_str().unwrap().to_string();

    let index_files = files_in(&env, "index");
    assert_eq!(index_files.len(), 1);
    let index_name = name(&index_files[0]);
    let index = cat(&env, &["index", &index_name[..6]]);
    assert_eq!(index["id"], index_name.as_str());
    let packs: Vec<String> = files_in(&env, "data").iter().map(|p| name(p)).collect();
    let indexed: Vec<&str> = index["packs"].as_array().unwrap().iter().map(|p| p["pack"].as_str().unwrap()).collect();
    assert!(!indexed.is_empty() && indexed.iter().all(|p| packs.iter().any(|q| q == p)), "{indexed:?} {packs:?}");

    let with_a = index["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["blobs"].as_array().unwrap().iter().any(|b| b["id"] == a_blob.as_str()));
    let pack_id = with_a.expect("a.txt's blob is indexed")["pack"].as_str().unwrap();
    let pack = cat(&env, &["pack", &pack_id[..10]]);
    assert_eq!(pack["id"], pack_id);
    assert!(pack["blobs"].as_array().unwrap().iter().any(|b| b["id"] == a_blob.as_str() && b["type"] == "data"));

    let keys = cat(&env, &["keys"]);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["id"], name(&files_in(&env, "keys")[0]).as_str());
    let policy = cat(&env, &["policy"]);
    assert_eq!(policy["source"], "repository");
    assert_eq!(policy["rules"]["daily"], 9);
    let pins = cat(&env, &["pins"]);
    assert_eq!(pins[0]["snapshot"], id.as_str());

    // Usage mistakes and damage: one line each.
    assert!(one_error_line(&env, &["snapshot"]).contains("cairn cat snapshot ID"));
    assert!(one_error_line(&env, &["pack", "abc"]).contains("4 hex digits"));
    assert!(one_error_line(&env, &["pack", "ffffffff"]).contains("no pack"));
    let mut bytes = fs::read(&index_files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&index_files[0], &bytes).unwrap();
    one_error_line(&env, &["index", &index_name]);
    let pack_file = files_in(&env, "data").into_iter().find(|p| name(p) == pack_id).unwrap();
    let mut bytes = fs::read(&pack_file).unwrap();
    let near_end = bytes.len() - 10;
    bytes[near_end] ^= 0x40;
    fs::write(&pack_file, &bytes).unwrap();
    one_error_line(&env, &["pack", pack_id]);
}
