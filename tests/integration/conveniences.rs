//! `cairn completions SHELL`, `cairn man --out DIR` and `cairn --version`.

use std::process::Command;

use crate::common::*;

#[test]
fn completions_for_every_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bare_cairn(home.path()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
        let script = stdout_of(&out);
        assert!(script.contains("cairn") && script.contains("snapshot") && script.contains("schedule"), "{shell}");
    }
    let script = home.path().join("cairn.bash");
    let out = bare_cairn(home.path()).args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, &out.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(check.status.success(), "bash -n: {}", stderr_of(&check));
    let bad = bare_cairn(home.path()).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn man_pages_for_every_command() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("man/man1");
    let out = bare_cairn(home.path()).args(["man", "--out"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Every command and subcommand listed by --help has its page.
    let mut expected = vec!["cairn.1".to_string()];
    let help = stdout_of(&bare_cairn(home.path()).arg("--help").output().unwrap());
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        // Wrapped descriptions are indented further than command names.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 20, "{help}");
    for c in &commands {
        expected.push(format!("cairn-{c}.1"));
    }
    for sub in ["key-passwd", "repair-index", "schedule-install", "schedule-show", "schedule-remove", "policy-set"] {
        expected.push(format!("cairn-{sub}.1"));
    }
    for page in &expected {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|_| panic!("{page} written"));
        assert!(text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH"), "{page} is roff");
    }
    let snapshot = std::fs::read_to_string(dir.join("cairn-snapshot.1")).unwrap();
    assert!(snapshot.contains("exclude"), "the page has the options");
    // Without --out: cairn.1 on standard output.
    let out = bare_cairn(home.path()).arg("man").output().unwrap();
    assert!(out.status.success() && stdout_of(&out).contains(".TH cairn 1"), "{}", stdout_of(&out));
}

#[test]
fn version_names_the_repository_format() {
    let home = tempfile::tempdir().unwrap();
    let out = bare_cairn(home.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let expected = format!("cairn {} (repository format 2, reads 1-2)\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout_of(&out), expected);
    assert_eq!(stdout_of(&bare_cairn(home.path()).arg("-V").output().unwrap()), expected);
}
