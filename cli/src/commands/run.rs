//! `cairn run`: the profile's whole cycle, what the schedule calls. It holds
//! no repository logic: it builds the arguments of the existing commands
//! from the profile and calls them in order — snapshot, forget by policy,
//! prune when due, check (with its restore drill) when due — then records
//! the outcome in the profile's state and one line in its log.
//!
//! Silent on success (cron mails whatever a job prints); each problem is
//! one line on stderr; the exit code is the worst of the steps'. A step that
//! fails does not stop the ones that do not need it; only a repository that
//! cannot be opened at all (missing, wrong password) ends the run early, as
//! every later step would fail the same way.

use std::time::Duration;

use anyhow::{Result, bail};
use cairn_core::maintenance::read_subset::ReadSubset;
use cairn_core::maintenance::server_side::is_due;
use clap::{Args, Parser};

use crate::args::{CheckArgs, Global, SnapshotArgs};
use crate::commands::forget::ForgetArgs;
use crate::commands::prune::PruneArgs;
use crate::config::{self, Every, Profile};
use crate::state::{self, CheckRecord, DrillRecord, RunRecord, SnapshotRecord};
use crate::{EXIT_ALARM as ALARM, EXIT_NO_REPOSITORY, EXIT_RUN_BUSY, EXIT_WRONG_PASSWORD, output};

#[derive(Args, Debug)]
#[command(long_about = "Run the profile's whole cycle, as the schedule does: take its snapshot, forget by \
its retention policy (the profile's [NAME.keep], else the repository's), copy the snapshots the \
profile's `copy-to` repository lacks into it (when it names one), prune when one is due \
(prune-every, default 1d) and check a rotating subset of the packs with a restore drill when one is due \
(check-every, default 7d).

Prints nothing when all went well; each problem is one line on stderr. Exit codes: 0 all well, 3 some \
files could not be read, 4 the mass-deletion alarm was raised, 1 a step failed, 11 another run of this \
profile is going on (this one exits at once). The outcome is kept for `cairn status`, and one line per \
run is appended to ~/.local/state/cairn/profiles/NAME/run.log.")]
pub struct RunArgs {
    /// Say what each step does (a run prints only problems by default)
    #[arg(short, long)]
    pub verbose: bool,
}

/// Parses a command's arguments as clap would: every field gets its own
/// default, so the steps stay right when commands gain options.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Snapshot {
    #[command(flatten)]
    a: SnapshotArgs,
}
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Copy {
    #[command(flatten)]
    a: crate::commands::copy::CopyArgs,
}
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Forget {
    #[command(flatten)]
    a: ForgetArgs,
}
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Prune {
    #[command(flatten)]
    a: PruneArgs,
}
#[derive(Parser)]
#[command(no_binary_name = true)]
struct Check {
    #[command(flatten)]
    a: CheckArgs,
}

/// The worst outcome so far and the problems met.
#[derive(Default)]
struct Outcome {
    code: u8,
    problems: Vec<String>,
}

impl Outcome {
    /// Ranks exit codes: interrupted, then the alarm (the user must hear of
    /// it above all), then the repository missing / wrong password, then
    /// failures, then "incomplete".
    fn add(&mut self, code: u8) {
        let rank = |c: u8| match c {
            0 => 0,
            3 => 1,
            1 => 2,
            12 => 3,
            10 => 4,
            ALARM => 5,
            130 => 6,
            _ => 2,
        };
        if rank(code) > rank(self.code) {
            self.code = code;
        }
    }

    /// Runs one step; an error is printed as one line and recorded.
    fn step(&mut self, what: &str, f: impl FnOnce() -> Result<u8>) -> u8 {
        let code = match f() {
            Ok(code) => code,
            Err(e) => {
                let code = crate::exit_code(&e);
                let e = e.context(format!("{what} failed"));
                output::error_line(&e);
                self.problems.push(format!("{e:#}"));
                self.add(code);
                return code;
            }
        };
        match code {
            0 => {}
            3 => self.problems.push(format!("{what}: some files could not be read")),
            ALARM => self.problems.push(format!("{what}: the mass-deletion alarm was raised")),
            _ => self.problems.push(format!("{what}: exit {code}")),
        }
        self.add(code);
        code
    }
}

pub fn run(g: &Global, a: &RunArgs) -> Result<u8> {
    let Some(profile) = &g.active else {
        let (file, all) = config::load_all(g)?;
        if !all.is_empty() {
            let names: Vec<&str> = all.keys().map(String::as_str).collect();
            bail!("{} has no `default` profile: name one with --profile ({})", file.display(), names.join(", "));
        }
        bail!(
            "no profile: `cairn init --paths PATH…` writes one, or name one with --profile (the file: {})",
            file.display()
        );
    };
    if profile.paths.is_empty() {
        bail!("the profile `{}` has no `paths`: say what to snapshot in its file", profile.name);
    }
    let Some(_lock) = state::try_lock(&profile.name)? else {
        eprintln!("cairn: another `cairn run` of the profile `{}` is running; this one exits", profile.name);
        return Ok(EXIT_RUN_BUSY);
    };
    let started = std::time::Instant::now();
    let start = state::now();
    let mut st = state::load(&profile.name)?;
    let mut g = g.clone();
    g.quiet = !a.verbose;
    g.json = false;
    let g = &g;
    let mut out = Outcome::default();

    let code = out.step("snapshot", || {
        let mut snap = parse::<Snapshot>(&[])?.a;
        config::apply_to_snapshot(&mut snap, profile);
        crate::commands::snapshot::run(g, &snap)
    });
    if matches!(code, 0 | 3 | ALARM) {
        st.last_snapshot = Some(SnapshotRecord { time: state::now(), exit_code: code });
    }
    if code == ALARM {
        // The snapshot recorded its alarm in the state file; this run's
        // copy was read before and is written last, so take the alarm over.
        match state::load(&profile.name) {
            Ok(fresh) => st.alarm = fresh.alarm,
            Err(e) => {
                out.step("recording the alarm", || Err(e));
            }
        }
    }
    if let Some(to) = &profile.copy_to
        && matches!(code, 0 | 3 | ALARM)
    {
        // The snapshots the other repository lacks, the new one included
        // (a copy that failed last time catches up); a failed copy is one
        // line and a non-zero exit, and the snapshot stays.
        out.step(&format!("copy to {}", cairn_core::backend::shown_location(to).display()), || {
            let mut args = vec!["--to".to_string(), to.display().to_string()];
            if let Some(f) = &profile.copy_to_password_file {
                args.extend(["--to-password-file".to_string(), f.display().to_string()]);
            }
            if let Some(c) = &profile.copy_to_password_command {
                args.extend(["--to-password-command".to_string(), c.clone()]);
            }
            // Exit 1 whatever went wrong: 10 or 12 would say the profile's
            // own repository is missing or its password wrong.
            crate::commands::copy::run(g, &parse::<Copy>(&args)?.a).map_err(|e| anyhow::anyhow!("{e:#}"))
        });
    }
    if !matches!(code, EXIT_NO_REPOSITORY | EXIT_WRONG_PASSWORD) {
        maintain(g, profile, &mut st, &mut out);
    }

    let end = state::now();
    let message = if out.problems.is_empty() { "ok".to_string() } else { out.problems.join("\n") };
    st.last_run =
        Some(RunRecord { start: start.clone(), end: end.clone(), exit_code: out.code, message: message.clone() });
    if out.code == 0 {
        st.last_success = Some(end);
    }
    if let Err(e) = state::save(&profile.name, &st) {
        output::error_line(&e);
        out.add(1);
    }
    let line = format!("{start} exit={} took={:.1}s {message}", out.code, started.elapsed().as_secs_f64());
    if let Err(e) = state::append_log(&profile.name, &line) {
        output::error_line(&e);
        out.add(1);
    }
    Ok(out.code)
}

/// Forget, then prune and check when they are due.
fn maintain(g: &Global, profile: &Profile, st: &mut state::State, out: &mut Outcome) {
    // An append-only server runs forget and prune itself: not this run's job.
    let append_only = std::cell::Cell::new(false);
    out.step("forget", || {
        let host = profile.host.clone().unwrap_or_else(crate::locations::hostname);
        let mut args = vec!["--host".to_string(), host];
        args.extend(profile.keep_flags());
        match crate::commands::forget::run(g, &parse::<Forget>(&args)?.a) {
            Err(e) if matches!(e.downcast_ref(), Some(cairn_core::Error::AppendOnly(_))) => {
                append_only.set(true);
                Ok(0)
            }
            other => other,
        }
    });
    let now = jiff::Timestamp::now();
    if !append_only.get() && due(st.last_prune.as_deref(), profile.prune_every, config::DEFAULT_PRUNE_EVERY, now) {
        let code = out.step("prune", || crate::commands::prune::run(g, &parse::<Prune>(&[])?.a));
        if code == 0 {
            st.last_prune = Some(state::now());
        }
    }
    let last_check = st.last_check.as_ref().map(|c| c.time.as_str());
    if due(last_check, profile.check_every, config::DEFAULT_CHECK_EVERY, now) {
        check(g, profile, st, out);
    }
}

/// `check --read-data-subset n/M --restore-sample N`; n advances after a
/// check that passed, so successive checks read every pack within M.
fn check(g: &Global, profile: &Profile, st: &mut state::State, out: &mut Outcome) {
    let subset_text = profile.check_read_data_subset.as_deref().unwrap_or(config::DEFAULT_SUBSET);
    // An `N/M` subset rotates (core's rotation, shared with `cairn serve
    // --maintain`); other forms are passed on as written.
    let (subset, next) = match subset_text.parse::<ReadSubset>() {
        Ok(parsed @ ReadSubset::Slice { .. }) => {
            let (subset, next) = parsed.rotation(u64::from(st.next_subset));
            (subset.to_string(), u32::try_from(next).unwrap_or(1))
        }
        _ => (subset_text.to_string(), st.next_subset),
    };
    let sample = profile.restore_sample.unwrap_or(config::DEFAULT_RESTORE_SAMPLE);
    let mut args = vec!["--read-data-subset".to_string(), subset.clone()];
    if sample > 0 {
        args.extend(["--restore-sample".to_string(), sample.to_string()]);
    }
    let code = out.step("check", || crate::commands::check::run(g, &parse::<Check>(&args)?.a));
    let time = state::now();
    st.last_check = Some(CheckRecord { time: time.clone(), subset: Some(subset), ok: code == 0 });
    if sample > 0 {
        st.last_drill = Some(DrillRecord { time, files: sample, ok: code == 0 });
    }
    if code == 0 {
        st.next_subset = next;
    }
}

/// Whether a task last done at `last` is due `now` (core's rule, shared
/// with `cairn serve --maintain`).
fn due(last: Option<&str>, every: Option<Every>, default: Duration, now: jiff::Timestamp) -> bool {
    let every = match every {
        Some(Every::Never) => None,
        Some(Every::After(d)) => Some(d),
        None => Some(default),
    };
    // An unreadable last time makes it due.
    is_due(last.and_then(state::parse_time), every, now)
}

fn parse<P: Parser>(args: &[String]) -> Result<P> {
    Ok(P::try_parse_from(args)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_due_after_their_interval_and_never_when_never() {
        let now: jiff::Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let day = Duration::from_secs(86400);
        assert!(due(None, None, day, now));
        assert!(due(Some("2026-01-09T00:00:00Z"), None, day, now));
        assert!(!due(Some("2026-01-09T00:00:01Z"), None, day, now));
        assert!(!due(None, Some(Every::Never), day, now));
        assert!(due(Some("2026-01-11T00:00:00Z"), Some(Every::After(day)), day, now));
        assert!(due(Some("garbage"), None, day, now));
    }

    #[test]
    fn the_worst_code_wins() {
        let mut o = Outcome::default();
        for c in [3, 1, ALARM, 1, 0] {
            o.add(c);
        }
        assert_eq!(o.code, ALARM);
    }
}
