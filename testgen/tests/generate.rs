//! End-to-end tests of the generator at the tiny scale.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_testgen::{META_FILE, Scale, T0, TickReport};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    dir: bool,
    data: Vec<u8>,
    mtime: u64,
}

/// Every file and directory under `root` (relative path -> content and mtime).
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }
    fn go(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Node>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let md = e.metadata().unwrap();
            if md.is_dir() {
                out.insert(rel.clone(), Node { dir: true, data: Vec::new(), mtime: secs(md.modified().unwrap()) });
                go(&e.path(), &rel, out);
            } else {
                out.insert(
                    rel,
                    Node { dir: false, data: fs::read(e.path()).unwrap(), mtime: secs(md.modified().unwrap()) },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, "", &mut out);
    out
}

fn files(s: &BTreeMap<String, Node>) -> BTreeMap<&str, &Node> {
    s.iter().filter(|(_, n)| !n.dir).map(|(k, n)| (k.as_str(), n)).collect()
}

fn strs(v: &[PathBuf]) -> BTreeSet<String> {
    v.iter().map(|p| p.to_str().unwrap().to_string()).collect()
}

fn excluded(rel: &str) -> bool {
    rel.split('/').any(|c| c == "node_modules" || c == "target")
}

fn tiny(seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    cairn_testgen::init(dir.path(), Scale::Tiny, seed).unwrap();
    dir
}

#[test]
fn init_is_a_pure_function_of_scale_and_seed() {
    let a = tiny(1);
    let b = tiny(1);
    let c = tiny(2);
    let (sa, sb, sc) = (snapshot(a.path()), snapshot(b.path()), snapshot(c.path()));
    assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
    for (k, n) in &sa {
        assert!(sb[k] == *n, "{k} differs between two runs with the same seed");
        assert!(n.mtime <= T0, "{k} dated after T0");
    }
    assert_ne!(sa, sc);
    let common = sa.keys().filter(|k| sc.contains_key(*k) && !sa[*k].dir).count();
    assert!(common < sa.len() / 4, "different seeds share {common} paths");
    assert_eq!(fs::read_to_string(a.path().join(META_FILE)).unwrap(), "scale=tiny\nseed=1\n");
}

#[test]
fn tiny_lands_near_its_targets() {
    let d = tiny(3);
    let snap = snapshot(d.path());
    let f = files(&snap);
    let bytes: usize = f.values().map(|n| n.data.len()).sum();
    assert!((250..=1000).contains(&f.len()), "{} files", f.len());
    assert!((2 << 20..=10 << 20).contains(&bytes), "{bytes} bytes");
    let st = cairn_testgen::stats(d.path()).unwrap();
    assert_eq!(st.all.files as usize, f.len() - 1, "stats leaves out the metadata file");
    assert!(st.without_excluded.files < st.all.files);
    // The expected shape is there.
    let has = |pred: &dyn Fn(&str) -> bool| f.keys().any(|k| pred(k));
    assert!(has(&|k| k.starts_with(".claude/projects/") && k.ends_with(".jsonl")));
    assert!(has(&|k| k.starts_with(".claude/todos/")));
    assert!(has(&|k| k.starts_with(".claude/shell-snapshots/")));
    assert!(has(&|k| k == ".claude/settings.json"));
    assert!(has(&|k| k.contains("/.git/objects/pack/")));
    assert!(has(&|k| k.contains("/node_modules/")));
    assert!(has(&|k| k.contains("/target/debug/")));
    assert!(has(&|k| k.ends_with(".png")));
    assert!(f.keys().all(|k| k.is_ascii()));
    let gitignore = f.iter().find(|(k, _)| k.ends_with("/.gitignore")).unwrap().1;
    let gi = String::from_utf8_lossy(&gitignore.data);
    assert!(gi.contains("target/") && gi.contains("node_modules/"));
    // Every file is distinct.
    let mut seen: HashMap<&[u8], &str> = HashMap::new();
    for (k, n) in &f {
        if let Some(other) = seen.insert(&n.data, k) {
            panic!("{k} and {other} have the same content");
        }
    }
}

#[test]
fn text_is_repetitive_like_real_code() {
    let d = tiny(4);
    let snap = snapshot(d.path());
    let f = files(&snap);
    let (path, node) = f
        .iter()
        .filter(|(k, _)| k.ends_with(".rs") && k.starts_with("projects/") && !excluded(k))
        .max_by_key(|(_, n)| n.data.len())
        .unwrap();
    let text = std::str::from_utf8(&node.data).unwrap();
    let words: Vec<&str> =
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|w| !w.is_empty()).collect();
    let distinct: BTreeSet<&str> = words.iter().copied().collect();
    assert!(words.len() > 500, "{path}: {} words", words.len());
    assert!(distinct.len() * 4 < words.len(), "{path}: {} distinct of {} words", distinct.len(), words.len());
    // Lines recur across files (imports, license headers).
    let mut line_count: HashMap<&str, usize> = HashMap::new();
    for (_, n) in f.iter().filter(|(k, _)| k.ends_with(".rs")) {
        for l in std::str::from_utf8(&n.data).unwrap().lines() {
            *line_count.entry(l).or_default() += 1;
        }
    }
    let total: usize = line_count.values().sum();
    assert!(line_count.len() * 5 < total * 4, "{} distinct of {total} lines", line_count.len());
}

/// Checks that `r` describes exactly the difference between `before` and `after`.
fn check_exact(hour: u32, r: &TickReport, before: &BTreeMap<String, Node>, after: &BTreeMap<String, Node>) {
    let now = T0 + u64::from(hour) * 3600;
    let (b, a) = (files(before), files(after));
    let modified = strs(&r.modified);
    let appended = strs(&r.appended);
    let created = strs(&r.created);
    let deleted = strs(&r.deleted);
    let touched = strs(&r.touched);
    let from: BTreeSet<String> = r.renamed.iter().map(|x| x.0.to_str().unwrap().to_string()).collect();
    let to: BTreeSet<String> = r.renamed.iter().map(|x| x.1.to_str().unwrap().to_string()).collect();

    // Sorted, and no path in two categories.
    for v in [&r.modified, &r.appended, &r.created, &r.deleted, &r.touched] {
        assert!(v.windows(2).all(|w| w[0] < w[1]), "hour {hour}: unsorted or duplicated");
    }
    assert!(r.renamed.windows(2).all(|w| w[0] < w[1]));
    let mut all = Vec::new();
    for s in [&modified, &appended, &created, &deleted, &touched, &from, &to] {
        all.extend(s.iter().cloned());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "hour {hour}: a path is listed twice");

    let gone: BTreeSet<String> = b.keys().filter(|k| !a.contains_key(*k)).map(|k| k.to_string()).collect();
    let new: BTreeSet<String> = a.keys().filter(|k| !b.contains_key(*k)).map(|k| k.to_string()).collect();
    let changed: BTreeSet<String> =
        a.keys().filter(|k| b.get(*k).is_some_and(|o| o.data != a[*k].data)).map(|k| k.to_string()).collect();
    let retimed: BTreeSet<String> = a
        .keys()
        .filter(|k| b.get(*k).is_some_and(|o| o.data == a[*k].data && o.mtime != a[*k].mtime))
        .map(|k| k.to_string())
        .collect();

    assert_eq!(gone, &deleted | &from, "hour {hour}: gone");
    assert_eq!(new, &created | &to, "hour {hour}: new");
    assert_eq!(changed, &modified | &appended, "hour {hour}: changed");
    assert_eq!(retimed, touched, "hour {hour}: touched");
    for p in modified.iter().chain(&appended).chain(&created).chain(&touched) {
        assert_eq!(a[p.as_str()].mtime, now, "hour {hour}: {p} not stamped");
    }
    for (f, t) in &r.renamed {
        let (f, t) = (f.to_str().unwrap(), t.to_str().unwrap());
        assert_eq!(a[t].data, b[f].data, "hour {hour}: rename changed content");
        assert_eq!(a[t].mtime, b[f].mtime, "hour {hour}: rename changed mtime");
    }
    for p in &appended {
        assert!(p.ends_with(".jsonl"));
        assert!(a[p.as_str()].data.starts_with(&b[p.as_str()].data), "hour {hour}: {p} not appended");
    }
    // The excluded folders never change.
    for p in gone.iter().chain(&new).chain(&changed).chain(&retimed) {
        assert!(!excluded(p), "hour {hour}: tick touched {p}");
    }
    // Activity is in the expected range.
    assert!(modified.len() >= 20, "hour {hour}: {} edits", modified.len());
    assert!(!appended.is_empty() && created.len() >= 8 && deleted.len() >= 3 && !r.renamed.is_empty());
}

#[test]
fn tick_is_deterministic_and_exact() {
    let a = tiny(5);
    let b = tiny(5);
    for hour in 1..=5 {
        let before = snapshot(a.path());
        let ra = cairn_testgen::tick(a.path(), hour).unwrap();
        let rb = cairn_testgen::tick(b.path(), hour).unwrap();
        let after = snapshot(a.path());
        assert_eq!(ra, rb, "hour {hour}: reports differ");
        assert_eq!(after, snapshot(b.path()), "hour {hour}: trees differ");
        check_exact(hour, &ra, &before, &after);
    }
}

#[test]
fn a_simulated_day_writes_an_artifact_and_stays_exact() {
    let d = tiny(6);
    let mut artifacts = 0;
    for hour in 1..=24 {
        let before = snapshot(d.path());
        let r = cairn_testgen::tick(d.path(), hour).unwrap();
        check_exact(hour, &r, &before, &snapshot(d.path()));
        artifacts += r
            .created
            .iter()
            .filter(|p| p.to_str().unwrap().contains("-h0"))
            .filter(|p| {
                let s = p.to_str().unwrap();
                s.contains("/dist/") || s.contains("/data/")
            })
            .count();
    }
    assert_eq!(artifacts, 1, "one artifact per simulated day");
}

#[test]
fn disaster_removes_every_markdown_file_and_nothing_else() {
    let d = tiny(7);
    cairn_testgen::tick(d.path(), 1).unwrap();
    let before = snapshot(d.path());
    let gone = cairn_testgen::disaster(d.path()).unwrap();
    let after = snapshot(d.path());
    let mut md: Vec<PathBuf> = files(&before).keys().filter(|k| k.ends_with(".md")).map(PathBuf::from).collect();
    md.sort();
    assert!(md.len() > 20);
    assert_eq!(gone, md, "returns the sorted list of markdown files");
    for (k, n) in files(&before) {
        if k.ends_with(".md") {
            assert!(!after.contains_key(k));
        } else {
            assert_eq!(files(&after).get(k).map(|x| &x.data), Some(&n.data), "{k}");
        }
    }
    assert_eq!(files(&after).len(), files(&before).len() - md.len());
    // Ticking after a disaster still works.
    cairn_testgen::tick(d.path(), 2).unwrap();
}

#[test]
fn misuse_is_an_error() {
    let d = tiny(8);
    assert!(cairn_testgen::init(d.path(), Scale::Tiny, 8).is_err(), "init into a non-empty dir");
    assert!(cairn_testgen::tick(d.path(), 0).is_err(), "hour 0");
    let empty = tempfile::tempdir().unwrap();
    assert!(cairn_testgen::tick(empty.path(), 1).is_err(), "no metadata file");
}
