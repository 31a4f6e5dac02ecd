//! A snapshot records how it was taken (issue 10 item 1): `diff` against the
//! live files sees them through the snapshot's exclude rules, so an
//! unchanged tree diffs to nothing, and `restore --to-original --delete`
//! keeps what those rules left out.

use std::fs;
use std::path::Path;

use crate::common::*;

fn write(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

/// The change lines of `cairn diff ARGS...` (the summary line dropped) and
/// the summary.
fn diff(env: &Env, args: &[&str]) -> (Vec<String>, String) {
    let out = env.cairn().arg("diff").args(args).output().unwrap();
    assert!(out.status.success(), "diff {args:?}: {}", stderr_of(&out));
    let text = stdout_of(&out);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let summary = lines.pop().unwrap_or_default();
    (lines, summary)
}

/// The path of a diff line after its letter (`  /a/b  (1 B)` → `/a/b`).
fn path_of(rest: &str) -> &str {
    let rest = rest.trim_start();
    rest.split_once("  (").map_or(rest, |(p, _)| p).trim_end()
}

/// The first example: `cairn snapshot ~/.claude ~/projects && cairn
/// diff latest`, nothing changed, printed 211 "added" lines under
/// node_modules/ and target/. Then, after a disaster, exactly the real
/// deletions show.
#[test]
fn an_unchanged_workspace_diffs_to_nothing_and_a_disaster_to_its_deletions() {
    let env = Env::new();
    let home = env.path("home");
    cairn_testgen::init(&home, cairn_testgen::Scale::Tiny, 10).unwrap();
    let out = env.cairn().arg("snapshot").arg(home.join(".claude")).arg(home.join("projects")).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    let (lines, summary) = diff(&env, &["latest"]);
    assert!(lines.is_empty(), "nothing changed, yet: {lines:?}");
    assert!(summary.starts_with("0 added, 0 deleted, 0 modified, 0 type changed, 0 metadata only"), "{summary}");

    let deleted = cairn_testgen::disaster(&home).unwrap();
    let real: Vec<String> = deleted
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "node_modules" || c.as_os_str() == "target"))
        .map(|p| home.join(p).display().to_string())
        .collect();
    assert!(!real.is_empty());
    let (lines, _) = diff(&env, &["latest"]);
    let mut shown: Vec<String> =
        lines.iter().filter_map(|l| l.strip_prefix("D ")).map(|l| path_of(l).to_string()).collect();
    shown.sort();
    let mut want = real.clone();
    want.sort();
    assert_eq!(shown, want, "every line: {lines:?}");
    assert_eq!(lines.len(), real.len(), "only the deletions: {lines:?}");
}

/// Flags, exclude files and `--git-ignore` are recorded too; `diff
/// --exclude` / `--include` narrow what the live diff reports.
#[test]
fn diff_applies_every_recorded_rule_and_narrows_with_its_own_patterns() {
    let env = Env::new();
    let work = env.path("work");
    for f in ["src/main.rs", "notes.txt", "debug.log", "gen/out.txt", "scratch/a.tmp", "huge.bin"] {
        write(&work.join(f), "1");
    }
    write(&work.join("huge.bin"), &"x".repeat(5000));
    write(&work.join(".gitignore"), "gen/\n");
    let rules = env.path("rules.txt");
    write(&rules, "# scratch space\nscratch/\n");
    let out = env
        .cairn()
        .args(["snapshot", "--exclude", "*.log", "--git-ignore", "--exclude-larger-than", "1K", "--exclude-file"])
        .arg(&rules)
        .arg(&work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // The exclude file changing later does not change what the snapshot was.
    write(&rules, "nothing\n");

    let (lines, _) = diff(&env, &["latest"]);
    assert!(lines.is_empty(), "{lines:?}");

    write(&work.join("more.log"), "2");
    write(&work.join("gen/more.txt"), "2");
    write(&work.join("scratch/b.tmp"), "2");
    write(&work.join("src/lib.rs"), "2");
    write(&work.join("docs/new.md"), "2");
    let (lines, summary) = diff(&env, &["latest"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(summary.starts_with("3 added"), "{summary}");
    for added in ["src/lib.rs", "docs/", "docs/new.md"] {
        assert!(lines.iter().any(|l| l.starts_with('A') && path_of(&l[1..]).ends_with(added)), "{added}: {lines:?}");
    }
    let (lines, _) = diff(&env, &["latest", "--exclude", "docs/"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(path_of(&lines[0][1..]).ends_with("src/lib.rs"), "{lines:?}");
    let (lines, _) = diff(&env, &["latest", "--include", "*.md"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(path_of(&lines[0][1..]).ends_with("docs/new.md"), "{lines:?}");
}

/// `--delete` keeps what the recorded rules left out, however new it is,
/// and removes the rest of what the snapshot lacks.
#[test]
fn restore_delete_keeps_what_the_recorded_rules_excluded() {
    let env = Env::new();
    let work = env.path("work");
    write(&work.join("kept.txt"), "kept\n");
    let out = env.cairn().args(["snapshot", "--exclude", "*.log"]).arg(&work).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // After the snapshot: a log the rules exclude, an npm install (default
    // rules), and a file nothing excludes.
    write(&work.join("debug.log"), "log\n");
    write(&work.join("node_modules/pkg/index.js"), "dep\n");
    write(&work.join("agent-junk.txt"), "junk\n");
    let out =
        env.cairn().args(["restore", "latest", "--to-original", "--delete", "--path"]).arg(&work).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(work.join("debug.log").is_file(), "excluded by the snapshot's --exclude: kept");
    assert!(work.join("node_modules/pkg/index.js").is_file(), "excluded by the default rules: kept");
    assert!(!work.join("agent-junk.txt").exists(), "not excluded, not in the snapshot: deleted");
    assert!(work.join("kept.txt").is_file());
}
