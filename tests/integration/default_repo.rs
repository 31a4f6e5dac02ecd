//! The default repository: created by the first `cairn snapshot` in the XDG
//! data folder, with a generated password kept in a 0600 file.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn first_snapshot_creates_the_default_repository() {
    let env = Env::empty();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("CLAUDE.md"), b"# memory\n").unwrap();
    let home = env.dir.path();

    // Commands other than snapshot do not create it.
    let out = bare_cairn(home).arg("snapshots").output().unwrap();
    assert_eq!(out.status.code(), Some(10), "no repository");
    assert!(stderr_of(&out).contains(".local/share/cairn/repo"), "{}", stderr_of(&out));

    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let repo = home.join(".local/share/cairn/repo");
    let pw = home.join(".config/cairn/password");
    assert!(err.contains(repo.to_str().unwrap()) && err.contains(pw.to_str().unwrap()), "{err}");
    assert!(err.contains("safe"), "{err}");
    assert_eq!(fs::metadata(&pw).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(repo.join("config").is_file());

    // Later runs use it silently, and it is really encrypted with that password.
    let out = bare_cairn(home).arg("snapshot").arg(&src).output().unwrap();
    assert!(out.status.success());
    assert!(!stderr_of(&out).contains("created"));
    let password = fs::read_to_string(&pw).unwrap();
    bare_cairn(home).env("CAIRN_REPO", &repo).env("CAIRN_PASSWORD", password.trim()).arg("check").assert().success();
    let target = env.path("out");
    bare_cairn(home).args(["restore", "latest", "--target"]).arg(&target).assert().success();
    assert_eq!(fs::read(restored(&target, &src).join("CLAUDE.md")).unwrap(), b"# memory\n");
}

/// `-r DIR`, as in restic, is `--repo DIR`, before or after the command.
#[test]
fn dash_r_names_the_repository_as_in_restic() {
    let env = Env::empty();
    let repo = env.path("elsewhere");
    let home = env.dir.path();
    bare_cairn(home)
        .env("CAIRN_PASSWORD", "pw")
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1", "-r"])
        .arg(&repo)
        .assert()
        .success();
    assert!(repo.join("config").is_file());
    let out = bare_cairn(home)
        .env("CAIRN_PASSWORD", "pw")
        .arg("-r")
        .arg(&repo)
        .args(["snapshots", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).trim(), "[]");
}
