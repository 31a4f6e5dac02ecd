//! cairn never backs up itself (issue 10 item 4): its repository (when
//! local), its cache and its password file are left out of every snapshot,
//! with one note.

use std::fs;
use std::path::Path;

use crate::common::*;

const NOTE: &str = "note: cairn's own files are not stored: ";

/// Every path `cairn ls latest -R PATH` prints.
fn listed(cmd: &mut assert_cmd::Command, path: &Path) -> Vec<String> {
    let out = cmd.args(["ls", "latest", "-R"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out).lines().map(str::to_string).collect()
}

#[test]
fn snapshot_of_home_leaves_out_the_default_repository_cache_and_password_file() {
    let env = Env::empty();
    let home = fs::canonicalize(env.dir.path()).unwrap();
    fs::create_dir_all(home.join("projects/app")).unwrap();
    fs::write(home.join("projects/app/main.rs"), b"fn main() {}\n").unwrap();
    fs::create_dir_all(home.join(".config/cairn")).unwrap();
    fs::write(home.join(".config/cairn/profile.toml"), b"# the user's own settings\n").unwrap();
    // The first snapshot creates the default repository and its password file.
    bare_cairn(&home).arg("snapshot").arg(home.join("projects")).assert().success();
    let repo = home.join(".local/share/cairn/repo");
    let password = home.join(".config/cairn/password");
    let cache = home.join(".cache/cairn");
    assert!(repo.is_dir() && password.is_file());

    // Without the default excludes, which would leave out all of ~/.cache.
    // The last one is the snapshot listed below.
    for extra in [&[][..], &["--dry-run", "--no-default-excludes"], &["--no-default-excludes"]] {
        let out = bare_cairn(&home).arg("snapshot").args(extra).arg(&home).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
        let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with(NOTE)).collect();
        assert_eq!(notes.len(), 1, "{extra:?}: one note: {stderr}");
        assert!(notes[0].contains(repo.to_str().unwrap()), "{}", notes[0]);
        assert!(notes[0].contains(password.to_str().unwrap()), "{}", notes[0]);
        if extra.contains(&"--no-default-excludes") && cache.exists() {
            assert!(notes[0].contains(cache.to_str().unwrap()), "{}", notes[0]);
        }
    }

    let paths = listed(&mut bare_cairn(&home), &home);
    assert!(paths.iter().any(|p| p.ends_with("/projects/app/main.rs")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/.config/cairn/profile.toml")), "its folder's other files are kept");
    for own in [&repo, &password, &cache] {
        let own = own.to_str().unwrap();
        assert!(!paths.iter().any(|p| p.starts_with(own)), "{own} is not stored: {paths:?}");
    }
}

#[test]
fn an_explicit_repository_and_password_file_inside_the_tree_are_left_out() {
    let env = Env::new();
    let root = fs::canonicalize(env.dir.path()).unwrap();
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(root.join("src/notes.md"), b"notes").unwrap();
    let pw = root.join("pw");
    fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let repo = fs::canonicalize(&env.repo).unwrap();

    let out = env.cairn().args(["snapshot", "--no-default-excludes", "--password-file"]).arg(&pw).arg(&root).output();
    let out = out.unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let notes: Vec<&str> = stderr.lines().filter(|l| l.starts_with(NOTE)).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains(repo.to_str().unwrap()) && notes[0].contains(pw.to_str().unwrap()), "{}", notes[0]);

    let paths = listed(&mut env.cairn(), &root);
    assert!(paths.iter().any(|p| p.ends_with("/src/notes.md")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with(repo.to_str().unwrap())), "{paths:?}");
    assert!(!paths.iter().any(|p| p == pw.to_str().unwrap()), "{paths:?}");

    // A snapshot that does not meet them says nothing about them.
    let out = env.cairn().args(["snapshot"]).arg(root.join("src")).output().unwrap();
    assert!(!stderr_of(&out).contains(NOTE), "{}", stderr_of(&out));
}
