//! One meaning of `latest` and of a path (issue 10.2): with a path, `latest`
//! and `--at` are the newest snapshot that covers it, in every command; when
//! none does, every command fails with the same line naming the path and
//! the snapshots near it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

struct World {
    env: Env,
    claude: PathBuf,
    projects: PathBuf,
    /// Of `claude` and `projects`, then of `claude` alone.
    both: String,
    claude_only: String,
}

/// `cairn snapshot ~/.claude ~/projects`, then `cairn snapshot ~/.claude`.
fn world() -> World {
    let env = Env::new();
    let home = fs::canonicalize(env.dir.path()).unwrap().join("home");
    let claude = home.join(".claude");
    let projects = home.join("projects");
    fs::create_dir_all(&claude).unwrap();
    fs::create_dir_all(projects.join("p00-x")).unwrap();
    fs::write(claude.join("settings.json"), b"{}\n").unwrap();
    fs::write(projects.join("p00-x/main.rs"), b"fn main() {}\n").unwrap();
    let both = env.snapshot_json(&[&claude, &projects])["id"].as_str().unwrap().to_string();
    let claude_only = env.snapshot_json(&[&claude])["id"].as_str().unwrap().to_string();
    World { env, claude, projects, both, claude_only }
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    env.cairn().args(args).output().unwrap()
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = run(env, args);
    assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    stdout_of(&out)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn latest_with_a_path_is_the_newest_snapshot_covering_it() {
    let w = world();
    let newfile = w.projects.join("p00-x/NEWFILE");
    fs::write(&newfile, b"new\n").unwrap();

    // The reproduction of issue 10: no silent "0 added".
    let out = ok(&w.env, &["diff", "latest", s(&w.projects)]);
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(first, format!("A  {}  (4 B)", newfile.display()), "{out}");
    assert!(out.contains("1 added, 0 deleted, 0 modified"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&w.env, &["diff", "latest", s(&w.projects), "--json"])).unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["changes"][0]["path"], s(&newfile));
    // Without a path, latest is the newest snapshot of all.
    let out = ok(&w.env, &["diff", "latest"]);
    assert!(out.contains("0 added"), "{out}");

    // ls, restore and --at pick the same snapshot.
    let listed = ok(&w.env, &["ls", "latest", s(&w.projects), "--json"]);
    assert!(listed.contains("p00-x"), "{listed}");
    let listed = ok(&w.env, &["ls", "--at", "now", s(&w.projects.join("p00-x"))]);
    assert!(listed.contains("main.rs"), "{listed}");
    let target = w.env.path("out");
    let main_rs = w.projects.join("p00-x/main.rs");
    let restored = ok(&w.env, &["restore", "latest", "--target", s(&target), "--path", s(&main_rs), "--json"]);
    assert!(restored.contains(&w.both), "restored from the snapshot that covers it: {restored}");
    assert_eq!(fs::read(target.join(main_rs.strip_prefix("/").unwrap())).unwrap(), b"fn main() {}\n");
    // latest~1 counts back among the snapshots that cover the path.
    let out = run(&w.env, &["ls", "latest~1", s(&w.projects)]);
    assert!(stderr_of(&out).contains("only 1 snapshots match"), "{}", stderr_of(&out));
    assert!(ok(&w.env, &["ls", "latest~1", s(&w.claude)]).contains("settings.json"));
}

#[test]
fn a_path_no_snapshot_covers_fails_alike_in_every_command() {
    let w = world();
    let elsewhere = w.projects.parent().unwrap().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("f"), b"f").unwrap();
    let p = s(&elsewhere);
    let target = w.env.path("out");
    let under = format!("{p}/**");
    let commands: [&[&str]; 6] = [
        &["diff", "latest", p],
        &["find", &under],
        &["ls", "latest", p],
        &["ls", "--at", "now", p],
        &["restore", "latest", "--target", s(&target), "--path", p],
        &["history", p],
    ];
    let mut lines = Vec::new();
    for args in commands {
        let out = run(&w.env, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr_of(&out);
        assert!(err.starts_with(&format!("cairn: error: no snapshot covers {p}; the nearest: ")), "{args:?}: {err}");
        // Both snapshots share the most folders with it; each is named.
        for id in [&w.both, &w.claude_only] {
            assert!(err.contains(&id[..8]), "{args:?}: {err}");
        }
        lines.push(err);
    }
    assert!(lines.windows(2).all(|l| l[0] == l[1]), "one error for all: {lines:#?}");
    assert!(!target.exists(), "nothing restored");

    // A snapshot named by id that does not cover the path: said, with the
    // one that does.
    let out = run(&w.env, &["diff", &w.claude_only, s(&w.projects)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains(&format!("does not cover {}", s(&w.projects))), "{err}");
    assert!(err.contains(&format!("the newest snapshot that covers it is {}", &w.both[..8])), "{err}");
}

#[test]
fn an_argument_that_reads_like_a_snapshot_is_one_unless_written_as_a_path() {
    let w = world();
    // A folder called `beef` next to where cairn runs.
    let cwd = w.projects.join("p00-x");
    fs::create_dir_all(cwd.join("beef")).unwrap();
    let out = w.env.cairn().current_dir(&cwd).args(["ls", "beef"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("\"beef\"") && err.contains("./NAME"), "{err}");
    // As a path, with --at: it is looked up (and is not in the snapshot).
    let out = w.env.cairn().current_dir(&cwd).args(["ls", "--at", "now", "./beef"]).output().unwrap();
    let err = stderr_of(&out);
    assert!(err.contains(&format!("{}/beef is not in snapshot", cwd.display())), "{err}");
}
