//! cairn through `cairn serve` (the real binaries, a Unix socket in a
//! temporary folder): the everyday commands work as on a local folder, and
//! an append-only server keeps history from a client that tries to destroy
//! it (over the API, with `cairn forget`/`prune`/`unpin`/`key passwd`, and
//! with `rm -rf` of the repository as an ordinary user).

use std::path::Path;
use std::process::Output;

use crate::common::*;
use crate::common_rest::*;

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("run cairn")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), stdout_of(&out), stderr_of(&out));
    out
}

/// `snapshot --json` of `src` at `time` (as the alarm tests take them).
fn snapshot(cmd: &mut std::process::Command, src: &Path, time: &str) -> (i32, serde_json::Value, String) {
    let out = run(cmd.args(["snapshot", "--json", "--no-default-excludes", "--time", time]).arg(src));
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(&out), stderr_of(&out)));
    (out.status.code().unwrap_or(-1), json, stderr_of(&out))
}

#[test]
fn serve_the_everyday_commands_work_through_cairn_serve() {
    let env = Env::empty();
    let server = Server::start(&env.path("root"), &env.path("s.sock"), &[]);
    let url = server.url("me");
    let home = env.path("home");
    std::fs::create_dir(&home).unwrap();
    let cairn = || cairn_as(None, &home, &url);
    let out = ok(run(cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])));
    assert!(stdout_of(&out).contains(&url), "{}", stdout_of(&out));
    // Served repositories are the local layout: the server's folder opens as one.
    assert!(env.path("root/me/config").is_file() && env.path("root/me/data/00").is_dir());

    let src = env.path("src");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 3).unwrap();
    let (code, first, err) = snapshot(&mut cairn(), &src, "2025-03-10T08:00:00Z");
    assert_eq!(code, 0, "{err}");
    let first_copy = env.path("first");
    copy_tree(&src, &first_copy);
    cairn_testgen::tick(&src, 1).unwrap();
    let (code, second, err) = snapshot(&mut cairn(), &src, "2025-03-10T09:00:00Z");
    assert_eq!(code, 0, "{err}");

    let out = ok(run(cairn().args(["--json", "snapshots"])));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let out = ok(run(cairn().args(["diff", first["id"].as_str().unwrap(), second["id"].as_str().unwrap()])));
    assert!(!stdout_of(&out).trim().is_empty(), "the tick changed files: the diff says which");
    for (id, expected) in [(first["id"].as_str().unwrap(), &first_copy), (second["id"].as_str().unwrap(), &src)] {
        let target = env.path(&format!("restore-{id}"));
        ok(run(cairn().args(["restore", id, "--target"]).arg(&target)));
        assert_same_tree(expected, &restored(&target, &src));
    }
    let out = ok(run(cairn().args(["check", "--read-data"])));
    assert!(stdout_of(&out).contains("no errors"), "{}", stdout_of(&out));
    // The same repository opened as the server's folder: byte-identical layout.
    let local = ok(run(cairn_as(None, &home, env.path("root/me").to_str().unwrap()).args(["check", "--read-data"])));
    assert!(stdout_of(&local).contains("no errors"), "{}", stdout_of(&local));
}

/// The attack of issue 13. The server runs as root on a root that is its
/// own (mode 0700); the client is an ordinary user (`nobody`, through
/// setpriv) with access to the socket only. Without root the same runs
/// with the current user and leaves out the `rm -rf`.
#[test]
fn serve_an_agent_with_the_clients_access_cannot_destroy_history_on_an_append_only_server() {
    let env = Env::empty();
    let user = ordinary_user();
    // The socket's folder must be reachable by the client's user.
    std::fs::set_permissions(env.dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let server = Server::start(&env.path("root"), &env.path("s.sock"), &["--append-only", "--socket-mode", "0666"]);
    let url = server.url("me");
    let mine = env.path("mine");
    user_folder(&mine, user);
    let home = mine.join("home");
    user_folder(&home, user);
    let cairn = || cairn_as(user, &home, &url);
    ok(run(cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])));

    // History: two good snapshots, then the disaster the alarm pins against.
    let src = mine.join("ws");
    cairn_testgen::init(&src, cairn_testgen::Scale::Tiny, 7).unwrap();
    user_folder(&src, user);
    assert_eq!(snapshot(&mut cairn(), &src, "2025-03-10T08:00:00Z").0, 0);
    cairn_testgen::tick(&src, 1).unwrap();
    user_folder(&src, user);
    let (code, good, err) = snapshot(&mut cairn(), &src, "2025-03-10T09:00:00Z");
    assert_eq!(code, 0, "{err}");
    let good_id = good["id"].as_str().unwrap().to_string();
    let good_copy = env.path("good");
    copy_tree(&src, &good_copy);
    cairn_testgen::disaster(&src).unwrap();
    let (code, hit, err) = snapshot(&mut cairn(), &src, "2025-03-10T09:40:00Z");
    assert_eq!(code, 4, "the alarm: {err}");
    assert_eq!((&hit["alarm"]["raised"], &hit["alarm"]["pinned"]), (&true.into(), &true.into()), "{}", hit["alarm"]);
    let repo = env.path("root/me");
    assert_eq!(std::fs::read_dir(repo.join("pins")).unwrap().count(), 1, "the pin reached the server");

    // Over the API: delete and overwrite every object of every kind.
    let before = fingerprint(&server.root);
    let mut tried = 0;
    for (path, _) in &before {
        let rel = path.strip_prefix(&server.root).unwrap();
        let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if parts.len() == 4 {
            parts.remove(2); // data/xx/ID is data/ID on the wire
        }
        let wire = format!("/{}", parts.join("/"));
        let delete = server.curl(user, "DELETE", &wire, None);
        assert_eq!(delete, 403, "DELETE {wire}");
        let post = server.curl(user, "POST", &wire, Some(b"overwritten by the agent"));
        assert!(matches!(post, 400 | 403), "POST {wire}: {post}");
        if wire.ends_with("/config") {
            assert_eq!(server.curl(user, "PUT", &wire, Some(b"overwritten")), 403, "PUT {wire}");
        }
        tried += 1;
    }
    assert!(tried > 10, "every kind was tried: {before:?}");
    // A new policy is refused too: the server's forget obeys the policy, so
    // `--keep-last 1` from the agent would make the server destroy history.
    let body = b"the agent's policy";
    let name = cairn_core::Id::of_file_bytes(body).to_hex();
    assert_eq!(server.curl(user, "POST", &format!("/me/policy/{name}"), Some(body)), 403, "a new policy");
    for (method, path) in
        [("DELETE", "/me/../me/config"), ("DELETE", "/me/data/..%2f..%2fme%2fconfig"), ("DELETE", "/me/")]
    {
        let status = server.curl(user, method, path, None);
        assert!(matches!(status, 400 | 403 | 404 | 405), "{method} {path}: {status}");
    }

    // With cairn: one clear line each, exit 1, nothing changed.
    let new_password = mine.join("new-password");
    std::fs::write(&new_password, "another password\n").unwrap();
    if let Some(uid) = user {
        chown_tree(&new_password, uid);
    }
    for args in [
        vec!["forget", "--keep-last", "1"],
        vec!["prune"],
        vec!["forget", "--keep-last", "1", "--prune"],
        vec!["unpin", &good_id],
        vec!["policy", "set", "--keep-last", "1"],
        vec!["key", "passwd", "--new-password-file", new_password.to_str().unwrap()],
    ] {
        let out = run(cairn().args(&args));
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(&format!("{url} is append-only: forget and prune run on the server")), "{args:?}: {err}");
    }

    // The folder itself, as the client's user.
    if let Some(uid) = user {
        let out = as_user(Some(uid), "rm").arg("-rf").arg(&server.root).output().unwrap();
        assert!(!out.status.success(), "rm -rf as the client's user must fail");
        let out = as_user(Some(uid), "rm").arg("-rf").arg(&repo).output().unwrap();
        assert!(!out.status.success());
    }
    assert_eq!(fingerprint(&server.root), before, "not one byte changed");

    // Earlier snapshots restore byte for byte; the next snapshot works.
    let target = mine.join("restored");
    user_folder(&target, user);
    ok(run(cairn().args(["restore", &good_id, "--target"]).arg(&target)));
    assert_same_tree(&good_copy, &restored(&target, &src));
    cairn_testgen::tick(&src, 3).unwrap();
    user_folder(&src, user);
    let (code, _, err) = snapshot(&mut cairn(), &src, "2025-03-10T10:00:00Z");
    assert_eq!(code, 0, "the next snapshot: {err}");
    ok(run(cairn().args(["check", "--read-data"])));
}

/// `cairn init --paths` with a `rest:` location writes it into the profile
/// as given, and `cairn run` through an append-only server takes its
/// snapshot and check and leaves forget and prune to the server (exit 0).
#[test]
fn serve_a_profile_on_an_append_only_server_runs_clean() {
    let env = Env::empty();
    let server = Server::start(&env.path("root"), &env.path("s.sock"), &["--append-only"]);
    let url = server.url("me");
    let home = env.path("home");
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(src.join("a"), b"kept").unwrap();
    let password = env.path("pw");
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    let cairn = || {
        let mut cmd = cairn_as(None, &home, &url);
        cmd.env_remove("CAIRN_REPO").env_remove("CAIRN_PASSWORD");
        cmd
    };
    let out = ok(run(cairn()
        .args(["init", "-r", &url, "--kdf-memory-kib", "8", "--kdf-iterations", "1", "--password-file"])
        .arg(&password)
        .arg("--paths")
        .arg(&src)));
    let profile = std::fs::read_to_string(home.join(".config/cairn/config.toml")).unwrap();
    assert!(profile.contains(&format!("repository = \"{url}\"")), "{profile}{}", stdout_of(&out));
    let out = run(cairn().args(["run", "--verbose"]));
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout_of(&out), stderr_of(&out));
    assert!(stdout_of(&out).contains("no errors"), "the check ran: {}", stdout_of(&out));
    assert_eq!(std::fs::read_dir(env.path("root/me/snapshots")).unwrap().count(), 1);
}
