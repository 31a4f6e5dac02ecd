//! Profiles: the configuration file (`$XDG_CONFIG_HOME/cairn/config.toml`,
//! or `--config` / `CAIRN_CONFIG`) where a user says once what to protect
//! and how. Every top-level table is a profile (resticprofile's style);
//! `--profile` / `CAIRN_PROFILE` picks one, else the `default` table when
//! there is one. Precedence: flag > environment > profile > built-in default.
//!
//! Parsing lives in `parse`, editing (comments kept) in `edit`; this module
//! merges a profile into the command line's arguments.

mod edit;
mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_core::archiver::alarm::AlarmRules;
use cairn_core::format::retention::Span;

use crate::args::{Global, SnapshotArgs};
use crate::locations;

// `set_profile_key` is for `schedule install` (it writes `every`).
#[allow(unused_imports)]
pub use edit::{set_profile_key, write_profile};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// How often `cairn run` prunes / checks when the profile does not say.
pub const DEFAULT_PRUNE_EVERY: Duration = Duration::from_secs(86400);
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(7 * 86400);
/// `check-read-data-subset` when absent: a quarter of the packs per check,
/// so that with weekly checks every pack is read within a month.
pub const DEFAULT_SUBSET: &str = "1/4";
/// `restore-sample` when absent.
pub const DEFAULT_RESTORE_SAMPLE: usize = 20;

/// One profile, as the file gives it (each `Option` absent = not set).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub name: String,
    /// The file it was read from.
    pub source: Option<PathBuf>,
    pub repository: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    pub paths: Vec<PathBuf>,
    pub exclude: Vec<String>,
    pub exclude_file: Vec<PathBuf>,
    pub exclude_if_present: Vec<String>,
    pub default_excludes: Option<bool>,
    pub git_ignore: Option<bool>,
    pub one_file_system: Option<bool>,
    pub exclude_larger_than: Option<u64>,
    pub host: Option<String>,
    pub tags: Vec<String>,
    /// The schedule's interval (written by `schedule install`).
    pub every: Option<Duration>,
    pub prune_every: Option<Every>,
    pub check_every: Option<Every>,
    pub check_read_data_subset: Option<String>,
    pub restore_sample: Option<usize>,
    pub on_alert: Option<String>,
    /// Retention override; `None`: the repository's policy.
    pub keep: Option<Keep>,
    /// The mass-deletion alarm's rules, defaults filled in.
    pub alarm: AlarmRules,
    /// `cairn run` copies the snapshots this repository lacks into it
    /// after the snapshot (`cairn copy --to`), with its own password.
    pub copy_to: Option<PathBuf>,
    pub copy_to_password_file: Option<PathBuf>,
    pub copy_to_password_command: Option<String>,
    /// The line of each key given in the file, for `config show`.
    pub lines: BTreeMap<&'static str, usize>,
}

/// `[profile.keep]`: `cairn forget --keep-*` in the file.
#[derive(Clone, Debug, Default)]
pub struct Keep {
    pub last: Option<u32>,
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
    pub within: Option<Span>,
    pub tags: Vec<String>,
}

/// When a periodic task is due: after an interval, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    Never,
    After(Duration),
}

impl Every {
    /// `never`, or an interval: `90s`, `15m`, `1h`, `1d`, `1w`, `1h30m`.
    pub fn parse(text: &str) -> std::result::Result<Every, String> {
        if text.trim() == "never" {
            return Ok(Every::Never);
        }
        parse_interval(text).map(Every::After)
    }
}

/// An interval: numbers each followed by a unit, `90s`, `15m`, `1h30m`,
/// `1d`, `2w` (core's duration syntax, `timefmt::parse_duration`), more
/// than zero.
pub fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    match cairn_core::snapshot::timefmt::parse_duration(text) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs as u64)),
        _ => Err(format!("{text:?} is not an interval (write 15m, 1h, 1d, 7d or never)")),
    }
}

/// `3600s` back as `1h`, `86400s` as `1d`: for messages and `config show`.
pub fn format_interval(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, name) in [(7 * 86400, "w"), (86400, "d"), (3600, "h"), (60, "m")] {
        if s >= unit && s.is_multiple_of(unit) {
            return format!("{}{name}", s / unit);
        }
    }
    format!("{s}s")
}

/// The profile file: --config / CAIRN_CONFIG, else `$XDG_CONFIG_HOME/cairn/config.toml`,
/// else `~/.config/cairn/config.toml` when only that one exists (a cron job
/// without the XDG variables still finds it).
pub fn config_file(g: &Global) -> Result<PathBuf> {
    if let Some(file) = &g.config {
        return Ok(file.clone());
    }
    let primary = locations::config_dir()?.join("config.toml");
    if !primary.exists()
        && let Ok(home) = locations::home_config_dir()
        && home.join("config.toml").is_file()
    {
        return Ok(home.join("config.toml"));
    }
    Ok(primary)
}

/// Every profile in the file; an empty map when the default file is absent.
pub fn load_all(g: &Global) -> Result<(PathBuf, BTreeMap<String, Profile>)> {
    let file = config_file(g)?;
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && g.config.is_none() => {
            return Ok((file, BTreeMap::new()));
        }
        Err(e) => return Err(e).with_context(|| format!("could not read the profile file {}", file.display())),
    };
    let profiles = parse::parse_file(&file, &text)?;
    Ok((file, profiles))
}

/// The profile this run uses: the one named by --profile / CAIRN_PROFILE,
/// else `default` if the file has it, else none (everything as without a
/// file). Naming a profile that does not exist is an error.
pub fn active_profile(g: &Global) -> Result<Option<Profile>> {
    let (file, mut all) = load_all(g)?;
    match &g.profile {
        Some(name) => match all.remove(name) {
            Some(p) => Ok(Some(p)),
            None if all.is_empty() => {
                bail!("no profile `{name}`: {} has no profiles (`cairn init --paths …` writes one)", file.display())
            }
            None => bail!(
                "no profile `{name}` in {}; it has: {}",
                file.display(),
                all.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ),
        },
        None => Ok(all.remove(DEFAULT_PROFILE)),
    }
}

/// The global options with the profile's repository and password source
/// filled in where neither a flag nor the environment gave them. A
/// password from flags or the environment (CAIRN_PASSWORD included) wins
/// over the profile's whole password source, never mixes with it.
pub fn apply_to_global(g: &Global, p: &Profile) -> Global {
    let mut g = g.clone();
    if g.repo.is_none() {
        g.repo.clone_from(&p.repository);
    }
    let explicit =
        g.password_file.is_some() || g.password_command.is_some() || std::env::var_os("CAIRN_PASSWORD").is_some();
    if !explicit {
        g.password_file.clone_from(&p.password_file);
        g.password_command.clone_from(&p.password_command);
    }
    g
}

/// A snapshot's arguments with the profile merged in: its paths when none
/// are given, its excludes and options added to those given, its host when
/// none is given, its tags added, its alarm rules and on-alert command.
pub fn apply_to_snapshot(a: &mut SnapshotArgs, p: &Profile) {
    if a.paths.is_empty() {
        a.paths.clone_from(&p.paths);
    }
    // The profile's patterns first: a `!pattern` on the command line can
    // then re-include what the profile leaves out.
    a.excludes = p.exclude.iter().cloned().chain(a.excludes.drain(..)).collect();
    a.exclude_files = p.exclude_file.iter().cloned().chain(a.exclude_files.drain(..)).collect();
    a.exclude_if_present = p.exclude_if_present.iter().cloned().chain(a.exclude_if_present.drain(..)).collect();
    a.no_default_excludes |= p.default_excludes == Some(false);
    a.git_ignore |= p.git_ignore == Some(true);
    a.one_file_system |= p.one_file_system == Some(true);
    if a.exclude_larger_than.is_none() {
        a.exclude_larger_than = p.exclude_larger_than;
    }
    if a.host.is_none() {
        a.host.clone_from(&p.host);
    }
    for t in &p.tags {
        if !a.tags.contains(t) {
            a.tags.push(t.clone());
        }
    }
    a.alarm = Some(p.alarm.clone());
    a.on_alert.clone_from(&p.on_alert);
}

/// `cairn snapshot`'s arguments with the active profile merged in; an
/// error when that leaves no path to snapshot.
pub fn snapshot_args(g: &Global, a: &SnapshotArgs) -> Result<SnapshotArgs> {
    let mut a = a.clone();
    if let Some(p) = &g.active {
        apply_to_snapshot(&mut a, p);
    }
    if a.paths.is_empty() {
        bail!(
            "give the files and folders to snapshot, or a profile with `paths` (`cairn init --paths PATH…` writes one)"
        );
    }
    Ok(a)
}

impl Profile {
    /// `FILE:LINE` of a key given in the file.
    pub fn place(&self, key: &str) -> Option<String> {
        let line = self.lines.get(key)?;
        let file = self.source.as_deref().unwrap_or(Path::new("?"));
        Some(format!("{}:{line}", file.display()))
    }

    /// The `cairn forget` keep flags of `[profile.keep]`, as arguments.
    pub fn keep_flags(&self) -> Vec<String> {
        let Some(k) = &self.keep else { return Vec::new() };
        let mut flags = Vec::new();
        let counts = [
            ("--keep-last", k.last),
            ("--keep-hourly", k.hourly),
            ("--keep-daily", k.daily),
            ("--keep-weekly", k.weekly),
            ("--keep-monthly", k.monthly),
            ("--keep-yearly", k.yearly),
        ];
        for (flag, n) in counts {
            if let Some(n) = n {
                flags.extend([flag.to_string(), n.to_string()]);
            }
        }
        if let Some(w) = k.within {
            flags.extend(["--keep-within".to_string(), cairn_core::snapshot::retention::format_span(&w)]);
        }
        for t in &k.tags {
            flags.extend(["--keep-tag".to_string(), t.clone()]);
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_and_print_back() {
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("7d"), Ok(Duration::from_secs(7 * 86400)));
        for bad in ["", "0h", "h", "1", "1x", "99999999999999999999w", "-1h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert_eq!(format_interval(Duration::from_secs(86400)), "1d");
        assert_eq!(format_interval(Duration::from_secs(5400)), "90m");
        assert_eq!(Every::parse("never"), Ok(Every::Never));
    }
}
