//! File names that are not UTF-8 through every command that shows or takes
//! paths (`ls --json`, `diff`, `history`, `find`, `restore --path`), and
//! output into a pipe that closes early.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// Two names that both read as "caf\u{FFFD}.txt" when decoded lossily: a
/// command that keyed files by their printed name would merge them.
const E_ACUTE: &[u8] = b"caf\xe9.txt";
const E_GRAVE: &[u8] = b"caf\xe8.txt";

fn name(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

fn json(env: &Env, args: &[&OsStr]) -> serde_json::Value {
    let out = env.cairn().args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout_of(&out)))
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn non_utf8_names_are_kept_apart_everywhere() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let src = fs::canonicalize(&src).unwrap();
    let acute: PathBuf = src.join(name(E_ACUTE));
    let grave: PathBuf = src.join(name(E_GRAVE));
    fs::write(&acute, b"acute one\n").unwrap();
    fs::write(&grave, b"grave\n").unwrap();
    fs::write(src.join("plain.txt"), b"plain\n").unwrap();
    let s1 = env.snapshot_json(&[&src])["id"].as_str().unwrap().to_string();
    fs::write(&acute, b"acute two, longer\n").unwrap();
    let s2 = env.snapshot_json(&[&src])["id"].as_str().unwrap().to_string();
    fs::remove_file(&grave).unwrap();

    // ls: three files, two of them not UTF-8.
    let listed = json(&env, &[os("ls"), os("-R"), os("latest")]);
    let files: Vec<&serde_json::Value> = listed.as_array().unwrap().iter().filter(|e| e["type"] == "file").collect();
    assert_eq!(files.len(), 3, "{listed}");
    assert_eq!(files.iter().filter(|e| e["path"].as_str().unwrap().ends_with("plain.txt")).count(), 1);
    // ls of the folder by its path, and of one non-UTF-8 file by its own.
    let one = json(&env, &[os("ls"), os("latest"), acute.as_os_str()]);
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one[0]["size"], 18);

    // diff between snapshots: only the file that changed, once.
    let d = json(&env, &[os("diff"), os(&s1), os(&s2)]);
    let changes: Vec<(&str, u64)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["new_size"].as_u64().unwrap()))
        .collect();
    assert_eq!(changes, [("M", 18)], "{d}");
    // diff with the live files: only the deleted one.
    let d = json(&env, &[os("diff"), os(&s2)]);
    let changes: Vec<(&str, u64)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["old_size"].as_u64().unwrap()))
        .collect();
    assert_eq!(changes, [("D", 6)], "{d}");

    // history of each, named by its raw bytes.
    let events = |p: &Path| -> Vec<String> {
        let h = json(&env, &[os("history"), p.as_os_str()]);
        let list = h["events"].as_array().or_else(|| h.as_array()).unwrap_or_else(|| panic!("{h}"));
        list.iter().map(|e| e["change"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(events(&acute), ["created", "modified"]);
    assert_eq!(events(&grave), ["created"]);

    // find: two paths, with two versions and one.
    let found = json(&env, &[os("find"), os("caf*")]);
    let mut versions: Vec<usize> =
        found.as_array().unwrap().iter().map(|f| f["versions"].as_array().unwrap().len()).collect();
    versions.sort();
    assert_eq!(versions, [1, 2], "{found}");

    // restore --path with the raw name: exactly that file, exact bytes and name.
    let target = env.path("out");
    env.cairn().args(["restore", &s1, "--target"]).arg(&target).arg("--path").arg(&grave).assert().success();
    let got: Vec<PathBuf> = listing(&target).into_iter().map(|(p, _)| p).collect();
    assert_eq!(got, [restored_path(&target, &grave)]);
    assert_eq!(fs::read(&got[0]).unwrap(), b"grave\n");
}

/// Where `original` (absolute, possibly gone) lands under a restore target.
fn restored_path(target: &Path, original: &Path) -> PathBuf {
    target.join(original.strip_prefix("/").unwrap())
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), b"a").unwrap();
    env.snapshot_json(&[&src]);
    fs::write(src.join("a.txt"), b"changed").unwrap();
    env.snapshot_json(&[&src]);
    let pipes = [&["snapshots"][..], &["snapshots", "--json"], &["ls", "-R", "latest"], &["diff", "latest~1"]];
    for args in pipes {
        // The reading end is closed before cairn starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env.std_cairn().args(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
        let err = stderr_of(&out);
        assert!(!err.contains("panicked") && !err.contains("internal error"), "{args:?}: {err}");
        // Like ripgrep: the reader has all it wants, nothing went wrong.
        assert_eq!(out.status.code(), Some(0), "{args:?}: {:?} {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
