//! Names safe to print (issue 10.6): text output escapes control characters
//! and invalid UTF-8 in names (`\x1b`, `\n`, `\\`, `\xNN`), the escaped form
//! names the file again in `--path`, positional paths and globs, and JSON
//! carries the exact bytes (`path_bytes` when a name is not UTF-8).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::common::*;

const NAMES: [&[u8]; 4] = [b"esc\x1b[31mred", b"new\nline", b"caf\xe9.txt", b"back\\slash"];
const SHOWN: [&str; 4] = ["esc\\x1b[31mred", "new\\nline", "caf\\xe9.txt", "back\\\\slash"];

fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let src = fs::canonicalize(env.dir.path()).unwrap().join("src");
    fs::create_dir_all(&src).unwrap();
    for (i, name) in NAMES.iter().enumerate() {
        fs::write(src.join(OsStr::from_bytes(name)), format!("file {i}\n")).unwrap();
    }
    env.snapshot_json(&[&src]);
    (env, src)
}

fn run(env: &Env, args: &[&OsStr]) -> std::process::Output {
    let out = env.cairn().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    out
}

fn o(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// No byte of `text` moves the terminal: no control byte but the newline
/// that ends each line, and valid UTF-8.
fn assert_printable(what: &str, text: &[u8]) {
    assert!(std::str::from_utf8(text).is_ok(), "{what}: not UTF-8: {text:?}");
    assert!(
        !text.iter().any(|&b| (b < 0x20 && b != b'\n') || b == 0x7f),
        "{what}: {:?}",
        String::from_utf8_lossy(text)
    );
}

#[test]
fn text_output_is_escaped_and_json_carries_the_exact_bytes() {
    let (env, src) = setup();
    let out = run(&env, &[o("ls"), o("-R"), o("latest")]);
    assert_printable("ls -R", &out.stdout);
    let lines: BTreeSet<String> = stdout_of(&out).lines().map(String::from).collect();
    for shown in SHOWN {
        assert!(lines.contains(&format!("{}/{shown}", src.display())), "{shown}: {lines:#?}");
    }
    let long = run(&env, &[o("ls"), o("-l"), o("latest"), src.as_os_str()]);
    assert_printable("ls -l", &long.stdout);

    // JSON: every name back, byte for byte.
    let out = run(&env, &[o("ls"), o("-R"), o("latest"), o("--json")]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: BTreeSet<Vec<u8>> = BTreeSet::new();
    for e in listed.as_array().unwrap() {
        let bytes = match e.get("path_bytes") {
            Some(b) => b.as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as u8).collect(),
            None => e["path"].as_str().unwrap().as_bytes().to_vec(),
        };
        if let Some(name) =
            Path::new(OsStr::from_bytes(&bytes)).strip_prefix(&src).ok().filter(|n| !n.as_os_str().is_empty())
        {
            names.insert(name.as_os_str().as_bytes().to_vec());
        }
    }
    assert_eq!(names, NAMES.iter().map(|n| n.to_vec()).collect::<BTreeSet<_>>());
    let utf8 = listed.as_array().unwrap().iter().find(|e| e["path"].as_str().unwrap().ends_with("line")).unwrap();
    assert!(utf8.get("path_bytes").is_none(), "only for names that are not UTF-8: {utf8}");

    // diff and find print names escaped too.
    for (i, name) in NAMES.iter().enumerate() {
        fs::write(src.join(OsStr::from_bytes(name)), format!("changed {i}\n")).unwrap();
    }
    let diff = run(&env, &[o("diff"), o("latest")]);
    assert_printable("diff", &diff.stdout);
    assert!(stdout_of(&diff).contains(&format!("M  {}/esc\\x1b[31mred", src.display())), "{}", stdout_of(&diff));
    let diff = run(&env, &[o("diff"), o("latest"), o("--content")]);
    assert_printable("diff --content", &diff.stdout);
    let found = run(&env, &[o("find"), o("*")]);
    assert_printable("find", &found.stdout);
    assert!(stdout_of(&found).contains(&format!("{}/new\\nline\n", src.display())), "{}", stdout_of(&found));
}

#[test]
fn the_escaped_name_names_the_file_again() {
    let (env, src) = setup();
    for (i, (name, shown)) in NAMES.iter().zip(SHOWN).enumerate() {
        let typed = format!("{}/{shown}", src.display());
        // ls by the escaped path: that one file.
        let out = run(&env, &[o("ls"), o("latest"), o(&typed)]);
        assert_eq!(stdout_of(&out), format!("{typed}\n"), "{shown}");
        // history by it.
        let out = run(&env, &[o("history"), o(&typed), o("--json")]);
        let events: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(events.as_array().unwrap().len(), 1, "{shown}: {events}");
        // restore --path by it: that file, its exact name and bytes.
        let target = env.path(&format!("out{i}"));
        run(&env, &[o("restore"), o("latest"), o("--target"), target.as_os_str(), o("--path"), o(&typed)]);
        let got: Vec<PathBuf> = listing(&target).into_iter().map(|(p, _)| p).collect();
        let want = target.join(src.strip_prefix("/").unwrap()).join(OsStr::from_bytes(name));
        assert_eq!(got, std::slice::from_ref(&want), "{shown}");
        assert_eq!(fs::read(&want).unwrap(), format!("file {i}\n").as_bytes());
    }
    // A glob holding an escape finds the file.
    let out = run(&env, &[o("find"), o("esc\\x1b[[]31m*"), o("--json")]);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(
        found[0]["path"].as_str().unwrap().as_bytes(),
        src.join(OsStr::from_bytes(NAMES[0])).as_os_str().as_bytes()
    );
    // restore --include with the escaped name.
    let target = env.path("included");
    run(&env, &[o("restore"), o("latest"), o("--target"), target.as_os_str(), o("--include"), o("new\\nline")]);
    assert_eq!(listing(&target).len(), 1);
}
