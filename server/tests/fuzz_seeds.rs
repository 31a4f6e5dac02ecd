//! The seed corpus of the `serve_input` fuzz target (`fuzz/corpus/serve_input/`)
//! as a regression test on stable Rust, as core's `fuzz_seeds` does for the
//! on-disk parsers: every corpus file runs through the entry point without a
//! panic, and the corpus holds every seed built below byte for byte
//! (`CAIRN_WRITE_FUZZ_SEEDS=1` writes the missing and different ones).

use std::path::PathBuf;

use cairn_server::fuzz_entry::serve_input;

const WRITE_VAR: &str = "CAIRN_WRITE_FUZZ_SEEDS";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/serve_input")
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$G8KHq5jBixz+Y1mh4qVtBw6N9xtDxq1ZqZcLNpkqd2Y";
const BCRYPT: &str = "$2y$04$bbbbbbbbbbbbbbbbbbbbbeVh5e2yt2H7Ny3qQnDZb6a7dxe5Jtf0m";

/// (name, bytes): first byte picks the parser (0 path, 1 range, 2 htpasswd, 3 Basic).
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |name: &str, which: u8, body: &[u8]| {
        let mut b = vec![which];
        b.extend_from_slice(body);
        out.push((name.to_string(), b));
    };
    let paths = [
        ("root", "/".to_string()),
        ("root-config", "/config".into()),
        ("named-list", "/alice/data/".into()),
        ("named-object", format!("/alice/keys/{ID}")),
        ("maintenance", "/alice/cairn/maintenance".into()),
        ("dotdot", "/../config".into()),
        ("encoded-dotdot", "/%2e%2e/config".into()),
        ("encoded-slash", "/a%2fb/config".into()),
        ("bad-escape", "/a%z/".into()),
        ("uppercase-id", format!("/alice/data/{}", ID.to_uppercase())),
        ("too-deep", "/a/b/c/d/e/f".into()),
    ];
    for (name, p) in paths {
        add(&format!("path-{name}"), 0, p.as_bytes());
    }
    let size = 1000u64.to_le_bytes();
    for (name, r) in [
        ("a-b", "bytes=0-99"),
        ("a-", "bytes=10-"),
        ("suffix", "bytes=-10"),
        ("beyond", "bytes=2000-"),
        ("multi", "bytes=0-1,5-6"),
        ("huge", "bytes=18446744073709551615-18446744073709551615"),
    ] {
        let mut b = size.to_vec();
        b.extend_from_slice(r.as_bytes());
        add(&format!("range-{name}"), 1, &b);
    }
    add("htpasswd-valid", 2, format!("# users\nalice:{BCRYPT}\nbob:{ARGON2ID}\n").as_bytes());
    add("htpasswd-md5", 2, b"alice:$apr1$abc$def\n");
    add("htpasswd-twice", 2, format!("a:{BCRYPT}\na:{BCRYPT}\n").as_bytes());
    add("htpasswd-no-colon", 2, b"alice\n");
    add("basic-valid", 3, b"Basic YWxpY2U6c2VjcmV0");
    add("basic-no-colon", 3, b"Basic YWxpY2U=");
    add("basic-bad-base64", 3, b"Basic !!!!");
    add("bearer", 3, b"Bearer abc");
    out
}

#[test]
fn corpus_runs_without_panics() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus folder {} is empty", dir.display());
    let mut failures = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        if std::panic::catch_unwind(|| serve_input(&bytes)).is_err() {
            failures.push(file.display().to_string());
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn seed_corpus_is_current() {
    let write = std::env::var_os(WRITE_VAR).is_some_and(|v| v == "1");
    let dir = corpus_dir();
    let mut stale = Vec::new();
    for (name, bytes) in seeds() {
        serve_input(&bytes);
        let path = dir.join(&name);
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            stale.push(name);
        }
    }
    assert!(stale.is_empty(), "seeds missing or different (run with {WRITE_VAR}=1 and commit them): {stale:?}");
}

#[test]
fn the_valid_seeds_parse() {
    assert!(cairn_server::auth::htpasswd::parse(&format!("alice:{BCRYPT}\nbob:{ARGON2ID}\n")).is_ok());
    assert!(cairn_server::route::parse_path(&format!("/alice/keys/{ID}")).is_ok());
    assert_eq!(cairn_server::auth::parse_basic(b"Basic YWxpY2U6c2VjcmV0"), Some(("alice".into(), b"secret".to_vec())));
}
