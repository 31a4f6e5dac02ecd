//! Hostile clients of `cairn serve`, at the HTTP level (raw sockets and
//! curl): traversal in every encoding, names that are not ids, unknown
//! types, bodies over the bound (announced or not), truncated uploads, a
//! body whose hash is not its name, slow clients, and many clients at
//! once. Each gets a clear HTTP error, and nothing is written outside the
//! served root nor left under a final name.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::common::bare_std_cairn;
use super::common_serve_http::{ServeEnv, Server, curl, files_under, raw_http, sha256_hex, status_of};

const KEY_BOUND: u64 = 64 * 1024;

/// Every file under the test folder outside `root/` and `home/`.
fn outside_root(env: &ServeEnv) -> Vec<PathBuf> {
    files_under(env.dir.path()).into_iter().filter(|p| !p.starts_with("root") && !p.starts_with("home")).collect()
}

/// Temporary files (`.tmp-…`) anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp-")).collect()
}

/// Waits (at most 30 s) until `dir` holds no temporary file.
fn no_temporaries_left(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !temporaries(dir).is_empty() {
        assert!(Instant::now() < deadline, "temporaries left: {:?}", temporaries(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(env: &ServeEnv, extra: &[&str]) -> Server {
    let mut cmd = bare_std_cairn(&env.home());
    cmd.env("CAIRN_SERVE_BODY_TIMEOUT_SECS", "2");
    let mut args = vec!["--no-auth"];
    args.extend_from_slice(extra);
    Server::start_with(cmd, &env.root(), "127.0.0.1:0", &args)
}

fn request(method: &str, path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n").into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn traversal_and_bad_names_are_refused_before_the_filesystem() {
    let env = ServeEnv::new();
    let server = start(&env, &[]);
    let a = server.addr.clone();
    assert_eq!(raw_http(&a, &request("POST", "/r/?create=true", "", b"")).0, 200);
    let id = "0".repeat(64);
    let before = outside_root(&env);
    for path in [
        "/../escape/?create=true".to_string(),
        "/r/../../escape/?create=true".into(),
        "/%2e%2e/escape/?create=true".into(),
        "/%2E%2E%2Fescape/?create=true".into(),
        "/r%2f..%2f..%2fescape/?create=true".into(),
        "/..%2fescape/?create=true".into(),
        "/.cairn-serve/?create=true".into(),
        "/r/keys/..".into(),
        format!("/r/keys/%2e%2e%2f{id}"),
        "/r/keys/abc".into(),
        format!("/r/keys/{}", "A".repeat(64)),
        format!("/r/keys/{id}0"),
        format!("/r/nope/{id}"),
        format!("/r/data/00/{id}"),
        "//etc/passwd".into(),
        format!("http://x/../../{id}"),
        "/r/%zz".into(),
    ] {
        let (code, text) = raw_http(&a, &request("POST", &path, "Content-Length: 2\r\n", b"{}"));
        assert_eq!(code, 400, "{path:?}: {text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        assert_eq!(body.lines().count(), 1, "one line saying what was wrong: {body:?}");
    }
    // An absolute path the client means as a file, and a path that is no path.
    assert_eq!(raw_http(&a, &request("GET", "/etc/passwd", "", b"")).0, 400);
    // Not even HTTP (hyper refuses these before cairn sees them).
    assert!(matches!(raw_http(&a, &request("GET", "../config", "", b"")).0, 400 | 0));
    assert!(matches!(raw_http(&a, &request("POST", "/r\0/?create=true", "", b"")).0, 400 | 0));
    assert_eq!(outside_root(&env), before, "nothing was written outside the root");
    assert!(!env.dir.path().join("escape").exists());
    assert_eq!(fs::read_dir(env.root()).unwrap().count(), 1, "only the repository r is in the root");
}

#[test]
fn bodies_over_the_bound_truncated_uploads_and_wrong_hashes_store_nothing() {
    let env = ServeEnv::new();
    let server = start(&env, &[]);
    let a = server.addr.clone();
    assert_eq!(raw_http(&a, &request("POST", "/r/?create=true", "", b"")).0, 200);
    let keys = env.root().join("r/keys");
    let big = vec![b'x'; KEY_BOUND as usize + 1];
    let big_name = sha256_hex(&big);
    let path = format!("/r/keys/{big_name}");

    // Announced up front: refused before the body is read.
    let (code, text) = raw_http(&a, &request("POST", &path, &format!("Content-Length: {}\r\n", big.len()), b""));
    assert_eq!(code, 413, "{text}");
    // Not announced (chunked): refused once the bound is passed.
    let mut chunked = Vec::new();
    for part in big.chunks(10_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (code, text) = raw_http(&a, &request("POST", &path, "Transfer-Encoding: chunked\r\n", &chunked));
    assert_eq!(code, 413, "{text}");

    // A body whose hash is not its name.
    let body = b"some key".to_vec();
    let wrong = sha256_hex(b"other bytes");
    let (code, text) = raw_http(&a, &request("POST", &format!("/r/keys/{wrong}"), "Content-Length: 8\r\n", &body));
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("is not its name"), "{text}");

    // Truncated: the connection closes after half the announced body.
    let name = sha256_hex(&[7u8; 4000]);
    let mut s = TcpStream::connect(&a).unwrap();
    s.write_all(&request("POST", &format!("/r/keys/{name}"), "Content-Length: 4000\r\n", &[7u8; 2000])).unwrap();
    drop(s);
    no_temporaries_left(&env.root());
    assert_eq!(files_under(&keys), Vec::<PathBuf>::new(), "nothing under a final name");

    // The same object, whole: stored; again: 403, the file untouched.
    let (code, _) =
        raw_http(&a, &request("POST", &format!("/r/keys/{name}"), "Content-Length: 4000\r\n", &[7u8; 4000]));
    assert_eq!(code, 200);
    let (code, text) =
        raw_http(&a, &request("POST", &format!("/r/keys/{name}"), "Content-Length: 4000\r\n", &[8u8; 4000]));
    assert_eq!(code, 403, "{text}");
    assert_eq!(fs::read(keys.join(&name)).unwrap(), vec![7u8; 4000]);
    no_temporaries_left(&env.root());
    assert_eq!(files_under(&keys), vec![PathBuf::from(&name)]);
}

#[test]
fn a_cairn_repository_takes_blake3_names_and_a_restic_one_sha256() {
    let env = ServeEnv::new();
    let server = start(&env, &[]);
    let u = server.url();
    for repo in ["c", "k"] {
        assert_eq!(curl(&["-X", "POST", &format!("{u}/{repo}/?create=true")]).0, 200);
    }
    let cfg = env.path("cfg");
    fs::write(&cfg, b"CAIRNREP and the rest of a config").unwrap();
    assert_eq!(curl(&["-X", "POST", "--data-binary", &format!("@{}", cfg.display()), &format!("{u}/c/config")]).0, 200);
    fs::write(&cfg, b"{\"restic\": \"config\"}").unwrap();
    assert_eq!(curl(&["-X", "POST", "--data-binary", &format!("@{}", cfg.display()), &format!("{u}/k/config")]).0, 200);
    let obj = env.path("obj");
    fs::write(&obj, b"an index file").unwrap();
    let blake = cairn_core::id::Id::of_file_bytes(b"an index file").to_hex();
    let sha = sha256_hex(b"an index file");
    let post = |repo: &str, name: &str| {
        curl(&["-X", "POST", "--data-binary", &format!("@{}", obj.display()), &format!("{u}/{repo}/index/{name}")]).0
    };
    assert_eq!(post("c", &sha), 400);
    assert_eq!(post("c", &blake), 200);
    assert_eq!(post("k", &blake), 400);
    assert_eq!(post("k", &sha), 200);
    // cairn's pins are named by the snapshot they pin, not their bytes.
    let any = "ab".repeat(32);
    let (code, _) =
        curl(&["-X", "POST", "--data-binary", &format!("@{}", obj.display()), &format!("{u}/c/pins/{any}")]);
    assert_eq!(code, 200);
}

#[test]
fn slow_clients_are_cut_off() {
    let env = ServeEnv::new();
    let server = start(&env, &[]);
    let a = server.addr.clone();
    assert_eq!(raw_http(&a, &request("POST", "/r/?create=true", "", b"")).0, 200);
    // A body that stops coming: 408 (the test server waits 2 s between reads).
    let name = sha256_hex(&[1u8; 100]);
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(&request("POST", &format!("/r/keys/{name}"), "Content-Length: 100\r\n", &[1u8; 10])).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let (code, text) = status_of(&out);
    assert_eq!(code, 408, "{text}");
    no_temporaries_left(&env.root());
    assert!(!env.root().join("r/keys").join(&name).exists());
    // Headers that never end: the connection is closed.
    let mut s = TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /r/config HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut out = Vec::new();
    let read = s.read_to_end(&mut out);
    assert!(read.is_ok(), "closed by the server, not by the 60 s read timeout: {read:?}");
    assert!(!String::from_utf8_lossy(&out).contains(" 200 "), "{}", String::from_utf8_lossy(&out));
    // The server still answers.
    assert_eq!(raw_http(&a, &request("GET", "/r/keys/", "", b"")).0, 200);
}

#[test]
fn many_clients_at_once_beyond_the_connection_limit() {
    let env = ServeEnv::new();
    let server = start(&env, &["--max-connections", "4"]);
    let a = server.addr.clone();
    assert_eq!(raw_http(&a, &request("POST", "/r/?create=true", "", b"")).0, 200);
    let threads: Vec<_> = (0..32u32)
        .map(|i| {
            let a = a.clone();
            std::thread::spawn(move || {
                let body = format!("object number {i} ").repeat(1000).into_bytes();
                let name = sha256_hex(&body);
                let path = format!("/r/snapshots/{name}");
                let len = format!("Content-Length: {}\r\n", body.len());
                let (code, text) = raw_http(&a, &request("POST", &path, &len, &body));
                assert_eq!(code, 200, "{text}");
                let (code, text) = raw_http(&a, &request("GET", &path, "", b""));
                assert_eq!(code, 200);
                assert!(text.ends_with(&String::from_utf8(body).unwrap()));
                name
            })
        })
        .collect();
    let mut names: Vec<PathBuf> = threads.into_iter().map(|t| PathBuf::from(t.join().unwrap())).collect();
    names.sort();
    assert_eq!(files_under(&env.root().join("r/snapshots")), names);
    let (code, text) = raw_http(&a, &request("GET", "/r/snapshots/", "", b""));
    assert_eq!(code, 200);
    assert_eq!(text.matches("\"").count(), 64, "the v1 listing names the 32 objects: {text}");
}

/// The server's peak memory (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 48 MiB object goes in and out (to a slow reader) without the server
/// ever holding more than a fraction of it: uploads are streamed to the
/// spool, downloads from the file.
#[test]
fn large_objects_stream_through_bounded_memory() {
    let env = ServeEnv::new();
    let server = start(&env, &[]);
    assert_eq!(raw_http(&server.addr, &request("POST", "/r/?create=true", "", b"")).0, 200);
    let blob = env.path("blob");
    let mut f = fs::File::create(&blob).unwrap();
    for i in 0..48u64 {
        f.write_all(&super::common::noise(1 << 20, i)).unwrap();
    }
    drop(f);
    let name = String::from_utf8(std::process::Command::new("sha256sum").arg(&blob).output().unwrap().stdout).unwrap()
        [..64]
        .to_string();
    let before = peak_kib(server.pid());
    let url = format!("{}/r/data/{name}", server.url());
    // -T streams the file (--data-binary would read it whole first).
    assert_eq!(curl(&["-X", "POST", "-H", "Expect:", "-T", blob.to_str().unwrap(), &url]).0, 200);
    let out = env.path("out");
    let got = std::process::Command::new("curl")
        .args(["-s", "--max-time", "120", "--limit-rate", "48M", "-o", out.to_str().unwrap(), &url])
        .status()
        .unwrap();
    assert!(got.success());
    assert!(fs::read(&out).unwrap() == fs::read(&blob).unwrap());
    let grown = peak_kib(server.pid()).saturating_sub(before);
    assert!(grown < 24 * 1024, "the server's peak memory grew by {grown} KiB for a 48 MiB object");
}
