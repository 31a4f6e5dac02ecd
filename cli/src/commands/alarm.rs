//! The snapshot command's side of the mass-deletion alarm: core counted
//! what vanished or was truncated since the parent (`archiver::alarm`);
//! here, when the rules say so, the parent is pinned, one loud summary goes
//! to stderr with the exact command that undoes the damage, the `on-alert`
//! command runs, and the profile's state records the alarm.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_core::archiver::alarm::{AlarmRules, Losses};
use cairn_core::{Id, Repository};

use crate::args::Global;
use crate::state::{self, AlarmRecord};

/// Folders named in the summary; the undo command names them all when there
/// are at most `MAX_PATHS`, else the snapshot's paths.
const SHOWN_FOLDERS: usize = 5;
const MAX_PATHS: usize = 10;
/// How long the on-alert command may run before it is stopped: a hung
/// notifier must not hold up the scheduled run.
const ALERT_LIMIT: Duration = Duration::from_secs(30);

/// What the alarm decided, for the JSON output and the exit code.
pub struct Judged {
    pub raised: bool,
    pub json: serde_json::Value,
}

/// Judges `losses` by `rules`; when raised in a real run (`saved` is the new
/// snapshot), pins the parent, prints the summary, runs the alert command
/// and records the alarm. A dry run only reports.
pub fn judge(
    g: &Global,
    repo: &Repository,
    (losses, rules): (&Losses, &AlarmRules),
    saved: Option<Id>,
    snapshot_paths: &[PathBuf],
    on_alert: Option<&str>,
) -> Judged {
    let raised = losses.raises(rules);
    let undo = undo_command(g, &losses.parent, losses, snapshot_paths);
    let mut json = serde_json::json!({
        "raised": raised,
        "parent": losses.parent.to_hex(),
        "parent_files": losses.parent_files,
        "vanished": losses.vanished,
        "truncated": losses.truncated,
        "protected": losses.protected,
        "folders": losses.folders.iter().map(|(f, n)| serde_json::json!({"path": f.display().to_string(), "files": n})).collect::<Vec<_>>(),
        "undo": undo,
        "pinned": false,
    });
    if !raised {
        return Judged { raised, json };
    }
    let Some(saved) = saved else {
        eprintln!(
            "cairn: dry run: this snapshot would raise the mass-deletion alarm (nothing pinned): {}",
            what_gone(losses)
        );
        eprintln!("{}", summary_lines(losses, &undo).join("\n"));
        return Judged { raised, json };
    };
    let pinned = match cairn_core::snapshot::pins::pin(
        repo,
        &losses.parent,
        &crate::locations::hostname(),
        &crate::locations::username(),
    ) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("cairn: error: could not pin the parent snapshot {}: {e}", losses.parent.short());
            false
        }
    };
    json["pinned"] = pinned.into();
    let mut lines = vec![format!(
        "cairn: ALARM: mass deletion since snapshot {}: {} (snapshot {} saved)",
        losses.parent.short(),
        what_gone(losses),
        saved.short()
    )];
    lines.extend(summary_lines(losses, &undo));
    if pinned {
        lines.push(format!(
            "  snapshot {} (the last good state) is pinned: forget and prune keep it; `cairn unpin {}` when all is well",
            losses.parent.short(),
            losses.parent.short()
        ));
    }
    eprintln!("{}", lines.join("\n"));
    if let Some(command) = alert_command(on_alert) {
        run_alert(&command, losses, saved, &undo);
    }
    if let Some(profile) = profile_name(g) {
        let record = AlarmRecord {
            time: state::now(),
            snapshot: saved.to_hex(),
            pinned_parent: pinned.then(|| losses.parent.to_hex()),
            vanished: losses.vanished,
            truncated: losses.truncated,
            protected: losses.protected,
            acknowledged: false,
        };
        if let Err(e) = state::record_alarm(&profile, &record) {
            eprintln!("cairn: error: could not record the alarm in profile {profile}'s state: {e:#}");
        }
    }
    Judged { raised, json }
}

/// The active profile's name, if any: the alarm is recorded in its state.
fn profile_name(g: &Global) -> Option<String> {
    g.active.as_ref().map(|p| p.name.clone())
}

/// "412 files vanished, 3 truncated (73 under protected globs), of 2900 in it".
fn what_gone(l: &Losses) -> String {
    use cairn_core::repo::rebuild::plural;
    format!(
        "{} vanished, {} truncated ({} under protected globs), of {} in it",
        plural(l.vanished, "file", "files"),
        l.truncated,
        l.protected,
        l.parent_files
    )
}

/// The folders and the command that undoes the damage.
fn summary_lines(l: &Losses, undo: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (folder, n) in l.folders.iter().take(SHOWN_FOLDERS) {
        lines.push(format!("  {n:>8}  {}", cairn_core::names::escape_path(folder)));
    }
    if l.folders.len() > SHOWN_FOLDERS {
        lines.push(format!("  … and {} more folders", l.folders.len() - SHOWN_FOLDERS));
    }
    lines.push(format!("  to undo it: {undo}"));
    lines
}

/// `cairn [--repo R | --profile P] restore PARENT --to-original --path …`:
/// missing files are recreated; truncated ones need `--overwrite`, which
/// saves what it replaces in a snapshot first.
fn undo_command(g: &Global, parent: &Id, l: &Losses, snapshot_paths: &[PathBuf]) -> String {
    let mut words = vec!["cairn".to_string()];
    if let Some(profile) = profile_name(g) {
        words.extend(["--profile".into(), quote(Path::new(&profile))]);
    } else if let Some(repo) = &g.repo {
        words.extend(["--repo".into(), quote(repo)]);
    }
    words.extend(["restore".into(), parent.short(), "--to-original".into()]);
    if l.truncated > 0 {
        words.push("--overwrite".into());
    }
    let paths: Vec<&Path> = if l.folders.len() <= MAX_PATHS {
        l.folders.iter().map(|(f, _)| f.as_path()).collect()
    } else {
        snapshot_paths.iter().map(PathBuf::as_path).collect()
    };
    for p in paths {
        words.extend(["--path".into(), quote(p)]);
    }
    words.join(" ")
}

/// A word the shell reads back as `p`: bare when it is plain, else in
/// single quotes.
fn quote(p: &Path) -> String {
    let s = p.to_string_lossy();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command to run: the profile's `on-alert` (empty: none), else
/// `notify-send` when it is on PATH.
fn alert_command(on_alert: Option<&str>) -> Option<String> {
    match on_alert {
        Some(c) if c.trim().is_empty() => None,
        Some(c) => Some(c.to_string()),
        None => on_path("notify-send")
            .then(|| r#"notify-send -u critical 'cairn: mass deletion' "$CAIRN_ALARM_SUMMARY""#.to_string()),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Runs the alert command with `sh -c`, the summary in CAIRN_ALARM_*
/// variables; its output goes to stderr (stdout may be JSON).
fn run_alert(command: &str, l: &Losses, saved: Id, undo: &str) {
    let folders: Vec<String> = l.folders.iter().map(|(f, n)| format!("{n} {}", f.display())).collect();
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("CAIRN_ALARM_SUMMARY", format!("{}; pinned {}", what_gone(l), l.parent.short()))
        .env("CAIRN_ALARM_SNAPSHOT", saved.to_hex())
        .env("CAIRN_ALARM_PARENT", l.parent.to_hex())
        .env("CAIRN_ALARM_VANISHED", l.vanished.to_string())
        .env("CAIRN_ALARM_TRUNCATED", l.truncated.to_string())
        .env("CAIRN_ALARM_PROTECTED", l.protected.to_string())
        .env("CAIRN_ALARM_FOLDERS", folders.join("\n"))
        .env("CAIRN_ALARM_UNDO", undo)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return eprintln!("cairn: error: on-alert command could not start: {e}"),
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => return eprintln!("cairn: error: on-alert command failed ({status})"),
            Ok(None) if started.elapsed() > ALERT_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return eprintln!("cairn: error: on-alert command still running after {ALERT_LIMIT:?}; stopped");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return eprintln!("cairn: error: on-alert command: {e}"),
        }
    }
}
