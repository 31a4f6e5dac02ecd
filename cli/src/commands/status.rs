//! `cairn status`: whether the backups of a profile can be trusted, in one
//! screen — the last snapshot's age (from the repository itself, not from
//! what a run believed), the last run's outcome, the next scheduled run,
//! the last check and restore drill, any unacknowledged alarm, and the
//! repository's size and snapshot count (snapshot files and the pack
//! listing only: no pack is read, so it is quick on any repository).
//!
//! It is loud — every problem on stderr and exit 1 — when the last snapshot
//! is older than twice the schedule's interval, an alarm is not
//! acknowledged, the last run failed, or the repository cannot be opened.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use crate::args::Global;
use crate::config::{self, Profile};
use crate::output::outln;
use crate::state::{self, State};
use crate::{EXIT_ERROR, output, password};
use cairn_core::maintenance::server_side::{ServeReport, TaskRecord};
use cairn_core::repo::rebuild::plural;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Acknowledge the mass-deletion alarm (the pinned snapshot stays pinned)
    #[arg(long)]
    pub ack: bool,
}

/// What the repository says.
struct Repo {
    /// The newest snapshot of this profile's host: id and time.
    latest: Option<(cairn_core::Id, jiff::Timestamp)>,
    snapshots: u64,
    stored_size: u64,
    /// The maintenance the server runs on the repository (`cairn serve
    /// --maintain`), when the storage is such a server and has a report;
    /// `Err` when its report cannot be read.
    server: std::result::Result<Option<ServeReport>, String>,
}

pub fn run(g: &Global, a: &StatusArgs) -> Result<u8> {
    let Some(profile) = &g.active else {
        bail!("no profile: `cairn init --paths PATH…` writes one, or name one with --profile");
    };
    let mut st = state::load(&profile.name)?;
    if a.ack {
        let said = match st.alarm.as_mut().filter(|alarm| !alarm.acknowledged) {
            Some(alarm) => {
                alarm.acknowledged = true;
                format!(
                    "alarm of {} acknowledged; its pinned snapshot stays pinned (`cairn unpin` frees it)",
                    alarm.time
                )
            }
            None => "no alarm to acknowledge".to_string(),
        };
        state::save(&profile.name, &st)?;
        if !g.quiet && !g.json {
            outln!("{said}")?;
        }
    }
    let now = jiff::Timestamp::now();
    let repo = repository(g, profile);
    let mut problems = Vec::new();
    if let Err(e) = &repo {
        problems.push(format!("the repository cannot be read: {e:#}"));
    }
    let latest = repo.as_ref().ok().and_then(|r| r.latest);
    if let Some(every) = profile.every {
        let limit = every.checked_mul(2).and_then(|d| jiff::SignedDuration::try_from(d).ok());
        let limit = limit.unwrap_or(jiff::SignedDuration::MAX);
        match &latest {
            Some((id, time)) if now.duration_since(*time) > limit => problems.push(format!(
                "the last snapshot ({}) is {} old, more than twice the schedule's interval ({})",
                id.short(),
                age(now.duration_since(*time)),
                config::format_interval(every)
            )),
            None if repo.is_ok() => problems.push("no snapshot of this profile yet".into()),
            _ => {}
        }
    }
    if let Some(alarm) = st.alarm.as_ref().filter(|a| !a.acknowledged) {
        problems.push(format!(
            "mass-deletion alarm at {}: {} files vanished, {} truncated (snapshot {}, pinned {}); `cairn status --ack` once dealt with",
            alarm.time,
            alarm.vanished,
            alarm.truncated,
            alarm.snapshot,
            alarm.pinned_parent.as_deref().unwrap_or("-")
        ));
    }
    if let Ok(r) = &repo {
        problems.extend(server_problems(&r.server));
    }
    if let Some(run) = st.last_run.as_ref().filter(|r| !matches!(r.exit_code, 0 | 3 | 4)) {
        problems.push(format!("the last run ({}) failed with exit {}: {}", run.start, run.exit_code, run.message));
    }
    let next = next_run(profile, &st, now);
    if g.json {
        let r = repo.as_ref().ok();
        outln!(
            "{}",
            json!({
                "profile": profile.name,
                "config": profile.source,
                "last_snapshot": latest.as_ref().map(|(id, t)| json!({
                    "id": id.to_hex(), "short_id": id.short(), "time": t.to_string(),
                    "age_seconds": now.duration_since(*t).as_secs(),
                })),
                "last_run": st.last_run,
                "last_success": st.last_success,
                "next_run": next,
                "every": profile.every.map(config::format_interval),
                "last_prune": st.last_prune,
                "last_check": st.last_check,
                "last_drill": st.last_drill,
                "alarm": st.alarm,
                "repository": r.map(|r| json!({"snapshots": r.snapshots, "stored_size": r.stored_size})),
                "server_maintenance": r.and_then(|r| r.server.as_ref().ok()).and_then(Option::as_ref),
                "loud": !problems.is_empty(),
                "problems": problems,
            })
        )?;
    } else if !g.quiet {
        print_text(profile, &st, &repo, latest.as_ref(), next, now)?;
    }
    for p in &problems {
        eprintln!("cairn: PROBLEM: {}", output::sanitize(&p.replace('\n', " | ")));
    }
    Ok(if problems.is_empty() { 0 } else { EXIT_ERROR })
}

fn repository(g: &Global, profile: &Profile) -> Result<Repo> {
    use cairn_core::snapshot::snapshots::{self, Filter};
    let repo = password::open(g)?;
    let (all, _) = snapshots::list(&repo)?;
    let host = profile.host.clone().unwrap_or_else(crate::locations::hostname);
    let filter = Filter { host: Some(host), paths: Vec::new(), tags: Vec::new() };
    let latest = all.iter().rev().find(|e| filter.matches(&e.snapshot)).and_then(|e| {
        let t = &e.snapshot.time;
        let time = jiff::Timestamp::new(t.unix_seconds, 0).ok()?;
        Some((e.id, time))
    });
    let o = cairn_core::maintenance::stats::overview(&repo)?;
    let server = match repo.backend().server_report() {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => ServeReport::parse(&bytes).map(Some).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Ok(Repo { latest, snapshots: o.snapshots, stored_size: o.stored_size, server })
}

/// The server's maintenance tasks with their names, in the order it runs them.
fn server_tasks(r: &ServeReport) -> [(&'static str, Option<&TaskRecord>); 3] {
    [("forget", r.forget.as_ref()), ("prune", r.prune.as_ref()), ("check", r.check.as_ref())]
}

/// What is wrong with the server's maintenance: its report unreadable, the
/// repository not opened, or a task's last run failed.
fn server_problems(server: &std::result::Result<Option<ServeReport>, String>) -> Vec<String> {
    let r = match server {
        Ok(None) => return Vec::new(),
        Ok(Some(r)) => r,
        Err(e) => return vec![format!("the server's maintenance report cannot be read: {e}")],
    };
    let mut out = Vec::new();
    if let Some(e) = &r.error {
        out.push(format!("the server's maintenance failed: {e}"));
    }
    for (name, task) in server_tasks(r) {
        if let Some(t) = task.filter(|t| !t.ok) {
            let first = t.errors.first().map_or(String::new(), |e| format!(" ({e})"));
            out.push(format!("the server's last {name} ({}) failed: {}{first}", t.time, t.outcome));
        }
    }
    out
}

/// The next scheduled run: the schedule's next start after now (what cron
/// and the timer compute, `schedule::every`), or, for an interval they
/// cannot express, the last run's start plus the interval.
fn next_run(profile: &Profile, st: &State, now: jiff::Timestamp) -> Option<String> {
    let interval = profile.every?;
    if let Ok(every) = crate::schedule::every::Every::parse(&crate::config::format_interval(interval))
        && let Ok(next) = every.next_after(&now.to_zoned_datetime(jiff::tz::TimeZone::system()))
    {
        return Some(next.timestamp().to_string());
    }
    let every = jiff::SignedDuration::try_from(interval).ok()?;
    let last = st.last_run.as_ref().and_then(|r| state::parse_time(&r.start));
    let next = last.and_then(|l| l.checked_add(every).ok()).unwrap_or(now);
    Some(if next <= now { now.to_string() } else { next.to_string() })
}

/// "3d 4h", "25m", "40s".
fn age(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

fn print_text(
    profile: &Profile,
    st: &State,
    repo: &Result<Repo>,
    latest: Option<&(cairn_core::Id, jiff::Timestamp)>,
    next: Option<String>,
    now: jiff::Timestamp,
) -> std::io::Result<()> {
    let never = || "never".to_string();
    let file = profile.source.as_ref().map_or(String::new(), |f| format!(" ({})", f.display()));
    outln!("profile          {}{file}", profile.name)?;
    let snapshot = latest.map_or_else(
        || "none".to_string(),
        |(id, t)| format!("{} at {t} ({} ago)", id.short(), age(now.duration_since(*t))),
    );
    outln!("last snapshot    {snapshot}")?;
    let run = st.last_run.as_ref().map_or_else(never, |r| {
        let how = if r.exit_code == 0 { "ok".to_string() } else { format!("exit {}: {}", r.exit_code, r.message) };
        format!("{} ({})", r.start, how.replace('\n', " | "))
    });
    outln!("last run         {run}")?;
    let next = match (next, profile.every) {
        (Some(n), Some(e)) => format!("{n} (every {})", config::format_interval(e)),
        _ => "not scheduled (`cairn schedule install`)".to_string(),
    };
    outln!("next run         {next}")?;
    outln!("last prune       {}", st.last_prune.clone().unwrap_or_else(never))?;
    let check = st.last_check.as_ref().map_or_else(never, |c| {
        let subset = c.subset.as_deref().map_or(String::new(), |s| format!(", packs {s}"));
        format!("{}{subset}, {}", c.time, if c.ok { "ok" } else { "FAILED" })
    });
    outln!("last check       {check}")?;
    let drill = st.last_drill.as_ref().map_or_else(never, |d| {
        format!("{}, up to {} files restored and compared, {}", d.time, d.files, if d.ok { "ok" } else { "FAILED" })
    });
    outln!("last drill       {drill}")?;
    let alarm = match &st.alarm {
        None => "none".to_string(),
        Some(a) if a.acknowledged => format!("{} (acknowledged)", a.time),
        Some(a) => format!("{}: NOT ACKNOWLEDGED", a.time),
    };
    outln!("alarm            {alarm}")?;
    match repo {
        Ok(r) => outln!(
            "repository       {}, {}",
            plural(r.snapshots as usize, "snapshot", "snapshots"),
            output::bytes(r.stored_size)
        ),
        Err(_) => outln!("repository       cannot be read"),
    }?;
    if let Ok(Repo { server: Ok(Some(report)), .. }) = repo {
        // The server's words, cleaned: it is another party.
        for (name, task) in server_tasks(report) {
            let text = task
                .map_or_else(never, |t| format!("{}, {}: {}", t.time, if t.ok { "ok" } else { "FAILED" }, t.outcome));
            outln!("server {name:<9} {}", output::sanitize(&text))?;
        }
    }
    Ok(())
}
