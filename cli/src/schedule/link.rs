//! Everything the schedule needs from the profiles, in one place: the
//! active profile's name, the configuration file (absolute, for the unit
//! or cron line), writing `every` into the profile, and the last run from
//! the profile's state.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::args::Global;

/// The active profile's name, else the one named by `--profile` /
/// `CAIRN_PROFILE`, else `default`.
pub fn profile_name(g: &Global) -> String {
    g.active.as_ref().map(|p| p.name.clone()).or_else(|| g.profile.clone()).unwrap_or_else(|| "default".into())
}

/// The configuration file `cairn run` must read, absolute.
pub fn config_file(g: &Global) -> Result<PathBuf> {
    let file = crate::config::config_file(g)?;
    std::path::absolute(&file).with_context(|| format!("could not make {} absolute", file.display()))
}

/// The profile's `every`, as text (`15m`), when it has one.
pub fn profile_every(g: &Global) -> Option<String> {
    g.active.as_ref()?.every.map(crate::config::format_interval)
}

/// Records the interval in the profile (`every = "1h"`), which `cairn
/// status` reads to tell a late snapshot.
pub fn set_every(file: &Path, profile: &str, every: &str) -> Result<()> {
    crate::config::set_profile_key(file, profile, "every", every)
}

/// The last run of the profile: when it ended and its exit code.
pub fn last_run(profile: &str) -> Option<LastRun> {
    let run = crate::state::load(profile).ok()?.last_run?;
    Some(LastRun { time: run.end, exit_code: run.exit_code.into() })
}

pub struct LastRun {
    /// RFC 3339.
    pub time: String,
    pub exit_code: i32,
}
