//! Issue 10, item 9: what cairn says matches what it did. Counts equal
//! what is on disk afterwards, a dry run's summary equals its list, one and
//! many are told apart, and the repository's own words (blobs, trees read)
//! stay out of normal output.

use std::fs;
use std::path::Path;

use crate::common::*;

/// Files and folders under `root`, not counting `root` itself.
fn count_under(root: &Path) -> (usize, usize) {
    let mut files = 0;
    let mut dirs = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dirs += 1;
                stack.push(e.path());
            } else {
                files += 1;
            }
        }
    }
    (files, dirs)
}

/// The number just before `word` in `text` ("12 created" → 12).
fn number_before(text: &str, word: &str) -> usize {
    let at = text.find(word).unwrap_or_else(|| panic!("{word:?} in {text}"));
    let digits: String = text[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("a number before {word:?} in {text}"))
}

#[test]
fn restore_counts_equal_what_is_on_disk_and_the_dry_run_list() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 31).unwrap();
    env.snapshot_json(&[&src]);
    let target = env.path("out");

    let dry = env.cairn().args(["restore", "latest", "--dry-run", "--target"]).arg(&target).output().unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr_of(&dry));
    let listed = stdout_of(&dry);
    let would_create = listed.lines().filter(|l| l.starts_with("would create ")).count();
    let summary = listed.lines().last().unwrap();
    let (created, folders) = (number_before(summary, " created"), number_before(summary, " folders made"));
    assert_eq!(created + folders, would_create, "the summary equals the list:\n{listed}");

    let out = env.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let said = stdout_of(&out);
    let (files, dirs) = count_under(&target);
    assert_eq!(number_before(&said, " created"), files, "{said}");
    assert_eq!(number_before(&said, " folders made"), dirs, "{said}");
    assert_eq!((created, folders), (files, dirs), "the dry run said what the restore did");
}

#[test]
fn one_and_many_are_told_apart_and_internal_words_stay_out() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("only"), b"one file").unwrap();
    let out = env.cairn().args(["snapshot", "--dry-run"]).arg(&src).output().unwrap();
    let said = stdout_of(&out);
    assert!(said.contains("1 file (1 new, 0 changed, 0 unchanged), 1 folder;"), "{said}");
    assert!(!said.contains("blob"), "{said}");
    let out = env.cairn().arg("snapshot").arg(&src).output().unwrap();
    assert!(stdout_of(&out).contains("1 file (1 new"), "{}", stdout_of(&out));

    let out = env.cairn().args(["find", "**/only"]).output().unwrap();
    let said = stdout_of(&out);
    assert!(said.contains("1 path, 1 version, in 1 snapshot") && !said.contains("trees read"), "{said}");

    let out = env.cairn().arg("check").output().unwrap();
    let said = stdout_of(&out);
    assert!(said.contains("1 snapshot, ") && !said.contains("1 snapshots"), "{said}");

    let target = env.path("out");
    let out = env.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    let said = stdout_of(&out);
    assert!(said.contains(" 1 created,"), "{said}");
}

#[test]
fn diff_json_carries_the_totals_of_the_text() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), b"12345").unwrap();
    fs::write(src.join("b"), b"gone soon").unwrap();
    env.snapshot_json(&[&src]);
    fs::write(src.join("c"), b"new").unwrap();
    fs::remove_file(src.join("b")).unwrap();
    let out = env.cairn().args(["diff", "--json", "latest"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The folder's own metadata (its mtime) may count as a change too.
    let files = v["changes"].as_array().unwrap().iter().filter(|c| c["type"] != "dir").count();
    assert_eq!(files, 2, "{v}");
    let t = &v["totals"];
    assert_eq!(
        (t["added"].as_u64(), t["deleted"].as_u64(), t["modified"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{v}"
    );
    assert_eq!((t["bytes_added"].as_u64(), t["bytes_removed"].as_u64()), (Some(3), Some(9)), "{v}");
}
