//! Helpers for the HTTP-level `cairn serve` tests (serve_restic, serve_auth,
//! serve_hostile, serve_protocol): the real binary on an ephemeral loopback
//! port or a Unix socket, killed when dropped; restic, curl and raw sockets
//! as clients. (`common_serve.rs` serves the tests through cairn's client.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::common::{bare_std_cairn, is_root};

/// A running `cairn serve`, killed on drop; its stderr is collected.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`, or `unix:/path` for a socket.
    pub addr: String,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// `cairn serve ROOT --listen LISTEN ARGS…` (LISTEN `127.0.0.1:0` for an
    /// ephemeral port), waiting (at most 60 s) until it listens.
    pub fn start(home: &Path, root: &Path, listen: &str, args: &[&str]) -> Server {
        Server::start_with(bare_std_cairn(home), root, listen, args)
    }

    pub fn start_with(mut cmd: Command, root: &Path, listen: &str, args: &[&str]) -> Server {
        cmd.arg("serve").arg(root).args(["--listen", listen]).args(args);
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start cairn serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("cairn serve: listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cairn serve did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, addr, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then waits (at most 30 s) for the process to end.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("cairn serve did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether restic is installed. As root (CI) it must be: its absence fails
/// the test; otherwise `false` with a note, and the caller skips.
pub fn have_restic() -> bool {
    let found = Command::new("restic").arg("version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(!is_root(), "restic is not installed (CI installs it: .ci/run)");
        eprintln!("note: restic is not installed; skipping");
    }
    found
}

/// restic with a password, a private cache and no other configuration.
pub fn restic(home: &Path, repo: &str) -> Command {
    let mut cmd = Command::new("restic");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("RESTIC_PASSWORD", "restic test password")
        .env("RESTIC_CACHE_DIR", home.join("restic-cache"))
        .args(["-r", repo]);
    cmd
}

/// Runs `cmd` with a 5-minute bound, returning its output.
pub fn run_bounded(mut cmd: Command) -> Output {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &id.to_string()]).status();
            panic!("{cmd:?} ran longer than 5 minutes");
        }
    }
}

/// `curl -s` with a 60-second bound; returns (status code, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"]).args(args);
    let out = run_bounded(cmd);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A temporary folder with `root/` (the served root) and `home/`.
pub struct ServeEnv {
    pub dir: TempDir,
}

impl ServeEnv {
    pub fn new() -> ServeEnv {
        let env = ServeEnv { dir: tempfile::tempdir().unwrap() };
        std::fs::create_dir_all(env.root()).unwrap();
        std::fs::create_dir_all(env.home()).unwrap();
        env
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// Every regular file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// SHA-256 of `bytes` in hex (restic's object names), by `sha256sum`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

/// Sends `request` (raw bytes) on a new connection to `addr`, reads the
/// answer until the server closes (at most 60 s) and returns its status
/// code (0 when there is none) and the whole text.
pub fn raw_http(addr: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    status_of(&out)
}

pub fn status_of(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer).to_string();
    let code = text.strip_prefix("HTTP/1.1 ").and_then(|t| t.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}
