//! Who may use what on `cairn serve`: Unix-socket clients known by their
//! uid (`setpriv` runs curl as `nobody` where the tests run as root), TCP
//! clients by htpasswd users (written by `cairn serve htpasswd`), TLS with a
//! self-signed certificate (curl and restic with `--cacert`),
//! `--private-repos`, and append-only lock ownership between two users.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::common::{bare_std_cairn, is_root};
use super::common_serve_http::{ServeEnv, Server, curl, have_restic, restic, run_bounded, sha256_hex};

const LOCK_BODY: &[u8] = b"{}";

/// `cairn serve htpasswd FILE USER` with the password on stdin.
fn add_user(home: &Path, file: &Path, user: &str, password: &str) {
    let mut cmd = bare_std_cairn(home);
    let mut child = cmd
        .args(["serve", "htpasswd"])
        .arg(file)
        .arg(user)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn htpasswd_users_private_repositories_and_lock_ownership_on_tcp() {
    let env = ServeEnv::new();
    let users = env.path("users");
    add_user(&env.home(), &users, "alice", "alice pw");
    add_user(&env.home(), &users, "bob", "bob pw");
    add_user(&env.home(), &users, "alice", "new alice pw");
    assert_eq!(fs::metadata(&users).unwrap().permissions().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&users).unwrap();
    assert_eq!(text.lines().count(), 2, "alice was replaced, not added twice: {text}");
    assert!(text.lines().all(|l| l.contains(":$argon2id$")), "{text}");

    let args = ["--htpasswd-file", users.to_str().unwrap(), "--private-repos", "--append-only"];
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &args);
    let url =
        |user: &str, pw: &str, path: &str| format!("http://{user}:{}@{}{path}", pw.replace(' ', "%20"), server.addr);
    let anon = format!("{}/alice/config", server.url());
    let (code, body) = curl(&["-I", &anon]);
    assert_eq!(code, 401, "{body}");
    let (code, _) = curl(&["-I", &url("alice", "alice pw", "/alice/config")]);
    assert_eq!(code, 401, "the replaced password no longer works");
    let (code, body) = curl(&["-X", "POST", &url("alice", "new alice pw", "/alice/?create=true")]);
    assert_eq!(code, 200, "{body}");
    assert!(env.root().join("alice/data/ff").is_dir());
    // Private repositories: bob may not touch alice's, nor the root one.
    let (code, body) = curl(&["-I", &url("bob", "bob pw", "/alice/config")]);
    assert_eq!(code, 403, "{body}");
    let (code, _) = curl(&["-X", "POST", &url("bob", "bob pw", "/?create=true")]);
    assert_eq!(code, 403);
    let (code, _) = curl(&["-X", "POST", &url("bob", "bob pw", "/bob/?create=true")]);
    assert_eq!(code, 200);

    // Append-only: alice's lock is deletable by alice only; her snapshots
    // by nobody.
    let lock_file = env.path("lock");
    fs::write(&lock_file, LOCK_BODY).unwrap();
    let name = sha256_hex(LOCK_BODY);
    let data = format!("@{}", lock_file.display());
    // Before any config the server accepts restic's or cairn's name.
    let (code, body) =
        curl(&["-X", "POST", "--data-binary", &data, &url("alice", "new alice pw", &format!("/alice/locks/{name}"))]);
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &data,
        &url("alice", "new alice pw", &format!("/alice/snapshots/{name}")),
    ]);
    assert_eq!(code, 200);
    let (code, body) = curl(&["-X", "DELETE", &url("alice", "new alice pw", &format!("/alice/snapshots/{name}"))]);
    assert_eq!(code, 403, "{body}");
    assert!(env.root().join("alice/snapshots").join(&name).exists());
    let (code, body) = curl(&["-X", "DELETE", &url("alice", "new alice pw", &format!("/alice/locks/{name}"))]);
    assert_eq!(code, 200, "{body}");
    assert!(!env.root().join("alice/locks").join(&name).exists());
    let (code, _) = curl(&["-I", &url("alice", "new alice pw", "/alice/config")]);
    assert_eq!(code, 404);
    // The append-only header is on every answer, refusals included.
    let out = run_bounded({
        let mut c = Command::new("curl");
        c.args(["-s", "-D", "-", "-o", "/dev/null", &anon]);
        c
    });
    assert!(String::from_utf8_lossy(&out.stdout).to_lowercase().contains("x-cairn-append-only: true"));
}

#[test]
fn a_lock_made_by_one_user_cannot_be_deleted_by_another() {
    let env = ServeEnv::new();
    let users = env.path("users");
    add_user(&env.home(), &users, "alice", "a");
    add_user(&env.home(), &users, "mallory", "m");
    // Without --private-repos both users may use the shared repository.
    let server = Server::start(
        &env.home(),
        &env.root(),
        "127.0.0.1:0",
        &["--htpasswd-file", users.to_str().unwrap(), "--append-only"],
    );
    let url = |user: &str, pw: &str, path: &str| format!("http://{user}:{pw}@{}{path}", server.addr);
    assert_eq!(curl(&["-X", "POST", &url("alice", "a", "/shared/?create=true")]).0, 200);
    let lock_file = env.path("lock");
    fs::write(&lock_file, LOCK_BODY).unwrap();
    let lock = format!("/shared/locks/{}", sha256_hex(LOCK_BODY));
    assert_eq!(
        curl(&["-X", "POST", "--data-binary", &format!("@{}", lock_file.display()), &url("alice", "a", &lock)]).0,
        200
    );
    assert_eq!(curl(&["-X", "DELETE", &url("mallory", "m", &lock)]).0, 403, "mallory did not create it");
    assert_eq!(curl(&["-X", "DELETE", &url("alice", "a", &lock)]).0, 200);
}

/// The socket's folder must be reachable by `nobody`.
fn open_folder(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn unix_socket_clients_are_known_by_their_uid() {
    let env = ServeEnv::new();
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let sockets = env.path("sock");
    open_folder(&sockets);
    let sock = sockets.join("serve.sock");
    let listen = format!("unix:{}", sock.display());
    let server = Server::start(&env.home(), &env.root(), &listen, &["--private-repos", "--socket-mode", "0666"]);
    assert_eq!(fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o666);
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    let s = sock.to_str().unwrap();
    let (code, body) = curl(&["--unix-socket", s, "-X", "POST", &format!("http://x/{me}/?create=true")]);
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl(&["--unix-socket", s, "-X", "POST", "http://x/someone-else/?create=true"]);
    assert_eq!(code, 403);
    assert!(!env.root().join("someone-else").exists());
    let (code, _) = curl(&["--unix-socket", s, "http://x/data/"]);
    assert_eq!(code, 403, "the root repository is nobody's under --private-repos");
    if !is_root() {
        eprintln!("note: not root; the test as another user (setpriv) is skipped");
        drop(server);
        return;
    }
    // `nobody` may create and use its own repository, not root's.
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "curl", "-s", "--max-time", "60"])
            .args(["-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", s])
            .args(args);
        let out = run_bounded(c);
        String::from_utf8_lossy(&out.stdout).trim().parse::<u16>().unwrap_or(0)
    };
    assert_eq!(as_nobody(&["-X", "POST", "http://x/nobody/?create=true"]), 200);
    assert!(env.root().join("nobody/keys").is_dir());
    assert_eq!(as_nobody(&["-I", &format!("http://x/{me}/config")]), 403, "nobody may not use {me}'s repository");
    assert_eq!(as_nobody(&["http://x/nobody/keys/"]), 200);
    let (code, _) = curl(&["--unix-socket", s, "http://x/nobody/keys/"]);
    assert_eq!(code, 403, "nor {me} nobody's");
    // SIGTERM: a graceful stop that removes the socket.
    assert!(server.stop().success());
    assert!(!sock.exists(), "the socket file is removed at a graceful stop");
}

/// A self-signed certificate for 127.0.0.1 (openssl), returns (cert, key).
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = run_bounded({
        let mut c = Command::new("openssl");
        c.args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert);
        c
    });
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

#[test]
fn tls_with_a_self_signed_certificate_for_curl_and_restic() {
    let env = ServeEnv::new();
    let users = env.path("users");
    add_user(&env.home(), &users, "carol", "c pw");
    let (cert, key) = certificate(env.dir.path());
    let args = [
        "--htpasswd-file",
        users.to_str().unwrap(),
        "--tls",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &args);
    let https = format!("https://carol:c%20pw@{}", server.addr);
    let c = cert.to_str().unwrap();
    // Without the certificate curl refuses the server; with it, it works.
    assert_eq!(curl(&["-I", &format!("{https}/carol/config")]).0, 0, "an unknown certificate is refused by curl");
    assert_eq!(curl(&["--cacert", c, "-X", "POST", &format!("{https}/carol/?create=true")]).0, 200);
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(curl(&["-I", &format!("http://carol:c%20pw@{}/carol/config", server.addr)]).0, 0);
    if !have_restic() {
        return;
    }
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), b"over TLS\n").unwrap();
    let repo = format!("rest:https://carol:c%20pw@{}/carol-restic/", server.addr);
    for args in [vec!["init"], vec!["backup", src.to_str().unwrap()], vec!["check", "--read-data"]] {
        let mut cmd = restic(&env.home(), &repo);
        cmd.args(["--cacert", c]).args(&args);
        let out = run_bounded(cmd);
        assert!(out.status.success(), "restic {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut wrong = restic(&env.home(), &format!("rest:https://carol:wrong@{}/carol-restic/", server.addr));
    wrong.args(["--cacert", c, "snapshots"]);
    assert!(!run_bounded(wrong).status.success(), "a wrong password is refused");
}
