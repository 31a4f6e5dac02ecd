//! restic 0.14 (the real binary) uses `cairn serve` as its REST server:
//! init, backup, snapshots, check --read-data, restore byte for byte, and
//! forget refused under --append-only while new backups still work (restic
//! deletes its own locks). restic 0.14 cannot speak to a Unix socket, so
//! these run on TCP loopback; the socket is tested with curl (serve_auth.rs).

use std::fs;
use std::path::Path;

use super::common::noise;
use super::common_serve_http::{ServeEnv, Server, curl, files_under, have_restic, restic, run_bounded};

/// A small tree: a 12 MiB file (streamed reads, more than one pack), small
/// files, a nested folder.
fn make_source(dir: &Path) {
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    fs::write(dir.join("big.bin"), noise(12 << 20, 1)).unwrap();
    fs::write(dir.join("notes.txt"), b"first version\n").unwrap();
    for i in 0..20u64 {
        fs::write(dir.join("sub").join(format!("f{i}")), noise(1000 + i as usize * 300, i + 7)).unwrap();
    }
    fs::write(dir.join("sub/deeper/empty"), b"").unwrap();
}

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn snapshot_count(home: &Path, repo: &str) -> usize {
    let out = ok(
        run_bounded({
            let mut c = restic(home, repo);
            c.args(["snapshots", "--json"]);
            c
        }),
        "snapshots",
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().len()
}

/// Every file under `a` has the same bytes under `b`, and no more files.
fn assert_same_bytes(a: &Path, b: &Path) {
    let (fa, fb) = (files_under(a), files_under(b));
    assert_eq!(fa, fb, "the same files");
    for f in fa {
        assert!(fs::read(a.join(&f)).unwrap() == fs::read(b.join(&f)).unwrap(), "{} differs", f.display());
    }
}

#[test]
fn restic_backs_up_through_an_append_only_server_and_cannot_forget() {
    if !have_restic() {
        return;
    }
    let env = ServeEnv::new();
    let src = env.path("src");
    make_source(&src);
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &["--no-auth", "--append-only"]);
    let repo = format!("rest:{}/alice/", server.url());
    let home = env.home();
    let r = |args: &[&str]| {
        let mut c = restic(&home, &repo);
        c.args(args);
        run_bounded(c)
    };
    ok(r(&["init"]), "init");
    ok(r(&["backup", src.to_str().unwrap()]), "first backup");
    fs::write(src.join("notes.txt"), b"second version, longer\n").unwrap();
    ok(r(&["backup", src.to_str().unwrap()]), "second backup");
    assert_eq!(snapshot_count(&home, &repo), 2);
    ok(r(&["check", "--read-data"]), "check --read-data");

    let target = env.path("restored");
    ok(r(&["restore", "latest", "--target", target.to_str().unwrap()]), "restore");
    // restic restores the absolute path under the target.
    assert_same_bytes(&src, &target.join(src.strip_prefix("/").unwrap()));

    // forget is refused: the server deletes no snapshot.
    let snapshots_dir = env.root().join("alice/snapshots");
    let before = files_under(&snapshots_dir);
    let out = r(&["forget", "--keep-last", "1", "--prune"]);
    assert!(!out.status.success(), "forget must fail against an append-only server");
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(files_under(&snapshots_dir), before, "no snapshot file was removed");
    assert_eq!(snapshot_count(&home, &repo), 2);

    // A new backup still works, which needs restic to remove its own locks.
    fs::write(src.join("notes.txt"), b"third\n").unwrap();
    ok(r(&["backup", src.to_str().unwrap()]), "backup after the refused forget");
    assert_eq!(snapshot_count(&home, &repo), 3);
    assert_eq!(
        files_under(&env.root().join("alice/locks")),
        Vec::<std::path::PathBuf>::new(),
        "restic removed its locks"
    );
    assert!(!server.log().contains("panic"), "{}", server.log());

    // The served folder is a plain restic repository: restic opens it directly.
    let local = env.root().join("alice");
    assert_eq!(snapshot_count(&home, local.to_str().unwrap()), 3);
}

#[test]
fn without_append_only_restic_forgets_and_prunes() {
    if !have_restic() {
        return;
    }
    let env = ServeEnv::new();
    let src = env.path("src");
    make_source(&src);
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &["--no-auth"]);
    let repo = format!("rest:{}/bob/", server.url());
    let home = env.home();
    let r = |args: &[&str]| {
        let mut c = restic(&home, &repo);
        c.args(args);
        run_bounded(c)
    };
    ok(r(&["init"]), "init");
    ok(r(&["backup", src.to_str().unwrap()]), "first backup");
    fs::write(src.join("big.bin"), noise(3 << 20, 99)).unwrap();
    ok(r(&["backup", src.to_str().unwrap()]), "second backup");
    ok(r(&["forget", "--keep-last", "1", "--prune"]), "forget --prune");
    assert_eq!(snapshot_count(&home, &repo), 1);
    ok(r(&["check", "--read-data"]), "check --read-data after prune");
    let (code, _) = curl(&["-I", &format!("{}/bob/config", server.url())]);
    assert_eq!(code, 200);
}

/// cairn pointed at a restic repository (served, or as a folder) says that
/// it is another tool's, exit 10, instead of calling its config damaged.
#[test]
fn cairn_names_a_restic_repository_as_another_tools() {
    if !have_restic() {
        return;
    }
    let env = ServeEnv::new();
    let server = Server::start(&env.home(), &env.root(), "127.0.0.1:0", &["--no-auth"]);
    let repo = format!("rest:{}/carol/", server.url());
    ok(
        run_bounded({
            let mut c = restic(&env.home(), &repo);
            c.arg("init");
            c
        }),
        "restic init",
    );
    let folder = env.root().join("carol");
    for location in [repo.as_str(), folder.to_str().unwrap()] {
        let out = run_bounded({
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
            c.env("HOME", env.home()).env("CAIRN_PASSWORD", "a password").args(["-r", location, "snapshots"]);
            c
        });
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(10), "{location}: {err}");
        assert!(err.contains("a repository of another tool") && err.trim().lines().count() == 1, "{err}");
    }
}
