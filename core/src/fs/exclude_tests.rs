//! Unit tests of the exclude rules.

use super::*;

fn rules(opts: ExcludeOptions) -> ExcludeRules {
    ExcludeRules::new(&opts).unwrap()
}

/// Checks `path` (created under a temp folder by the caller) as the
/// archiver would.
fn check(r: &ExcludeRules, path: &Path, siblings: &[&str]) -> Option<Reason> {
    let md = std::fs::symlink_metadata(path).unwrap();
    let scope = Scope::root(&md);
    let mut names: Vec<Vec<u8>> = siblings.iter().map(|s| s.as_bytes().to_vec()).collect();
    names.sort();
    r.check_entry(path, path.file_name().unwrap().as_bytes(), &md, &scope, &names)
}

#[test]
fn defaults_match_names_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["a/node_modules", "a/b/.venv", "a/__pycache__", "a/dist", "a/build", "a/target", "b/target"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("a/x.pyc"), b"").unwrap();
    std::fs::write(d.join("a/venv"), b"a file called venv").unwrap();
    let r = rules(ExcludeOptions { default_excludes: true, ..Default::default() });
    assert_eq!(check(&r, &d.join("a/node_modules"), &[]), Some(Reason::Pattern("node_modules/".into())));
    assert!(check(&r, &d.join("a/b/.venv"), &[]).is_some());
    assert!(check(&r, &d.join("a/__pycache__"), &[]).is_some());
    assert!(check(&r, &d.join("a/x.pyc"), &[]).is_some());
    assert_eq!(check(&r, &d.join("a/venv"), &[]), None, "folder-only pattern");
    assert_eq!(check(&r, &d.join("a/dist"), &[]), None);
    assert_eq!(check(&r, &d.join("a/build"), &[]), None);
    assert_eq!(check(&r, &d.join("a/target"), &["Cargo.toml", "src", "target"]), Some(Reason::CargoTarget));
    assert_eq!(check(&r, &d.join("b/target"), &["target", "notes.md"]), None);
    let none = rules(ExcludeOptions::default());
    assert!(none.is_empty());
    assert_eq!(check(&none, &d.join("a/node_modules"), &[]), None);
}

#[test]
fn recorded_rules_decide_as_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    for sub in ["p/.claude/cache", "p/.cache/keep", "p/scratch"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let file = d.join("rules");
    std::fs::write(&file, "# comment\n\nscratch/\n").unwrap();
    let original = rules(ExcludeOptions {
        default_excludes: true,
        patterns: vec![".claude/cache".into(), "!.cache/".into()],
        pattern_files: vec![file.clone()],
        larger_than: Some(10),
        ..Default::default()
    });
    let rec = original.record().clone();
    assert_eq!(rec.patterns.len(), DEFAULT_PATTERNS.len() + 3, "{:?}", rec.patterns);
    assert!(rec.patterns.ends_with(&["**/.claude/cache".into(), "!.cache/".into(), "scratch/".into()]));
    assert!(rec.cargo_target && rec.markers == [CACHEDIR_TAG] && rec.larger_than == Some(10));
    // The exclude file changing later changes nothing recorded.
    std::fs::write(&file, "other/\n").unwrap();
    let again = ExcludeRules::from_record(&rec).unwrap();
    assert_eq!(again.record(), &rec);
    for sub in ["p/.claude/cache", "p/.cache", "p/scratch", "p"] {
        assert_eq!(check(&again, &d.join(sub), &[]).is_some(), check(&original, &d.join(sub), &[]).is_some(), "{sub}");
    }
    assert!(check(&again, &d.join("p/scratch"), &[]).is_some());
    let own = ExcludeRecord { self_excluded: vec![d.join("p").as_os_str().as_bytes().to_vec().into()], ..rec };
    assert!(check(&ExcludeRules::from_record(&own).unwrap(), &d.join("p"), &[]).is_some());
}

#[test]
fn user_patterns_anchor_and_negate() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    for sub in ["p/.claude/cache", "q/big", "q/r/big", "p/.cache/keep"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("p/x.log"), b"").unwrap();
    let anchored = format!("{}/q/big", d.display());
    let r = rules(ExcludeOptions {
        default_excludes: true,
        patterns: vec![".claude/cache".into(), anchored, "*.log".into(), "!.cache/".into()],
        ..Default::default()
    });
    assert!(check(&r, &d.join("p/.claude/cache"), &[]).is_some(), "middle slash matches at any depth");
    assert!(check(&r, &d.join("q/big"), &[]).is_some());
    assert_eq!(check(&r, &d.join("q/r/big"), &[]), None, "leading slash anchors at /");
    assert!(check(&r, &d.join("p/x.log"), &[]).is_some());
    assert_eq!(check(&r, &d.join("p/.cache"), &[]), None, "negation re-includes a default");
    assert!(ExcludeRules::new(&ExcludeOptions { patterns: vec!["a{b".into()], ..Default::default() }).is_err());
}

#[test]
fn markers_need_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(CACHEDIR_TAG), b"Signature: not the right one").unwrap();
    // Sorted, as the archiver lists folders.
    let names = vec![b".nobackup".to_vec(), CACHEDIR_TAG.as_bytes().to_vec()];
    let r = rules(ExcludeOptions { default_excludes: true, ..Default::default() });
    assert_eq!(r.check_listing(d, &names), None);
    let mut tag = CACHEDIR_SIGNATURE.to_vec();
    tag.extend_from_slice(b"\n# made by a test\n");
    std::fs::write(d.join(CACHEDIR_TAG), tag).unwrap();
    assert_eq!(r.check_listing(d, &names), Some(Reason::Marker(CACHEDIR_TAG.into())));
    let custom = rules(ExcludeOptions { if_present: vec![".nobackup".into()], ..Default::default() });
    assert_eq!(custom.check_listing(d, &names), Some(Reason::Marker(".nobackup".into())));
    assert!(ExcludeRules::new(&ExcludeOptions { if_present: vec!["a/b".into()], ..Default::default() }).is_err());
}

#[test]
fn own_paths_are_left_out_wherever_met_and_no_pattern_takes_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    for sub in ["a/repo", "b/repo"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let r = rules(ExcludeOptions {
        own_paths: vec![d.join("a/repo")],
        patterns: vec!["!repo".into()],
        ..Default::default()
    });
    assert!(!r.is_empty());
    assert_eq!(check(&r, &d.join("a/repo"), &[]), Some(Reason::OwnFile));
    assert_eq!(check(&r, &d.join("b/repo"), &[]), None, "only that exact path");
    let pseudo = rules(ExcludeOptions { skip_pseudo_filesystems: true, ..Default::default() });
    assert!(pseudo.skips_pseudo_filesystems() && !pseudo.is_empty());
    assert!(!rules(ExcludeOptions::default()).skips_pseudo_filesystems());
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("500K"), Ok(500 * 1024));
    assert_eq!(parse_size("100M"), Ok(100 << 20));
    assert_eq!(parse_size("1G"), Ok(1 << 30));
    assert_eq!(parse_size("1.5g"), Ok(3 << 29));
    assert_eq!(parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(parse_size("123"), Ok(123));
    assert!(parse_size("12X").is_err());
    assert!(parse_size("M").is_err());
}
