//! `cairn schedule`: installing the periodic `cairn run` of a profile as a
//! systemd user timer or a crontab line (both idempotent, both removable),
//! and reading back what is installed. The commands' text and JSON are in
//! `commands/schedule.rs`; this folder knows the two mechanisms.

pub mod cron;
pub mod every;
pub mod link;
pub mod systemd;

use anyhow::{Context, Result};

/// What the schedule runs: the full path of this binary, its arguments,
/// and the environment to give it (a timer or cron starts with almost none).
pub struct Job {
    pub profile: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The variables a scheduled run needs to find what an interactive one
/// finds: the XDG folders that were set (profile state, cache, default
/// repository), and for cron, which starts with a bare environment, HOME
/// and PATH (a password command, `notify-send`).
const XDG_VARS: [&str; 4] = ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"];

impl Job {
    pub fn new(profile: &str, config: &std::path::Path, for_cron: bool) -> Result<Job> {
        let exe = std::env::current_exe().context("could not find the path of the cairn binary")?;
        let exe = exe.canonicalize().unwrap_or(exe);
        let text = |p: &std::path::Path| {
            p.to_str().map(str::to_string).with_context(|| format!("{} is not UTF-8: cannot schedule it", p.display()))
        };
        let mut names: Vec<&str> = Vec::new();
        if for_cron {
            names.push("HOME");
        }
        names.extend(XDG_VARS);
        names.push("PATH");
        let env = names
            .into_iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok().filter(|v| !v.is_empty())?)))
            .collect();
        Ok(Job {
            profile: profile.to_string(),
            program: text(&exe)?,
            args: vec!["--config".into(), text(config)?, "run".into(), "--profile".into(), profile.into()],
            env,
        })
    }
}
