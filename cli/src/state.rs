//! What this machine remembers of each profile's runs, in
//! `$XDG_STATE_HOME/cairn/profiles/<name>/` (`~/.local/state/…` by default):
//! `state.json` (the last run, snapshot, prune, check, drill, the next
//! `--read-data-subset` slice and any alarm), `run.lock` (held with `flock`
//! while `cairn run` works, so a second run exits at once instead of piling
//! up behind a slow one) and `run.log` (one line per run, rotated at
//! 256 KiB into `run.log.1` and `run.log.2`, so it never grows without bound).
//!
//! `state.json` is replaced whole (temporary file, fsync, rename): a crash
//! leaves the old state or the new one. A state file that cannot be read is
//! reported, not silently reset: `status` would otherwise call a broken
//! setup healthy.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The log is rotated when it reaches this size.
pub const LOG_LIMIT: u64 = 256 * 1024;
/// Rotated logs kept (`run.log.1` … `run.log.N`).
const LOGS_KEPT: u32 = 2;

/// A profile's remembered runs. Times are RFC 3339 (UTC).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct State {
    pub last_run: Option<RunRecord>,
    /// The last run that ended with exit 0.
    pub last_success: Option<String>,
    pub last_snapshot: Option<SnapshotRecord>,
    pub last_prune: Option<String>,
    pub last_check: Option<CheckRecord>,
    pub last_drill: Option<DrillRecord>,
    /// The N of the next check's `--read-data-subset N/M` (from 1).
    pub next_subset: u32,
    pub alarm: Option<AlarmRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub start: String,
    pub end: String,
    pub exit_code: u8,
    /// "ok", or the problems, one per line.
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// When the snapshot step of a run ended with a saved snapshot.
    pub time: String,
    /// Its exit code: 0, 3 (incomplete) or 4 (alarm).
    pub exit_code: u8,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckRecord {
    pub time: String,
    pub subset: Option<String>,
    pub ok: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DrillRecord {
    pub time: String,
    pub files: usize,
    pub ok: bool,
}

/// A mass-deletion alarm, written by the snapshot that raised it and
/// acknowledged by `cairn status --ack`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlarmRecord {
    pub time: String,
    /// The snapshot that saw the deletion.
    pub snapshot: String,
    /// The parent, pinned so that no retention removes the last good state.
    pub pinned_parent: Option<String>,
    pub vanished: u64,
    pub truncated: u64,
    /// Of those, files under protected globs.
    pub protected: u64,
    pub acknowledged: bool,
}

/// Now, as the state records it.
/// Whole seconds (the state is read by people too), truncated: rounded
/// up, a time just recorded could lie in the future of the next run.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    let whole = jiff::TimestampRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Trunc);
    now.round(whole).unwrap_or(now).to_string()
}

/// A recorded time back as a timestamp (`None` when damaged).
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// Profile names become folder names here and unit names and cron markers
/// in the schedule: letters, digits, `_ . -`, not starting with `.` or `-`.
pub fn check_profile_name(profile: &str) -> Result<()> {
    let valid = !profile.is_empty()
        && !profile.starts_with(['-', '.'])
        && profile.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        bail!(
            "the profile name {profile:?} cannot name a folder or a timer: use letters, digits, `.`, `_` and `-`, \
             not first `.` or `-`"
        );
    }
    Ok(())
}

/// `$XDG_STATE_HOME/cairn/profiles/<name>`.
pub fn profile_dir(profile: &str) -> Result<PathBuf> {
    check_profile_name(profile)?;
    let root = crate::locations::state_root().context("HOME is not set: no place for the profile's state")?;
    Ok(root.join("profiles").join(profile))
}

/// The largest state file read: a few hundred bytes are normal; a planted
/// or damaged giant is refused rather than read into memory.
const MAX_STATE_LEN: u64 = 1 << 20;

/// The profile's state; the empty state when none was recorded yet.
pub fn load(profile: &str) -> Result<State> {
    let file = profile_dir(profile)?.join("state.json");
    match read_bounded(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("the run state {} is damaged (delete it to start afresh)", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("could not read {}", file.display())),
    }
}

fn read_bounded(file: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)?.take(MAX_STATE_LEN + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STATE_LEN {
        return Err(std::io::Error::other(format!("larger than {MAX_STATE_LEN} bytes")));
    }
    Ok(bytes)
}

pub fn save(profile: &str, state: &State) -> Result<()> {
    let file = profile_dir(profile)?.join("state.json");
    let bytes = serde_json::to_vec_pretty(state)?;
    crate::atomic_file::replace_private(&file, &bytes).with_context(|| format!("could not write {}", file.display()))
}

/// Records an alarm in the profile's state (the snapshot command calls it
/// when a profile is active). A new alarm replaces an older one.
pub fn record_alarm(profile_name: &str, alarm: &AlarmRecord) -> Result<()> {
    let mut state = load(profile_name)?;
    state.alarm = Some(alarm.clone());
    save(profile_name, &state)
}

/// The profile's run lock, held until dropped (the kernel releases a
/// `flock` when the process ends, however it ends: no stale lock files).
pub struct RunLock {
    _file: std::fs::File,
}

/// Takes the run lock without waiting; `None` when another run holds it.
pub fn try_lock(profile: &str) -> Result<Option<RunLock>> {
    use rustix::fs::{FlockOperation, flock};
    let dir = profile_dir(profile)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let path = dir.join("run.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("could not open {}", path.display()))?;
    match flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(std::io::Error::from(e)).with_context(|| format!("could not lock {}", path.display())),
    }
}

/// Appends one line to the profile's run log, first rotating it when it
/// has reached `LOG_LIMIT`.
pub fn append_log(profile: &str, line: &str) -> Result<()> {
    let dir = profile_dir(profile)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let log = dir.join("run.log");
    if std::fs::metadata(&log).is_ok_and(|m| m.len() >= LOG_LIMIT) {
        for n in (1..LOGS_KEPT).rev() {
            let from = dir.join(format!("run.log.{n}"));
            if from.exists() {
                std::fs::rename(&from, dir.join(format!("run.log.{}", n + 1)))?;
            }
        }
        std::fs::rename(&log, dir.join("run.log.1"))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("could not open {}", log.display()))?;
    let line = line.replace('\n', " | ");
    writeln!(file, "{line}").with_context(|| format!("could not write {}", log.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_profile_names_are_refused() {
        assert!(profile_dir("../x").is_err());
        assert!(profile_dir("").is_err());
        assert!(profile_dir("a/b").is_err());
    }

    #[test]
    fn a_state_reads_back_and_old_files_gain_defaults() {
        let s = State { next_subset: 3, last_prune: Some(now()), ..State::default() };
        let back: State = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let old: State = serde_json::from_str(r#"{"last_prune": null}"#).unwrap();
        assert_eq!(old, State::default());
        assert!(parse_time(&now()).is_some());
    }
}
