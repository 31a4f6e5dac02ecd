//! `cairn schedule install|show|remove`: the periodic `cairn run` of a
//! profile, as a systemd user timer where a user systemd manager answers,
//! else a crontab line (the mechanisms are in `crate::schedule`).

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::args::Global;
use crate::output::{self, outln};
use crate::schedule::every::Every;
use crate::schedule::{Job, cron, link, systemd};
use crate::state::check_profile_name;

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Run `cairn run --profile P` every interval (replaces an existing schedule of the profile)
    Install(InstallArgs),
    /// Show the profile's schedule: how it runs, the command, the interval, the next and the last run
    Show,
    /// Remove the profile's schedule (timer units and crontab line)
    Remove,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// How often: minutes that divide an hour (15m, 30m), hours that divide a day (1h, 2h, 6h), or 1d [default: the profile's `every`, else 1h]
    #[arg(long, value_name = "INTERVAL")]
    pub every: Option<String>,
    /// The mechanism [default: systemd when `systemctl --user` works, else cron]
    #[arg(long, value_enum)]
    pub via: Option<Via>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Systemd,
    Cron,
}

/// What `show` reports (and `install --json` prints).
#[derive(Serialize)]
struct Shown {
    profile: String,
    installed: bool,
    via: Option<Via>,
    every: Option<String>,
    /// The command line the timer or cron runs.
    command: Option<String>,
    /// The crontab line, with cron.
    line: Option<String>,
    /// The unit files, with systemd.
    units: Vec<String>,
    /// RFC 3339; the timer may add up to a minute of random delay.
    next_run: Option<String>,
    last_run: Option<String>,
    last_exit_code: Option<i32>,
}

pub fn run(g: &Global, c: &ScheduleCommand) -> Result<u8> {
    let profile = link::profile_name(g);
    check_profile_name(&profile)?;
    match c {
        ScheduleCommand::Install(a) => install(g, &profile, a),
        ScheduleCommand::Show => {
            let shown = find(&profile)?;
            print(g, &shown)?;
            Ok(0)
        }
        ScheduleCommand::Remove => remove(g, &profile),
    }
}

fn install(g: &Global, profile: &str, a: &InstallArgs) -> Result<u8> {
    let every = Every::parse(&a.every.clone().or_else(|| link::profile_every(g)).unwrap_or_else(|| "1h".into()))?;
    let config = link::config_file(g)?;
    let via = match a.via {
        Some(via) => via,
        None if systemd::available() => Via::Systemd,
        None => Via::Cron,
    };
    let job = Job::new(profile, &config, via == Via::Cron)?;
    match via {
        Via::Systemd => {
            systemd::install(&systemd::unit_dir()?, &job, every)?;
            // One schedule per profile: a crontab line from before goes.
            if let Some(crontab) = cron::read().unwrap_or(None)
                && cron::find(&crontab, profile).is_some()
            {
                cron::write(&cron::without(&crontab, profile))?;
            }
        }
        Via::Cron => {
            let Some(crontab) = cron::read()? else {
                bail!("there is no `crontab` command: install cron, or use --via systemd");
            };
            cron::write(&cron::with(&crontab, profile, &cron::line(&job, every)))?;
            systemd::remove(&systemd::unit_dir()?, profile)?;
        }
    }
    link::set_every(&config, profile, &every.to_string())?;
    let shown = find(profile)?;
    if g.json {
        outln!("{}", serde_json::to_string(&shown)?)?;
    } else if !g.quiet {
        let how = if via == Via::Systemd { "a systemd user timer" } else { "a crontab line" };
        let next = shown.next_run.as_deref().map(local).unwrap_or_default();
        outln!("installed {how} for profile {profile}: `cairn run` every {every}, next at {next}")?;
    }
    Ok(0)
}

fn remove(g: &Global, profile: &str) -> Result<u8> {
    let mut removed: Vec<String> =
        systemd::remove(&systemd::unit_dir()?, profile)?.iter().map(|p| p.display().to_string()).collect();
    // Units removed stay removed when the crontab cannot be read: warn only.
    let crontab = cron::read().unwrap_or_else(|e| {
        output::warning(format!("could not read the crontab: {e:#}"));
        None
    });
    if let Some(crontab) = crontab
        && cron::find(&crontab, profile).is_some()
    {
        cron::write(&cron::without(&crontab, profile))?;
        removed.push(format!("the crontab line marked {}", cron::marker(profile)));
    }
    if g.json {
        outln!("{}", serde_json::json!({ "profile": profile, "removed": removed }))?;
    } else if !g.quiet {
        if removed.is_empty() {
            outln!("nothing was scheduled for profile {profile}")?;
        }
        for what in &removed {
            outln!("removed {what}")?;
        }
    }
    Ok(0)
}

/// What is installed for `profile`, systemd first.
fn find(profile: &str) -> Result<Shown> {
    let mut shown = Shown {
        profile: profile.to_string(),
        installed: false,
        via: None,
        every: None,
        command: None,
        line: None,
        units: Vec::new(),
        next_run: None,
        last_run: None,
        last_exit_code: None,
    };
    let mut every = None;
    if let Some(units) = systemd::installed(&systemd::unit_dir()?, profile)? {
        shown.via = Some(Via::Systemd);
        shown.command = units.exec;
        shown.units = units.files.iter().map(|p| p.display().to_string()).collect();
        every = units.every;
    } else {
        // A crontab that cannot be read says nothing about the timer: warn only.
        let crontab = cron::read().unwrap_or_else(|e| {
            output::warning(format!("could not read the crontab: {e:#}"));
            None
        });
        if let Some(line) = crontab.as_deref().and_then(|c| cron::find(c, profile)) {
            shown.via = Some(Via::Cron);
            every = cron::every_of(line);
            shown.command = Some(line.split_whitespace().skip(5).collect::<Vec<_>>().join(" "));
            shown.line = Some(line.to_string());
        }
    }
    shown.installed = shown.via.is_some();
    if let Some(every) = every {
        shown.every = Some(every.to_string());
        let next = every.next_after(&jiff::ZonedDateTime::now())?;
        shown.next_run = Some(next.timestamp().display_with_offset(next.offset()).to_string());
    }
    if let Some(last) = link::last_run(profile) {
        shown.last_run = Some(last.time);
        shown.last_exit_code = Some(last.exit_code);
    }
    Ok(shown)
}

fn print(g: &Global, s: &Shown) -> Result<()> {
    if g.json {
        outln!("{}", serde_json::to_string(s)?)?;
        return Ok(());
    }
    let Some(via) = s.via else {
        outln!("nothing is scheduled for profile {} (cairn schedule install sets it up)", s.profile)?;
        return Ok(());
    };
    let how = match via {
        Via::Systemd => format!("systemd user timer ({})", s.units.join(", ")),
        Via::Cron => "crontab line".to_string(),
    };
    let last = match (&s.last_run, s.last_exit_code) {
        (Some(time), Some(code)) => format!("{} (exit code {code})", local(time)),
        _ => "never".to_string(),
    };
    let rows = [
        ("profile", s.profile.clone()),
        ("via", how),
        ("every", s.every.clone().unwrap_or_else(|| "unknown (edited by hand?)".into())),
        ("command", s.command.clone().unwrap_or_default()),
        ("next run", s.next_run.as_deref().map(local).unwrap_or_else(|| "unknown".into())),
        ("last run", last),
    ];
    for (what, value) in rows {
        outln!("{what:<10}{value}")?;
    }
    if let Some(line) = &s.line {
        outln!("{:<10}{line}", "line")?;
    }
    Ok(())
}

/// An RFC 3339 time as "2026-11-24 14:00" in the system's time zone.
fn local(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) => t.to_zoned_datetime(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}
