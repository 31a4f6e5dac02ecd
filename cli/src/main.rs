//! The `cairn` binary: parses the command line, asks core to do the work,
//! prints results. No repository logic lives here.

#![forbid(unsafe_code)]

mod args;
mod atomic_file;
mod commands;
mod config;
mod default_repo;
mod given;
mod interrupt;
mod locations;
mod output;
mod own_files;
mod password;
mod progress;
mod schedule;
mod select;
mod serve_install;
mod state;
mod timefmt;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};

/// Exit codes, as restic's (README, "Exit codes"): 0 success, 1 error,
/// 3 finished but incomplete (snapshot saved but some files could not be
/// read; restore done but some entries not restored), 10 no repository,
/// 12 wrong password, 130 interrupted. Errors are mapped in `exit_code`.
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_INCOMPLETE: u8 = 3;
/// A snapshot raised the mass-deletion alarm: it was saved and its parent pinned.
pub const EXIT_ALARM: u8 = 4;
pub const EXIT_NO_REPOSITORY: u8 = 10;
/// `cairn run`: another run of the same profile holds its lock.
pub const EXIT_RUN_BUSY: u8 = 11;
pub const EXIT_WRONG_PASSWORD: u8 = 12;
pub const EXIT_INTERRUPTED: u8 = 130;

/// Stack of each worker thread: walks recurse once per folder level, and a
/// runaway agent can nest folders hundreds deep. Only touched pages cost memory.
const WORKER_STACK: usize = 64 * 1024 * 1024;

fn main() -> ExitCode {
    // Fails only if a pool exists already, which cannot be the case here.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK).build_global();
    // Usage errors exit 1 like every other error (clap's own default is 2);
    // --help and --version exit 0.
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    // `cairn serve` stops gracefully on its own signals (the server crate).
    if !matches!(cli.command, Command::Serve(_)) {
        interrupt::install();
    }
    // The command runs on a thread with a large stack, like the workers.
    let worker =
        std::thread::Builder::new().stack_size(WORKER_STACK).spawn(move || with_profile(cli).and_then(|cli| run(&cli)));
    let result = match worker.map(|handle| handle.join()) {
        Ok(Ok(result)) => result,
        // A panic has already printed its message; spawning failing is rare.
        Ok(Err(_)) => Err(anyhow::anyhow!("internal error (a bug in cairn; please report it)")),
        Err(e) => Err(anyhow::anyhow!("could not start: {e}")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // `cairn ls -R | head`: the reader has all it wants. Every print
        // goes through `outln!`, so a closed pipe arrives here as an error.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::error_line(&e);
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The one place where an error becomes an exit code other than 1.
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<default_repo::RecordedRepositoryMissing>()) {
        return EXIT_NO_REPOSITORY;
    }
    match e.chain().find_map(|c| c.downcast_ref::<cairn_core::Error>()) {
        Some(cairn_core::Error::NotARepository(_) | cairn_core::Error::ForeignRepository(_)) => EXIT_NO_REPOSITORY,
        Some(cairn_core::Error::WrongPassword(_)) => EXIT_WRONG_PASSWORD,
        _ => EXIT_ERROR,
    }
}

/// The command line, noting which global options came from the
/// environment (`config show` tells a flag from CAIRN_*).
fn parse() -> Result<Cli, clap::Error> {
    let mut matches = Cli::command().try_get_matches()?;
    // Read before `from_arg_matches_mut`, which takes the values out. Global
    // options given by environment show in the top-level matches, by flag
    // in the subcommand's where they were written.
    let mut from_env = Vec::new();
    for id in ["repo", "password_file", "password_command", "profile", "config"] {
        let mut level = Some(&matches);
        while let Some(m) = level {
            if m.value_source(id) == Some(clap::parser::ValueSource::EnvVariable) {
                from_env.push(id);
            }
            level = m.subcommand().map(|(_, sub)| sub);
        }
    }
    let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
    cli.global.from_env = from_env;
    Ok(cli)
}

/// The command line with the active profile (if any) merged into the
/// global options and kept in `global.active`. `init` reads the profile
/// file only to add to it, and `config show` reports on it itself.
fn with_profile(mut cli: Cli) -> anyhow::Result<Cli> {
    if matches!(
        cli.command,
        Command::Init(_) | Command::Config(_) | Command::Completions(_) | Command::Man(_) | Command::Serve(_)
    ) {
        return Ok(cli);
    }
    if let Some(profile) = config::active_profile(&cli.global)? {
        cli.global = config::apply_to_global(&cli.global, &profile);
        cli.global.active = Some(profile);
    }
    Ok(cli)
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Init(a) => commands::init::run(&cli.global, a),
        Command::Snapshot(a) => commands::snapshot::run(&cli.global, &config::snapshot_args(&cli.global, a)?),
        Command::Snapshots(a) => commands::snapshots::run(&cli.global, a),
        Command::Restore(a) => commands::restore::run(&cli.global, a),
        Command::Check(a) => commands::check::run(&cli.global, a),
        Command::Repair(args::RepairCommand::Index(a)) => commands::repair::index(&cli.global, a),
        Command::Diff(a) => commands::diff::run(&cli.global, a),
        Command::Ls(a) => commands::ls::run(&cli.global, a),
        Command::Find(a) => commands::find::run(&cli.global, a),
        Command::History(a) => commands::history::run(&cli.global, a),
        Command::Dump(a) => commands::dump::run(&cli.global, a),
        Command::Key(args::KeyCommand::Passwd(a)) => commands::key::passwd(&cli.global, a),
        Command::Forget(a) => commands::forget::run(&cli.global, a),
        Command::Policy(a) => commands::policy::run(&cli.global, a),
        Command::Pin(a) => commands::pin::run(&cli.global, a, true),
        Command::Unpin(a) => commands::pin::run(&cli.global, a, false),
        Command::Prune(a) => commands::prune::run(&cli.global, a),
        Command::Stats => commands::stats::run(&cli.global),
        Command::Copy(a) => commands::copy::run(&cli.global, a),
        Command::Schedule(a) => commands::schedule::run(&cli.global, a),
        Command::Cat(a) => commands::cat::run(&cli.global, a),
        Command::Completions(a) => commands::completions::run(a),
        Command::Man(a) => commands::man::run(&cli.global, a),
        Command::Run(a) => commands::run::run(&cli.global, a),
        Command::Status(a) => commands::status::run(&cli.global, a),
        Command::Config(c) => commands::config::run(&cli.global, c),
        Command::Serve(c) => commands::serve::run(&cli.global, c),
    }
}
