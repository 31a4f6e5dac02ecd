//! Tests of `diff`: how the changes between two snapshot trees, or between a
//! snapshot and the live filesystem, are classified; what a path filter
//! reports and reads; and which subtrees are skipped without being read.

use std::os::unix::fs::PermissionsExt;

use serde_bytes::ByteBuf;

use super::*;
use crate::format::{BlobKind, FileTime, Xattr};
use crate::test_fixtures::*;

/// Each change as its path and letter, in the order reported.
fn listed(changes: &[Change]) -> Vec<(String, char)> {
    changes.iter().map(|c| (c.path.display().to_string(), c.kind.letter())).collect()
}

fn expected(pairs: &[(&str, char)]) -> Vec<(String, char)> {
    pairs.iter().map(|(p, c)| (p.to_string(), *c)).collect()
}

fn symlink(name: &str, target: &str) -> Node {
    Node::for_test(name.as_bytes(), NodeKind::Symlink { target: ByteBuf::from(target.as_bytes()) }, 0o777)
}

/// A folder whose tree is in no index: reading it is an error.
fn unreadable_dir(name: &str, n: u8) -> Node {
    Node::for_test(name.as_bytes(), NodeKind::Dir { subtree: Id([n; 32]) }, 0o755)
}

fn at(seconds: i64) -> FileTime {
    FileTime { seconds, nanos: 0 }
}

#[test]
fn trees_classify_every_kind_of_change() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let r = &repo;
    let xattr = Xattr { name: ByteBuf::from(&b"user.k"[..]), value: ByteBuf::from(&b"v"[..]) };
    let old = vec![
        file(r, "same", "s"),
        file(r, "modified", "one"),
        file(r, "gone", "g"),
        file(r, "mode", "m"),
        Node { mtime: at(1), ..file(r, "mtime", "t") },
        file(r, "owner", "o"),
        file(r, "xattr", "x"),
        file(r, "kind", "k"),
        symlink("link", "first"),
        dir(r, "olddir", vec![file(r, "x", "x")]),
        Node { mtime: at(1), ..dir(r, "dirtime", vec![file(r, "d", "d")]) },
        dir(r, "dirmode", vec![]),
        dir(r, "sub", vec![file(r, "f", "before"), file(r, "g", "g")]),
    ];
    let new = vec![
        file(r, "same", "s"),
        file(r, "modified", "two"),
        Node { mode: 0o600, ..file(r, "mode", "m") },
        Node { mtime: at(2), ..file(r, "mtime", "t") },
        Node { uid: 1000, ..file(r, "owner", "o") },
        Node { xattrs: vec![xattr], ..file(r, "xattr", "x") },
        dir(r, "kind", vec![file(r, "inner", "i")]),
        symlink("link", "second"),
        dir(r, "newdir", vec![file(r, "y", "y")]),
        // A folder's own mtime changes with every entry made in it.
        Node { mtime: at(2), ..dir(r, "dirtime", vec![file(r, "d", "d")]) },
        Node { mode: 0o700, ..dir(r, "dirmode", vec![]) },
        dir(r, "sub", vec![file(r, "f", "after"), file(r, "g", "g")]),
    ];
    let old_root = tree(r, vec![dir(r, "a", old)]);
    let new_root = tree(r, vec![dir(r, "a", new)]);
    let changes = diff_trees(r, &old_root, &new_root, &PathFilter::default()).unwrap();
    assert_eq!(
        listed(&changes),
        expected(&[
            ("/a/dirmode", 'm'),
            ("/a/gone", 'D'),
            ("/a/kind", 'T'),
            ("/a/kind/inner", 'A'),
            ("/a/link", 'M'),
            ("/a/mode", 'm'),
            ("/a/modified", 'M'),
            ("/a/mtime", 'm'),
            ("/a/newdir", 'A'),
            ("/a/newdir/y", 'A'),
            ("/a/olddir", 'D'),
            ("/a/olddir/x", 'D'),
            ("/a/owner", 'm'),
            ("/a/sub/f", 'M'),
            ("/a/xattr", 'm'),
        ])
    );
    // Each change carries the nodes on either side.
    let sides = |c: &Change| (c.old.is_some(), c.new.is_some());
    assert!(changes.iter().all(|c| match c.kind {
        ChangeKind::Added => sides(c) == (false, true),
        ChangeKind::Deleted => sides(c) == (true, false),
        _ => sides(c) == (true, true),
    }));
    let modified = changes.iter().find(|c| c.path == Path::new("/a/modified")).unwrap();
    assert_eq!(stored_contents(r, modified.old.as_ref().unwrap(), 100).unwrap().unwrap(), b"one");
    assert_eq!(stored_contents(r, modified.new.as_ref().unwrap(), 100).unwrap().unwrap(), b"two");
    // The other way round, additions and deletions swap.
    let back = diff_trees(r, &new_root, &old_root, &PathFilter::default()).unwrap();
    let letter = |cs: &[Change], p: &str| cs.iter().find(|c| c.path == Path::new(p)).map(|c| c.kind.letter());
    assert_eq!((letter(&back, "/a/gone"), letter(&back, "/a/newdir/y")), (Some('A'), Some('D')));
    assert_eq!(letter(&back, "/a/kind/inner"), Some('D'));
}

#[test]
fn equal_subtrees_are_skipped_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    // The same unreadable subtree on both sides is never opened.
    let old_root = tree(&repo, vec![unreadable_dir("big", 0xe1), file(&repo, "f", "one")]);
    let new_root = tree(&repo, vec![unreadable_dir("big", 0xe1), file(&repo, "f", "two")]);
    let changes = diff_trees(&repo, &old_root, &new_root, &PathFilter::default()).unwrap();
    assert_eq!(listed(&changes), expected(&[("/f", 'M')]));
    // Two identical roots are not even read.
    let missing = Id([0xe2; 32]);
    assert!(diff_trees(&repo, &missing, &missing, &PathFilter::default()).unwrap().is_empty());
    // A subtree that did change is read, so the unreadable one is an error.
    let other = tree(&repo, vec![unreadable_dir("big", 0xe3), file(&repo, "f", "two")]);
    assert!(matches!(diff_trees(&repo, &old_root, &other, &PathFilter::default()), Err(Error::BlobNotIndexed(_))));
}

#[test]
fn a_path_filter_limits_what_is_reported_and_read() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let r = &repo;
    let side = |text: &str, mode: u32, big: u8| {
        let a = dir(
            r,
            "a",
            vec![
                dir(r, "keep", vec![file(r, "f", text)]),
                dir(r, "other", vec![file(r, "g", text)]),
                file(r, "x", text),
            ],
        );
        // `/b` changed too, but its trees cannot be read.
        tree(r, vec![Node { mode, ..a }, unreadable_dir("b", big)])
    };
    let (old, new) = (side("one", 0o755, 0xe1), side("two", 0o700, 0xe2));
    let diff = |paths: &[&str]| {
        let filter = PathFilter { paths: paths.iter().map(PathBuf::from).collect(), ..PathFilter::default() };
        diff_trees(r, &old, &new, &filter).map(|c| listed(&c))
    };
    assert_eq!(diff(&["/a/keep"]).unwrap(), expected(&[("/a/keep/f", 'M')]), "neither /a nor /b");
    assert_eq!(diff(&["/a/keep/f"]).unwrap(), expected(&[("/a/keep/f", 'M')]));
    assert_eq!(diff(&["/a/keep", "/a/x"]).unwrap(), expected(&[("/a/keep/f", 'M'), ("/a/x", 'M')]));
    assert_eq!(
        diff(&["/a"]).unwrap(),
        expected(&[("/a", 'm'), ("/a/keep/f", 'M'), ("/a/other/g", 'M'), ("/a/x", 'M')])
    );
    assert_eq!(diff(&["/a/kee"]).unwrap(), expected(&[]), "a name prefix is not a folder");
    assert!(diff(&[]).is_err(), "unfiltered, the unreadable /b is read");
}

/// Takes a snapshot of `path` with the archiver; returns its root tree and paths.
fn take_snapshot(repo: &Repository, path: &Path) -> (Id, Vec<PathBuf>) {
    let paths = crate::fs::path::normalize_paths(&[path.to_path_buf()]).unwrap();
    let opts = crate::archiver::SnapshotOptions { paths: paths.clone(), host: "h".into(), ..Default::default() };
    let outcome = crate::archiver::snapshot(repo, &opts, &Default::default()).unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    (outcome.snapshot.tree, paths)
}

#[test]
fn live_changes_are_classified_like_snapshot_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let live = tmp.path().join("live");
    let write = |name: &str, text: &str| std::fs::write(live.join(name), text).unwrap();
    std::fs::create_dir_all(live.join("sub")).unwrap();
    std::fs::create_dir_all(live.join("dirgone")).unwrap();
    for name in ["same", "edit", "swapped", "chmod", "gone", "kind", "sub/inner", "dirgone/x"] {
        write(name, "1234");
    }
    let (root, paths) = take_snapshot(&repo, &live);
    let base = paths[0].clone();

    write("edit", "longer now");
    // Same size and mtime, other bytes and inode: found only by reading it.
    let old_mtime = std::fs::metadata(live.join("swapped")).unwrap().modified().unwrap();
    write("swapped.new", "abcd");
    std::fs::File::options().write(true).open(live.join("swapped.new")).unwrap().set_modified(old_mtime).unwrap();
    std::fs::rename(live.join("swapped.new"), live.join("swapped")).unwrap();
    std::fs::set_permissions(live.join("chmod"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(live.join("gone")).unwrap();
    std::fs::remove_file(live.join("kind")).unwrap();
    std::fs::create_dir(live.join("kind")).unwrap();
    write("kind/new", "n");
    write("sub/added", "a");
    std::fs::remove_dir_all(live.join("dirgone")).unwrap();
    write("new", "n");

    let diff = |filter: &[&Path]| {
        let filter = PathFilter { paths: filter.iter().map(|p| p.to_path_buf()).collect(), ..PathFilter::default() };
        let nothing = ExcludeRules::new(&ExcludeOptions::default()).unwrap();
        let changes = diff_live(&repo, &root, &paths, &nothing, &filter).unwrap();
        let prefix = base.display().to_string();
        listed(&changes).into_iter().map(|(p, c)| (p.replacen(&prefix, "", 1), c)).collect::<Vec<_>>()
    };
    assert_eq!(
        diff(&[]),
        expected(&[
            ("/chmod", 'm'),
            ("/dirgone", 'D'),
            ("/dirgone/x", 'D'),
            ("/edit", 'M'),
            ("/gone", 'D'),
            ("/kind", 'T'),
            ("/kind/new", 'A'),
            ("/new", 'A'),
            ("/sub/added", 'A'),
            ("/swapped", 'M'),
        ])
    );
    assert_eq!(diff(&[&base.join("sub")]), expected(&[("/sub/added", 'A')]));

    // The snapshot's path itself gone: it and everything below were deleted.
    std::fs::remove_dir_all(&live).unwrap();
    let gone = diff(&[]);
    assert_eq!(gone.len(), 11, "the folder and its ten entries: {gone:?}");
    assert!(gone.iter().all(|(_, c)| *c == 'D'), "{gone:?}");
    assert_eq!(gone[0].0, "");
}

#[test]
fn the_live_side_is_seen_through_the_snapshots_recorded_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let live = tmp.path().join("live");
    let write = |name: &str, text: &str| {
        let path = live.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    for name in ["src/main.rs", "node_modules/m/index.js", "target/debug/bin", "x.log", "gen/out.txt", "keep.txt"] {
        write(name, "1");
    }
    write("Cargo.toml", "[package]");
    write(".gitignore", "gen/\n");
    write("cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55");
    let exclude = ExcludeOptions {
        default_excludes: true,
        patterns: vec!["*.log".into()],
        git_ignore: true,
        ..ExcludeOptions::default()
    };
    let opts = crate::archiver::SnapshotOptions { paths: vec![live.clone()], host: "h".into(), ..Default::default() };
    let taken = crate::archiver::snapshot_excluding(&repo, &opts, &exclude, &Default::default()).unwrap();
    assert_eq!(taken.excluded, 5, "{:?}", taken.excluded_paths);
    let snap = taken.walked.snapshot;
    let paths: Vec<PathBuf> = snap.paths.iter().map(|p| name_to_path(p).to_path_buf()).collect();
    let diff = |snap: &Snapshot, filter: &PathFilter| {
        let (rules, recorded) = live_rules(snap).unwrap();
        let changes = diff_live(&repo, &snap.tree, &paths, &rules, filter).unwrap();
        (
            listed(&changes)
                .into_iter()
                .map(|(p, c)| (p.replacen(&paths[0].display().to_string(), "", 1), c))
                .collect::<Vec<_>>(),
            recorded,
        )
    };
    assert_eq!(diff(&snap, &PathFilter::default()), (vec![], true), "nothing changed");

    write("node_modules/m/new.js", "2");
    write("y.log", "2");
    write("gen/more.txt", "2");
    write("src/lib.rs", "2");
    assert_eq!(diff(&snap, &PathFilter::default()).0, expected(&[("/src/lib.rs", 'A')]));
    let narrowed = PathFilter { exclude: PathPatterns::new(&["src/".into()]).unwrap(), ..PathFilter::default() };
    assert_eq!(diff(&snap, &narrowed).0, expected(&[]));
    let only = PathFilter { include: PathPatterns::new(&["*.rs".into()]).unwrap(), ..PathFilter::default() };
    assert_eq!(diff(&snap, &only).0, expected(&[("/src/lib.rs", 'A')]));

    // A version-1 snapshot recorded no rules: today's defaults stand in, so
    // the pattern and .gitignore exclusions show up as added.
    let v1 = Snapshot { version: 1, recipe: None, ..snap.clone() };
    let (changes, recorded) = diff(&v1, &PathFilter::default());
    assert!(!recorded);
    assert!(
        changes.contains(&("/x.log".to_string(), 'A')) && changes.contains(&("/gen".to_string(), 'A')),
        "{changes:?}"
    );
    assert!(!changes.iter().any(|(p, _)| p.starts_with("/node_modules") || p.starts_with("/target")), "{changes:?}");
}

#[test]
fn contents_tell_text_from_binary_and_large() {
    assert_eq!(Contents::of(b"hello\n".to_vec()), Contents::Text("hello\n".into()));
    assert_eq!(Contents::of(Vec::new()), Contents::Text(String::new()));
    assert_eq!(Contents::of(b"a\0b".to_vec()), Contents::Binary);
    assert_eq!(Contents::of(vec![b'a', 0xff]), Contents::Binary, "not UTF-8");
    // Only the first 8 KiB are searched for NUL.
    let late_nul = [vec![b'a'; 8192], vec![0]].concat();
    assert!(matches!(Contents::of(late_nul), Contents::Text(_)));
    assert_eq!(Contents::of([vec![b'a'; 8191], vec![0]].concat()), Contents::Binary);

    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    // A file of two chunks is read back whole, in order.
    let saver = repo.saver();
    let ids = vec![saver.save(BlobKind::Data, b"hel").unwrap(), saver.save(BlobKind::Data, b"lo").unwrap()];
    saver.finish().unwrap();
    let two_chunks = Node::for_test(b"f", NodeKind::File { size: 5, content: ids }, 0o644);
    assert_eq!(contents(&repo, &two_chunks, 5).unwrap(), Contents::Text("hello".into()));
    assert_eq!(contents(&repo, &two_chunks, 4).unwrap(), Contents::TooLarge);
    assert_eq!(stored_contents(&repo, &two_chunks, 4).unwrap(), None);
    assert_eq!(contents(&repo, &dir(&repo, "d", vec![]), 100).unwrap(), Contents::NotAFile);
    assert_eq!(contents(&repo, &symlink("l", "t"), 100).unwrap(), Contents::NotAFile);
    let unindexed = Node::for_test(b"f", NodeKind::File { size: 1, content: vec![Id([9; 32])] }, 0o644);
    assert!(matches!(contents(&repo, &unindexed, 100), Err(Error::BlobNotIndexed(_))));

    let path = tmp.path().join("text");
    std::fs::write(&path, "live\n").unwrap();
    assert_eq!(live_contents(&path, 5).unwrap(), Contents::Text("live\n".into()));
    assert_eq!(live_contents(&path, 4).unwrap(), Contents::TooLarge);
    assert_eq!(live_contents(tmp.path(), 100).unwrap(), Contents::NotAFile);
    std::os::unix::fs::symlink(&path, tmp.path().join("link")).unwrap();
    assert_eq!(live_contents(&tmp.path().join("link"), 100).unwrap(), Contents::NotAFile, "not followed");
    assert!(live_contents(&tmp.path().join("missing"), 100).is_err());
}
