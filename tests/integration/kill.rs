//! `cairn snapshot` killed with SIGKILL at each named point of its write
//! sequence (the test-only hooks of `core/src/testhook.rs`): after the
//! first pack is durable, after all packs before the index, after the index
//! before the snapshot. Each time the process must really have died there,
//! the repository then checks clean (leftovers are notes, not errors),
//! earlier snapshots restore byte for byte, and a new snapshot taken next
//! restores byte for byte too: it must not lean on blobs never indexed.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// The repository's content files (named by their hash, not temporaries)
/// under `folder` that are not in `before`.
fn added_in(env: &Env, before: &[(PathBuf, u64)], folder: &str) -> usize {
    new_files(before, &env.repo_listing())
        .iter()
        .filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with(folder))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .count()
}

fn check_read_data(env: &Env, when: &str) -> String {
    let out = env.cairn().args(["check", "--read-data"]).output().unwrap();
    let report = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{when}:\n{report}{}", stderr_of(&out));
    report
}

/// Restores snapshot `id` into `target`, which must not exist yet.
fn restore(env: &Env, id: &str, target: &Path) {
    env.cairn().args(["restore", id, "--target"]).arg(target).assert().success();
}

#[test]
fn killed_snapshots_leave_a_clean_repository() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 5).unwrap();
    let first = env.snapshot_json(&[&src]);
    let first_id = first["id"].as_str().unwrap().to_string();
    let good = env.path("good");
    restore(&env, &first_id, &good);
    // Every snapshot saved so far, with what it restored to when it was new.
    let mut saved: Vec<(String, PathBuf)> = vec![(first_id, good)];

    for (round, point) in ["pack-durable", "packs-done", "index-written"].into_iter().enumerate() {
        // New data for this round: a fresh 2 MB file and the generator's
        // usual edits, so that the run has packs to write.
        fs::write(src.join(format!("blob-{round}.bin")), noise(2_000_000, round as u64 + 1)).unwrap();
        cairn_testgen::tick(&src, round as u32 + 1).unwrap();
        let before = env.repo_listing();

        let hook = Hook::new(env.path(&format!("hook-{point}")), point);
        let mut cmd = env.std_cairn();
        cmd.args(["snapshot", "--no-default-excludes"]).arg(&src);
        hook.abort(&mut cmd);
        let out = spawn(cmd).wait_with_output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: killed by SIGKILL: {:?}\n{}", out.status, stderr_of(&out));
        assert!(hook.was_reached(1), "{point}: died at the point, not elsewhere");

        // The files on disk show exactly the steps done before the point.
        let (packs, indexes, snapshots) =
            (added_in(&env, &before, "data"), added_in(&env, &before, "index"), added_in(&env, &before, "snapshots"));
        match point {
            // The data pack first; the tree pack had not been renamed yet.
            "pack-durable" => assert_eq!((packs, indexes), (1, 0), "{point}"),
            // The data pack and the tree pack.
            "packs-done" => assert_eq!((packs, indexes), (2, 0), "{point}"),
            _ => assert_eq!((packs, indexes), (2, 1), "{point}"),
        }
        assert_eq!(snapshots, 0, "{point}: no snapshot was saved");

        let report = check_read_data(&env, &format!("after a kill at {point}"));
        if indexes == 0 {
            assert!(report.contains("note: pack ") && report.contains("not referenced"), "{point}:\n{report}");
        }
        for (n, (id, expected)) in saved.iter().enumerate() {
            let again = env.path(&format!("again-{round}-{n}"));
            restore(&env, id, &again);
            assert_same_tree(expected, &again);
        }

        // The next run must store again what only the unindexed packs hold.
        let next = env.snapshot_json(&[&src]);
        if indexes == 0 {
            assert!(next["summary"]["data_blobs_added"].as_u64().unwrap() > 0, "{point}: {next}");
        } else {
            // The killed run's index is sound: its blobs are reused.
            assert_eq!(next["summary"]["data_blobs_added"], 0, "{point}: {next}");
        }
        let next_id = next["id"].as_str().unwrap().to_string();
        let target = env.path(&format!("next-{round}"));
        restore(&env, &next_id, &target);
        assert_same_tree(&src, &restored(&target, &src));
        saved.push((next_id, target));
        check_read_data(&env, &format!("after the snapshot that followed a kill at {point}"));
    }
}
