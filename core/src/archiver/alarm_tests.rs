//! Unit tests of the alarm: what counts as vanished, truncated and
//! protected, by real snapshots of a temporary tree, and the rules.

use super::*;
use crate::archiver::{Progress, SnapshotOptions, snapshot_excluding};
use crate::fs::exclude::ExcludeOptions;
use crate::test_fixtures::repo;

fn write(root: &Path, rel: &str, len: usize) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![b'x'; len]).unwrap();
}

/// A snapshot of `src` with the default rules; its losses.
fn losses(r: &Repository, src: &Path, exclude: &[&str]) -> Option<Losses> {
    let opts = SnapshotOptions {
        paths: vec![src.to_path_buf()],
        host: "h".into(),
        alarm: Some(AlarmRules::default()),
        ..SnapshotOptions::default()
    };
    let ex = ExcludeOptions { patterns: exclude.iter().map(|p| p.to_string()).collect(), ..ExcludeOptions::default() };
    snapshot_excluding(r, &opts, &ex, &Progress::default()).unwrap().walked.losses
}

#[test]
fn counts_vanished_files_whole_folders_truncations_and_protected_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&tmp.path().join("repo"));
    let src = tmp.path().join("src");
    for i in 0..5 {
        write(&src, &format!("docs/d{i}.md"), 100);
        write(&src, &format!("code/deep/er/c{i}.rs"), 100);
        write(&src, &format!("keep/k{i}.txt"), 100);
    }
    write(&src, "top.md", 10);
    std::os::unix::fs::symlink("keep", src.join("link")).unwrap();
    assert_eq!(losses(&r, &src, &[]), None, "no parent, nothing counted");
    let quiet = losses(&r, &src, &[]).unwrap();
    assert_eq!((quiet.gone(), quiet.protected, quiet.folders.len()), (0, 0, 0));
    assert_eq!(quiet.parent_files, 17, "16 files and a symlink");

    std::fs::remove_dir_all(src.join("code")).unwrap(); // 5 files below a vanished folder
    std::fs::remove_file(src.join("docs/d0.md")).unwrap();
    std::fs::remove_file(src.join("link")).unwrap();
    std::fs::write(src.join("docs/d1.md"), b"").unwrap(); // emptied
    std::fs::write(src.join("keep/k0.txt"), vec![b'y'; 9]).unwrap(); // 9 < 100 / 10
    std::fs::write(src.join("keep/k1.txt"), vec![b'y'; 10]).unwrap(); // a tenth: not truncated
    let l = losses(&r, &src, &[]).unwrap();
    assert_eq!((l.vanished, l.truncated, l.protected), (7, 2, 2), "{l:?}");
    assert_eq!(
        l.folders,
        vec![(src.join("code"), 5), (src.join("docs"), 2), (src.join("keep"), 1), (src.join("link"), 1)],
        "top folders, most first; a file right in the path is its own"
    );
}

#[test]
fn excluded_or_unlisted_entries_are_not_vanished() {
    let tmp = tempfile::tempdir().unwrap();
    let r = repo(&tmp.path().join("repo"));
    let src = tmp.path().join("src");
    for i in 0..5 {
        write(&src, &format!("cache/c{i}"), 10);
    }
    write(&src, "a", 10);
    losses(&r, &src, &[]);
    // Now excluded: still on disk, so not a deletion.
    let l = losses(&r, &src, &["cache"]).unwrap();
    assert_eq!(l.gone(), 0, "{l:?}");
}

#[test]
fn the_rules_need_both_share_and_count_or_enough_protected_files() {
    let rules = AlarmRules::default();
    let l = |parent_files, vanished, protected| Losses { parent_files, vanished, protected, ..Losses::default() };
    assert!(l(400, 60, 0).raises(&rules), "15% and 60 files");
    assert!(!l(4000, 60, 0).raises(&rules), "60 files are 1.5%");
    assert!(!l(100, 40, 0).raises(&rules), "40% but fewer than 50 files");
    assert!(l(100_000, 20, 20).raises(&rules), "20 protected files alone");
    assert!(!l(100_000, 19, 19).raises(&rules));
    assert!(!l(0, 0, 0).raises(&AlarmRules { min_files: 0, protected_min: 0, ..rules.clone() }), "nothing gone");
    assert!(is_truncated(100, 0) && is_truncated(100, 9) && !is_truncated(100, 10) && !is_truncated(0, 0));
}

#[test]
fn protected_globs_match_absolute_paths_and_expand_home() {
    let set = protected_set(&AlarmRules::default().protected, Some(Path::new("/home/me"))).unwrap();
    for yes in ["/x/notes.md", "/home/me/p/CLAUDE.md", "/home/me/.claude/todos/a.json", "/a.md"] {
        assert!(set.is_match(yes), "{yes}");
    }
    for no in ["/x/notes.mdx", "/home/other/.claude/x.json", "/home/me/claude/x.json"] {
        assert!(!set.is_match(no), "{no}");
    }
    let no_home = protected_set(&["~/.claude/**".to_string()], None).unwrap();
    assert!(!no_home.is_match("/home/me/.claude/x"));
    assert!(protected_set(&["a[".to_string()], None).is_err());
    // Without `/`, a name at any depth (as restore's globs).
    assert!(protected_set(&["AGENTS.md".to_string()], None).unwrap().is_match("/p/q/AGENTS.md"));
}

#[test]
fn the_rules_read_from_kebab_case_and_refuse_unknown_keys() {
    use serde::de::value::{Error as DeError, MapDeserializer};
    let read = |pairs: Vec<(&'static str, u64)>| {
        AlarmRules::deserialize(MapDeserializer::<'_, _, DeError>::new(pairs.into_iter()))
    };
    let rules = read(vec![("min-files", 7)]).unwrap();
    assert_eq!(rules.min_files, 7);
    assert_eq!(rules.protected_min, AlarmRules::default().protected_min, "missing keys keep the defaults");
    assert!(read(vec![("min_files", 7)]).is_err(), "snake case is unknown");
    assert!(read(vec![("vanished", 7)]).is_err());
}
