//! `cairn serve install --for-user NAME` / `cairn serve uninstall` (issue
//! 13, point 4), as root: real users (`useradd`), the install's files under
//! `CAIRN_INSTALL_ROOT`, `systemctl` replaced by a script
//! (`CAIRN_SYSTEMCTL`). There is no systemd here, so the test starts the
//! unit's `ExecStart` itself as the service's user, then works as NAME
//! (`setpriv`) through the profile the install wrote: snapshots work,
//! deleting does not, and the root folder cannot be read.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Users made for the test and the server started as one; removed and
/// stopped when dropped, also when the test fails.
struct Cleanup {
    users: Vec<String>,
    server: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).stderr(Stdio::null()).status();
            let _ = Command::new("groupdel").arg(u).stderr(Stdio::null()).status();
        }
    }
}

/// `cairn ARGS` as root with the install's test seams.
fn as_root(base: &Path, args: &[&str]) -> std::process::Output {
    bare_std_cairn(base)
        .env("CAIRN_INSTALL_ROOT", base.join("sys"))
        .env("CAIRN_SYSTEMCTL", base.join("systemctl"))
        .args(args)
        .output()
        .unwrap()
}

/// `PROGRAM ARGS` as `user` (uid, gid, no supplementary groups), with the
/// user's HOME and nothing else of ours in the environment.
fn as_user(user: &str, home: &Path, program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", user, "--regid", user, "--clear-groups", "--"])
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TZ", "UTC")
        .env("USER", user)
        .current_dir(home);
    cmd.output().unwrap()
}

fn cairn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cairn"))
}

#[test]
fn install_for_a_user_then_the_user_can_snapshot_but_not_delete_and_uninstall_leaves_the_data() {
    if !is_root() {
        eprintln!("note: serve install needs root (useradd, chown); skipped");
        return;
    }
    let tag = std::process::id() % 100_000;
    let (name, service) = (format!("cairnu{tag}"), format!("cairns{tag}"));
    let mut cleanup = Cleanup { users: vec![name.clone(), service.clone()], server: None };
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // The user's home and the install's folders lie below it: passable.
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
    let home = base.join("home");
    let made = Command::new("useradd")
        .args(["--create-home", "--home-dir"])
        .arg(&home)
        .args(["--shell", "/bin/sh", "--user-group", &name])
        .status()
        .unwrap();
    assert!(made.success(), "useradd {name}");
    let calls = base.join("systemctl.log");
    fs::write(base.join("systemctl"), format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display())).unwrap();
    fs::set_permissions(base.join("systemctl"), fs::Permissions::from_mode(0o755)).unwrap();

    // The user's profile names another repository: changed only with --force.
    let config = home.join(".config/cairn/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(&config, "[default]\nrepository = \"/elsewhere\"\npaths = [\"/home/x\"]\n").unwrap();
    let out = as_root(base, &["serve", "install", "--for-user", &name, "--service-user", &service]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("give --force"), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "", "refused before anything is made");
    let out = as_root(base, &["serve", "install", "--for-user", &name, "--service-user", &service, "--force"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains(&format!("created the system user {service}")), "{}", stdout_of(&out));
    let log = fs::read_to_string(&calls).unwrap();
    assert!(log.contains("daemon-reload\nenable --now cairn-serve.service\n"), "{log}");

    // The files: the root, the service's password and the user's, 0700/0600 each to its owner.
    let sys = base.join("sys");
    let root = sys.join("var/lib/cairn");
    let uid = |u: &str| {
        let out = Command::new("id").args(["-u", u]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().parse::<u32>().unwrap()
    };
    let (user_uid, service_uid) = (uid(&name), uid(&service));
    let mode_owner = |p: &Path| {
        let m = fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (m.mode() & 0o777, m.uid())
    };
    assert_eq!(mode_owner(&root), (0o700, service_uid));
    assert_eq!(mode_owner(&root.join(".cairn-serve/passwords").join(&name)), (0o600, service_uid));
    assert_eq!(mode_owner(&home.join(".config/cairn/serve-password")), (0o600, user_uid));
    assert!(root.join(&name).join("config").is_file());
    let unit = fs::read_to_string(sys.join("etc/systemd/system/cairn-serve.service")).unwrap();
    assert!(unit.contains(&format!("User={service}\n")), "{unit}");
    let socket = sys.join("run/cairn/serve.sock");
    let profile = fs::read_to_string(home.join(".config/cairn/config.toml")).unwrap();
    assert!(profile.contains(&format!("repository = \"rest:unix:{}:/{name}/\"", socket.display())), "{profile}");
    assert!(profile.contains("paths = [\"/home/x\"]"), "the profile's other keys stay: {profile}");
    assert_eq!(mode_owner(&config).1, user_uid);

    // No systemd here: start the unit's command as the service's user.
    let exec = cairn_bin_exec(&unit);
    let mut server = Command::new("setpriv");
    server
        .args(["--reuid", &service, "--regid", &service, "--clear-groups", "--"])
        .args(&exec)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cleanup.server = Some(server.spawn().unwrap());
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    // As the user, through the written profile.
    let data = home.join("work");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("notes.md"), "precious\n").unwrap();
    let chown = Command::new("chown").args(["-R", &format!("{name}:{name}")]).arg(&data).status().unwrap();
    assert!(chown.success());
    let data_arg = data.to_str().unwrap();
    let out = as_user(&name, &home, &cairn_bin(), &["snapshot", "--quiet", data_arg]);
    assert!(out.status.success(), "snapshot as the user: {}", stderr_of(&out));
    let out = as_user(&name, &home, &cairn_bin(), &["snapshots", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    let id = listed[0]["id"].as_str().unwrap().to_string();

    // Deleting is refused, and the root cannot even be listed.
    let out = as_user(&name, &home, &cairn_bin(), &["forget", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("append-only"), "{}", stderr_of(&out));
    // The policy the server's forget obeys is the server's: the user (or an
    // agent as the user) cannot set it; the service's user sets it on the
    // folder with the service's copy of the password, as the README says.
    let out = as_user(&name, &home, &cairn_bin(), &["policy", "set", "--keep-last", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let service_password = root.join(".cairn-serve/passwords").join(&name);
    let folder = root.join(&name);
    let out = as_user(
        &service,
        &root,
        &cairn_bin(),
        &[
            "-r",
            folder.to_str().unwrap(),
            "--password-file",
            service_password.to_str().unwrap(),
            "policy",
            "set",
            "--keep-daily",
            "60",
        ],
    );
    assert!(out.status.success(), "policy set on the server: {}", stderr_of(&out));
    let out = as_user(&name, &home, &cairn_bin(), &["policy", "show"]);
    assert!(stdout_of(&out).contains("60 daily"), "{}\n{}", stdout_of(&out), stderr_of(&out));
    let out = as_user(&name, &home, Path::new("ls"), &[root.to_str().unwrap()]);
    assert!(!out.status.success(), "the user could list the root: {}", stdout_of(&out));
    let out = as_user(&name, &home, Path::new("rm"), &["-rf", root.join(&name).to_str().unwrap()]);
    assert!(!out.status.success());
    let out = as_user(&name, &home, &cairn_bin(), &["snapshots", "--json"]);
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap().len(), 1);

    // The service's own maintenance ran its first round at start: the user
    // sees it in `cairn status`, through the server.
    let report = root.join(".cairn-serve/maintenance").join(format!("{name}.json"));
    let start = Instant::now();
    while !fs::read_to_string(&report).is_ok_and(|r| r.contains("\"check\"")) {
        assert!(start.elapsed() < Duration::from_secs(60), "no maintenance report");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = as_user(&name, &home, &cairn_bin(), &["status"]);
    assert!(stdout_of(&out).contains("server forget"), "{}\n{}", stdout_of(&out), stderr_of(&out));

    // A second user joins the same service, with a repository of their own
    // that the first cannot reach (private repositories, told apart by uid).
    let (other, other_home) = (format!("cairnv{tag}"), base.join("home2"));
    cleanup.users.push(other.clone());
    let made = Command::new("useradd")
        .args(["--create-home", "--home-dir"])
        .arg(&other_home)
        .args(["--shell", "/bin/sh", "--user-group", &other])
        .status()
        .unwrap();
    assert!(made.success(), "useradd {other}");
    let out = as_root(base, &["serve", "install", "--for-user", &other, "--service-user", &service]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stdout_of(&out).contains("created the system user"), "{}", stdout_of(&out));
    let out = as_user(&other, &other_home, &cairn_bin(), &["snapshots", "--json"]);
    assert!(out.status.success(), "the second user's repository: {}", stderr_of(&out));
    assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap().len(), 0);
    let first = format!("rest:unix:{}:/{name}/", socket.display());
    // Even with the first user's password in hand, the server refuses.
    let pw = other_home.join("stolen-password");
    fs::copy(home.join(".config/cairn/serve-password"), &pw).unwrap();
    let chown = Command::new("chown").arg(format!("{other}:{other}")).arg(&pw).status().unwrap();
    assert!(chown.success());
    let out = as_user(
        &other,
        &other_home,
        &cairn_bin(),
        &["--repo", &first, "--password-file", pw.to_str().unwrap(), "snapshots"],
    );
    assert!(!out.status.success(), "{other} reached {name}'s repository: {}", stdout_of(&out));
    assert!(stderr_of(&out).contains("403") || stderr_of(&out).contains("ermission"), "{}", stderr_of(&out));

    // Again for the same user: the repository and its password are kept.
    let out = as_root(base, &["serve", "install", "--for-user", &name, "--service-user", &service]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("kept the repository"), "{}", stdout_of(&out));
    let out = as_user(&name, &home, &cairn_bin(), &["snapshots", "--json"]);
    assert!(out.status.success(), "the user's password still opens it: {}", stderr_of(&out));

    // Uninstall: the unit goes, the data stays.
    let out = as_root(base, &["serve", "uninstall"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("left in place"), "{}", stdout_of(&out));
    assert!(!sys.join("etc/systemd/system/cairn-serve.service").exists());
    assert!(fs::read_to_string(&calls).unwrap().contains("disable --now cairn-serve.service\n"));
    assert!(root.join(&name).join("config").is_file());
    assert!(root.join(".cairn-serve/passwords").join(&name).is_file());
}

/// The unit's ExecStart words (the program is this build's `cairn`).
fn cairn_bin_exec(unit: &str) -> Vec<String> {
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
    // The test's paths hold no spaces or quotes: plain words.
    let words: Vec<String> = line.split(' ').map(String::from).collect();
    assert_eq!(words[0], cairn_bin().display().to_string());
    words
}
