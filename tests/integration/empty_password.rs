//! An empty password is refused by every command and from every source
//! (`--password-command`, `--password-file`, `CAIRN_PASSWORD_FILE`,
//! `CAIRN_PASSWORD`, the default repository's password file) with one line
//! that says so, never read as "wrong password" and never used to create a
//! repository.

use std::fs;

use crate::common::*;

/// The one error line must name the emptiness, not a wrong password.
fn assert_refused_as_empty(out: &std::process::Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr_of(out));
    let err = stderr_of(out);
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(err.contains("empty") && !err.contains("wrong password"), "{what}: {err}");
}

/// One way of giving an empty password: its name, then variables and flags.
type EmptySource = (&'static str, Vec<(&'static str, String)>, Vec<String>);

/// Each way of giving an empty password.
fn empty_sources(env: &Env) -> Vec<EmptySource> {
    let empty_file = env.path("empty-password");
    fs::write(&empty_file, "\n").unwrap();
    let file = empty_file.to_str().unwrap().to_string();
    vec![
        ("CAIRN_PASSWORD", vec![("CAIRN_PASSWORD", String::new())], vec![]),
        ("--password-file", vec![], vec!["--password-file".into(), file.clone()]),
        ("CAIRN_PASSWORD_FILE", vec![("CAIRN_PASSWORD_FILE", file.clone())], vec![]),
        ("--password-command", vec![], vec!["--password-command".into(), "printf ''".into()]),
    ]
}

#[test]
fn init_refuses_an_empty_password_from_every_source_and_creates_nothing() {
    let env = Env::empty();
    for (what, vars, flags) in empty_sources(&env) {
        let mut cmd = env.cairn();
        cmd.env_remove("CAIRN_PASSWORD").envs(vars).args(flags).args(["init", "--kdf-memory-kib", "8"]);
        assert_refused_as_empty(&cmd.output().unwrap(), what);
        assert!(!env.repo.exists(), "{what}: no repository is created");
    }
}

#[test]
fn opening_refuses_an_empty_password_from_every_source() {
    let env = Env::new();
    for (what, vars, flags) in empty_sources(&env) {
        let mut cmd = env.cairn();
        cmd.env_remove("CAIRN_PASSWORD").envs(vars).args(flags).arg("snapshots");
        assert_refused_as_empty(&cmd.output().unwrap(), what);
    }
}

#[test]
fn the_default_repository_is_not_created_with_an_empty_password() {
    let env = Env::empty();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let home = env.dir.path();
    let repo = home.join(".local/share/cairn/repo");
    // An explicit empty password for the first snapshot.
    let out = bare_cairn(home).env("CAIRN_PASSWORD", "").arg("snapshot").arg(&src).output().unwrap();
    assert_refused_as_empty(&out, "CAIRN_PASSWORD for the default repository");
    assert!(!repo.exists(), "no default repository with an empty password");
    // An emptied default password file.
    let pw = home.join(".config/cairn/password");
    fs::create_dir_all(pw.parent().unwrap()).unwrap();
    fs::write(&pw, "").unwrap();
    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert_refused_as_empty(&out, "the default password file");
    assert!(!repo.exists(), "no default repository with an empty password");
}
