//! The disaster that retention exists for: an agent-like workspace is
//! snapshotted hourly for a simulated day, then every Markdown file is
//! deleted (testgen's disaster) and the hourly job snapshots the damage.
//! A `forget` that keeps only the newest snapshot would drop the last good
//! one; pinned, it survives and restores byte for byte.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;

/// Runs `cairn snapshot --json` of `src` recorded at `time`; returns its id.
fn snapshot_at(env: &Env, src: &Path, time: &str) -> String {
    let out =
        // Without the alarm, which would pin the last good snapshot itself
        // (alarm.rs): this test is about pinning it by hand.
        env.cairn().args(["snapshot", "--json", "--no-default-excludes", "--no-alarm", "--time", time]).arg(src).output().unwrap();
    assert!(out.status.success(), "snapshot at {time}: {}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn json_of(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.cairn().arg("--json").args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout_of(&out)))
}

/// The ids `forget --dry-run` with `rules` would remove.
fn would_remove(env: &Env, rules: &[&str]) -> BTreeSet<String> {
    let plan = json_of(env, &[&["forget", "--dry-run"][..], rules].concat());
    plan["to_remove"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect()
}

fn snapshot_ids(env: &Env) -> BTreeSet<String> {
    json_of(env, &["snapshots"]).as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_pinned_last_good_snapshot_survives_a_forget_after_the_disaster() {
    let env = Env::new();
    let src = env.path("workspace");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 7).unwrap();

    // A simulated day: the agent works, the hourly job snapshots.
    let mut hourly = Vec::new();
    for hour in 0..24u32 {
        if hour > 0 {
            cairn_testgen::tick(&src, hour).unwrap();
        }
        hourly.push(snapshot_at(&env, &src, &format!("2025-03-10T{hour:02}:00:00Z")));
    }
    let last_good = hourly.last().unwrap().clone();
    let good_tree = env.path("good-tree");
    copy_tree(&src, &good_tree);

    // The disaster, and the next hourly snapshot faithfully records it.
    let gone = cairn_testgen::disaster(&src).unwrap();
    assert!(!gone.is_empty(), "the disaster deleted Markdown files");
    let after = snapshot_at(&env, &src, "2025-03-11T00:00:00Z");

    // Unpinned, keeping the newest snapshot would drop the last good one.
    let unpinned = would_remove(&env, &["--keep-last", "1"]);
    assert!(unpinned.contains(&last_good), "without a pin the last good snapshot goes: {unpinned:?}");
    assert!(!unpinned.contains(&after));
    assert_eq!(unpinned.len(), 24, "every snapshot of the day would go");

    let pinned = json_of(&env, &["pin", &last_good[..8]]);
    assert_eq!(pinned["pinned"][0], last_good.as_str());
    let with_pin = would_remove(&env, &["--keep-last", "1"]);
    assert!(!with_pin.contains(&last_good), "pinned: kept by the dry run: {with_pin:?}");
    assert_eq!(with_pin.len(), 23);

    let done = json_of(&env, &["forget", "--keep-last", "1"]);
    let removed: BTreeSet<String> =
        done["removed"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
    assert_eq!(removed, with_pin, "the action removed what the dry run said");
    assert_eq!(snapshot_ids(&env), [last_good.clone(), after].into_iter().collect());

    let check = env.cairn().args(["check", "--read-data"]).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}{}", stdout_of(&check), stderr_of(&check));

    // The last good state comes back whole: every deleted Markdown file too.
    let target = env.path("restored");
    env.cairn().args(["restore", &last_good, "--target"]).arg(&target).assert().success();
    let root = restored(&target, &src);
    assert_same_tree(&good_tree, &root);
    for rel in &gone {
        assert!(root.join(rel).is_file(), "{} came back", rel.display());
    }
}
