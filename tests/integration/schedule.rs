//! `cairn schedule`: systemd units generated into a temporary unit folder
//! with a logging stand-in for systemctl, and crontab lines in a REAL
//! crontab, of an unprivileged user (never root's).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// The binary as the schedule names it (its canonical full path).
fn binary() -> String {
    fs::canonicalize(env!("CARGO_BIN_EXE_cairn")).unwrap().to_str().unwrap().to_string()
}

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

struct Systemd {
    env: Env,
    units: PathBuf,
    log: PathBuf,
}

impl Systemd {
    fn new() -> Systemd {
        let env = Env::empty();
        let units = env.path("units");
        let log = env.path("systemctl.log");
        script(&env.path("systemctl"), &format!("echo \"$*\" >> '{}'", log.display()));
        // No crontab here: the systemd tests must not read root's.
        script(&env.path("crontab"), "echo \"no crontab for tester\" >&2; exit 1");
        // The profile the schedule runs exists (`--profile` names it).
        fs::create_dir_all(env.path("cfg")).unwrap();
        fs::write(env.path("cfg/config.toml"), format!("[work]\nrepository = {:?}\n", env.repo)).unwrap();
        Systemd { env, units, log }
    }

    fn cairn(&self, args: &[&str]) -> Output {
        bare_cairn(self.env.dir.path())
            .env("CAIRN_SYSTEMD_USER_DIR", &self.units)
            .env("CAIRN_SYSTEMCTL", self.env.path("systemctl"))
            .env("CAIRN_CRONTAB", self.env.path("crontab"))
            .env("CAIRN_PROFILE", "work")
            .env("CAIRN_CONFIG", self.env.path("cfg/config.toml"))
            .env("XDG_STATE_HOME", self.env.path("state"))
            .args(args)
            .output()
            .unwrap()
    }

    fn unit(&self, name: &str) -> String {
        fs::read_to_string(self.units.join(name)).unwrap()
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn show(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr_of(out));
    serde_json::from_slice(&out.stdout).expect("schedule show --json prints JSON")
}

#[test]
fn systemd_units_run_the_profile_and_catch_up() {
    let s = Systemd::new();
    for _ in 0..2 {
        let out = s.cairn(&["schedule", "install", "--every", "15m"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let service = s.unit("cairn-work.service");
    let exec =
        format!("\nExecStart={} --config {} run --profile work\n", binary(), s.env.path("cfg/config.toml").display());
    assert!(service.contains(&exec), "{service}");
    assert!(service.contains(&format!("\nEnvironment=XDG_STATE_HOME={}\n", s.env.path("state").display())));
    for line in ["Type=oneshot", "Nice=19", "IOSchedulingClass=idle"] {
        assert!(service.lines().any(|l| l == line), "{line} in {service}");
    }
    let timer = s.unit("cairn-work.timer");
    for line in ["OnCalendar=*-*-* *:00/15:00", "Persistent=true", "WantedBy=timers.target"] {
        assert!(timer.lines().any(|l| l == line), "{line} in {timer}");
    }
    // Installed twice: the same two files, nothing left beside them.
    let mut names: Vec<_> = fs::read_dir(&s.units).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["cairn-work.service", "cairn-work.timer"]);
    let log = s.log();
    assert!(log.contains("--user show-environment\n"), "systemd chosen because it answered: {log}");
    assert_eq!(log.matches("--user daemon-reload\n").count(), 2, "{log}");
    assert_eq!(log.matches("--user enable --now cairn-work.timer\n").count(), 2, "{log}");

    let shown = show(&s.cairn(&["schedule", "show", "--json"]));
    assert_eq!(shown["installed"], true);
    assert_eq!(shown["via"], "systemd");
    assert_eq!(shown["every"], "15m");
    assert!(shown["command"].as_str().unwrap().ends_with(" run --profile work"), "{shown}");
    let next: jiff::Timestamp = shown["next_run"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.as_second() % (15 * 60), 0, "next run on a quarter hour: {shown}");
    assert_eq!(shown["last_run"], serde_json::Value::Null);
    let text = stdout_of(&s.cairn(&["schedule", "show"]));
    assert!(text.contains("systemd user timer") && text.contains("last run  never"), "{text}");

    // An interval no timer expresses exactly: one line naming those that work, nothing changed.
    let out = s.cairn(&["schedule", "install", "--every", "7m"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("7m") && err.contains("15m") && err.contains("1d"), "{err}");
    assert!(s.unit("cairn-work.timer").contains("OnCalendar=*-*-* *:00/15:00"));

    let out = s.cairn(&["schedule", "remove"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fs::read_dir(&s.units).unwrap().count(), 0);
    assert!(s.log().contains("--user disable --now cairn-work.timer\n"));
    assert_eq!(show(&s.cairn(&["schedule", "show", "--json"]))["installed"], false);
}

#[test]
fn systemd_failure_is_one_line() {
    let s = Systemd::new();
    script(&s.env.path("systemctl"), "echo 'Failed to connect to bus' >&2; exit 1");
    let out = s.cairn(&["schedule", "install", "--via", "systemd", "--every", "1d"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Failed to connect to bus"), "{err}");
    assert!(!s.units.join("cairn-work.timer").exists(), "no units left that nothing runs");
}

#[test]
fn refusals_are_one_line() {
    let s = Systemd::new();
    let one_line = |out: Output, needle: &str| {
        assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle} in {err}");
    };
    one_line(s.cairn(&["schedule", "install", "--every", "5h"]), "divide a day");
    let no_crontab = bare_cairn(s.env.dir.path())
        .env("CAIRN_CRONTAB", s.env.path("no-such-crontab"))
        .env("CAIRN_SYSTEMD_USER_DIR", &s.units)
        .env("CAIRN_CONFIG", s.env.path("cfg/config.toml"))
        .env("CAIRN_PROFILE", "work")
        .args(["schedule", "install", "--via", "cron"])
        .output()
        .unwrap();
    one_line(no_crontab, "install cron, or use --via systemd");
    assert!(!s.units.exists());
}

/// Runs as `nobody` with a private HOME, so only nobody's crontab changes.
struct Nobody {
    home: tempfile::TempDir,
}

const NOBODY: &str = "65534";

impl Nobody {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups", "--", program])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("TZ", "UTC")
            .env("CAIRN_CONFIG", self.home.path().join("config.toml"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("setpriv");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn cairn(&self, profile: &str, args: &[&str]) -> Output {
        let profile = format!("CAIRN_PROFILE={profile}");
        let all: Vec<&str> =
            [profile.as_str(), env!("CARGO_BIN_EXE_cairn")].into_iter().chain(args.iter().copied()).collect();
        self.run("env", &all, None)
    }

    fn crontab(&self) -> String {
        let out = self.run("crontab", &["-l"], None);
        assert!(out.status.success(), "crontab -l: {}", stderr_of(&out));
        stdout_of(&out)
    }
}

impl Drop for Nobody {
    fn drop(&mut self) {
        let _ = self.run("crontab", &["-r"], None);
    }
}

#[test]
fn cron_lines_are_idempotent_and_leave_the_rest_alone() {
    if Command::new("crontab").arg("-l").output().is_err() {
        eprintln!("skipped: no `crontab` command (CI installs cron)");
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root to run cairn as `nobody` (never the developer's own crontab)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    let config = home.path().join("config.toml");
    fs::write(&config, "[work]\nrepository = \"/nonexistent/work\"\n\n[other]\nrepository = \"/nonexistent/other\"\n")
        .unwrap();
    std::os::unix::fs::chown(&config, Some(65534), Some(65534)).unwrap();
    let nobody = Nobody { home };
    let theirs = "# theirs: kept byte for byte\nMAILTO=\"\"\n30 4 * * *   /usr/bin/true   # not cairn's\n";
    let out = nobody.run("crontab", &["-"], Some(theirs));
    assert!(out.status.success(), "crontab -: {}", stderr_of(&out));

    for _ in 0..2 {
        let out = nobody.cairn("work", &["schedule", "install", "--via", "cron", "--every", "2h"]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let crontab = nobody.crontab();
    assert!(crontab.starts_with(theirs), "{crontab}");
    let ours: Vec<&str> = crontab.lines().filter(|l| l.ends_with("# cairn:work")).collect();
    assert_eq!(ours.len(), 1, "installed twice, one line: {crontab}");
    let line = ours[0];
    assert!(line.starts_with("0 */2 * * * "), "{line}");
    let command = format!("{} --config {} run --profile work # cairn:work", binary(), config.display());
    assert!(line.ends_with(&command), "{line}");
    assert!(line.contains(&format!("HOME={} ", nobody.home.path().display())) && line.contains(" PATH="), "{line}");

    let shown = show(&nobody.cairn("work", &["schedule", "show", "--json"]));
    assert_eq!(shown["via"], "cron");
    assert_eq!(shown["every"], "2h");
    assert_eq!(shown["line"], line);
    let next: jiff::Timestamp = shown["next_run"].as_str().unwrap().parse().unwrap();
    assert_eq!(next.as_second() % 7200, 0, "{shown}");

    // A second profile gets its own line; removing one leaves the other and the user's.
    let out = nobody.cairn("other", &["schedule", "install", "--via", "cron", "--every", "1d"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = nobody.cairn("work", &["schedule", "remove"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let crontab = nobody.crontab();
    assert!(crontab.starts_with(theirs) && !crontab.contains("# cairn:work"), "{crontab}");
    assert_eq!(crontab.lines().filter(|l| l.ends_with("# cairn:other") && l.starts_with("0 0 * * * ")).count(), 1);
    assert_eq!(show(&nobody.cairn("work", &["schedule", "show", "--json"]))["installed"], false);
    let out = nobody.cairn("other", &["schedule", "remove"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(nobody.crontab(), theirs, "back to the user's crontab, byte for byte");
}
