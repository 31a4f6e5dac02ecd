//! The REST protocol as `cairn serve` answers it (format-spec §15), request
//! by request with curl: creating a repository, the config's rules, v1 and
//! v2 listings with `mtime_ns`, HEAD sizes, the three Range forms and 416,
//! deletion, the maintenance report and unknown methods.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use super::common_serve_http::{ServeEnv, Server, run_bounded, sha256_hex};

/// curl returning (status, headers in lower case, body).
fn http(args: &[&str]) -> (u16, String, Vec<u8>) {
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "60", "-D", "/dev/stderr", "-o", "-"]).args(args);
    let out = run_bounded(c);
    let headers = String::from_utf8_lossy(&out.stderr).to_lowercase();
    let code = headers.strip_prefix("http/1.1 ").and_then(|h| h.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, headers, out.stdout)
}

fn post_file(env: &ServeEnv, url: &str, bytes: &[u8]) -> u16 {
    let f = env.path("body");
    fs::write(&f, bytes).unwrap();
    http(&["-X", "POST", "--data-binary", &format!("@{}", f.display()), url]).0
}

#[test]
fn the_protocol_request_by_request() {
    let env = ServeEnv::new();
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &["--no-auth"]);
    let u = format!("{}/p", server.url());

    // A repository: created (again while it has no config), then 409.
    assert_eq!(http(&["-X", "POST", &format!("{u}/?create=true")]).0, 200);
    assert_eq!(http(&["-X", "POST", &format!("{u}/?create=true")]).0, 200);
    assert_eq!(fs::read_dir(env.root().join("p/data")).unwrap().count(), 256);
    assert_eq!(fs::metadata(env.root().join("p")).unwrap().mode() & 0o777, 0o700);
    assert_eq!(http(&["-X", "POST", &format!("{u}/")]).0, 400, "POST without ?create=true");
    assert_eq!(http(&["-X", "PUT", &format!("{u}/config")]).0, 404, "no config to replace yet");
    assert_eq!(http(&["-I", &format!("{u}/config")]).0, 404);
    assert_eq!(post_file(&env, &format!("{u}/config"), b"{\"a restic\":\"config\"}"), 200);
    assert_eq!(http(&["-X", "POST", &format!("{u}/?create=true")]).0, 409);
    assert_eq!(post_file(&env, &format!("{u}/config"), b"another"), 403, "never replaced by POST");
    let (code, headers, _) = http(&["-I", &format!("{u}/config")]);
    assert_eq!(code, 200);
    assert!(headers.contains("content-length: 21"), "{headers}");
    assert_eq!(http(&["-X", "DELETE", &format!("{u}/config")]).0, 403);
    let f = env.path("cfg2");
    fs::write(&f, b"{\"upgraded\":1}").unwrap();
    assert_eq!(http(&["-X", "PUT", "--data-binary", &format!("@{}", f.display()), &format!("{u}/config")]).0, 200);
    assert_eq!(http(&[&format!("{u}/config")]).2, b"{\"upgraded\":1}");

    // An object: HEAD, GET, the three ranges, 416.
    let body: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let name = sha256_hex(&body);
    let obj = format!("{u}/snapshots/{name}");
    assert_eq!(post_file(&env, &obj, &body), 200);
    let (code, headers, _) = http(&["-I", &obj]);
    assert_eq!(code, 200);
    assert!(headers.contains("content-length: 1000"), "{headers}");
    assert_eq!(http(&[&obj]).2, body);
    for (range, start, end) in
        [("bytes=10-19", 10, 19), ("bytes=990-", 990, 999), ("bytes=-5", 995, 999), ("bytes=900-5000", 900, 999)]
    {
        let (code, headers, got) = http(&["-H", &format!("Range: {range}"), &obj]);
        assert_eq!(code, 206, "{range}");
        assert_eq!(got, body[start..=end], "{range}");
        assert!(headers.contains(&format!("content-range: bytes {start}-{end}/1000")), "{range}: {headers}");
    }
    let (code, headers, _) = http(&["-H", "Range: bytes=1000-", &obj]);
    assert_eq!(code, 416);
    assert!(headers.contains("content-range: bytes */1000"), "{headers}");

    // Listings: v1 names, v2 names, sizes and the storage's mtime.
    let (code, headers, listed) = http(&[&format!("{u}/snapshots/")]);
    assert_eq!(code, 200);
    assert!(headers.contains("content-type: application/vnd.x.restic.rest.v1"), "{headers}");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&listed).unwrap(), serde_json::json!([name]));
    let (_, headers, listed) = http(&["-H", "Accept: application/vnd.x.restic.rest.v2", &format!("{u}/snapshots/")]);
    assert!(headers.contains("content-type: application/vnd.x.restic.rest.v2"), "{headers}");
    let md = fs::metadata(env.root().join("p/snapshots").join(&name)).unwrap();
    let mtime_ns = md.mtime() as u64 * 1_000_000_000 + md.mtime_nsec() as u64;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&listed).unwrap(),
        serde_json::json!([{ "name": name, "size": 1000, "mtime_ns": mtime_ns }])
    );
    // A folder dropped by a copy lists as empty.
    fs::remove_dir(env.root().join("p/policy")).unwrap();
    assert_eq!(http(&[&format!("{u}/policy/")]).2, b"[]");

    // Methods that are not part of the protocol.
    assert_eq!(http(&["-X", "PUT", "--data-binary", "x", &obj]).0, 405);
    assert_eq!(http(&["-X", "PATCH", &format!("{u}/snapshots/")]).0, 405);

    // Deletion (not append-only): 200, then 404.
    assert_eq!(http(&["-X", "DELETE", &obj]).0, 200);
    assert_eq!(http(&["-X", "DELETE", &obj]).0, 404);
    assert_eq!(http(&["-I", &obj]).0, 404);
    assert_eq!(http(&[&format!("{}/nope/config", server.url())]).0, 404, "no such repository");

    // The maintenance report: 404 until the server's maintenance writes it.
    assert_eq!(http(&[&format!("{u}/cairn/maintenance")]).0, 404);
    let reports = env.root().join(".cairn-serve/maintenance");
    fs::create_dir_all(&reports).unwrap();
    fs::write(reports.join("p.json"), b"{\"forget\":null}").unwrap();
    fs::write(reports.join("_root.json"), b"{\"root\":1}").unwrap();
    let (code, headers, got) = http(&[&format!("{u}/cairn/maintenance")]);
    assert_eq!((code, got.as_slice()), (200, b"{\"forget\":null}".as_slice()));
    assert!(headers.contains("content-type: application/json"), "{headers}");
    assert_eq!(http(&[&format!("{}/cairn/maintenance", server.url())]).2, b"{\"root\":1}");
    fs::write(reports.join("p.json"), vec![b' '; 65 * 1024]).unwrap();
    assert_eq!(http(&[&format!("{u}/cairn/maintenance")]).0, 500, "a report over 64 KiB is not served");
    // The server's own folder is never a repository.
    assert_eq!(http(&[&format!("{}/.cairn-serve/maintenance/", server.url())]).0, 400);
}

/// SIGTERM while an upload is half sent: the server stops accepting, the
/// upload in flight finishes and is stored, then the process exits 0.
#[test]
fn a_graceful_stop_finishes_the_upload_in_flight() {
    use std::io::{Read, Write};
    let env = ServeEnv::new();
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &["--no-auth"]);
    let addr = server.addr.clone();
    assert_eq!(http(&["-X", "POST", &format!("{}/g/?create=true", server.url())]).0, 200);
    let body = vec![42u8; 100_000];
    let name = sha256_hex(&body);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let head = format!("POST /g/data/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..50_000]).unwrap();
    // The server has begun the request once the spool exists.
    let data = env.root().join("g/data");
    let spooling =
        || fs::read_dir(&data).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".tmp-"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !spooling() {
        assert!(std::time::Instant::now() < deadline, "the upload never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let pid = server.pid();
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    // New connections are refused once the listener is closed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the server kept accepting after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    s.write_all(&body[50_000..]).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(fs::read(data.join(&name[..2]).join(&name)).unwrap(), body);
    assert!(!spooling());
    assert!(server.stop().success());
}

/// A new user's first `cairn serve ROOT` on a root that does not exist yet
/// (as rest-server does with its `--path`): the root is made, private, and
/// serves; a root that is a file is refused in one line.
#[test]
fn a_missing_root_is_created_private() {
    let env = ServeEnv::new();
    let root = env.path("new-root");
    let server = Server::start(&env.home(), &root, "127.0.0.1:0", &["--no-auth"]);
    assert_eq!(fs::metadata(&root).unwrap().mode() & 0o777, 0o700);
    assert_eq!(http(&["-X", "POST", &format!("{}/p/?create=true", server.url())]).0, 200);
    assert!(root.join("p/config").symlink_metadata().is_err() && root.join("p/data").is_dir());
    drop(server);

    let file = env.path("a-file");
    fs::write(&file, b"x").unwrap();
    let out = run_bounded({
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.arg("serve").arg(&file).args(["--listen", "127.0.0.1:0", "--no-auth"]);
        c
    });
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a folder") && err.lines().count() == 1, "{err}");
}
