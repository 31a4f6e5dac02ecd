//! A real S3 server for tests (`testing` only): moto's server mode on
//! 127.0.0.1, started by the test that needs it, and a fault proxy in front
//! of it (`proxy.rs`). moto comes from PyPI (`pip install 'moto[server]'`);
//! `.ci/run` installs it and exports `CAIRN_MOTO_SERVER`. A machine without
//! it fails the test with the install command: never a silent skip.
//!
//! The server dies with the test process: it runs under a small `sh` loop
//! that watches the parent's pid, so a test killed mid-run (or a panic that
//! skips `Drop`) leaves no moto behind.

pub mod proxy;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use proxy::FaultProxy;

/// How long moto may take to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The client's environment for a moto server (it does not check signatures,
/// but the client signs anyway).
pub const TEST_ENV: [(&str, &str); 3] =
    [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_REGION", "us-east-1")];

/// A running moto server; stopped on drop.
#[derive(Debug)]
pub struct MotoServer {
    addr: SocketAddr,
    /// The `sh` watcher and the pid of moto under it.
    watcher: Child,
    moto_pid: Option<i32>,
}

/// The moto executable: `CAIRN_MOTO_SERVER`, else `moto_server` on `PATH`.
fn moto_executable() -> String {
    if let Some(path) = std::env::var_os("CAIRN_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return path.to_string_lossy().into_owned();
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("moto_server")).find(|f| f.is_file()))
        .unwrap_or(None);
    match on_path {
        Some(path) => path.to_string_lossy().into_owned(),
        None => panic!(
            "the S3 tests need moto's server: install moto[server]: pip install 'moto[server]' \
             (then put moto_server on PATH or set CAIRN_MOTO_SERVER to it; .ci/run does both)"
        ),
    }
}

/// A port free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

impl MotoServer {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> MotoServer {
        MotoServer::start_with(false)
    }

    /// A moto that checks credentials (IAM on from its first request): it
    /// knows no keys, so every request is refused (403
    /// InvalidAccessKeyId), as AWS refuses wrong ones. No bucket can be
    /// made on it.
    pub fn start_checking_credentials() -> MotoServer {
        MotoServer::start_with(true)
    }

    fn start_with(authenticate: bool) -> MotoServer {
        let exe = moto_executable();
        // A port taken between the probe and moto's bind: try another.
        for _ in 0..5 {
            let port = free_port();
            if let Some(server) = MotoServer::start_on(&exe, port, authenticate) {
                return server;
            }
        }
        panic!("moto ({exe}) did not answer on 127.0.0.1 within {READY_WITHIN:?}");
    }

    fn start_on(exe: &str, port: u16, authenticate: bool) -> Option<MotoServer> {
        // The watcher prints moto's pid, then polls: when the test process
        // (its parent) is gone, it stops moto. Arguments go as $1.. (no quoting).
        let script = r#"exe=$1; port=$2; parent=$3
"$exe" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 </dev/null &
child=$!
echo "$child"
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill "$child" 2>/dev/null"#;
        let mut command = Command::new("sh");
        if authenticate {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let mut watcher = command
            .args(["-c", script, "sh", exe, &port.to_string(), &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sh for moto");
        let moto_pid = watcher.stdout.take().and_then(|mut out| {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while out.read(&mut byte).ok()? == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            String::from_utf8(line).ok()?.trim().parse().ok()
        });
        let mut server = MotoServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), watcher, moto_pid };
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.watcher.try_wait() {
                return None;
            }
            // Any HTTP answer means it listens (403 when it checks credentials).
            if matches!(raw_request(server.addr, "GET", "/", &[], b""), Ok((200 | 403, _))) {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        server.stop();
        None
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Creates a bucket and returns its repository location
    /// (`s3:http://127.0.0.1:PORT/NAME`). Names must be valid S3 names of
    /// at least 3 characters (`cairn-test-1`).
    pub fn bucket(&self, name: &str) -> String {
        self.create_bucket(name, &[]);
        format!("s3:{}/{name}", self.endpoint())
    }

    /// A bucket created with Object Lock enabled, and (`days` > 0) a
    /// default retention of `days` in `mode` (`GOVERNANCE`/`COMPLIANCE`).
    pub fn bucket_with_object_lock(&self, name: &str, days: u32, mode: &str) -> String {
        self.create_bucket(name, &[("x-amz-bucket-object-lock-enabled", "true")]);
        if days > 0 {
            let body = format!(
                "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                 <Mode>{}</Mode><Days>{days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
                mode.to_ascii_uppercase()
            );
            let (status, text) = raw_request(self.addr, "PUT", &format!("/{name}?object-lock"), &[], body.as_bytes())
                .expect("moto answers");
            assert_eq!(status, 200, "setting the object lock of {name}: {text}");
        }
        format!("s3:{}/{name}", self.endpoint())
    }

    fn create_bucket(&self, name: &str, headers: &[(&str, &str)]) {
        let (status, text) = raw_request(self.addr, "PUT", &format!("/{name}"), headers, b"").expect("moto answers");
        assert_eq!(status, 200, "creating bucket {name}: {text}");
    }

    fn stop(&mut self) {
        if let Some(pid) = self.moto_pid.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One plain HTTP/1.1 request (moto does not check signatures): the status
/// and the body as text.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text:.200}")))?;
    Ok((status, text))
}
