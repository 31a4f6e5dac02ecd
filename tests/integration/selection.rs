//! Naming snapshots on the command line: `diff --from/--to`, id prefixes
//! (too short, unknown, ambiguous), `latest~N` past the end, and times read
//! in a time zone with daylight saving (its gap and its repeated hour).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

/// A repository with snapshots of `work` at the given UNIX times, taken in
/// the time zone `tz`; a file `f.txt` holds the snapshot's number, so each
/// pair of snapshots differs.
fn snapshots_at(times: &[i64], tz: &str) -> (Env, PathBuf, Vec<String>) {
    let env = Env::new();
    let work = env.path("work");
    fs::create_dir_all(&work).unwrap();
    let mut ids = Vec::new();
    for (i, t) in times.iter().enumerate() {
        fs::write(work.join("f.txt"), format!("version {i}\n")).unwrap();
        fs::write(work.join(format!("only-in-{i}.txt")), b"x").unwrap();
        let mut cmd = env.cairn();
        cmd.env("TZ", tz).args(["snapshot", "--json", "--time", &format!("@{t}")]).arg(&work);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
        fs::remove_file(work.join(format!("only-in-{i}.txt"))).unwrap();
    }
    (env, work, ids)
}

/// `cairn diff --json ARGS`, as a sorted list of (change, file name).
fn diff(env: &Env, args: &[&str]) -> Vec<(String, String)> {
    let out = env.cairn().args(["diff", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "diff {args:?}: {}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(String, String)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = Path::new(c["path"].as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string();
            (c["change"].as_str().unwrap().to_string(), name)
        })
        .collect();
    got.sort();
    got
}

fn pair(change: &str, name: &str) -> (String, String) {
    (change.to_string(), name.to_string())
}

fn error_of(env: &Env, args: &[&str]) -> String {
    let out = env.cairn().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} must fail: {}", stdout_of(&out));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

const T0: i64 = 1_750_000_000; // 2025-06-15T15:06:40Z

#[test]
fn diff_from_and_to_pick_snapshots_by_time() {
    let (env, _work, ids) = snapshots_at(&[T0, T0 + 3600, T0 + 7200], "UTC");
    let s1_s2 = vec![pair("A", "only-in-1.txt"), pair("D", "only-in-0.txt"), pair("M", "f.txt")];
    assert_eq!(diff(&env, &[&ids[0], &ids[1]]), s1_s2);
    // Times between snapshots pick the one at or before them.
    let at = |t: i64| format!("@{t}");
    assert_eq!(diff(&env, &["--from", &at(T0 + 10), "--to", &at(T0 + 3600 + 10)]), s1_s2);
    assert_eq!(diff(&env, &["--from", &at(T0), "--to", &at(T0 + 7200)]), diff(&env, &[&ids[0], &ids[2]]));
    // --to with a snapshot named for A; --from with a snapshot named for B.
    assert_eq!(diff(&env, &[&ids[0], "--to", &at(T0 + 3600)]), s1_s2);
    assert_eq!(diff(&env, &["--from", &at(T0 + 3599), &ids[1]]), s1_s2);
    // --from alone compares with the live files (f.txt says "version 2").
    assert_eq!(diff(&env, &["--from", &at(T0 + 3600)]), vec![pair("D", "only-in-1.txt"), pair("M", "f.txt")]);
    assert_eq!(diff(&env, &["--from", &at(T0 + 7200)]), vec![pair("D", "only-in-2.txt")]);
    // A time before the first snapshot names the earliest one.
    let err = error_of(&env, &["diff", "--from", &at(T0 - 1)]);
    assert!(err.contains("earliest") && err.contains(&ids[0][..8]), "{err}");
    // A snapshot and a time for the same side is an error.
    let err = error_of(&env, &["diff", &ids[0], &ids[1], "--to", &at(T0)]);
    assert!(err.contains("not both") || err.contains("no such"), "{err}");
}

#[test]
fn prefixes_and_latest_n_past_the_end() {
    let (env, _work, ids) = snapshots_at(&[T0, T0 + 3600], "UTC");
    let ls = |r: &str| env.cairn().args(["ls", r]).output().unwrap();
    // A unique prefix of 4 or more hex digits works.
    for n in [4, 8, 64] {
        let out = ls(&ids[1][..n]);
        assert!(out.status.success(), "{n}: {}", stderr_of(&out));
    }
    // Too short, not hex, unknown.
    for bad in [&ids[0][..3], "zzzz", "latest~x"] {
        let err = error_of(&env, &["ls", bad]);
        assert!(err.contains(bad), "{err}");
    }
    let unknown = if ids.iter().any(|i| i.starts_with("0000")) { "ffff" } else { "0000" };
    let err = error_of(&env, &["ls", unknown]);
    assert!(err.contains(unknown), "{err}");
    // latest~N past the end says how many there are.
    assert!(ls("latest~1").status.success());
    let err = error_of(&env, &["ls", "latest~2"]);
    assert!(err.contains("only 2 snapshots"), "{err}");
    // Ambiguous: a second snapshot file whose name shares the first 6 hex
    // digits (planted: no two real ids are likely to share a prefix).
    // Its seventh digit differs from the real one's, so 7 digits settle it.
    let seventh = if ids[0].as_bytes()[6] == b'0' { "1" } else { "0" };
    let planted = format!("{}{seventh}{}", &ids[0][..6], "0".repeat(57));
    fs::copy(env.repo.join("snapshots").join(&ids[0]), env.repo.join("snapshots").join(&planted)).unwrap();
    for prefix in [&ids[0][..4], &ids[0][..6]] {
        let err = error_of(&env, &["ls", prefix]);
        assert!(err.contains("ambiguous") && err.contains(prefix), "{err}");
    }
    assert!(ls(&ids[0][..7]).status.success(), "one more digit settles it");
}

/// Central European time with its rules as a POSIX TZ string, so that the
/// test needs no tz database: CET (+01:00), CEST (+02:00) from the last
/// Sunday of March 02:00 to the last Sunday of October 03:00.
const BERLIN: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

#[test]
fn times_in_a_zone_with_daylight_saving() {
    // 2025-03-30 01:00Z: 02:00 CET becomes 03:00 CEST (02:xx never happens).
    // 2025-10-26 01:00Z: 03:00 CEST becomes 02:00 CET (02:xx happens twice).
    let spring_before = 1_743_296_400 - 1800; // 00:30Z = 01:30 CET
    let spring_after = 1_743_296_400 + 1800; // 01:30Z = 03:30 CEST
    let fall_first = 1_761_440_400 - 1800; // 00:30Z = 02:30 CEST
    let fall_second = 1_761_440_400 + 1800; // 01:30Z = 02:30 CET
    let (env, _work, ids) = snapshots_at(&[spring_before, spring_after, fall_first, fall_second], BERLIN);
    let chosen = |at: &str| -> String {
        let out = env
            .cairn()
            .env("TZ", BERLIN)
            .args(["restore", "--dry-run", "--json", "--target"])
            .arg(env.path("unused"))
            .args(["--at", at])
            .output()
            .unwrap();
        assert!(out.status.success(), "--at {at}: {}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["snapshot"].as_str().unwrap().to_string()
    };
    // Snapshots taken there record their local time with its offset.
    let out = env.cairn().env("TZ", BERLIN).args(["snapshots", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let times: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["time"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        [
            "2025-03-30T01:30:00+01:00",
            "2025-03-30T03:30:00+02:00",
            "2025-10-26T02:30:00+02:00",
            "2025-10-26T02:30:00+01:00"
        ]
    );
    let text = stdout_of(&env.cairn().env("TZ", BERLIN).arg("snapshots").output().unwrap());
    assert_eq!(text.matches("2025-10-26 02:30:00").count(), 2, "{text}");

    // Ordinary local times on either side of each change.
    assert_eq!(chosen("2025-03-30 01:45"), ids[0]);
    assert_eq!(chosen("2025-03-30 03:45"), ids[1]);
    assert_eq!(chosen("2025-10-26 03:15"), ids[3]);
    assert_eq!(chosen("2025-10-26 01:59"), ids[1]);
    // The repeated hour: a bare 02:30 means its first occurrence (CEST, as
    // jiff's "compatible" rule and most tools do); an offset picks either.
    assert_eq!(chosen("2025-10-26 02:30"), ids[2]);
    assert_eq!(chosen("2025-10-26T02:30:00+02:00"), ids[2]);
    assert_eq!(chosen("2025-10-26T02:30:00+01:00"), ids[3]);
    assert_eq!(chosen("2025-10-26T02:29:59+01:00"), ids[2]);
    // The skipped hour: 02:30 that never happened is read as 03:30 CEST
    // (moved forward by the gap), so the snapshot taken then is chosen.
    assert_eq!(chosen("2025-03-30 02:30"), ids[1]);
    assert_eq!(chosen("2025-03-30 02:29"), ids[0]);
}

#[test]
fn snapshots_path_means_covers_as_everywhere() {
    let env = Env::new();
    let work = env.path("work");
    let other = env.path("work-other");
    fs::create_dir_all(work.join("sub")).unwrap();
    fs::create_dir_all(&other).unwrap();
    let a = env.snapshot_json(&[&work])["id"].as_str().unwrap().to_string();
    let b = env.snapshot_json(&[&other])["id"].as_str().unwrap().to_string();
    let ids = |path: &Path| -> Vec<String> {
        let out = env.cairn().args(["snapshots", "--json", "--path"]).arg(path).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&work), vec![a.clone()]);
    // A folder inside the snapshot's path: covered, as `restore --path` means.
    assert_eq!(ids(&work.join("sub")), vec![a.clone()]);
    assert_eq!(ids(&work.join("sub/../sub/")), [a]);
    // A sibling whose name merely starts the same is not inside it.
    assert_eq!(ids(&other), [b]);
    assert!(ids(&env.path("elsewhere")).is_empty());
}
