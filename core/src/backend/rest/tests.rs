//! The client against a stand-in for restic's rest-server 0.12.1, which
//! these machines cannot install (no Go module proxy; it was built once by
//! hand from Debian's Go packages and these are its answers, recorded): it
//! reads `pins/` and `policy/` as nested repositories (GET → 405, POST →
//! 404), refuses a body whose SHA-256 is not its name with a bare 400, and
//! answers 401 to wrong credentials. The stand-in answers by request line
//! only, one request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use super::location::RestLocation;
use super::{RestBackend, RestOptions};
use crate::backend::{Backend, FileKind};
use crate::id::Id;

/// A server on 127.0.0.1 answering each request with `answer(method, path)`.
fn stand_in(answer: fn(&str, &str) -> (u16, &'static str)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let _ = (&mut reader).take(length as u64).read_to_end(&mut Vec::new());
            let (status, body) = answer(&method, &path);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("rest:http://127.0.0.1:{port}/r1/")
}

fn backend(location: &str) -> RestBackend {
    RestBackend::new(RestLocation::parse(location).unwrap(), &RestOptions::default()).unwrap()
}

fn rest_server(method: &str, path: &str) -> (u16, &'static str) {
    match (method, path) {
        ("GET", "/r1/pins/" | "/r1/policy/") => (405, "Method Not Allowed\n"),
        ("POST", p) if p.starts_with("/r1/pins/") || p.starts_with("/r1/policy/") => (404, "Not Found\n"),
        ("POST", p) if p.starts_with("/r1/keys/") => (400, "Bad Request\n"),
        ("GET", "/r1/keys/") => (200, "[]"),
        _ => (404, "Not Found\n"),
    }
}

#[test]
fn cairns_own_kinds_list_empty_on_a_server_without_them() {
    let b = backend(&stand_in(rest_server));
    assert!(b.list(FileKind::Pin).unwrap().is_empty());
    assert!(b.list(FileKind::Policy).unwrap().is_empty());
    assert!(b.list(FileKind::Key).unwrap().is_empty());
}

#[test]
fn refusals_of_such_a_server_say_what_to_do() {
    let b = backend(&stand_in(rest_server));
    let id = Id::of_file_bytes(b"pin");
    let err = b.create(FileKind::Pin, &id, b"pin").unwrap_err().to_string();
    assert!(err.contains("does not store cairn's pins and policies") && err.contains("cairn serve"), "{err}");
    let err = b.create(FileKind::Key, &Id::of_file_bytes(b"key"), b"key").unwrap_err().to_string();
    assert!(err.contains("--no-verify-upload"), "{err}");
}

#[test]
fn wrong_credentials_are_told_from_missing_ones() {
    let location = stand_in(|_, _| (401, "Unauthorized\n"));
    let err = backend(&location).read_config().unwrap_err().to_string();
    assert!(err.contains("give the user and password"), "{err}");
    let with_user = location.replace("http://", "http://alice:wrong@");
    let err = backend(&with_user).read_config().unwrap_err().to_string();
    assert!(err.contains("refused the user and password given") && !err.contains("wrong"), "{err}");
}
