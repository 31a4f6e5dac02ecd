//! Retention through the binary: `forget` with each kind of rule on
//! snapshots taken with `--time`, buckets read in each snapshot's recorded
//! offset, `--dry-run` equal to the action, pins, future-dated snapshots,
//! the repository's policy, `restore-preserve`'s own rule, and `stats`.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use crate::common::*;

/// Times of the series (RFC 3339, recorded with their offsets). s7 is
/// 2025-02-11T23:30Z: in UTC it shares s6's day, in its own offset not.
const TIMES: [&str; 8] = [
    "2024-06-01T10:00:00+01:00", // s0
    "2025-01-05T09:00:00+01:00", // s1 Sunday, ISO week 2025-W01
    "2025-01-06T09:00:00+01:00", // s2 Monday, 2025-W02
    "2025-02-10T08:00:00+01:00", // s3 2025-W07
    "2025-02-10T08:30:00+01:00", // s4 same hour as s3
    "2025-02-10T09:15:00+01:00", // s5
    "2025-02-11T23:30:00+01:00", // s6, tagged keepme
    "2025-02-12T00:30:00+01:00", // s7
];

struct Series {
    env: Env,
    work: PathBuf,
    ids: Vec<String>,
}

/// Snapshots of a small tree at `TIMES`, each with its own `f.txt`.
fn series() -> Series {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(&work).unwrap();
    let mut ids = Vec::new();
    for (i, t) in TIMES.iter().enumerate() {
        fs::write(work.join("f.txt"), format!("version {i}\n")).unwrap();
        fs::write(work.join(format!("big-{i}.bin")), noise(20_000, i as u64)).unwrap();
        let mut cmd = env.cairn();
        cmd.args(["snapshot", "--json", "--no-default-excludes", "--time", t]);
        if i == 6 {
            cmd.args(["--tag", "keepme"]);
        }
        let out = cmd.arg(&work).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
        fs::remove_file(work.join(format!("big-{i}.bin"))).unwrap();
    }
    Series { env, work, ids }
}

fn json_of(env: &Env, args: &[&str]) -> serde_json::Value {
    // TZ is set far from the snapshots' offset: buckets must not use it.
    let out = env.cairn().env("TZ", "Pacific/Kiritimati").arg("--json").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout_of(&out)))
}

/// The indexes (into TIMES) of the snapshots a dry run keeps.
fn kept_by(s: &Series, rules: &[&str]) -> Vec<usize> {
    let v = json_of(&s.env, &[&["forget", "--dry-run"][..], rules].concat());
    let mut kept: Vec<usize> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["snapshots"].as_array().unwrap().iter())
        .filter(|snap| snap["keep"].as_bool().unwrap())
        .map(|snap| s.ids.iter().position(|id| id == snap["id"].as_str().unwrap()).unwrap())
        .collect();
    kept.sort();
    kept
}

fn snapshot_ids(env: &Env) -> BTreeSet<String> {
    json_of(env, &["snapshots"]).as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn each_rule_keeps_what_restic_would() {
    let s = series();
    assert_eq!(kept_by(&s, &["--keep-last", "2"]), vec![6, 7]);
    assert_eq!(kept_by(&s, &["--keep-hourly", "3"]), vec![5, 6, 7]);
    // s6 and s7 are on different days in their own offset (+01:00), on the
    // same day in UTC and in the TZ forget runs in.
    assert_eq!(kept_by(&s, &["--keep-daily", "2"]), vec![6, 7]);
    assert_eq!(kept_by(&s, &["--keep-daily", "3"]), vec![5, 6, 7]);
    assert_eq!(kept_by(&s, &["--keep-weekly", "3"]), vec![1, 2, 7]);
    assert_eq!(kept_by(&s, &["--keep-monthly", "2"]), vec![2, 7]);
    // Two years have snapshots, fewer than 5: the oldest is kept as well.
    assert_eq!(kept_by(&s, &["--keep-yearly", "5"]), vec![0, 7]);
    assert_eq!(kept_by(&s, &["--keep-within", "2d"]), vec![3, 4, 5, 6, 7]);
    assert_eq!(kept_by(&s, &["--keep-within-daily", "2d"]), vec![5, 6, 7]);
    // Within a month of s7: s3…s7; s3 and s4 share an hour, s4 is newer.
    assert_eq!(kept_by(&s, &["--keep-within-hourly", "1m"]), vec![4, 5, 6, 7]);
    assert_eq!(kept_by(&s, &["--keep-tag", "keepme"]), vec![6, 7]);
    // Rules are ORed.
    assert_eq!(kept_by(&s, &["--keep-last", "1", "--keep-monthly", "2", "--keep-tag", "keepme"]), vec![2, 6, 7]);
    // Nothing was removed by dry runs.
    assert_eq!(snapshot_ids(&s.env).len(), TIMES.len());
}

#[test]
fn dry_run_equals_the_action_and_what_is_kept_restores() {
    let s = series();
    let plan = json_of(&s.env, &["forget", "--dry-run", "--keep-daily", "3"]);
    assert_eq!(plan["dry_run"], true);
    let dry: BTreeSet<String> =
        plan["to_remove"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
    // The text form names every snapshot with its action and reasons.
    let text = s.env.cairn().args(["forget", "--dry-run", "--keep-daily", "3"]).output().unwrap();
    let text = stdout_of(&text);
    for (i, id) in s.ids.iter().enumerate() {
        let line = text.lines().find(|l| l.contains(&id[..8])).unwrap_or_else(|| panic!("{id} missing:\n{text}"));
        let action = if dry.contains(id) { "remove" } else { "keep" };
        assert!(line.starts_with(action), "s{i}: {line}");
    }
    assert!(text.contains("newest, daily"), "{text}");

    let done = json_of(&s.env, &["forget", "--keep-daily", "3"]);
    let removed: BTreeSet<String> =
        done["removed"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
    assert_eq!(removed, dry, "the action removes exactly what the dry run listed");
    let left = snapshot_ids(&s.env);
    let expected: BTreeSet<String> = [5, 6, 7].iter().map(|i| s.ids[*i].clone()).collect();
    assert_eq!(left, expected);

    let check = s.env.cairn().args(["check", "--read-data"]).output().unwrap();
    assert!(check.status.success(), "{}{}", stdout_of(&check), stderr_of(&check));

    // A kept snapshot restores byte for byte.
    let target = s.env.path("restored");
    s.env.cairn().args(["restore", &s.ids[6], "--target"]).arg(&target).assert().success();
    let root = restored(&target, &s.work);
    assert_eq!(fs::read(root.join("f.txt")).unwrap(), b"version 6\n");
    assert_eq!(fs::read(root.join("big-6.bin")).unwrap(), noise(20_000, 6));
}

#[test]
fn pinned_snapshots_survive_and_are_listed() {
    let s = series();
    let pin = json_of(&s.env, &["pin", &s.ids[0][..8]]);
    assert_eq!(pin["pinned"][0], s.ids[0].as_str());
    // Pinning twice is fine and says so.
    let again = s.env.cairn().args(["pin", &s.ids[0]]).output().unwrap();
    assert!(again.status.success() && stdout_of(&again).contains("already pinned"), "{}", stdout_of(&again));

    let listed = json_of(&s.env, &["snapshots"]);
    for snap in listed.as_array().unwrap() {
        assert_eq!(snap["pinned"], snap["id"] == s.ids[0].as_str(), "{snap}");
    }
    let text = stdout_of(&s.env.cairn().arg("snapshots").output().unwrap());
    let line = text.lines().find(|l| l.starts_with(&s.ids[0][..8])).unwrap();
    assert!(line.trim_end().ends_with("pinned"), "{line}");

    let plan = json_of(&s.env, &["forget", "--dry-run", "--keep-last", "1"]);
    let reasons = plan["groups"][0]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == s.ids[0].as_str())
        .unwrap()["reasons"]
        .clone();
    assert_eq!(reasons, serde_json::json!(["pinned"]));
    json_of(&s.env, &["forget", "--keep-last", "1"]);
    let left = snapshot_ids(&s.env);
    assert_eq!(left, [s.ids[0].clone(), s.ids[7].clone()].into_iter().collect());

    // Forgetting a pinned snapshot by id is refused, in one line.
    let out = s.env.cairn().args(["forget", &s.ids[0]]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("pinned") && err.contains("unpin") && err.lines().count() == 1, "{err}");
    // After unpinning, it goes.
    s.env.cairn().args(["unpin", &s.ids[0]]).assert().success();
    s.env.cairn().args(["forget", &s.ids[0]]).assert().success();
    assert_eq!(snapshot_ids(&s.env), [s.ids[7].clone()].into_iter().collect());
}

#[test]
fn future_snapshots_are_warned_about_and_kept() {
    let s = series();
    let work = &s.work;
    let mut future = Vec::new();
    for t in ["2999-01-01T00:00:00+00:00", "2998-05-01T00:00:00+02:00"] {
        let out = s.env.cairn().args(["snapshot", "--json", "--time", t]).arg(work).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        future.push(v["id"].as_str().unwrap().to_string());
    }
    let out = s.env.cairn().args(["forget", "--keep-last", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    for id in &future {
        assert!(err.contains(&id[..8]) && err.contains("ahead"), "{err}");
    }
    // The future snapshots did not take the places of s6 and s7.
    let left = snapshot_ids(&s.env);
    let expected: BTreeSet<String> =
        [s.ids[6].clone(), s.ids[7].clone(), future[0].clone(), future[1].clone()].into_iter().collect();
    assert_eq!(left, expected);
}

#[test]
fn the_repository_policy_is_shown_set_and_applied() {
    let s = series();
    let shown = json_of(&s.env, &["policy", "show"]);
    assert_eq!(shown["source"], "default");
    assert_eq!(
        (shown["policy"]["hourly"].as_u64(), shown["policy"]["daily"].as_u64(), shown["policy"]["weekly"].as_u64()),
        (Some(24), Some(30), Some(12))
    );
    assert_eq!(shown["policy"]["monthly"], 12);
    let plan = json_of(&s.env, &["forget", "--dry-run"]);
    assert_eq!(plan["policy_source"], "default");

    // An empty policy is refused, by `policy set` and by `forget`.
    for args in [&["policy", "set"][..], &["policy", "set", "--keep-last", "0"], &["forget", "--keep-daily", "0"]] {
        let out = s.env.cairn().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr_of(&out).lines().count(), 1, "{args:?}: {}", stderr_of(&out));
    }

    s.env.cairn().args(["policy", "set", "--keep-daily", "9"]).assert().success();
    s.env.cairn().args(["policy", "set", "--keep-last", "2", "--keep-within", "6m"]).assert().success();
    let shown = json_of(&s.env, &["policy", "show"]);
    assert_eq!(shown["source"], "repository");
    assert_eq!(shown["policy"]["last"], 2);
    assert_eq!(shown["policy"]["daily"], 0);
    assert_eq!(shown["policy"]["within"], "6m");
    // The replaced policy file is gone: one file holds the policy.
    assert_eq!(fs::read_dir(s.env.repo.join("policy")).unwrap().count(), 1);

    let done = json_of(&s.env, &["forget"]);
    assert_eq!(done["policy_source"], "repository");
    // Within 6 months of s7 (2025-02-12): s1…s7 (s0 is older).
    assert_eq!(snapshot_ids(&s.env), s.ids[1..].iter().cloned().collect());
}

#[test]
fn restore_preserve_snapshots_have_a_rule_of_their_own() {
    let s = series();
    let mut preserve = Vec::new();
    // One taken now, one 60 days ago (both after the series).
    let old = jiff::Timestamp::now().as_second() - 60 * 86400;
    for t in [String::from("now"), format!("@{old}")] {
        let out = s
            .env
            .cairn()
            .args(["snapshot", "--json", "--tag", "restore-preserve", "--time", &t])
            .arg(&s.work)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        preserve.push(v["id"].as_str().unwrap().to_string());
    }
    let plan = json_of(&s.env, &["forget", "--dry-run", "--keep-last", "1", "--group-by", "none"]);
    let snaps: Vec<serde_json::Value> = plan["groups"][0]["snapshots"].as_array().unwrap().clone();
    let of = |id: &str| snaps.iter().find(|x| x["id"] == id).unwrap().clone();
    assert_eq!(of(&preserve[0])["reasons"], serde_json::json!(["restore-preserve (kept 30 days)"]));
    assert_eq!(of(&preserve[1])["keep"], false);
    // The preserve snapshots did not count: s7 is still the group's newest.
    assert_eq!(of(&s.ids[7])["reasons"], serde_json::json!(["newest", "last"]));
    let text = stdout_of(&s.env.cairn().args(["forget", "--dry-run", "--keep-last", "1"]).output().unwrap());
    assert!(text.contains("restore-preserve (kept 30 days)"), "{text}");
}

#[test]
fn stats_counts_sizes_and_unused_space() {
    let s = series();
    let before = json_of(&s.env, &["stats"]);
    assert_eq!(before["snapshots"], 8);
    let listed = json_of(&s.env, &["snapshots"]);
    let total: u64 = listed.as_array().unwrap().iter().map(|x| x["summary"]["total_bytes"].as_u64().unwrap()).sum();
    assert_eq!(before["restore_size"], total);
    assert_eq!(before["latest_restore_size"], listed[7]["summary"]["total_bytes"]);
    let packs: Vec<(PathBuf, u64)> = listing(&s.env.repo.join("data"));
    assert_eq!(before["packs"], packs.len());
    assert_eq!(before["stored_size"], packs.iter().map(|(_, n)| n).sum::<u64>());
    assert_eq!(before["index_files"], fs::read_dir(s.env.repo.join("index")).unwrap().count());
    assert_eq!(before["unused_size"], 0, "every blob is used");
    assert!(before["deduplication_ratio"].as_f64().unwrap() > 0.0);
    let text = stdout_of(&s.env.cairn().arg("stats").output().unwrap());
    assert!(text.contains("Deduplication ratio") && text.contains("Unused"), "{text}");

    // s3 alone held big-3.bin: forgetting it leaves that data unused.
    s.env.cairn().args(["forget", &s.ids[3]]).assert().success();
    let after = json_of(&s.env, &["stats"]);
    assert_eq!(after["snapshots"], 7);
    let unused = after["unused_size"].as_u64().unwrap();
    assert!(unused >= 20_000, "big-3.bin's 20000 random bytes are unused now: {after}");
    assert_eq!(after["stored_size"], before["stored_size"], "forget frees nothing by itself");

    // A pack half needed: x.bin (kept by the next snapshot) and y.bin
    // (deleted before it) are stored in one pack by run A. Forgetting A
    // leaves y.bin unused but not the pack as a whole.
    let other = s.env.path("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("x.bin"), noise(30_000, 100)).unwrap();
    fs::write(other.join("y.bin"), noise(20_000, 101)).unwrap();
    let a = s.env.snapshot_json(&[&other]);
    fs::remove_file(other.join("y.bin")).unwrap();
    s.env.snapshot_json(&[&other]);
    let before = json_of(&s.env, &["stats"])["unused_size"].as_u64().unwrap();
    s.env.cairn().args(["forget", a["id"].as_str().unwrap()]).assert().success();
    let grown = json_of(&s.env, &["stats"])["unused_size"].as_u64().unwrap() - before;
    assert!((20_000..30_000).contains(&grown), "y.bin and A's trees are unused, x.bin is not: {grown}");
}
