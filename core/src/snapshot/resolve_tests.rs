//! Tests of `resolve`: positional arguments, and `latest` / `--at` / ids
//! chosen for the paths they must cover.

use std::ffi::OsString;
use std::path::PathBuf;

use super::*;
use crate::format::Timestamp;
use crate::id::Id;
use crate::test_fixtures::{repo, snapshot, store};

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn hour_of(e: &SnapshotEntry) -> i64 {
    (e.snapshot.time.unix_seconds - 1_748_736_000) / 3600
}

fn filter(paths: &[&str]) -> Filter {
    Filter { paths: paths.iter().map(PathBuf::from).collect(), ..Filter::default() }
}

#[test]
fn leading_references_are_snapshots_and_the_rest_paths() {
    let split = |args: &[&str], max| split_positionals(&os(args), max).unwrap();
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(
        split(&["latest", "latest~2", "/a"], 2),
        Positionals { snapshots: vec!["latest".into(), "latest~2".into()], paths: vec![p("/a")] }
    );
    assert_eq!(split(&["abcd", "/a", "latest"], 2).snapshots, ["abcd"]);
    assert_eq!(split(&["abcd", "/a", "latest"], 2).paths.len(), 2, "after a path, every argument is a path");
    assert_eq!(split(&["latest", "abcd"], 1).paths[0].file_name().unwrap(), "abcd", "one snapshot at most");
    assert_eq!(split(&["latest"], 0).paths[0].file_name().unwrap(), "latest", "with --at, all are paths");
    let dotted = split(&["./abcd"], 2);
    assert!(dotted.snapshots.is_empty() && dotted.paths[0].ends_with("abcd"), "{dotted:?}");
    assert_eq!(split(&["/w/esc\\x1b[31mred"], 1).paths, [p("/w/esc\x1b[31mred")], "escapes are decoded");
}

#[test]
fn latest_and_at_pick_the_newest_snapshot_covering_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let root = Id([9; 32]);
    store(&repo, snapshot(0, &["/h/.claude", "/h/projects"], root));
    store(&repo, snapshot(1, &["/h/.claude", "/h/projects"], root));
    store(&repo, snapshot(2, &["/h/.claude"], root));
    let latest =
        |r: &str, paths: &[&str]| choose(&repo, &Selector::Reference(r.into()), &filter(paths)).map(|e| hour_of(&e));
    assert_eq!(latest("latest", &[]).unwrap(), 2);
    assert_eq!(latest("latest", &["/h/projects"]).unwrap(), 1, "the newest that covers it");
    assert_eq!(latest("latest", &["/h/projects/p00/NEWFILE"]).unwrap(), 1, "inside a covered folder");
    assert_eq!(latest("latest~1", &["/h/projects"]).unwrap(), 0, "~N counts covering snapshots only");
    assert_eq!(latest("latest~1", &["/h/.claude"]).unwrap(), 1);
    let at = |hour: i64, paths: &[&str]| {
        let t = Timestamp { unix_seconds: 1_748_736_000 + hour * 3600, nanos: 0, offset_seconds: 0 };
        choose(&repo, &Selector::At(t), &filter(paths)).map(|e| hour_of(&e))
    };
    assert_eq!(at(5, &["/h/projects"]).unwrap(), 1);
    assert_eq!(at(5, &["/h/.claude"]).unwrap(), 2);
    assert_eq!(at(0, &["/h/projects"]).unwrap(), 0);

    // Nothing covers it: the error names the path and the nearest snapshots.
    match latest("latest", &["/h/elsewhere"]) {
        Err(Error::NotCovered { message, path, closest_in }) => {
            assert_eq!(path, PathBuf::from("/h/elsewhere"));
            assert!(message.starts_with("no snapshot covers /h/elsewhere; the nearest: "), "{message}");
            assert!(
                message.contains("holds /h/.claude, /h/projects") && message.contains("holds /h/.claude;"),
                "{message}"
            );
            assert_eq!(closest_in, Some(root));
        }
        other => panic!("{other:?}"),
    }
    match at(5, &["/other/x"]) {
        Err(Error::NotCovered { message, .. }) => assert!(message.contains("; the newest hold "), "{message}"),
        other => panic!("{other:?}"),
    }
    match latest("latest", &["/h/.claude", "/h/projects"]).map(|_| ()) {
        Ok(()) => {}
        other => panic!("both are covered by hour 1: {other:?}"),
    }
}

#[test]
fn a_snapshot_named_by_id_must_cover_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let root = Id([9; 32]);
    let both = store(&repo, snapshot(0, &["/h/a", "/h/b"], root));
    let only_a = store(&repo, snapshot(1, &["/h/a"], root));
    let named = |e: &SnapshotEntry, paths: &[&str]| {
        choose(&repo, &Selector::Reference(e.id.to_hex()[..8].into()), &filter(paths)).map(|e| e.id)
    };
    assert_eq!(named(&only_a, &["/h/a/x"]).unwrap(), only_a.id);
    assert_eq!(named(&both, &["/h/b"]).unwrap(), both.id);
    match named(&only_a, &["/h/b"]) {
        Err(Error::NotCovered { message, .. }) => {
            assert!(message.contains(&format!("snapshot {} (", only_a.id.short())), "{message}");
            assert!(message.contains("does not cover /h/b: it holds /h/a"), "{message}");
            assert!(
                message.contains(&format!("the newest snapshot that covers it is {}", both.id.short())),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_snapshots_and_names_in_messages_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    assert!(matches!(choose(&repo, &Selector::Reference("latest".into()), &filter(&["/x"])), Err(Error::NoSnapshots)));
    store(&repo, snapshot(0, &["/h/a"], Id([9; 32])));
    match choose(&repo, &Selector::Reference("latest".into()), &filter(&["/h/esc\x1b[31m"])) {
        Err(Error::NotCovered { message, .. }) => {
            assert!(message.contains("/h/esc\\x1b[31m") && !message.contains('\x1b'), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn globs_are_anchored_in_their_literal_folders() {
    let a = |g: &str| glob_anchor(g);
    assert_eq!(a("/h/projects/**/NEWFILE"), Some(PathBuf::from("/h/projects")));
    assert_eq!(a("/h/projects/x.md"), Some(PathBuf::from("/h/projects")));
    assert_eq!(a("/h/p*/x"), Some(PathBuf::from("/h")));
    assert_eq!(a("/*/x"), None);
    assert_eq!(a("*.md"), None);
    assert_eq!(a(".claude/*.md"), None);
    let e = crate::test_fixtures::entry(0, &["/h/projects/a"], Id([1; 32]));
    assert!(may_hold_below(&e, std::path::Path::new("/h/projects")));
    assert!(may_hold_below(&e, std::path::Path::new("/h/projects/a/b")));
    assert!(!may_hold_below(&e, std::path::Path::new("/h/other")));
}
