//! The mass-deletion alarm through the binary: testgen's disaster raises it
//! (exit 4, parent pinned, one summary naming the undo command, the alert
//! command run), the pinned parent survives `forget` by the default policy
//! and the printed command brings the deleted files back; a day of ordinary
//! ticks raises nothing; truncation counts; dry runs and --no-alarm pin
//! nothing.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// A `notify-send` stand-in (the default alert command is `notify-send`
/// when it is on PATH) that writes its arguments and the CAIRN_ALARM_*
/// variables to `alert.txt`; returns the PATH to use.
fn fake_notifier(env: &Env) -> String {
    let bin = env.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let out = env.path("alert.txt");
    let script =
        format!("#!/bin/sh\n{{ echo \"args: $*\"; env | grep '^CAIRN_ALARM_' | sort; }} > '{}'\n", out.display());
    let path = bin.join("notify-send");
    fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// `snapshot --json` of `src` (everything: the disaster counts are
/// testgen's) recorded at `time`: (exit code, JSON, stderr).
fn snapshot(
    env: &Env,
    src: &Path,
    time: &str,
    extra: &[&str],
    path_var: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let mut cmd = env.cairn();
    if let Some(p) = path_var {
        cmd.env("PATH", p);
    }
    let out = cmd
        .args(["snapshot", "--json", "--no-default-excludes", "--time", time])
        .args(extra)
        .arg(src)
        .output()
        .unwrap();
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(&out), stderr_of(&out)));
    (out.status.code().unwrap_or(-1), json, stderr_of(&out))
}

fn snapshot_ids(env: &Env) -> Vec<String> {
    let out = env.cairn().args(["--json", "snapshots"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

/// The undo command the summary printed, as arguments after `cairn`.
fn undo_args(stderr: &str) -> Vec<String> {
    let line =
        stderr.lines().find_map(|l| l.trim().strip_prefix("to undo it: ")).expect("the summary names the command");
    let words: Vec<String> = line.split_whitespace().map(String::from).collect();
    assert_eq!(words[0], "cairn", "{line}");
    words[1..].to_vec()
}

#[test]
fn the_disaster_raises_the_alarm_pins_the_parent_and_is_undone_by_the_printed_command() {
    let env = Env::new();
    let src = env.path("ws");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 7).unwrap();
    let (code, first, _) = snapshot(&env, &src, "2025-03-10T08:00:00Z", &[], None);
    assert_eq!(code, 0);
    assert!(first["alarm"].is_null(), "no parent, nothing to compare: {first}");
    cairn_testgen::tick(&src, 1).unwrap();
    let (code, nine, _) = snapshot(&env, &src, "2025-03-10T09:00:00Z", &[], None);
    assert_eq!(code, 0);
    cairn_testgen::tick(&src, 2).unwrap();
    let (code, good, _) = snapshot(&env, &src, "2025-03-10T09:20:00Z", &[], None);
    assert_eq!(code, 0);
    assert_eq!(good["alarm"]["raised"], false, "{}", good["alarm"]);
    let parent = good["id"].as_str().unwrap().to_string();
    let good_tree = env.path("good");
    copy_tree(&src, &good_tree);

    let gone = cairn_testgen::disaster(&src).unwrap();
    let path_var = fake_notifier(&env);
    // A dry run reports it and pins nothing; --no-alarm does not count.
    let (code, dry, _) = snapshot(&env, &src, "2025-03-10T09:40:00Z", &["--dry-run"], Some(&path_var));
    assert_eq!((code, &dry["alarm"]["raised"], &dry["alarm"]["pinned"]), (0, &true.into(), &false.into()));
    let (code, off, _) = snapshot(&env, &src, "2025-03-10T09:40:00Z", &["--dry-run", "--no-alarm"], Some(&path_var));
    assert_eq!(code, 0);
    assert!(off["alarm"].is_null());
    assert!(!env.path("alert.txt").exists(), "no alert for a dry run");

    let (code, hit, stderr) = snapshot(&env, &src, "2025-03-10T09:40:00Z", &[], Some(&path_var));
    assert_eq!(code, 4, "{stderr}");
    let alarm = &hit["alarm"];
    assert_eq!((&alarm["raised"], &alarm["pinned"]), (&true.into(), &true.into()), "{alarm}");
    assert_eq!(alarm["parent"], parent.as_str());
    assert_eq!(alarm["vanished"], gone.len() as u64, "every deleted file counted: {alarm}");
    assert_eq!(alarm["protected"], gone.len() as u64, "all Markdown: {alarm}");
    assert!(hit["id"].is_string(), "the snapshot is still saved");
    assert!(stderr.contains("ALARM") && stderr.contains(&parent[..8]), "{stderr}");
    assert!(stderr.contains(&format!("restore {} --to-original", &parent[..8])), "{stderr}");

    let alert = fs::read_to_string(env.path("alert.txt")).expect("the alert command ran");
    assert!(alert.contains(&format!("CAIRN_ALARM_PARENT={parent}")), "{alert}");
    assert!(alert.contains(&format!("CAIRN_ALARM_VANISHED={}", gone.len())), "{alert}");
    assert!(alert.contains("CAIRN_ALARM_UNDO=cairn "), "{alert}");

    // The default policy keeps the newest snapshot of each hour (and the
    // oldest): 09:00 goes, the pinned 09:20 stays although 09:40 is newer
    // in the same hour.
    env.cairn().args(["forget"]).assert().success();
    let left = snapshot_ids(&env);
    assert!(left.contains(&parent), "the pinned parent survives forget: {left:?}");
    assert!(!left.contains(&nine["id"].as_str().unwrap().to_string()), "unpinned, 09:00 is forgotten: {left:?}");
    env.cairn().args(["prune"]).assert().success();

    let out = env.cairn().args(undo_args(&stderr)).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    for rel in &gone {
        assert_eq!(fs::read(src.join(rel)).unwrap(), fs::read(good_tree.join(rel)).unwrap(), "{}", rel.display());
    }
}

#[test]
fn a_day_of_ordinary_ticks_raises_nothing() {
    let env = Env::new();
    let src = env.path("ws");
    cairn_testgen::init(&src, cairn_testgen::Scale::Small, 3).unwrap();
    assert_eq!(snapshot(&env, &src, "2025-03-10T00:00:00Z", &[], None).0, 0);
    for hour in 1..=24u32 {
        cairn_testgen::tick(&src, hour).unwrap();
        let time = format!("2025-03-{:02}T{:02}:00:00Z", 10 + hour / 24, hour % 24);
        let (code, v, stderr) = snapshot(&env, &src, &time, &[], None);
        assert_eq!(code, 0, "hour {hour}: {stderr}");
        assert_eq!(v["alarm"]["raised"], false, "hour {hour}: {}", v["alarm"]);
    }
}

#[test]
fn truncated_files_raise_it_and_the_undo_command_overwrites_them() {
    let env = Env::new();
    let src = env.path("data");
    let files: Vec<PathBuf> = (0..80).map(|i| src.join(format!("d{}/f{i}.txt", i % 4))).collect();
    for (i, f) in files.iter().enumerate() {
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, noise(2000, i as u64 + 1)).unwrap();
    }
    assert_eq!(snapshot(&env, &src, "2025-03-10T09:00:00Z", &[], None).0, 0);
    for f in &files[..60] {
        fs::write(f, b"x").unwrap(); // cut to less than a tenth
    }
    let (code, v, stderr) = snapshot(&env, &src, "2025-03-10T10:00:00Z", &[], Some(""));
    assert_eq!(code, 4, "{stderr}");
    assert_eq!((&v["alarm"]["truncated"], &v["alarm"]["vanished"]), (&60.into(), &0.into()), "{}", v["alarm"]);
    let args = undo_args(&stderr);
    assert!(args.contains(&"--overwrite".to_string()), "{args:?}");
    let out = env.cairn().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for (i, f) in files.iter().enumerate() {
        assert_eq!(fs::read(f).unwrap(), noise(2000, i as u64 + 1), "{}", f.display());
    }
}

#[test]
fn a_few_deletions_or_an_unchanged_tree_stay_quiet() {
    let env = Env::new();
    let src = env.path("data");
    fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..100 {
        fs::write(src.join(format!("sub/f{i}.txt")), format!("file {i}")).unwrap();
    }
    assert_eq!(snapshot(&env, &src, "2025-03-10T09:00:00Z", &[], None).0, 0);
    let (code, v, _) = snapshot(&env, &src, "2025-03-10T10:00:00Z", &[], None);
    assert_eq!(code, 0);
    assert_eq!((&v["alarm"]["vanished"], &v["alarm"]["raised"]), (&0.into(), &false.into()));
    for i in 0..9 {
        fs::remove_file(src.join(format!("sub/f{i}.txt"))).unwrap();
    }
    let (code, v, _) = snapshot(&env, &src, "2025-03-10T11:00:00Z", &[], None);
    assert_eq!(code, 0);
    assert_eq!((&v["alarm"]["vanished"], &v["alarm"]["raised"]), (&9.into(), &false.into()));
    // A whole folder vanishing counts every file below it.
    fs::remove_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("keep"), "x").unwrap();
    let (code, v, _) = snapshot(&env, &src, "2025-03-10T12:00:00Z", &[], Some(""));
    assert_eq!(code, 4);
    assert_eq!(v["alarm"]["vanished"], 91, "{}", v["alarm"]);
}

#[test]
fn protected_files_raise_it_alone() {
    let env = Env::new();
    let src = env.path("data");
    fs::create_dir_all(src.join("notes")).unwrap();
    fs::create_dir_all(src.join("code")).unwrap();
    for i in 0..600 {
        fs::write(src.join(format!("code/f{i}.rs")), format!("fn f{i}() {{}}")).unwrap();
    }
    let notes = |range: std::ops::Range<usize>, write: bool| {
        for i in range {
            let path = src.join(format!("notes/n{i}.md"));
            if write { fs::write(&path, format!("# note {i}")).unwrap() } else { fs::remove_file(&path).unwrap() }
        }
    };
    notes(0..20, true);
    assert_eq!(snapshot(&env, &src, "2025-03-10T09:00:00Z", &[], None).0, 0);
    notes(0..19, false);
    let (code, v, _) = snapshot(&env, &src, "2025-03-10T10:00:00Z", &[], Some(""));
    assert_eq!((code, &v["alarm"]["protected"]), (0, &19.into()), "19 < protected-min: {}", v["alarm"]);
    notes(0..19, true);
    assert_eq!(snapshot(&env, &src, "2025-03-10T11:00:00Z", &[], Some("")).0, 0);
    // 20 files of 620 (3%, far below the share) but all protected.
    notes(0..20, false);
    let (code, v, stderr) = snapshot(&env, &src, "2025-03-10T12:00:00Z", &[], Some(""));
    assert_eq!((code, &v["alarm"]["protected"], &v["alarm"]["vanished"]), (4, &20.into(), &20.into()), "{stderr}");
}
