//! `check --read-data-subset` and the restore drill (`check
//! --restore-sample N`) through the binary: the N/M slices together read
//! every pack once and a damaged pack is found by exactly the slice holding
//! it; PCT and SIZE read as many packs as asked; the drill passes on an
//! unchanged tree, skips changed files and names a file whose data is damaged.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::common::*;

/// `check --json ARGS`: (exit code, JSON).
fn check(env: &Env, args: &[&str]) -> (i32, serde_json::Value) {
    let out = env.cairn().args(["--json", "check"]).args(args).output().unwrap();
    let v =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(&out), stderr_of(&out)));
    (out.status.code().unwrap_or(-1), v)
}

fn packs_read(v: &serde_json::Value) -> Vec<String> {
    v["packs_read"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

/// The pack files in the repository, by id.
fn pack_ids(env: &Env) -> BTreeSet<String> {
    env.repo_listing()
        .into_iter()
        .filter(|(p, _)| p.strip_prefix(&env.repo).unwrap().starts_with("data"))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A repository with many packs: each snapshot adds new data.
fn many_packs(env: &Env) -> PathBuf {
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..8u64 {
        fs::write(src.join(format!("f{i}")), noise(50_000, i + 1)).unwrap();
        env.snapshot_json(&[&src]);
    }
    src
}

#[test]
fn the_slices_read_every_pack_once_and_a_damaged_pack_only_in_its_slice() {
    let env = Env::new();
    let src = many_packs(&env);
    let all = pack_ids(&env);
    assert!(all.len() >= 8, "{all:?}");
    let mut seen = Vec::new();
    for n in 1..=3 {
        let (code, v) = check(&env, &["--read-data-subset", &format!("{n}/3")]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["read_data_subset"], format!("{n}/3"));
        seen.extend(packs_read(&v));
    }
    let distinct: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), distinct.len(), "no pack read twice");
    assert_eq!(distinct, all, "every pack read");

    let before = env.repo_listing();
    fs::write(src.join("late"), noise(60_000, 99)).unwrap();
    env.snapshot_json(&[&src]);
    let damaged = damage_newest_pack(&env, &before).file_name().unwrap().to_string_lossy().into_owned();
    let mut failing = Vec::new();
    for n in 1..=3 {
        let (code, v) = check(&env, &["--read-data-subset", &format!("{n}/3")]);
        if code != 0 {
            assert!(packs_read(&v).contains(&damaged), "slice {n} failed without reading the damaged pack: {v}");
            assert!(v["errors"].to_string().contains(&damaged), "{v}");
            failing.push(n);
        } else {
            assert!(!packs_read(&v).contains(&damaged));
        }
    }
    assert_eq!(failing.len(), 1, "exactly one slice finds it: {failing:?}");
}

#[test]
fn percent_and_size_read_as_many_packs_as_asked() {
    let env = Env::new();
    many_packs(&env);
    let total = pack_ids(&env).len();
    let (code, v) = check(&env, &["--read-data-subset", "50%"]);
    assert_eq!(code, 0);
    assert_eq!(packs_read(&v).len(), total / 2, "{v}");
    let (code, v) = check(&env, &["--read-data-subset", "1"]);
    assert_eq!(code, 0);
    assert_eq!(packs_read(&v).len(), 1, "one byte: one pack: {v}");
    let (_, v) = check(&env, &["--read-data-subset", "1T"]);
    assert_eq!(packs_read(&v).len(), total);
    // Text output says what was read.
    let out = env.cairn().args(["check", "--read-data-subset", "2/5"]).output().unwrap();
    assert!(stdout_of(&out).contains("read-data subset 2/5: read "), "{}", stdout_of(&out));
    for bad in ["0/3", "4/3", "150%", "lots"] {
        let out = env.cairn().args(["check", "--read-data-subset", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(stderr_of(&out).contains("--read-data-subset"), "{bad}: {}", stderr_of(&out));
    }
}

#[test]
fn the_drill_compares_unchanged_files_and_skips_changed_ones() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("a/b")).unwrap();
    for i in 0..12u64 {
        fs::write(src.join(format!("a/b/f{i}")), noise(3000 + i as usize, i + 1)).unwrap();
    }
    env.snapshot_json(&[&src]);
    let out = env.cairn().args(["check", "--restore-sample", "5"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("5 files restored and compared, 0 skipped (changed since), 0 mismatches"),
        "{}",
        stdout_of(&out)
    );

    // Three files changed since: skipped, not failures; the rest compared.
    for i in 0..3 {
        fs::write(src.join(format!("a/b/f{i}")), b"changed").unwrap();
    }
    let tmp = env.path("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let out = env.cairn().env("TMPDIR", &tmp).args(["--json", "check", "--restore-sample", "100"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["restore_drill"];
    assert_eq!((&d["compared"], &d["skipped_changed"], &d["mismatches"]), (&9.into(), &3.into(), &0.into()), "{d}");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "the temporary folder is removed");
}

#[test]
fn the_drill_names_a_file_whose_data_is_damaged() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("small"), b"small file").unwrap();
    env.snapshot_json(&[&src]);
    let before = env.repo_listing();
    fs::write(src.join("big.bin"), noise(400_000, 5)).unwrap();
    env.snapshot_json(&[&src]);
    damage_newest_pack(&env, &before);
    let out = env.cairn().args(["check", "--restore-sample", "10"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    let text = stdout_of(&out);
    assert!(text.lines().any(|l| l.starts_with("error: restore drill") && l.contains("big.bin")), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("error: restore drill") && l.contains("small")), "{text}");
}
