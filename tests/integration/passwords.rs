//! Password sources and their precedence: `--password-command` over
//! `--password-file` (flag over `CAIRN_PASSWORD_FILE`) over `CAIRN_PASSWORD`.
//! Each rule is tested both ways: the higher source right and the lower one
//! wrong must open the repository, and the higher one wrong with the lower
//! one right must not — so a fall-through to the next source would fail.

use std::fs;

use crate::common::*;

/// Files holding the right and a wrong password, and an encrypted repository.
struct Setup {
    env: Env,
    right: std::path::PathBuf,
    wrong: std::path::PathBuf,
}

fn setup() -> Setup {
    let env = Env::new();
    let right = env.path("right.txt");
    let wrong = env.path("wrong.txt");
    // Only the first line counts: what follows it is not part of the password.
    fs::write(&right, format!("{PASSWORD}\nsecond line is ignored\n")).unwrap();
    fs::write(&wrong, "not the password\n").unwrap();
    Setup { env, right, wrong }
}

impl Setup {
    /// `cairn snapshots` with no password in the environment, then `args`.
    fn run(&self, env_vars: &[(&str, &std::path::Path)], args: &[&str]) -> std::process::Output {
        let mut cmd = self.env.cairn();
        cmd.env_remove("CAIRN_PASSWORD");
        for (k, v) in env_vars {
            cmd.env(k, v);
        }
        cmd.args(args).arg("snapshots").output().unwrap()
    }

    fn opens(&self, env_vars: &[(&str, &std::path::Path)], args: &[&str]) {
        let out = self.run(env_vars, args);
        assert_eq!(out.status.code(), Some(0), "{env_vars:?} {args:?}: {}", stderr_of(&out));
    }

    fn wrong_password(&self, env_vars: &[(&str, &std::path::Path)], args: &[&str]) {
        let out = self.run(env_vars, args);
        assert_eq!(out.status.code(), Some(12), "{env_vars:?} {args:?} must use the wrong password");
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("wrong password"), "{err}");
    }
}

fn cat(path: &std::path::Path) -> String {
    format!("cat {}", path.display())
}

#[test]
fn each_source_alone_opens_the_repository() {
    let s = setup();
    s.opens(&[], &["--password-command", &cat(&s.right)]);
    s.opens(&[], &["--password-file", s.right.to_str().unwrap()]);
    s.opens(&[("CAIRN_PASSWORD_FILE", &s.right)], &[]);
    s.env.cairn().arg("snapshots").assert().success(); // CAIRN_PASSWORD
    // No source at all, no terminal: one line naming the sources.
    let out = s.run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("CAIRN_PASSWORD_FILE") && err.contains("--password-command"), "{err}");
}

#[test]
fn command_beats_file_beats_environment() {
    let s = setup();
    let wrong_pw = s.wrong.as_path();
    // --password-command over --password-file, CAIRN_PASSWORD_FILE and CAIRN_PASSWORD.
    let mut cmd = s.env.cairn();
    cmd.env("CAIRN_PASSWORD", "wrong").env("CAIRN_PASSWORD_FILE", wrong_pw);
    let out = cmd
        .args(["--password-command", &cat(&s.right), "--password-file", wrong_pw.to_str().unwrap(), "snapshots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    s.wrong_password(&[("CAIRN_PASSWORD_FILE", &s.right)], &["--password-command", &cat(&s.wrong)]);
    s.wrong_password(&[], &["--password-command", &cat(&s.wrong), "--password-file", s.right.to_str().unwrap()]);

    // --password-file over CAIRN_PASSWORD_FILE.
    s.opens(&[("CAIRN_PASSWORD_FILE", wrong_pw)], &["--password-file", s.right.to_str().unwrap()]);
    s.wrong_password(&[("CAIRN_PASSWORD_FILE", &s.right)], &["--password-file", wrong_pw.to_str().unwrap()]);

    // A password file (flag or variable) over CAIRN_PASSWORD.
    let out =
        s.env.cairn().env("CAIRN_PASSWORD", "wrong").env("CAIRN_PASSWORD_FILE", &s.right).arg("snapshots").output();
    assert_eq!(out.unwrap().status.code(), Some(0));
    let out = s.env.cairn().env("CAIRN_PASSWORD_FILE", wrong_pw).arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(12), "CAIRN_PASSWORD_FILE (wrong) is used before CAIRN_PASSWORD (right)");
    assert!(stderr_of(&out).contains("wrong password"), "{}", stderr_of(&out));
}

#[test]
fn a_failing_command_or_missing_file_is_one_clear_line() {
    let s = setup();
    let before = s.env.repo_listing();
    for command in ["exit 3", "no-such-password-helper-xyz"] {
        let out = s.run(&[], &["--password-command", command]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = stderr_of(&out);
        let error_line = err.lines().find(|l| l.starts_with("cairn: error:")).unwrap_or_else(|| panic!("{err}"));
        assert!(error_line.contains("--password-command") && error_line.contains("failed"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let missing = s.env.path("no-such-file");
    let out = s.run(&[], &["--password-file", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    // A snapshot with a failing password command writes nothing.
    let src = s.env.path("src");
    fs::create_dir_all(&src).unwrap();
    let mut cmd = s.env.cairn();
    cmd.env_remove("CAIRN_PASSWORD").args(["--password-command", "exit 1", "snapshot"]).arg(&src);
    assert_eq!(cmd.output().unwrap().status.code(), Some(1));
    assert_eq!(s.env.repo_listing(), before);
}

/// Out-of-range parameters given to `init` are the user's mistake, said as
/// such, not "config is damaged"; nothing is created.
#[test]
fn init_with_parameters_out_of_range_names_them() {
    let env = Env::empty();
    for args in [["--zstd-level", "99"], ["--chunk-avg", "3"]] {
        let out = env.cairn().arg("init").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("out of range") && !err.contains("damaged"), "{err}");
        assert!(!env.repo.exists());
    }
}
