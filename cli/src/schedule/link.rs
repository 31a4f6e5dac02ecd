//! Everything the schedule needs from the profiles (part A of issue 12),
//! in one place: the active profile's name, the configuration file, writing
//! `every` into the profile, and the last run from the profile's state.
//! Until the profile code is merged these read the environment
//! (`CAIRN_PROFILE`, `CAIRN_CONFIG`) that its flags also read, write
//! nothing and know no last run; the merge changes only this file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::args::Global;
use crate::locations;

/// The profile named by `--profile` / `CAIRN_PROFILE`, else `default`.
pub fn profile_name(_g: &Global) -> String {
    std::env::var("CAIRN_PROFILE").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into())
}

/// The configuration file `cairn run` must read, absolute: `--config` /
/// `CAIRN_CONFIG`, else `$XDG_CONFIG_HOME/cairn/config.toml`.
pub fn config_file(_g: &Global) -> Result<PathBuf> {
    let file = match std::env::var_os("CAIRN_CONFIG").filter(|c| !c.is_empty()) {
        Some(file) => PathBuf::from(file),
        None => locations::config_dir()?.join("config.toml"),
    };
    std::path::absolute(&file).with_context(|| format!("could not make {} absolute", file.display()))
}

/// The profile's `every`, as text (`15m`), when it has one. Pending part
/// A's `Profile.every`: none.
pub fn profile_every(_g: &Global) -> Option<String> {
    None
}

/// Records the interval in the profile (`every = "1h"`), which `cairn
/// status` reads to tell a late snapshot. Pending part A's
/// `config::set_profile_key(file, profile, "every", value)`: nothing yet.
pub fn set_every(_file: &Path, _profile: &str, _every: &str) -> Result<()> {
    Ok(())
}

/// The last run of the profile: when it ended and its exit code. Pending
/// part A's `state::load(profile)`: never.
pub fn last_run(_profile: &str) -> Option<LastRun> {
    None
}

pub struct LastRun {
    /// RFC 3339.
    pub time: String,
    pub exit_code: i32,
}
