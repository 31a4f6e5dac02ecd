//! Downgrade protection (format-spec.md §2.2): a storage attacker rewrites
//! `config` to say `encrypted = false` and removes `keys/`. A user who is
//! asked for the password (none in the environment) would then not be
//! asked at all and the next snapshot would be written in clear; cairn
//! remembers, per repository id and location, that it was encrypted and
//! refuses, unless `--insecure-no-encryption` says this is meant.

use std::fs;

use cairn_core::format::codec::{self, ObjectKind};
use cairn_core::format::crypto::Keys;
use cairn_core::format::{ConfigFile, RepoParams};

use crate::common::*;

/// Rewrites the config as unencrypted (keeping or replacing the id) and
/// removes every key file, as an attacker with write access can.
fn strip_encryption(env: &Env, new_id: bool) {
    let path = env.repo.join("config");
    let mut config: ConfigFile = codec::from_postcard(&fs::read(&path).unwrap(), "config").unwrap();
    if new_id {
        config.repo_id.0[0] ^= 1;
    }
    config.encrypted = false;
    let params = codec::encode(&Keys::Plain, ObjectKind::Config, &RepoParams::DEFAULT, 3).unwrap();
    config.params.clear();
    config.params.extend_from_slice(&params);
    fs::write(&path, codec::to_postcard(&config).unwrap()).unwrap();
    fs::remove_dir_all(env.repo.join("keys")).unwrap();
    fs::create_dir(env.repo.join("keys")).unwrap();
}

fn downgrade_is_refused(new_id: bool) {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("secret"), "not for the storage's eyes").unwrap();
    env.snapshot_json(&[&src]);
    strip_encryption(&env, new_id);
    let before = env.repo_listing();

    // The prompt user: no password in the environment, so none is asked for.
    let out = env.cairn().env_remove("CAIRN_PASSWORD").arg("snapshot").arg(&src).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("was encrypted") && stderr.contains("--insecure-no-encryption"), "{stderr}");
    assert!(new_files(&before, &env.repo_listing()).is_empty(), "nothing written in clear");
    // The password user was already refused (R4); still so.
    let out = env.cairn().arg("snapshot").arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(new_files(&before, &env.repo_listing()).is_empty());

    // Said on purpose, it is used as it now is, and still refused after.
    env.cairn()
        .env_remove("CAIRN_PASSWORD")
        .args(["--insecure-no-encryption", "snapshot"])
        .arg(&src)
        .assert()
        .success();
    env.cairn().env_remove("CAIRN_PASSWORD").arg("snapshots").assert().failure();
}

#[test]
fn a_config_rewritten_as_unencrypted_is_refused() {
    downgrade_is_refused(false);
}

#[test]
fn a_config_rewritten_as_unencrypted_with_a_new_id_is_refused() {
    downgrade_is_refused(true);
}

/// A repository made unencrypted on purpose where an encrypted one was
/// (deleted, then `init --no-encryption`) is used without the flag.
#[test]
fn a_new_unencrypted_repository_in_the_same_place_is_used() {
    let env = Env::new();
    env.cairn().arg("snapshots").assert().success();
    fs::remove_dir_all(&env.repo).unwrap();
    env.cairn().env_remove("CAIRN_PASSWORD").args(["init", "--no-encryption"]).assert().success();
    env.cairn().env_remove("CAIRN_PASSWORD").arg("snapshots").assert().success();
}
