//! `cairn run` with a profile's `copy-to` (issue 14 point 4): the run copies
//! the snapshots the other repository lacks into it after its snapshot;
//! `config show` lists the keys; a copy that fails is one line on stderr
//! and a non-zero exit, and the snapshot stays.

use std::fs;

use crate::common::*;
use crate::profiles::Home;

const OTHER: &str = "the offsite password";

fn snapshots_in(home: &Home, repo: &std::path::Path) -> usize {
    let out = home
        .cairn()
        .env("CAIRN_REPO", repo)
        .env("CAIRN_PASSWORD", OTHER)
        .args(["snapshots", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap().len()
}

#[test]
fn run_copies_to_the_profiles_copy_to_and_a_failed_copy_keeps_the_snapshot() {
    let home = Home::new();
    home.init();
    let offsite = home.path("offsite");
    home.cairn()
        .env("CAIRN_REPO", &offsite)
        .env("CAIRN_PASSWORD", OTHER)
        .args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"])
        .assert()
        .success();
    let password_file = home.path("offsite-password");
    fs::write(&password_file, format!("{OTHER}\n")).unwrap();
    let text = fs::read_to_string(home.config_file()).unwrap();
    assert!(text.contains("[default]\n"), "{text}");
    let keys = format!(
        "[default]\ncopy-to = {:?}\ncopy-to-password-file = {:?}\n",
        offsite.display().to_string(),
        password_file.display().to_string()
    );
    fs::write(home.config_file(), text.replacen("[default]\n", &keys, 1)).unwrap();

    let show = home.cairn().args(["config", "show"]).output().unwrap();
    let shown = stdout_of(&show);
    assert!(shown.contains("copy-to ") && shown.contains(&offsite.display().to_string()), "{shown}");
    assert!(shown.contains(&format!("file {}", password_file.display())), "{shown}");

    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!((out.status.code(), stderr_of(&out).as_str(), stdout_of(&out).as_str()), (Some(0), "", ""));
    assert_eq!(home.snapshot_count(&[]), 1);
    assert_eq!(snapshots_in(&home, &offsite), 1);

    // A wrong password for the copy: the run says so in one line and fails,
    // and the snapshot it took stays.
    fs::write(&password_file, "wrong\n").unwrap();
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("copy to"), "{err}");
    assert_eq!(home.snapshot_count(&[]), 2);
    // Next time, with the right password, it catches up.
    fs::write(&password_file, format!("{OTHER}\n")).unwrap();
    let out = home.cairn().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(snapshots_in(&home, &offsite), 3);
}
