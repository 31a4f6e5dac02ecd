//! `cairn snapshot` excludes, dry runs, progress output and change
//! detection: each exclude option is checked by restoring the snapshot and
//! listing what came back.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

const CACHEDIR_TAG: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n";

/// Runs `cairn snapshot --json ARGS... PATH` and returns the summary object.
fn snapshot(env: &Env, args: &[&str], path: &Path) -> serde_json::Value {
    let out = env.cairn().arg("snapshot").arg("--json").args(args).arg(path).output().unwrap();
    assert!(out.status.success(), "snapshot {args:?} failed: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(&out)))
}

/// Every path (files, folders, links) the latest snapshot holds below
/// `src`, relative to it: restored into a fresh folder and walked.
fn stored(env: &Env, src: &Path) -> BTreeSet<PathBuf> {
    let target = env.dir.path().join(format!("restore-{}", fs::read_dir(env.dir.path()).unwrap().count()));
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let root = restored(&target, src);
    let mut out = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            out.insert(e.path().strip_prefix(&root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

fn write(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn has(set: &BTreeSet<PathBuf>, rel: &str) -> bool {
    set.contains(Path::new(rel))
}

fn file_count(v: &serde_json::Value) -> u64 {
    let s = &v["summary"];
    s["files_new"].as_u64().unwrap() + s["files_changed"].as_u64().unwrap() + s["files_unchanged"].as_u64().unwrap()
}

/// A tree with one of everything the default set is about, and look-alikes
/// it must keep.
fn make_default_cases(root: &Path) {
    write(&root.join("web/node_modules/left-pad/index.js"), b"module.exports = 1;\n");
    write(&root.join("web/dist/app.js"), b"built, but maybe someone's source\n");
    write(&root.join("web/build/keep.txt"), b"build/ is kept\n");
    write(&root.join("web/.next/cache/x"), b"next cache\n");
    write(&root.join("py/.venv/lib/site.py"), b"venv\n");
    write(&root.join("py/venv/pyvenv.cfg"), b"home = /usr\n");
    write(&root.join("py/pkg/__pycache__/m.cpython-312.pyc"), b"\x00bytecode");
    write(&root.join("py/pkg/m.py"), b"print(1)\n");
    write(&root.join("py/pkg/stray.pyc"), b"\x00bytecode");
    write(&root.join("py/.pytest_cache/v/cache"), b"{}");
    write(&root.join("home/.cache/pip/wheel"), b"cached");
    write(&root.join("rs/Cargo.toml"), b"[package]\nname = \"rs\"\n");
    write(&root.join("rs/target/debug/rs"), b"\x7fELF");
    write(&root.join("rs/src/main.rs"), b"fn main() {}\n");
    write(&root.join("notes/target/plan.md"), b"a target folder that is not cargo's\n");
    write(&root.join("tagged/CACHEDIR.TAG"), CACHEDIR_TAG);
    write(&root.join("tagged/blob"), b"cache contents");
    write(&root.join("fake-tag/CACHEDIR.TAG"), b"Signature: this is not the one\n");
    write(&root.join("fake-tag/data"), b"keep me");
    write(&root.join("venv"), b"a file named venv is not a virtualenv folder");
}

#[test]
fn default_excludes_leave_out_rebuildable_folders_only() {
    let env = Env::new();
    let src = env.path("src");
    make_default_cases(&src);
    let first = snapshot(&env, &[], &src);
    let got = stored(&env, &src);
    for gone in [
        "web/node_modules",
        "web/.next",
        "py/.venv",
        "py/venv",
        "py/pkg/__pycache__",
        "py/pkg/stray.pyc",
        "py/.pytest_cache",
        "home/.cache",
        "rs/target",
        "tagged",
    ] {
        assert!(!has(&got, gone), "{gone} must be excluded: {got:?}");
    }
    for kept in [
        "web/dist/app.js",
        "web/build/keep.txt",
        "py/pkg/m.py",
        "rs/Cargo.toml",
        "rs/src/main.rs",
        "notes/target/plan.md",
        "fake-tag/CACHEDIR.TAG",
        "fake-tag/data",
        "venv",
        "home",
    ] {
        assert!(has(&got, kept), "{kept} must be kept: {got:?}");
    }
    // Excluded folders count once each; nothing below them is visited.
    assert_eq!(first["excluded"], 10, "{first}");

    // --no-default-excludes stores everything.
    snapshot(&env, &["--no-default-excludes"], &src);
    let target = env.path("all");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_same_tree(&src, &restored(&target, &src));

    // A path named on the command line is stored even if a default matches it.
    let nm = src.join("web/node_modules");
    let v = snapshot(&env, &[], &nm);
    assert_eq!(file_count(&v), 1, "{v}");

    // The help lists the defaults.
    let out = env.cairn().args(["snapshot", "--help"]).output().unwrap();
    let help = stdout_of(&out);
    for p in ["node_modules/", "__pycache__/", "*.pyc", ".venv/", "CACHEDIR.TAG", "Cargo.toml"] {
        assert!(help.contains(p), "--help must list {p}:\n{help}");
    }
}

#[test]
fn default_excludes_on_an_agent_workspace_keep_everything_but_build_folders() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 21).unwrap();
    let stats = cairn_testgen::stats(&src).unwrap();
    assert!(stats.all.files > stats.without_excluded.files, "the workspace has build folders");
    let v = snapshot(&env, &[], &src);
    // Everything but node_modules/ and target/, plus testgen's metadata file.
    assert_eq!(file_count(&v), stats.without_excluded.files + 1, "{v}");
    assert!(v["summary"]["total_bytes"].as_u64().unwrap() > stats.without_excluded.bytes);
    let got = stored(&env, &src);
    for p in &got {
        for name in p.iter() {
            assert!(name != "node_modules" && name != "target", "{} was stored", p.display());
        }
    }
}

#[test]
fn exclude_patterns_and_exclude_files() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a/debug.log"), b"log");
    write(&src.join("a/b/trace.log"), b"log");
    write(&src.join("a/keep.log"), b"kept by a negation");
    write(&src.join("a/.claude/cache/x"), b"x");
    write(&src.join("b/.claude/cache/y"), b"y");
    write(&src.join("a/.claude/settings.json"), b"{}");
    write(&src.join("big/file"), b"anchored");
    write(&src.join("a/big/file"), b"same name deeper: kept");
    write(&src.join("secrets/token"), b"t");
    write(&src.join("c/secrets"), b"a file called secrets");
    write(&src.join("notes.tmp"), b"tmp");
    write(&src.join("a/notes.tmp"), b"tmp");
    let canon = fs::canonicalize(&src).unwrap();
    let anchored = format!("{}/big", canon.display());
    let list = env.path("excludes.txt");
    fs::write(&list, b"# comments and blank lines are skipped\n\n*.tmp\nsecrets/\n").unwrap();
    snapshot(
        &env,
        &[
            "--exclude",
            "*.log",
            "--exclude",
            "!keep.log",
            "--exclude",
            ".claude/cache",
            "--exclude",
            &anchored,
            "--exclude-file",
            list.to_str().unwrap(),
        ],
        &src,
    );
    let got = stored(&env, &src);
    for gone in ["a/debug.log", "a/b/trace.log", "a/.claude/cache", "b/.claude/cache", "big", "secrets", "notes.tmp"] {
        assert!(!has(&got, gone), "{gone} must be excluded: {got:?}");
    }
    assert!(!has(&got, "a/notes.tmp"));
    for kept in ["a/keep.log", "a/.claude/settings.json", "a/big/file", "c/secrets", "a/b", "b/.claude"] {
        assert!(has(&got, kept), "{kept} must be kept: {got:?}");
    }

    // A bad pattern or a missing file fails before anything is written.
    let before = env.repo_listing();
    let out = env.cairn().args(["snapshot", "--exclude", "a{b"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let out = env.cairn().args(["snapshot", "--exclude-file", "/no/such/list"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("/no/such/list"), "{}", stderr_of(&out));
    assert_eq!(env.repo_listing(), before);
}

#[test]
fn exclude_if_present_honours_the_cachedir_signature() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("real/CACHEDIR.TAG"), CACHEDIR_TAG);
    write(&src.join("real/data"), b"cache");
    write(&src.join("fake/CACHEDIR.TAG"), b"Signature: 0000\n");
    write(&src.join("fake/data"), b"not a cache");
    write(&src.join("short/CACHEDIR.TAG"), b"Signature: 8a47");
    write(&src.join("marked/.nobackup"), b"");
    write(&src.join("marked/data"), b"x");
    write(&src.join("plain/data"), b"x");

    // Without the defaults, nothing is excluded ...
    snapshot(&env, &["--no-default-excludes"], &src);
    let got = stored(&env, &src);
    assert!(has(&got, "real/data") && has(&got, "marked/data"));

    // ... unless asked: a CACHEDIR.TAG counts only with its signature.
    let args = ["--no-default-excludes", "--exclude-if-present", "CACHEDIR.TAG", "--exclude-if-present", ".nobackup"];
    let v = snapshot(&env, &args, &src);
    let got = stored(&env, &src);
    assert!(!has(&got, "real"), "{got:?}");
    assert!(!has(&got, "marked"), "{got:?}");
    for kept in ["fake/data", "fake/CACHEDIR.TAG", "short/CACHEDIR.TAG", "plain/data"] {
        assert!(has(&got, kept), "{kept}: {got:?}");
    }
    assert_eq!(v["excluded"], 2, "{v}");

    // The defaults include CACHEDIR.TAG.
    snapshot(&env, &[], &src);
    let got = stored(&env, &src);
    assert!(!has(&got, "real") && has(&got, "fake/data") && has(&got, "marked/data"), "{got:?}");
}

#[test]
fn git_ignore_files_stack_as_in_git() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join(".gitignore"), b"*.log\nbuild/\n/top-only.txt\n");
    write(&src.join("app.log"), b"l");
    write(&src.join("top-only.txt"), b"t");
    write(&src.join("build/out.o"), b"o");
    write(&src.join("src/main.rs"), b"fn main() {}");
    write(&src.join("sub/.gitignore"), b"# nested\n!important.log\nsecret.txt\n");
    write(&src.join("sub/important.log"), b"kept by the nested negation");
    write(&src.join("sub/other.log"), b"still ignored by the root file");
    write(&src.join("sub/secret.txt"), b"s");
    write(&src.join("sub/top-only.txt"), b"anchored pattern does not reach here");
    write(&src.join("sub/deeper/secret.txt"), b"ignored: patterns without / match at any depth");
    write(&src.join("sub/deeper/build/x"), b"ignored by the root file");
    write(&src.join("other/secret.txt"), b"the nested file does not reach a sibling");
    write(&src.join(".git/HEAD"), b"ref: refs/heads/main\n");

    // Without --git-ignore the .gitignore files are just files.
    snapshot(&env, &["--no-default-excludes"], &src);
    let got = stored(&env, &src);
    assert!(has(&got, "app.log") && has(&got, "sub/secret.txt") && has(&got, "build/out.o"));

    snapshot(&env, &["--no-default-excludes", "--git-ignore"], &src);
    let got = stored(&env, &src);
    for gone in [
        "app.log",
        "top-only.txt",
        "build",
        "sub/other.log",
        "sub/secret.txt",
        "sub/deeper/secret.txt",
        "sub/deeper/build",
    ] {
        assert!(!has(&got, gone), "{gone} must be ignored: {got:?}");
    }
    for kept in [
        ".gitignore",
        ".git/HEAD",
        "src/main.rs",
        "sub/.gitignore",
        "sub/important.log",
        "sub/top-only.txt",
        "sub/deeper",
        "other/secret.txt",
    ] {
        assert!(has(&got, kept), "{kept} must be kept: {got:?}");
    }
}

#[test]
fn one_file_system_does_not_cross_mount_points() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("here.txt"), b"same filesystem");
    let mnt = src.join("mnt");
    let guard = small_mount(&mnt, "size=1m");
    let mounted = guard.is_some();
    if mounted {
        write(&mnt.join("there.txt"), b"another filesystem");
    }

    snapshot(&env, &["--one-file-system"], &src);
    let got = stored(&env, &src);
    assert!(has(&got, "here.txt"), "{got:?}");
    if mounted {
        assert!(!has(&got, "mnt"), "the mount point is left out whole: {got:?}");
        snapshot(&env, &[], &src);
        let got = stored(&env, &src);
        assert!(has(&got, "mnt/there.txt"), "without -x the mount is stored: {got:?}");
        // The given path itself may be a mount point: -x stays inside it.
        snapshot(&env, &["-x"], &mnt);
        assert!(has(&stored(&env, &mnt), "there.txt"));
    } else {
        assert!(has(&got, "mnt"), "{got:?}");
    }
}

#[test]
fn exclude_larger_than_applies_to_regular_files() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("small.bin"), &vec![1u8; 10 * 1024]);
    write(&src.join("exact.bin"), &vec![2u8; 500 * 1024]);
    write(&src.join("big.bin"), &vec![3u8; 500 * 1024 + 1]);
    write(&src.join("dir/huge.bin"), &vec![4u8; 2 * 1024 * 1024]);
    std::os::unix::fs::symlink("big.bin", src.join("link-to-big")).unwrap();
    let v = snapshot(&env, &["--exclude-larger-than", "500K"], &src);
    let got = stored(&env, &src);
    for kept in ["small.bin", "exact.bin", "dir", "link-to-big"] {
        assert!(has(&got, kept), "{kept}: {got:?}");
    }
    assert!(!has(&got, "big.bin") && !has(&got, "dir/huge.bin"), "{got:?}");
    assert_eq!(v["excluded"], 2);
    let out = env.cairn().args(["snapshot", "--exclude-larger-than", "12 parsecs"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a bad size is a usage error (exit 1): {}", stderr_of(&out));
}

#[test]
fn dry_run_writes_nothing_and_predicts_the_real_run() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 8).unwrap();
    for round in 0..2 {
        if round == 1 {
            cairn_testgen::tick(&src, 1).unwrap();
        }
        let before = env.repo_listing();
        let dry = snapshot(&env, &["--dry-run"], &src);
        assert_eq!(env.repo_listing(), before, "round {round}: a dry run writes nothing");
        assert_eq!(dry["dry_run"], true);
        assert!(dry["id"].is_null(), "{dry}");
        let real = snapshot(&env, &[], &src);
        assert_eq!(real["dry_run"], false);
        for key in ["data_blobs_added", "tree_blobs_added", "files_read", "bytes_read", "files_new", "total_bytes"] {
            assert_eq!(dry["summary"][key], real["summary"][key], "round {round}: {key}\n{dry}\n{real}");
        }
        assert!(dry["summary"]["data_blobs_added"].as_u64().unwrap() > 0, "{dry}");
        // The plaintext size of the new blobs bounds what the packs add, give or take overhead.
        assert!(dry["summary"]["bytes_added"].as_u64().unwrap() > 0);
    }
    // The text report says it stored nothing.
    let out = env.cairn().args(["snapshot", "-n"]).arg(&src).output().unwrap();
    assert!(out.status.success());
    assert!(stdout_of(&out).contains("nothing stored"), "{}", stdout_of(&out));

    // A dry run does not create the default repository either.
    let fresh = Env::empty();
    let out = bare_cairn(fresh.dir.path()).args(["snapshot", "--dry-run"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", stderr_of(&out));
    assert!(!fresh.dir.path().join(".local/share/cairn").exists());
    assert!(!fresh.dir.path().join(".config/cairn").exists());
}

#[test]
fn json_verbose_prints_progress_lines_then_the_summary() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 9).unwrap();
    let out = env.cairn().args(["snapshot", "--json", "--verbose"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lines: Vec<serde_json::Value> = stdout_of(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let last = lines.last().expect("some output");
    assert_eq!(last["type"], "summary", "{last}");
    assert!(last["summary"]["files_new"].as_u64().unwrap() > 0);
    let progress: Vec<_> = lines.iter().filter(|l| l["type"] == "progress").collect();
    assert!(!progress.is_empty(), "at least the final progress line");
    let final_progress = progress.last().unwrap();
    assert_eq!(final_progress["files"], file_count(last), "{final_progress}");
    for l in &lines[..lines.len() - 1] {
        assert!(l["type"] == "progress" || l["type"] == "excluded", "{l}");
    }
    assert!(lines.iter().any(|l| l["type"] == "excluded" && l["path"].as_str().unwrap().ends_with("node_modules")));

    // The second run knows the parent's totals.
    let out = env.cairn().args(["snapshot", "--json", "-v"]).arg(&src).output().unwrap();
    let text = stdout_of(&out);
    let progress: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(progress["total_files"], last["summary"]["files_new"], "{progress}");
    // Without a terminal and without -v: the summary alone, no "type".
    let plain = snapshot(&env, &[], &src);
    assert!(plain.get("type").is_none());
    // Not on a terminal, text mode prints only the summary line.
    let out = env.cairn().arg("snapshot").arg(&src).output().unwrap();
    assert_eq!(stdout_of(&out).lines().count(), 1, "{}", stdout_of(&out));
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn second_snapshot_reads_exactly_the_files_that_changed() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 12).unwrap();
    settle();
    snapshot(&env, &[], &src);
    for hour in 1..=3 {
        let r = cairn_testgen::tick(&src, hour).unwrap();
        settle();
        let expected = r.modified.len() + r.created.len() + r.appended.len() + r.renamed.len() + r.touched.len();
        assert!(expected > 0, "hour {hour}: {}", r.summary());
        let v = snapshot(&env, &[], &src);
        assert_eq!(v["summary"]["files_read"], expected as u64, "hour {hour}: {}\n{v}", r.summary());
    }
}

#[test]
fn a_changed_ctime_alone_makes_a_file_read_again() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"version one");
    write(&src.join("b.txt"), b"untouched");
    settle();
    snapshot(&env, &[], &src);
    assert_eq!(snapshot(&env, &[], &src)["summary"]["files_read"], 0);

    // chmod and back: same size, mtime and mode; only the ctime moved.
    let path = src.join("a.txt");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    settle();
    assert_eq!(snapshot(&env, &[], &src)["summary"]["files_read"], 1);

    // Same-size new content with the old mtime put back.
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    fs::write(&path, b"version two").unwrap();
    fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    let v = snapshot(&env, &[], &src);
    assert_eq!(v["summary"]["files_read"], 1, "{v}");
    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_eq!(fs::read(restored(&target, &src).join("a.txt")).unwrap(), b"version two");
}
