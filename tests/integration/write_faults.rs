//! Faults at every write, through the real binary: a snapshot whose Nth
//! write (pack, index or snapshot file; spool file) fails, for every N in
//! turn, exits 1 with one clear line, leaves no temporary and no partial
//! file under a final name, the repository checks clean, and the earlier
//! snapshot restores byte for byte. `CAIRN_TEST_FAULT` (test builds only,
//! core/src/backend/faults.rs) picks the failing operation.

use std::fs;
use std::path::Path;

use crate::common::*;

fn temporaries(root: &Path) -> Vec<std::path::PathBuf> {
    listing(root)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp-"))
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

#[test]
fn a_snapshot_failing_at_each_write_in_turn_leaves_a_clean_repository() {
    let env = Env::new();
    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 9).unwrap();
    let first = env.snapshot_json(&[&src])["id"].as_str().unwrap().to_string();
    let good = env.path("good");
    env.cairn().args(["restore", &first, "--target"]).arg(&good).assert().success();

    let rounds = [("create", "fail"), ("create", "fail-after"), ("create", "nospace"), ("spool", "fail")];
    for (round, (op, fault)) in rounds.into_iter().enumerate() {
        // New data each round, so that every round writes packs of both
        // kinds, an index and a snapshot.
        cairn_testgen::tick(&src, round as u32 + 1).unwrap();
        // Every attempt starts from the same repository, so attempt N
        // fails the Nth write of one and the same sequence of writes.
        let base = env.path(&format!("base-{round}"));
        copy_tree(&env.repo, &base);
        let mut failed = 0;
        let mut written_by_clean_run = 0;
        for n in 1.. {
            assert!(n < 100, "{op}:{fault}: the snapshot never got past its writes");
            fs::remove_dir_all(&env.repo).unwrap();
            copy_tree(&base, &env.repo);
            let before = env.repo_listing();
            let out = env
                .cairn()
                .env("CAIRN_TEST_FAULT", format!("{op}:{n}:{fault}"))
                .args(["snapshot", "--json", "--no-default-excludes"])
                .arg(&src)
                .output()
                .unwrap();
            if out.status.success() {
                // n is past this run's last write of that kind: what it
                // created is how many writes there were to fail.
                let folders: &[&str] = if op == "spool" { &["data"] } else { &["data", "index", "snapshots"] };
                written_by_clean_run = new_files(&before, &env.repo_listing())
                    .iter()
                    .filter(|p| folders.iter().any(|f| p.strip_prefix(&env.repo).unwrap().starts_with(f)))
                    .count();
                // And its run marker in locks/ (format-spec §6), the first
                // file a run creates, removed when it ended.
                if op == "create" {
                    written_by_clean_run += 1;
                }
                break;
            }
            failed += 1;
            let what = format!("{op} #{n} {fault}");
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{what}: {err}");
            let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{what}: one line: {err}");
            assert!(lines[0].starts_with("cairn: error:") && !err.contains("panicked"), "{what}: {err}");
            if fault == "nospace" {
                assert!(err.contains("No space left"), "{what}: {err}");
            }
            assert!(temporaries(&env.repo).is_empty(), "{what}: {:?}", temporaries(&env.repo));
            // Every file under a final name is whole (check hashes each one).
            let check = env.cairn().args(["check", "--read-data"]).output().unwrap();
            assert_eq!(check.status.code(), Some(0), "{what}: {}", stdout_of(&check));
            let target = env.path(&format!("restore-{round}-{n}"));
            env.cairn().args(["restore", &first, "--target"]).arg(&target).assert().success();
            assert_same_tree(&good, &target);
            fs::remove_dir_all(&target).unwrap();
        }
        // Every write of the clean run failed once in an earlier run: data
        // and tree packs, the index and the snapshot (packs only for spools).
        assert_eq!(failed, written_by_clean_run, "{op}:{fault}: writes failed vs writes made");
        assert!(failed >= if op == "create" { 4 } else { 2 }, "{op}:{fault}: only {failed} writes");
        // The run that got through restores as the tree now is.
        let target = env.path(&format!("latest-{round}"));
        env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
        assert_same_tree(&src, &restored(&target, &src));
    }
}
