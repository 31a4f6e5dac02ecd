//! `cairn prune` dying at every step: killed (SIGKILL) at each of its test
//! hook points, at random moments, out of space (ENOSPC) at each write and
//! failing each removal, through the test-only fault backend. Each time,
//! from a copy of one and the same repository state: the repository checks
//! clean (notes allowed), every kept snapshot restores byte for byte, and
//! the next plain `prune` finishes the job, leaving exactly what a clean
//! single prune of that state leaves (made once, on another copy).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::hooks::{Hook, spawn};

/// A repository with work for prune, and what a clean prune makes of it.
struct Base {
    env: Env,
    src: PathBuf,
    /// The snapshots forget kept, each with a copy of the tree it saved.
    kept: Vec<(String, PathBuf)>,
    /// Folder totals after a clean prune of a copy of `env.repo`.
    reference: BTreeMap<String, (usize, u64)>,
    /// Files the clean prune created (packs, index files) and removed
    /// (packs, index files, the killed snapshot's marker).
    created: usize,
    removed: usize,
    /// How long the clean prune took: only the range random kills are drawn
    /// from, never asserted on.
    prune_wall: Duration,
}

/// Four snapshots of a changing tree, each with its own 300 kB file that
/// the next one drops (whole packs become unused, others partly), a
/// snapshot killed before its index (packs no index lists), then
/// `forget --keep-last 2`.
fn base() -> Base {
    let env = Env::new();
    let src = env.path("src");
    let mut saved = Vec::new();
    for round in 0..4u32 {
        change(&src, round);
        let id = env.snapshot_json(&[&src])["id"].as_str().unwrap().to_string();
        let tree = env.path(&format!("tree-{round}"));
        copy_tree(&src, &tree);
        saved.push((id, tree));
    }

    change(&src, 4);
    let hook = Hook::new(env.path("hook-snapshot"), "packs-done");
    let mut cmd = env.std_cairn();
    cmd.args(["snapshot", "--no-default-excludes"]).arg(&src);
    hook.abort(&mut cmd);
    let out = spawn(cmd).wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "the snapshot was killed: {}", stderr_of(&out));

    env.cairn().args(["forget", "--keep-last", "2"]).assert().success();
    let kept = saved.split_off(2);

    let reference_repo = env.path("reference");
    copy_tree(&env.repo, &reference_repo);
    let before = relative_listing(&reference_repo);
    let start = Instant::now();
    let out = env.cairn().env("CAIRN_REPO", &reference_repo).arg("prune").output().unwrap();
    let prune_wall = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "clean prune: {}{}", stdout_of(&out), stderr_of(&out));
    let after = relative_listing(&reference_repo);
    let created = after.iter().filter(|p| !before.contains(p)).count();
    let removed = before.iter().filter(|p| !after.contains(p)).count();
    assert!(removed > 0 && created > 0, "the clean prune had work to do: {}", stdout_of(&out));
    let reference = folder_totals(&reference_repo);
    eprintln!("clean prune: created {created}, removed {removed}, {prune_wall:?}, {reference:?}\n{}", stdout_of(&out));
    Base { env, src, kept, reference, created, removed, prune_wall }
}

/// Round `round` of a small tree (kept small: every attempt restores it
/// twice): 20 files in 4 folders, 4 of them rewritten each round, and a
/// 300 kB file of the round's own in place of the last round's.
fn change(src: &Path, round: u32) {
    for i in 0..20u32 {
        let file = src.join(format!("dir-{}", i % 4)).join(format!("f-{i}.txt"));
        if round == 0 || i % 5 == round % 5 {
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, noise(2_000 + 100 * i as usize, u64::from(round * 100 + i + 1))).unwrap();
        }
    }
    if round > 0 {
        fs::remove_file(src.join(format!("noise-{}.bin", round - 1))).unwrap();
    }
    fs::write(src.join(format!("noise-{round}.bin")), noise(300_000, u64::from(round) + 1000)).unwrap();
}

/// The repository's files (not temporaries), relative to its root.
fn relative_listing(repo: &Path) -> Vec<PathBuf> {
    listing(repo)
        .into_iter()
        .map(|(p, _)| p.strip_prefix(repo).unwrap().to_path_buf())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

impl Base {
    /// A fresh copy of the state before prune, for one attempt.
    fn copy(&self, name: &str) -> PathBuf {
        let repo = self.env.path(name);
        copy_tree(&self.env.repo, &repo);
        repo
    }

    fn cairn_at(&self, repo: &Path) -> std::process::Command {
        let mut cmd = self.env.std_cairn();
        cmd.env("CAIRN_REPO", repo);
        cmd
    }

    /// After prune died somehow in `repo`: nothing is lost and the next
    /// prune leaves what a clean prune leaves.
    fn assert_recovers(&self, repo: &Path, what: &str) {
        self.assert_intact(repo, &format!("{what}, before the next prune"));
        let out = self.cairn_at(repo).arg("prune").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{what}: the next prune: {}{}", stdout_of(&out), stderr_of(&out));
        self.assert_intact(repo, &format!("{what}, after the next prune"));
        let totals = folder_totals(repo);
        for (folder, (count, bytes)) in &self.reference {
            let (got_count, got_bytes) = totals.get(folder).copied().unwrap_or_default();
            assert_eq!(got_count, *count, "{what}: files in {folder}/ after the next prune: {totals:?}");
            if folder == "index" {
                // Index files name the new packs, whose names are random:
                // their compressed size may differ by a few bytes.
                assert!(got_bytes.abs_diff(*bytes) <= 64 * *count as u64, "{what}: index bytes {totals:?}");
            } else {
                assert_eq!(got_bytes, *bytes, "{what}: bytes in {folder}/ after the next prune: {totals:?}");
            }
        }
        let extra: Vec<_> = totals.keys().filter(|f| !self.reference.contains_key(*f)).collect();
        assert!(extra.is_empty(), "{what}: folders a clean prune does not leave: {totals:?}");
    }

    /// `check --read-data` is clean and every kept snapshot restores.
    fn assert_intact(&self, repo: &Path, what: &str) {
        let out = self.cairn_at(repo).args(["check", "--read-data"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{what}: check:\n{}{}", stdout_of(&out), stderr_of(&out));
        for (id, tree) in &self.kept {
            let target = self.env.path(".restore");
            let out = self.cairn_at(repo).args(["restore", id, "--target"]).arg(&target).output().unwrap();
            assert!(out.status.success(), "{what}: restore {id}: {}", stderr_of(&out));
            assert_same_tree(tree, &restored(&target, &self.src));
            fs::remove_dir_all(&target).unwrap();
        }
    }
}

/// A prune that met an injected fault ended as a program should: an exit
/// code, not a crash, and one error line when it failed.
fn assert_failed_cleanly(out: &Output, what: &str, nospace: bool) {
    let err = stderr_of(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    match out.status.code() {
        Some(0 | 3) => {}
        Some(1) => {
            let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default();
            assert!(last.starts_with("cairn: error:"), "{what}: one clear error line: {err}");
            if nospace {
                assert!(err.contains("No space left"), "{what}: says why: {err}");
            }
        }
        _ => panic!("{what}: {:?}\n{}{err}", out.status, stdout_of(out)),
    }
}

#[test]
fn prune_killed_at_each_hook_point_is_finished_by_the_next() {
    let base = base();
    for point in ["prune-repacked", "prune-index-written", "prune-old-index-removed", "prune-pack-deleted"] {
        let repo = base.copy(&format!("repo-{point}"));
        let hook = Hook::new(base.env.path(&format!("hook-{point}")), point);
        let mut cmd = base.cairn_at(&repo);
        cmd.arg("prune");
        hook.abort(&mut cmd);
        let out = spawn(cmd).wait_with_output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: killed: {:?}\n{}", out.status, stderr_of(&out));
        assert!(hook.was_reached(1), "{point}: died at the point, not elsewhere");
        base.assert_recovers(&repo, &format!("killed at {point}"));
    }
}

#[test]
fn prune_out_of_space_at_each_write_is_finished_by_the_next() {
    let base = base();
    // The prune's own marker, then every pack and index file it writes.
    let writes = base.created as u64 + 1;
    for n in 1..=writes {
        let what = format!("create:{n}:nospace of {writes}");
        let repo = base.copy(&format!("repo-create-{n}"));
        let out = base.cairn_at(&repo).env("CAIRN_TEST_FAULT", format!("create:{n}:nospace")).arg("prune").output();
        assert_failed_cleanly(&out.unwrap(), &what, true);
        base.assert_recovers(&repo, &what);
    }
    // The spool of the repacked packs fills up as well.
    let repo = base.copy("repo-spool");
    let out = base.cairn_at(&repo).env("CAIRN_TEST_FAULT", "spool:1:nospace").arg("prune").output();
    assert_failed_cleanly(&out.unwrap(), "spool:1:nospace", true);
    base.assert_recovers(&repo, "spool:1:nospace");
}

#[test]
fn prune_failing_each_removal_is_finished_by_the_next() {
    let base = base();
    // Every file the clean prune removed, then its own marker.
    let removals = base.removed as u64 + 1;
    for n in 1..=removals {
        let what = format!("remove:{n}:fail of {removals}");
        let repo = base.copy(&format!("repo-remove-{n}"));
        let out = base.cairn_at(&repo).env("CAIRN_TEST_FAULT", format!("remove:{n}:fail")).arg("prune").output();
        assert_failed_cleanly(&out.unwrap(), &what, false);
        base.assert_recovers(&repo, &what);
    }
}

#[test]
fn prune_killed_at_random_moments_is_finished_by_the_next() {
    let base = base();
    let mut rng = TestRng::from_env("prune_killed_at_random_moments");
    // Kill points spread over a little more than a clean prune's run.
    let range = (base.prune_wall.as_millis() as u64 * 3 / 2).max(20);
    for trial in 0..4 {
        let delay = rng.below(range);
        let what = format!("trial {trial}: SIGKILL after {delay} ms");
        let repo = base.copy(&format!("repo-random-{trial}"));
        let mut cmd = base.cairn_at(&repo);
        cmd.arg("prune");
        let mut child = spawn(cmd);
        // The delay only picks where the kill lands; nothing waits on it.
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.signal() == Some(9) || out.status.code() == Some(0), "{what}: {:?}", out.status);
        base.assert_recovers(&repo, &what);
    }
}
