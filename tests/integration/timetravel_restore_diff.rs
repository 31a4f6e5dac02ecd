//! Time travel: choosing snapshots by time, restoring to the original
//! places after an agent's disaster, preserving what a restore replaces,
//! diffs that list exactly what each hour changed, and restores that fail
//! part-way (full disk, read-only target, damaged blob).

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::*;

/// A tiny workspace with four snapshots at whole minutes, one hour apart:
/// s1 (init), s2 (after tick 1), s3 (after tick 2), s4 (after the disaster).
struct History {
    env: Env,
    src: PathBuf,
    ids: Vec<String>,
    times: Vec<i64>,
    /// testgen's reports of ticks 1 and 2 (s1 to s2, s2 to s3).
    ticks: Vec<cairn_testgen::TickReport>,
    deleted_md: Vec<PathBuf>,
    /// Independent copies (`cp -a`) of the tree as each snapshot saw it.
    copies: Vec<PathBuf>,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn history() -> History {
    let env = Env::new();
    let src = env.path("work");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 21).unwrap();
    let base = now() / 60 * 60;
    let times: Vec<i64> = (0..4).map(|i| base - (4 - i) * 3600).collect();
    let mut ids = Vec::new();
    let mut copies = Vec::new();
    let mut snap = |t: i64| {
        let out = env
            .cairn()
            // The disaster's alarm is tested in alarm.rs (it would exit 4 here).
            .args(["snapshot", "--json", "--no-default-excludes", "--no-alarm", "--time", &format!("@{t}")])
            .arg(&src)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
        let copy = env.path(&format!("copy-s{}", ids.len()));
        copy_tree(&src, &copy);
        copies.push(copy);
    };
    snap(times[0]);
    let tick1 = cairn_testgen::tick(&src, 1).unwrap();
    snap(times[1]);
    let tick2 = cairn_testgen::tick(&src, 2).unwrap();
    snap(times[2]);
    let deleted_md = cairn_testgen::disaster(&src).unwrap();
    snap(times[3]);
    History { env, src, ids, times, ticks: vec![tick1, tick2], deleted_md, copies }
}

/// The snapshot id `restore --dry-run` picks for these selection arguments.
fn chosen(h: &History, args: &[&str]) -> Result<String, String> {
    let out = h
        .env
        .cairn()
        .args(["restore", "--dry-run", "--json", "--target"])
        .arg(h.env.path("unused"))
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(stderr_of(&out));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(v["snapshot"].as_str().unwrap().to_string())
}

fn utc(t: i64, fmt: &str) -> String {
    let out =
        std::process::Command::new("date").env("TZ", "UTC").arg("-d").arg(format!("@{t}")).arg(fmt).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn at_picks_the_right_snapshot_for_every_time_form() {
    let h = history();
    let [s1, s2, s3, s4] = [&h.ids[0], &h.ids[1], &h.ids[2], &h.ids[3]];
    let t = &h.times;
    assert_eq!(&chosen(&h, &["latest"]).unwrap(), s4);
    assert_eq!(&chosen(&h, &["latest~1"]).unwrap(), s3);
    assert_eq!(&chosen(&h, &["latest~3"]).unwrap(), s1);
    assert_eq!(&chosen(&h, &["--at", "150m ago"]).unwrap(), s2);
    assert_eq!(&chosen(&h, &["--at", "2h ago"]).unwrap(), s3);
    assert_eq!(&chosen(&h, &["--at", "30 minutes ago"]).unwrap(), s4);
    assert_eq!(&chosen(&h, &["--at", &format!("@{}", t[2])]).unwrap(), s3);
    assert_eq!(&chosen(&h, &["--at", &format!("@{}", t[2] - 1)]).unwrap(), s2);
    assert_eq!(&chosen(&h, &["--at", &utc(t[0] + 1, "+%Y-%m-%dT%H:%M:%SZ")]).unwrap(), s1);
    assert_eq!(&chosen(&h, &["--at", &utc(t[1] + 30, "+%Y-%m-%d %H:%M:%S")]).unwrap(), s2);
    assert_eq!(&chosen(&h, &["--at", &utc(t[2] + 1800, "+%Y-%m-%d %H:%M")]).unwrap(), s3);
    assert_eq!(&chosen(&h, &["--at", &utc(t[3], "+%H:%M")]).unwrap(), s4);
    assert_eq!(&chosen(&h, &["--at", &utc(now(), "+%Y-%m-%d")]).unwrap(), s4);
    for too_early in ["yesterday", "3 days ago"] {
        let e = chosen(&h, &["--at", too_early]).unwrap_err();
        assert!(e.contains("earliest") && e.contains(&s1[..8]) && e.contains(&s4[..8]), "{e}");
    }
    let e = chosen(&h, &["--at", "teatime"]).unwrap_err();
    assert!(e.contains("RFC 3339") && e.contains("ago"), "the accepted forms are shown: {e}");
}

#[test]
fn to_original_brings_back_what_the_disaster_deleted() {
    let h = history();
    assert!(!h.deleted_md.is_empty());
    let before_restore = listing(&h.src);
    let out = h
        .env
        .cairn()
        .args(["restore", "--to-original", "--json", "--at", &format!("@{}", h.times[2]), "--path"])
        .arg(&h.src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["created"].as_u64().unwrap(), h.deleted_md.len() as u64, "{v}");
    assert_eq!(v["replaced"], 0);
    assert_eq!(v["preserved"], 0, "nothing was overwritten, so nothing needed preserving");
    assert_eq!(
        v["unchanged"].as_u64().unwrap(),
        before_restore.len() as u64,
        "every surviving file is left alone: {v}"
    );
    for md in &h.deleted_md {
        assert!(h.src.join(md).is_file(), "{} is back", md.display());
    }
    // The live tree is now exactly as copied when s3 was taken (bytes,
    // modes, mtimes, folders' mtimes too).
    assert_same_tree(&h.copies[2], &h.src);

    // A second disaster that deletes nothing: files overwritten, truncated,
    // given other modes (contents kept), a folder's mode changed.
    let files: Vec<PathBuf> = listing(&h.src)
        .into_iter()
        .filter(|(p, n)| *n > 100 && fs::symlink_metadata(p).unwrap().is_file())
        .map(|(p, _)| p)
        .collect();
    assert!(files.len() >= 30, "{}", files.len());
    let mut hit = BTreeSet::new();
    for f in files.iter().step_by(10).take(3) {
        fs::write(f, b"the agent's version\n").unwrap();
        hit.insert(f.clone());
    }
    for f in files.iter().skip(1).step_by(10).take(3) {
        let len = fs::metadata(f).unwrap().len();
        fs::File::options().write(true).open(f).unwrap().set_len(len / 2).unwrap();
        hit.insert(f.clone());
    }
    for f in files.iter().skip(2).step_by(10).take(3) {
        let mode = fs::metadata(f).unwrap().mode();
        fs::set_permissions(f, fs::Permissions::from_mode((mode ^ 0o111) & 0o7777)).unwrap();
        hit.insert(f.clone());
    }
    assert_eq!(hit.len(), 9);
    // A folder none of whose entries is touched: only its mode differs.
    let dir = listing(&h.src)
        .into_iter()
        .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
        .find(|d| *d != h.src && !hit.iter().any(|f| f.parent() == Some(d)))
        .unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let rel_dir = dir.strip_prefix(&h.src).unwrap();
    assert_ne!(fs::metadata(h.copies[2].join(rel_dir)).unwrap().mode() & 0o7777, 0o700);
    let out = h
        .env
        .cairn()
        .args(["restore", "--to-original", "--overwrite", "--json", "--at", &format!("@{}", h.times[2]), "--path"])
        .arg(&h.src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let replaced: BTreeSet<PathBuf> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "replace")
        .map(|a| PathBuf::from(a["path"].as_str().unwrap()))
        .collect();
    let canon = fs::canonicalize(&h.src).unwrap();
    let hit: BTreeSet<PathBuf> = hit.iter().map(|p| canon.join(p.strip_prefix(&h.src).unwrap())).collect();
    assert_eq!(replaced, hit, "exactly the damaged files are replaced");
    assert_eq!((v["replaced"].as_u64(), v["preserved"].as_u64()), (Some(9), Some(9)), "{v}");
    assert_same_tree(&h.copies[2], &h.src);
}

#[test]
fn overwrite_preserves_the_current_version_first() {
    let h = history();
    let rel = h.ticks[0].modified.iter().find(|p| p.extension().is_none_or(|e| e != "md")).unwrap();
    let victim = h.src.join(rel);
    // `latest` is s4: what the victim held then, copied without cairn.
    let snapshot_version = h.copies[3].join(rel);
    let agent_version = b"the agent rewrote this file\n";
    fs::write(&victim, agent_version).unwrap();
    let before = fs::read(&victim).unwrap();

    // Without --overwrite: named, untouched, exit 3 (done, incomplete).
    let out = h.env.cairn().args(["restore", "latest", "--to-original", "--path"]).arg(&victim).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    // The entry says why; the last line says which flag allows it, and for how many.
    let err = stderr_of(&out);
    assert!(err.lines().any(|l| l.contains("differs from the snapshot")), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("cairn: error:") && last.contains("pass --overwrite to replace the 1 that differ"),
        "{err}"
    );
    assert_eq!(fs::read(&victim).unwrap(), before);

    // --dry-run says what would happen and changes nothing.
    let listing_before = h.env.repo_listing();
    let out = h
        .env
        .cairn()
        .args(["restore", "latest", "--to-original", "--overwrite", "--dry-run", "--path"])
        .arg(&victim)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout_of(&out).contains("would replace"), "{}", stdout_of(&out));
    assert_eq!(fs::read(&victim).unwrap(), before);
    assert_eq!(h.env.repo_listing(), listing_before);
    // The whole workspace: one line per entry, each a verb.
    let out = h
        .env
        .cairn()
        .args(["restore", "latest", "--to-original", "--overwrite", "--dry-run", "--path"])
        .arg(&h.src)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    let victim_line = format!("would replace   {}", fs::canonicalize(&victim).unwrap().display());
    assert!(text.lines().any(|l| l == victim_line), "{text}");
    assert!(text.lines().any(|l| l.starts_with("would leave ")), "{text}");
    assert!(!text.contains("would unchanged"), "{text}");
    assert_eq!(fs::read(&victim).unwrap(), before);

    // With --overwrite: replaced, and the agent's version is in a preserve snapshot.
    let out = h
        .env
        .cairn()
        .args(["restore", "latest", "--to-original", "--overwrite", "--json", "--path"])
        .arg(&victim)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["replaced"], 1);
    assert_eq!(fs::read(&victim).unwrap(), fs::read(&snapshot_version).unwrap(), "the snapshot's bytes are back");
    let (now, then) = (fs::metadata(&victim).unwrap(), fs::metadata(&snapshot_version).unwrap());
    assert_eq!((now.mode(), now.mtime(), now.mtime_nsec()), (then.mode(), then.mtime(), then.mtime_nsec()));
    let preserve = v["preserved_snapshot"].as_str().unwrap();
    let back = h.env.path("undo");
    h.env.cairn().args(["restore", preserve, "--target"]).arg(&back).assert().success();
    assert_eq!(fs::read(restored(&back, &victim)).unwrap(), agent_version);
    let out = h.env.cairn().args(["snapshots", "--json", "--tag", "restore-preserve"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The preserve snapshot holds only the replaced file: `latest` and
    // `--at now` pass over it, unless asked for by its tag.
    assert_eq!(chosen(&h, &["latest"]).unwrap(), h.ids[3]);
    assert_eq!(chosen(&h, &["--at", "now"]).unwrap(), h.ids[3]);
    assert_eq!(chosen(&h, &["latest", "--tag", "restore-preserve"]).unwrap(), preserve);
}

#[test]
fn folder_replaced_by_a_file_is_never_silently_destroyed() {
    let h = history();
    let dir = h.src.join(".claude/todos");
    assert!(dir.is_dir());
    let original = h.env.path("todos-before");
    h.env.cairn().args(["restore", "latest", "--target"]).arg(&original).arg("--path").arg(&dir).assert().success();
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, b"an agent put a file here").unwrap();

    let out = h.env.cairn().args(["restore", "latest", "--to-original", "--path"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("a file is where the snapshot has a folder"), "{}", stderr_of(&out));
    assert_eq!(fs::read(&dir).unwrap(), b"an agent put a file here");

    let out = h
        .env
        .cairn()
        .args(["restore", "latest", "--to-original", "--overwrite", "--json", "--path"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_same_tree(&restored(&original, &dir), &dir);
    let back = h.env.path("undo");
    h.env
        .cairn()
        .args(["restore", v["preserved_snapshot"].as_str().unwrap(), "--target"])
        .arg(&back)
        .assert()
        .success();
    assert_eq!(fs::read(restored(&back, &dir)).unwrap(), b"an agent put a file here");
}

#[test]
fn delete_removes_what_the_snapshot_lacks_after_preserving_it() {
    let h = history();
    let dir = h.src.join(".claude");
    fs::write(dir.join("agent-scratch.txt"), b"new file").unwrap();
    let out = h
        .env
        .cairn()
        .args(["restore", "latest", "--to-original", "--delete", "--json", "--path"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["deleted"], 1);
    assert!(!dir.join("agent-scratch.txt").exists());
    let back = h.env.path("undo");
    h.env
        .cairn()
        .args(["restore", v["preserved_snapshot"].as_str().unwrap(), "--target"])
        .arg(&back)
        .assert()
        .success();
    assert_eq!(fs::read(restored(&back, &dir).join("agent-scratch.txt")).unwrap(), b"new file");
}

#[test]
fn restore_globs_and_include_exclude() {
    let h = history();
    let target = h.env.path("md-only");
    let pattern = format!("{}/**/*.md", fs::canonicalize(&h.src).unwrap().display());
    h.env.cairn().args(["restore", &h.ids[2], "--target"]).arg(&target).args(["--path", &pattern]).assert().success();
    let got: BTreeSet<PathBuf> = listing(&target)
        .into_iter()
        .map(|(p, _)| p.strip_prefix(restored(&target, &h.src)).unwrap().to_path_buf())
        .collect();
    let want: BTreeSet<PathBuf> = h.deleted_md.iter().cloned().collect();
    assert_eq!(got, want);

    let target = h.env.path("no-md");
    h.env
        .cairn()
        .args(["restore", &h.ids[2], "--exclude", "*.md", "--include", "*.json", "--target"])
        .arg(&target)
        .assert()
        .success();
    // Computed from the copy taken with s3, not from cairn: every entry
    // whose name matches *.json (none of which matches *.md).
    let s3 = &h.copies[2];
    let want: BTreeSet<PathBuf> = listing(s3)
        .into_iter()
        .map(|(p, _)| p.strip_prefix(s3).unwrap().to_path_buf())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert!(want.len() > 3, "{want:?}");
    let base = restored(&target, &h.src);
    let got: BTreeSet<PathBuf> =
        listing(&target).into_iter().map(|(p, _)| p.strip_prefix(&base).unwrap().to_path_buf()).collect();
    assert_eq!(got, want);
    for rel in &want {
        assert_eq!(fs::read(base.join(rel)).unwrap(), fs::read(s3.join(rel)).unwrap(), "{}", rel.display());
    }
    // Only the folders on the way to them are created.
    let want_dirs: BTreeSet<PathBuf> = want
        .iter()
        .flat_map(|p| p.ancestors().skip(1))
        .filter(|a| !a.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .collect();
    let mut got_dirs = BTreeSet::new();
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                got_dirs.insert(p.strip_prefix(&base).unwrap().to_path_buf());
                stack.push(p);
            }
        }
    }
    assert_eq!(got_dirs, want_dirs);
}

/// `diff --json` between two snapshots (or one and the live files) as
/// sets of relative paths: added, deleted, modified, metadata only.
fn diff_sets(h: &History, args: &[&str]) -> [BTreeSet<PathBuf>; 4] {
    let out = h.env.cairn().args(["diff", "--json"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = fs::canonicalize(&h.src).unwrap();
    let mut got: [BTreeSet<PathBuf>; 4] = Default::default();
    for c in v["changes"].as_array().unwrap() {
        if c["type"] == "dir" {
            continue;
        }
        let rel = Path::new(c["path"].as_str().unwrap()).strip_prefix(&root).unwrap().to_path_buf();
        let slot = match c["change"].as_str().unwrap() {
            "A" => 0,
            "D" => 1,
            "M" => 2,
            "m" => 3,
            other => panic!("unexpected change {other} for {}", rel.display()),
        };
        got[slot].insert(rel);
    }
    got
}

/// What testgen says a tick did, in the same four sets.
fn expected_sets(r: &cairn_testgen::TickReport) -> [BTreeSet<PathBuf>; 4] {
    let set = |v: Vec<&PathBuf>| v.into_iter().cloned().collect::<BTreeSet<PathBuf>>();
    [
        set(r.created.iter().chain(r.renamed.iter().map(|(_, to)| to)).collect()),
        set(r.deleted.iter().chain(r.renamed.iter().map(|(from, _)| from)).collect()),
        set(r.modified.iter().chain(&r.appended).collect()),
        set(r.touched.iter().collect()),
    ]
}

#[test]
fn diff_lists_exactly_what_each_tick_changed() {
    let h = history();
    let names = ["added", "deleted", "modified", "metadata only"];
    for (i, report) in h.ticks.iter().enumerate() {
        let want = expected_sets(report);
        // Every kind of change happens in every tick: no comparison of
        // two empty sets passes for a check.
        for (set, name) in want.iter().zip(names) {
            assert!(!set.is_empty(), "tick {}: testgen reported nothing {name}: {}", i + 1, report.summary());
        }
        let got = diff_sets(&h, &[&h.ids[i], &h.ids[i + 1]]);
        for ((got, want), name) in got.iter().zip(&want).zip(names) {
            assert_eq!(got, want, "tick {}: {name}", i + 1);
        }
    }
    // The disaster: its deletions and nothing else.
    assert!(!h.deleted_md.is_empty());
    let deleted: BTreeSet<PathBuf> = h.deleted_md.iter().cloned().collect();
    let nothing = BTreeSet::new();
    assert_eq!(
        diff_sets(&h, &[&h.ids[2], &h.ids[3]]),
        [nothing.clone(), deleted.clone(), nothing.clone(), nothing.clone()]
    );
    // Against the live files: the same, then nothing.
    assert_eq!(diff_sets(&h, &[&h.ids[2]]), [nothing.clone(), deleted, nothing.clone(), nothing.clone()]);
    let out = h.env.cairn().args(["diff", "latest"]).output().unwrap();
    assert!(stdout_of(&out).starts_with("0 added, 0 deleted, 0 modified"), "{}", stdout_of(&out));

    // --content shows every line of a deleted file, under a hunk header
    // counting them.
    let root = fs::canonicalize(&h.src).unwrap();
    let (rel, text) = h
        .deleted_md
        .iter()
        .map(|rel| (rel, fs::read_to_string(h.copies[2].join(rel)).unwrap()))
        .find(|(_, text)| text.lines().count() >= 3 && text.ends_with('\n'))
        .expect("a deleted file of a few lines");
    let md = root.join(rel);
    let lines: Vec<&str> = text.lines().collect();
    let mut want = format!("--- a{0}\n+++ b{0}\n@@ -1,{1} +0,0 @@\n", md.display(), lines.len());
    for line in &lines {
        want.push_str(&format!("-{line}\n"));
    }
    let out = h.env.cairn().args(["diff", "--content", &h.ids[2], &h.ids[3]]).arg(&md).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let shown = stdout_of(&out);
    assert!(shown.starts_with(&format!("D  {}", md.display())), "{shown}");
    let body = shown.split_once('\n').unwrap().1;
    assert!(body.starts_with(&want), "want:\n{want}\ngot:\n{shown}");
    assert_eq!(body[want.len()..].lines().count(), 1, "only the totals follow: {shown}");
}

#[test]
fn full_disk_read_only_target_and_damaged_blob() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), noise(2_000_000, 7)).unwrap();
    env.snapshot_json(&[&src]);
    let before = env.repo_listing();
    fs::write(src.join("b.bin"), noise(2_000_000, 8)).unwrap();
    env.snapshot_json(&[&src]);

    if let Some(_m) = small_mount(&env.path("full"), "size=1m") {
        let out = env.cairn().args(["restore", "latest", "--target"]).arg(env.path("full")).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr_of(&out).contains("No space left"), "{}", stderr_of(&out));
        let leftovers: Vec<_> = listing(&env.path("full")).into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(leftovers.is_empty(), "no partial files: {leftovers:?}");
    }
    if let Some(_m) = small_mount(&env.path("ro"), "ro,size=1m") {
        let out = env.cairn().args(["restore", "latest", "--target"]).arg(env.path("ro")).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr_of(&out).contains("Read-only"), "{}", stderr_of(&out));
    }

    // Damage the pack that only the second snapshot added (b.bin's data).
    damage_newest_pack(&env, &before);
    let target = env.path("out");
    let out = env.cairn().args(["restore", "latest", "--target"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("b.bin"), "the damaged file is named: {}", stderr_of(&out));
    let base = restored(&target, &src);
    assert_eq!(fs::read(base.join("a.bin")).unwrap(), fs::read(src.join("a.bin")).unwrap());
    assert!(!base.join("b.bin").exists());
}
