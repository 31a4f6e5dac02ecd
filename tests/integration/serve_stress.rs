//! `cairn serve` under stress, through the real binaries: the server
//! killed (SIGKILL) in the middle of uploads from several clients and
//! started again leaves a repository that checks clean; and a soak of
//! eight clients snapshotting changing trees into one repository at once,
//! after which every snapshot restores.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::common_rest::*;

/// Waits for `child` at most `limit`, killing it past that.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a client ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn spawn_snapshot(home: &Path, url: &str, src: &Path) -> Child {
    cairn_as(None, home, url)
        .args(["snapshot", "--no-default-excludes"])
        .arg(src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn packs_under(repo: &Path) -> usize {
    listing(&repo.join("data")).len()
}

/// Every snapshot in the repository restores (exit 0) into its own folder.
fn every_snapshot_restores(home: &Path, url: &str, into: &Path) -> usize {
    let out = cairn_as(None, home, url).args(["--json", "snapshots"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    for id in &ids {
        let target = into.join(id);
        let out = cairn_as(None, home, url).args(["restore", id, "--target"]).arg(&target).output().unwrap();
        assert!(out.status.success(), "restore {id}: {}", stderr_of(&out));
    }
    ids.len()
}

#[test]
fn serve_killed_during_uploads_from_several_clients_leaves_a_repository_that_checks_clean() {
    let env = Env::empty();
    let mut server = Server::start(&env.path("root"), &env.path("s.sock"), &[]);
    let url = server.url("shared");
    let home = env.path("home");
    std::fs::create_dir(&home).unwrap();
    let out = cairn_as(None, &home, &url).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).output();
    assert!(out.unwrap().status.success());
    let sources: Vec<PathBuf> = (0..3)
        .map(|i| {
            let src = env.path(&format!("src{i}"));
            cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 20 + i).unwrap();
            // Incompressible bytes, so that uploads are under way when the server dies.
            std::fs::write(src.join("big.bin"), noise(24 << 20, i)).unwrap();
            src
        })
        .collect();
    let repo = env.path("root/shared");
    let before = packs_under(&repo);
    let clients: Vec<Child> = sources.iter().map(|src| spawn_snapshot(&home, &url, src)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while packs_under(&repo) < before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    // Down long enough for requests to fail, short enough for the
    // clients' retries to find it again.
    std::thread::sleep(Duration::from_millis(1500));
    server.restart();
    for client in clients {
        // Each either finished or failed with a clear error; neither may hang.
        let out = wait_bounded(client, Duration::from_secs(300));
        if !out.status.success() {
            assert!(!stderr_of(&out).is_empty(), "a failed snapshot says why");
        }
    }
    for location in [url.clone(), repo.display().to_string()] {
        let out = cairn_as(None, &home, &location).args(["check", "--read-data"]).output().unwrap();
        assert!(out.status.success(), "check {location}: {}{}", stdout_of(&out), stderr_of(&out));
    }
    let out = spawn_snapshot(&home, &url, &sources[0]);
    let out = wait_bounded(out, Duration::from_secs(300));
    assert!(out.status.success(), "a new snapshot: {}", stderr_of(&out));
    assert!(every_snapshot_restores(&home, &url, &env.path("restores")) >= 1);
}

#[test]
fn serve_soak_eight_clients_snapshot_changing_trees_at_once_and_every_snapshot_restores() {
    const CLIENTS: u64 = 8;
    const ROUNDS: u32 = 3;
    let env = Env::empty();
    let server = Server::start(&env.path("root"), &env.path("s.sock"), &["--append-only"]);
    let url = server.url("soak");
    let home = env.path("home");
    std::fs::create_dir(&home).unwrap();
    let out = cairn_as(None, &home, &url).args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).output();
    assert!(out.unwrap().status.success());
    let sources: Vec<PathBuf> = (0..CLIENTS)
        .map(|i| {
            let src = env.path(&format!("src{i}"));
            cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 100 + i).unwrap();
            src
        })
        .collect();
    let mut latest = Vec::new();
    for round in 0..ROUNDS {
        let clients: Vec<Child> = sources.iter().map(|src| spawn_snapshot(&home, &url, src)).collect();
        for (i, client) in clients.into_iter().enumerate() {
            let out = wait_bounded(client, Duration::from_secs(300));
            assert!(out.status.success(), "round {round}, client {i}: {}", stderr_of(&out));
        }
        if round + 1 < ROUNDS {
            for src in &sources {
                cairn_testgen::tick(src, round + 1).unwrap();
            }
        }
        latest =
            sources.iter().map(|s| env.path(&format!("copy-{round}-{}", s.file_name().unwrap().display()))).collect();
        for (src, copy) in sources.iter().zip(&latest) {
            copy_tree(src, copy);
        }
    }
    let out = cairn_as(None, &home, &url).args(["check", "--read-data"]).output().unwrap();
    assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
    let restores = env.path("restores");
    assert_eq!(every_snapshot_restores(&home, &url, &restores), (CLIENTS as usize) * ROUNDS as usize, "nothing lost");
    // The last round's snapshots hold each tree as it was.
    for (src, copy) in sources.iter().zip(&latest) {
        let target = env.path(&format!("last-{}", src.file_name().unwrap().display()));
        let out = cairn_as(None, &home, &url)
            .args(["restore", "latest", "--path"])
            .arg(src)
            .arg("--target")
            .arg(&target)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_same_tree(copy, &restored(&target, src));
    }
}
