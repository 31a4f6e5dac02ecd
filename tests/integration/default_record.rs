//! No silent second default repository: its location is recorded when it is
//! created, later runs in another environment use the record, and a
//! recorded repository that went missing is an error (exit 10), not a
//! reason to create a new one.

use std::fs;
use std::path::Path;

use crate::common::*;

const WEAK_KDF: [&str; 4] = ["--kdf-memory-kib", "8", "--kdf-iterations", "1"];

fn source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("CLAUDE.md"), b"# memory\n").unwrap();
    src
}

fn snapshot_count(home: &Path, extra_env: &[(&str, &Path)]) -> usize {
    let mut cmd = bare_cairn(home);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.args(["snapshots", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len()
}

#[test]
fn a_changed_data_home_uses_the_recorded_repository() {
    let env = Env::empty();
    let src = source(&env);
    let home = env.dir.path();
    // The example: the first snapshot creates the default repository…
    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let record = home.join(".config/cairn/default-repository");
    let text = fs::read_to_string(&record).unwrap();
    let repo = home.join(".local/share/cairn/repo");
    assert!(text.contains(&format!("repository={}\n", repo.display())), "{text}");
    // …and a run under cron, with another XDG_DATA_HOME, adds to it.
    let other = env.path("elsewhere");
    let out = bare_cairn(home).env("XDG_DATA_HOME", &other).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("created"), "{}", stderr_of(&out));
    assert!(!other.join("cairn/repo").exists(), "a second default repository was created");
    assert_eq!(snapshot_count(home, &[]), 2);
}

#[test]
fn a_moved_repository_is_an_error_naming_where_it_was() {
    let env = Env::empty();
    let src = source(&env);
    let home = env.dir.path();
    bare_cairn(home).arg("init").args(WEAK_KDF).assert().success();
    let repo = home.join(".local/share/cairn/repo");
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    fs::rename(&repo, env.path("moved")).unwrap();

    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains(repo.to_str().unwrap()) && err.contains("missing") && err.contains("cairn init"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!repo.exists(), "no new repository in its place");
    // Every command says the same.
    let out = bare_cairn(home).args(["ls", "latest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains(repo.to_str().unwrap()));

    // Pointing at its new place works; `cairn init` starts a new one on purpose.
    let moved = env.path("moved");
    let pw = home.join(".config/cairn/password");
    bare_cairn(home).env("CAIRN_REPO", &moved).env("CAIRN_PASSWORD_FILE", &pw).arg("snapshots").assert().success();
    bare_cairn(home).arg("init").args(WEAK_KDF).assert().success();
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    assert_eq!(snapshot_count(home, &[]), 1);
}

#[test]
fn a_run_without_the_config_variable_finds_the_record_and_the_password() {
    let env = Env::empty();
    let src = source(&env);
    let home = env.dir.path();
    let (config, data) = (env.path("cfg"), env.path("data"));
    // A login shell with both variables set…
    let login = |cmd: &mut assert_cmd::Command| {
        cmd.env("XDG_CONFIG_HOME", &config).env("XDG_DATA_HOME", &data);
    };
    let mut init = bare_cairn(home);
    login(&mut init);
    init.arg("init").args(WEAK_KDF).assert().success();
    assert!(config.join("cairn/password").is_file());
    // …and cron with neither: same repository, same password file.
    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!home.join(".local/share/cairn/repo").exists(), "a second default repository was created");
    assert_eq!(snapshot_count(home, &[("XDG_CONFIG_HOME", &config), ("XDG_DATA_HOME", &data)]), 1);
}

#[test]
fn init_writes_the_password_file_and_messages_name_it() {
    let env = Env::empty();
    let src = source(&env);
    let home = env.dir.path();
    let out = bare_cairn(home).arg("init").args(WEAK_KDF).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let pw = home.join(".config/cairn/password");
    assert!(stderr_of(&out).contains(pw.to_str().unwrap()), "{}", stderr_of(&out));
    assert_eq!(fs::read_to_string(&pw).unwrap().trim().len(), 43);
    // No password given anywhere: the file is used.
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    // Without the file, the message names it.
    fs::rename(&pw, env.path("pw-away")).unwrap();
    let out = bare_cairn(home).arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains(pw.to_str().unwrap()) && err.contains("missing"), "{err}");
    // A wrong password in the file says where it came from.
    fs::write(&pw, "not the password\n").unwrap();
    let out = bare_cairn(home).arg("snapshots").output().unwrap();
    assert!(stderr_of(&out).contains(pw.to_str().unwrap()), "{}", stderr_of(&out));
}

#[test]
fn a_default_repository_made_before_records_is_recorded_by_the_next_snapshot() {
    let env = Env::empty();
    let src = source(&env);
    let home = env.dir.path();
    bare_cairn(home).arg("init").args(WEAK_KDF).assert().success();
    let record = home.join(".config/cairn/default-repository");
    fs::remove_file(&record).unwrap();
    bare_cairn(home).arg("snapshot").arg(&src).assert().success();
    assert!(record.is_file());
    let out = bare_cairn(home).env("XDG_DATA_HOME", env.path("x")).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(snapshot_count(home, &[]), 2);
}
