//! Helpers for the tests through `cairn serve`: the real server binary on
//! a Unix socket in a temporary folder (killed when dropped, SIGKILL on
//! request), commands run as an ordinary user (`setpriv`, when the tests
//! run as root), and a fingerprint of everything a server root holds.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The uid and gid the tests drop to (`nobody`).
pub const NOBODY: u32 = 65534;

/// A running `cairn serve ROOT --listen unix:SOCKET`.
pub struct Server {
    child: Option<Child>,
    pub root: PathBuf,
    pub socket: PathBuf,
    args: Vec<String>,
    log: PathBuf,
}

impl Server {
    /// Starts a server on `root` (created 0700 if missing) listening on
    /// `socket` with the extra `args`; returns once it accepts connections.
    pub fn start(root: &Path, socket: &Path, args: &[&str]) -> Server {
        if !root.exists() {
            std::fs::create_dir(root).unwrap();
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let log = socket.with_extension("log");
        let mut server = Server {
            child: None,
            root: root.to_path_buf(),
            socket: socket.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
            log,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("serve")
            .arg(&self.root)
            .arg("--listen")
            .arg(format!("unix:{}", self.socket.display()))
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start cairn serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("cairn serve exited ({status}): {}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "cairn serve did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client's location of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("rest:unix:{}:/{name}/", self.socket.display())
    }

    /// SIGKILL: no graceful stop, uploads cut where they are.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same server again (after `kill`).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `curl` over the socket: the HTTP status of `METHOD /path` with `body`.
    pub fn curl(&self, user: Option<u32>, method: &str, path: &str, body: Option<&[u8]>) -> u16 {
        let mut cmd = as_user(user, "curl");
        cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "--unix-socket"])
            .arg(&self.socket)
            .args(["-X", method, "--path-as-is"])
            .arg(format!("http://localhost{path}"));
        if body.is_some() {
            cmd.args(["--data-binary", "@-", "-H", "Content-Type: application/octet-stream"]);
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("run curl");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(body.unwrap_or_default()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `program` run as `user` (through `setpriv`, as root only), else as is.
pub fn as_user(user: Option<u32>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match user {
        Some(uid) => {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={uid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// `cairn` (with a clean environment, HOME `home`, repository `url`) as
/// `user`.
pub fn cairn_as(user: Option<u32>, home: &Path, url: &str) -> Command {
    let mut cmd = as_user(user, env!("CARGO_BIN_EXE_cairn"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TZ", "UTC")
        .env("USER", "tester")
        .env("CAIRN_REPO", url)
        .env("CAIRN_PASSWORD", PASSWORD);
    cmd
}

/// Every file under `root` (but `locks/`, which runs change) with its
/// bytes' hash: what an attack must leave exactly as it was.
pub fn fingerprint(root: &Path) -> Vec<(PathBuf, cairn_core::Id)> {
    listing(root)
        .into_iter()
        .filter(|(p, _)| !p.strip_prefix(root).unwrap().components().any(|c| c.as_os_str() == "locks"))
        .map(|(p, _)| {
            let hash = cairn_core::Id::of_file_bytes(&std::fs::read(&p).unwrap());
            (p, hash)
        })
        .collect()
}

/// A folder an ordinary user may use (as root: owned by `nobody`).
pub fn user_folder(path: &Path, user: Option<u32>) {
    std::fs::create_dir_all(path).unwrap();
    if let Some(uid) = user {
        chown_tree(path, uid);
    }
}

pub fn chown_tree(path: &Path, uid: u32) {
    let status = Command::new("chown").arg("-R").arg(format!("{uid}:{uid}")).arg(path).status().unwrap();
    assert!(status.success());
}

/// The tests' user: `nobody` when running as root, else the current one.
pub fn ordinary_user() -> Option<u32> {
    is_root().then_some(NOBODY)
}
