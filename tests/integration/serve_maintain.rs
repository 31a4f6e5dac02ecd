//! `cairn serve --maintain` (issue 13, point 3): the server forgets, prunes
//! and checks by the repository's policy on its own schedule, with the
//! password only it can read, dating snapshots by when it received them;
//! the client's `cairn status` shows when it last did.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;

const PASSWORD: &str = "server-side-pw";
const DAY: i64 = 86_400;

/// A `cairn serve` process on a Unix socket in a temporary folder, killed
/// when dropped.
struct Server {
    child: Child,
    socket: PathBuf,
}

impl Server {
    fn start(home: &Path, root: &Path, extra: &[&str]) -> Server {
        let socket = home.join("serve.sock");
        let _ = fs::remove_file(&socket);
        let mut cmd = bare_std_cairn(home);
        cmd.arg("serve").arg(root).arg("--listen").arg(format!("unix:{}", socket.display())).args(extra);
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
        let server = Server { child, socket };
        wait_for(Duration::from_secs(30), "the server's socket", || server.socket.exists());
        server
    }

    fn location(&self, name: &str) -> String {
        format!("rest:unix:{}:/{name}/", self.socket.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` until it holds; panics naming `what` after `limit`.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A repository `ROOT/alice` made locally (as the service's user would),
/// its policy set, and the server's copy of its password, mode 0600.
fn served_repository(home: &Path, policy: &[&str]) -> PathBuf {
    let root = home.join("root");
    let repo = root.join("alice");
    let cairn = |args: &[&str]| {
        let out =
            bare_std_cairn(home).env("CAIRN_PASSWORD", PASSWORD).arg("--repo").arg(&repo).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    };
    cairn(&["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]);
    let mut set = vec!["policy", "set"];
    set.extend(policy);
    cairn(&set);
    let passwords = root.join(".cairn-serve/passwords");
    fs::create_dir_all(&passwords).unwrap();
    fs::write(passwords.join("alice"), format!("{PASSWORD}\n")).unwrap();
    fs::set_permissions(passwords.join("alice"), fs::Permissions::from_mode(0o600)).unwrap();
    root
}

fn snapshot_files(repo: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo.join("snapshots")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// A snapshot through the server recording `time` (seconds since the
/// epoch); returns its file on the server's storage.
fn snapshot_at(home: &Path, server: &Server, repo: &Path, data: &Path, time: i64) -> PathBuf {
    let before = snapshot_files(repo);
    let out = bare_std_cairn(home)
        .env("CAIRN_PASSWORD", PASSWORD)
        .args(["--repo", &server.location("alice"), "snapshot", "--quiet", "--time", &format!("@{time}")])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut new: Vec<PathBuf> = snapshot_files(repo).into_iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(new.len(), 1);
    new.pop().unwrap()
}

fn report(root: &Path) -> Option<serde_json::Value> {
    let bytes = fs::read(root.join(".cairn-serve/maintenance/alice.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn the_server_forgets_by_policy_and_the_clients_status_shows_it() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let root = served_repository(h, &["--keep-last", "2"]);
    let data = h.join("data");
    fs::create_dir_all(&data).unwrap();
    let server = Server::start(h, &root, &["--append-only"]);
    for i in 0..4 {
        fs::write(data.join("f.txt"), format!("version {i}\n")).unwrap();
        snapshot_at(h, &server, &root.join("alice"), &data, now() - 100 + i);
    }
    drop(server);
    assert_eq!(snapshot_files(&root.join("alice")).len(), 4);

    // The same server with maintenance: the first round runs at once.
    let server = Server::start(h, &root, &["--append-only", "--maintain"]);
    wait_for(Duration::from_secs(60), "the server's forget", || {
        report(&root).is_some_and(|r| r["forget"]["ok"] == true && r["check"]["ok"] == true)
    });
    let r = report(&root).unwrap();
    assert!(r["forget"]["outcome"].as_str().unwrap().starts_with("removed 2 of 4 snapshots"), "{r}");
    assert_eq!(snapshot_files(&root.join("alice")).len(), 2);

    // The client sees it in `cairn status`, through the server.
    let config = h.join(".config/cairn/config.toml");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(h.join("pw"), format!("{PASSWORD}\n")).unwrap();
    fs::write(
        &config,
        format!(
            "[default]\nrepository = {:?}\npassword-file = {:?}\npaths = [{:?}]\n",
            server.location("alice"),
            h.join("pw"),
            data
        ),
    )
    .unwrap();
    let out = bare_std_cairn(h).arg("status").output().unwrap();
    let text = stdout_of(&out);
    assert!(
        text.contains("server forget") && text.contains("ok: removed 2 of 4 snapshots"),
        "{text}\n{}",
        stderr_of(&out)
    );
    let out = bare_std_cairn(h).args(["status", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server_maintenance"]["forget"]["ok"], true, "{v}");
}

#[test]
fn forged_snapshots_uploaded_through_the_server_do_not_push_out_real_history() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let root = served_repository(h, &["--keep-daily", "4"]);
    let repo = root.join("alice");
    let data = h.join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("f.txt"), "real\n").unwrap();
    let server = Server::start(h, &root, &["--append-only"]);
    let today = now() / DAY * DAY;
    // Real history: noon on each of the three days before yesterday, as if
    // received then (the storage's time of each file says when it came).
    let mut real = Vec::new();
    for d in 2..=4 {
        let t = today - d * DAY + DAY / 2;
        let file = snapshot_at(h, &server, &repo, &data, t);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(UNIX_EPOCH + Duration::from_secs(t as u64))
            .unwrap();
        real.push(file);
    }
    // The agent, with the client's access, uploads a later snapshot of
    // each of those days (the newest of its day by the time it claims),
    // and a flood dated now.
    fs::write(data.join("f.txt"), "forged\n").unwrap();
    for d in 2..=4 {
        snapshot_at(h, &server, &repo, &data, today - d * DAY + DAY / 2 + 3600);
    }
    for i in 0..5 {
        snapshot_at(h, &server, &repo, &data, now() - 10 - i);
    }
    drop(server);

    // Dated by the times they claim, the forgeries would win every day:
    // a client-side forget would remove all the real snapshots.
    let out = bare_std_cairn(h)
        .env("CAIRN_PASSWORD", PASSWORD)
        .arg("--repo")
        .arg(&repo)
        .args(["forget", "--dry-run", "--json", "--keep-daily", "4"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let to_remove: Vec<String> =
        plan["to_remove"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    for f in &real {
        assert!(to_remove.contains(&f.file_name().unwrap().to_string_lossy().into_owned()), "{plan}");
    }

    // The server dates them by arrival: the real history survives.
    let _server = Server::start(h, &root, &["--append-only", "--maintain"]);
    wait_for(Duration::from_secs(60), "the server's forget", || {
        report(&root).is_some_and(|r| r["forget"]["ok"] == true)
    });
    let left = snapshot_files(&repo);
    for f in &real {
        assert!(left.contains(f), "real snapshot {} was forgotten: {}", f.display(), report(&root).unwrap());
    }
    // Of the five uploaded now, only the newest is kept (one day's bucket).
    assert_eq!(left.len(), 3 + 3 + 1, "{}", report(&root).unwrap());
}

#[test]
fn a_password_file_others_can_read_is_refused_and_said_in_the_report() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let root = served_repository(h, &["--keep-last", "1"]);
    fs::set_permissions(root.join(".cairn-serve/passwords/alice"), fs::Permissions::from_mode(0o644)).unwrap();
    let _server = Server::start(h, &root, &["--append-only", "--maintain"]);
    wait_for(Duration::from_secs(60), "the report", || report(&root).is_some());
    let r = report(&root).unwrap();
    assert!(r["error"].as_str().unwrap().contains("readable by others"), "{r}");
    assert!(r["forget"].is_null(), "{r}");
}
