//! Snapshots beside `forget --prune`, as real processes started together,
//! round after round on a changing tree, with random SIGKILLs of either
//! (seeded; the seed is printed). Afterwards a final prune, `check
//! --read-data` clean, and every snapshot the snapshot process reported
//! saved either restores byte for byte as its round's tree, or was
//! forgotten by the rule: then at least three newer snapshots remain.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::common::*;
use crate::hooks::spawn;

const ROUNDS: u32 = 32;

/// A snapshot the snapshot process said it saved.
struct Reported {
    round: u32,
    time: Timestamp,
    /// A copy of the tree it saved.
    tree: PathBuf,
}

fn snapshot_ids(env: &Env) -> Vec<String> {
    match fs::read_dir(env.repo.join("snapshots")) {
        Ok(dir) => {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
        }
        Err(_) => Vec::new(),
    }
}

/// Whether a process ended by our SIGKILL.
fn killed(out: &Output) -> bool {
    out.status.signal() == Some(9)
}

/// Waits for both to end; how long each ran (measured, for kill delays).
/// Their output is small, so it waits in the pipes until read.
fn wait_both(children: [&mut Child; 2], start: Instant) -> [Duration; 2] {
    let mut ended: [Option<Duration>; 2] = [None, None];
    let [a, b] = children;
    while ended.iter().any(Option::is_none) {
        for (i, child) in [&mut *a, &mut *b].into_iter().enumerate() {
            if ended[i].is_none() && child.try_wait().unwrap().is_some() {
                ended[i] = Some(start.elapsed());
            }
        }
        // Polls processes we do not control; the interval sets only how
        // precise the measure is.
        std::thread::sleep(Duration::from_millis(2));
    }
    ended.map(Option::unwrap)
}

#[test]
fn snapshots_beside_forget_prune_with_random_kills_lose_nothing() {
    let mut rng = TestRng::from_env("prune_concurrency");
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 5).unwrap();
    let mut reported: BTreeMap<String, Reported> = BTreeMap::new();
    // How long each process (snapshot, prune) ran in the rounds without
    // kills: kill delays are drawn from a little more than that. It only
    // picks the kill points; nothing waits on it.
    let mut longest = [Duration::from_millis(20); 2];
    let mut kills = [0u32; 2];
    // Rounds whose prune deleted packs, and whose sweep waited for a live run.
    let (mut deleted, mut waited) = (0u32, 0u32);

    for round in 1..=ROUNDS {
        cairn_testgen::tick(&src, round).unwrap();
        // A file of its own per round: old packs become wholly unused.
        let _ = fs::remove_file(src.join(format!("noise-{}.bin", round - 1)));
        fs::write(src.join(format!("noise-{round}.bin")), noise(150_000, u64::from(round))).unwrap();
        let tree = env.path(&format!("state-{round}"));
        copy_tree(&src, &tree);

        let mut snap = env.std_cairn();
        snap.args(["snapshot", "--json", "--no-default-excludes"]).arg(&src);
        let mut snap = spawn(snap);
        let mut prune = env.std_cairn();
        prune.args(["forget", "--keep-last", "3", "--prune"]);
        let mut prune = spawn(prune);
        let start = Instant::now();

        // Rounds 1-2 measure; later, two rounds in three kill one of them.
        let victim = if round > 2 && rng.below(3) != 0 { Some(rng.below(2) as usize) } else { None };
        let mut when = String::new();
        if let Some(v) = victim {
            let delay = rng.below(longest[v].as_millis() as u64 * 6 / 5);
            std::thread::sleep(Duration::from_millis(delay));
            let child = if v == 0 { &mut snap } else { &mut prune };
            let _ = child.kill();
            when = format!(", {} killed after {delay} ms", ["snapshot", "prune"][v]);
        }
        let ran = wait_both([&mut snap, &mut prune], start);
        if victim.is_none() {
            longest = [longest[0].max(ran[0]), longest[1].max(ran[1])];
        }
        let snap = snap.wait_with_output().unwrap();
        let prune = prune.wait_with_output().unwrap();
        let what = format!("round {round}{when}");

        if killed(&snap) {
            kills[0] += 1;
        } else {
            assert_eq!(snap.status.code(), Some(0), "{what}: snapshot: {}", stderr_of(&snap));
            let v: serde_json::Value = serde_json::from_slice(&snap.stdout).unwrap();
            let time = v["time"].as_str().unwrap().parse().unwrap();
            reported.insert(v["id"].as_str().unwrap().to_string(), Reported { round, time, tree: tree.clone() });
        }
        if killed(&prune) {
            kills[1] += 1;
        } else {
            // Blocked by the live snapshot, a prune deletes nothing and says
            // so; it is not a failure.
            deleted +=
                u32::from(stdout_of(&prune).lines().any(|l| l.starts_with("deleted ") && !l.starts_with("deleted 0")));
            waited += u32::from(stderr_of(&prune).contains("left for a later prune"));
            assert!(
                matches!(prune.status.code(), Some(0 | 3)),
                "{what}: forget --prune: {:?}\n{}{}",
                prune.status,
                stdout_of(&prune),
                stderr_of(&prune)
            );
        }
        // Trees of snapshots that are gone are not needed any more.
        let ids = snapshot_ids(&env);
        if !reported.iter().any(|(id, r)| r.round == round && ids.contains(id)) {
            fs::remove_dir_all(&tree).unwrap();
        }
        for (id, r) in &reported {
            if !ids.contains(id) && r.tree.exists() {
                fs::remove_dir_all(&r.tree).unwrap();
            }
        }
    }
    eprintln!(
        "kills: {} snapshots, {} prunes; {} snapshots reported saved; prunes that deleted packs: {deleted}, that \
         waited for a live run: {waited}",
        kills[0],
        kills[1],
        reported.len()
    );

    // One more snapshot, alone: the newest, so it must stay.
    cairn_testgen::tick(&src, ROUNDS + 1).unwrap();
    let last = env.snapshot_json(&[&src]);
    let last_id = last["id"].as_str().unwrap().to_string();
    let tree = env.path("state-last");
    copy_tree(&src, &tree);
    let time = last["time"].as_str().unwrap().parse().unwrap();
    reported.insert(last_id.clone(), Reported { round: ROUNDS + 1, time, tree });

    let out = env.cairn().args(["forget", "--keep-last", "3", "--prune"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "final prune: {}{}", stdout_of(&out), stderr_of(&out));
    let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "check:\n{}{}", stdout_of(&out), stderr_of(&out));
    // The killed runs' markers were removed by the prunes: none blocks anything.
    let markers = folder_totals(&env.repo).get("locks").copied().unwrap_or_default();
    assert_eq!(markers.0, 0, "markers left in locks/: {:?}", listing(&env.repo.join("locks")));

    let listed = env.cairn().args(["snapshots", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let left: BTreeMap<String, Timestamp> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s["time"].as_str().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(left.len(), 3, "forget --keep-last 3 leaves three: {left:?}");
    for (id, r) in &reported {
        if left.contains_key(id) {
            let target = env.path(&format!("restore-{}", r.round));
            env.cairn().args(["restore", id, "--target"]).arg(&target).assert().success();
            assert_same_tree(&r.tree, &restored(&target, &src));
        } else {
            // Forget removes a snapshot only when three newer ones are kept,
            // and those go only when three newer still are: so a snapshot
            // reported saved may be gone only behind three newer ones.
            let newer = left.values().filter(|t| **t > r.time).count();
            assert_eq!(newer, 3, "round {}: snapshot {id} reported saved is gone, yet not by the rule", r.round);
        }
    }
    assert!(left.contains_key(&last_id), "the newest snapshot is kept");
}
