//! The backend conformance suite (core's, the rules every backend keeps)
//! run through cairn's `rest:` client against an in-process `cairn serve`:
//! on a Unix socket, on TCP without users and on TCP with htpasswd users,
//! for a named repository and for the root one. Also what only a server
//! can get wrong: a wrong password is one clear line naming the URL, and
//! an append-only server's refusals reach the client as `AppendOnly`.

use std::path::Path;
use std::sync::Arc;

use cairn_core::backend::conformance::{Subject, plant_in_folder};
use cairn_core::backend::rest::{RestBackend, RestLocation, RestOptions};
use cairn_core::backend::{Backend, FileKind};
use cairn_server::{Listen, ServeOptions, ServerHandle};

/// A server in a temporary folder, stopped (then the folder removed) when
/// the subject is dropped.
struct Served {
    _server: ServerHandle,
    _dir: tempfile::TempDir,
}

fn start(dir: &Path, listen: Listen, configure: impl FnOnce(&mut ServeOptions)) -> ServerHandle {
    let mut opts = ServeOptions::new(dir.join("root"), listen);
    std::fs::create_dir(&opts.root).unwrap();
    configure(&mut opts);
    cairn_server::spawn(opts).expect("the server starts")
}

fn client(url: &str, options: &RestOptions) -> Arc<dyn Backend> {
    Arc::new(RestBackend::new(RestLocation::parse(url).unwrap(), options).unwrap())
}

/// A laid-out repository `name` ("" for the root one) on a served root.
fn subject(url: impl FnOnce(&ServerHandle, &Path) -> String, listen: Listen, name: &str, users: bool) -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let mut options = RestOptions::default();
    if users {
        let hash = cairn_server::auth::htpasswd::hash_argon2id(b"pass word").unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("tester:{hash}\n")).unwrap();
        options.user = Some("tester".into());
        options.password = Some("pass word".into());
    }
    let htpasswd = dir.path().join("htpasswd");
    let server = start(dir.path(), listen, |o| {
        o.no_auth = !users;
        o.htpasswd_file = Some(htpasswd);
    });
    let backend = client(&url(&server, dir.path()), &options);
    backend.create_layout().unwrap();
    let folder = if name.is_empty() { dir.path().join("root") } else { dir.path().join("root").join(name) };
    Subject {
        backend,
        plant: plant_in_folder(folder),
        keep: vec![Box::new(Served { _server: server, _dir: dir })],
        content_addressed: true,
    }
}

fn unix() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let mut s =
        subject(|_, _| format!("rest:unix:{}:/repo/", socket.display()), Listen::Unix(socket.clone()), "repo", false);
    s.keep.push(Box::new(dir));
    s
}

fn unix_root_repository() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let mut s = subject(|_, _| format!("rest:unix:{}", socket.display()), Listen::Unix(socket.clone()), "", false);
    s.keep.push(Box::new(dir));
    s
}

fn tcp() -> Subject {
    let url = |h: &ServerHandle, _: &Path| format!("rest:http://{}/repo/", h.addr().unwrap());
    subject(url, Listen::Tcp("127.0.0.1:0".parse().unwrap()), "repo", false)
}

/// A self-signed certificate for 127.0.0.1 (openssl): (cert, key).
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        // rustls (webpki) refuses a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// TLS, trusting the server's self-signed certificate through `cacert`
/// (what CAIRN_CACERT gives).
fn tls() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = start(dir.path(), Listen::Tcp("127.0.0.1:0".parse().unwrap()), |o| {
        o.no_auth = true;
        o.tls = Some(cairn_server::TlsFiles { cert: cert.clone(), key });
    });
    let options = RestOptions { cacert: Some(cert), ..RestOptions::default() };
    let backend = client(&format!("rest:https://{}/repo/", server.addr().unwrap()), &options);
    backend.create_layout().unwrap();
    Subject {
        backend,
        plant: plant_in_folder(dir.path().join("root/repo")),
        keep: vec![Box::new(Served { _server: server, _dir: dir })],
        content_addressed: true,
    }
}

#[test]
fn tls_without_the_certificate_trusted_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = start(dir.path(), Listen::Tcp("127.0.0.1:0".parse().unwrap()), |o| {
        o.no_auth = true;
        o.tls = Some(cairn_server::TlsFiles { cert, key });
    });
    let backend = client(&format!("rest:https://{}/repo/", server.addr().unwrap()), &RestOptions::default());
    let err = backend.read_config().unwrap_err().to_string();
    assert!(err.contains("rest:https://") && err.to_lowercase().contains("certificate"), "{err}");
}

fn tcp_with_users() -> Subject {
    let url = |h: &ServerHandle, _: &Path| format!("rest:http://{}/tester/", h.addr().unwrap());
    subject(url, Listen::Tcp("127.0.0.1:0".parse().unwrap()), "tester", true)
}

cairn_core::backend_conformance_suite!(over_a_unix_socket, super::unix);
cairn_core::backend_conformance_suite!(the_root_repository_over_a_unix_socket, super::unix_root_repository);
cairn_core::backend_conformance_suite!(over_tcp, super::tcp);
cairn_core::backend_conformance_suite!(over_tcp_with_users, super::tcp_with_users);
cairn_core::backend_conformance_suite!(over_tls, super::tls);

#[test]
fn a_wrong_password_is_one_line_naming_the_url_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let hash = cairn_server::auth::htpasswd::hash_argon2id(b"right").unwrap();
    std::fs::write(dir.path().join("htpasswd"), format!("tester:{hash}\n")).unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let server = start(dir.path(), Listen::Tcp("127.0.0.1:0".parse().unwrap()), |o| o.htpasswd_file = Some(htpasswd));
    let url = format!("rest:http://tester:wrong-secret@{}/tester/", server.addr().unwrap());
    let backend = client(&url, &RestOptions::default());
    let err = backend.read_config().unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{text}");
    assert!(text.contains("401") && text.contains("CAIRN_REST_PASSWORD"), "{text}");
    assert!(text.contains(&format!("rest:http://tester:***@{}/tester/config", server.addr().unwrap())), "{text}");
    assert!(!text.contains("wrong-secret") && !text.contains('\n'), "{text}");
    assert!(!backend.location().contains("wrong-secret"));
}

#[test]
fn an_append_only_server_says_so_and_refuses_deletions_but_not_the_clients_own_locks() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let _server = start(dir.path(), Listen::Unix(socket.clone()), |o| o.append_only = true);
    let backend = client(&format!("rest:unix:{}:/r/", socket.display()), &RestOptions::default());
    backend.create_layout().unwrap();
    assert!(backend.append_only(), "the header of the first answers");
    let pack = backend.write(FileKind::Pack, b"pack").unwrap();
    let err = cairn_core::Error::from(backend.remove(FileKind::Pack, &pack).unwrap_err());
    assert!(matches!(&err, cairn_core::Error::AppendOnly(l) if l.ends_with("/r/")), "{err}");
    assert!(err.to_string().contains("is append-only: forget and prune run on the server"), "{err}");
    assert_eq!(backend.read(FileKind::Pack, &pack).unwrap(), b"pack");
    // The concurrency protocol's markers: created here, removed here.
    let lock = backend.write(FileKind::Lock, b"marker").unwrap();
    backend.remove(FileKind::Lock, &lock).unwrap();
    assert!(backend.list(FileKind::Lock).unwrap().is_empty());
    // No maintenance has run: no report.
    assert_eq!(backend.server_report().unwrap(), None);
}

/// A server that is not there yet (restarting) is waited for: failures to
/// connect are retried with backoff, and the request then gets its answer.
#[test]
fn a_server_that_comes_up_late_is_retried_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("r")).unwrap();
    let backend = client(&format!("rest:unix:{}:/r/", socket.display()), &RestOptions::default());
    let late = std::thread::spawn({
        let socket = socket.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(600));
            cairn_server::spawn(ServeOptions::new(root, Listen::Unix(socket))).unwrap()
        }
    });
    let err = backend.read_config().unwrap_err();
    assert!(err.is_not_found(), "the answer of the server once up, not the refused connection: {err}");
    drop(late.join().unwrap());
}
