//! `cairn config show`: every effective setting and where it came from — a
//! flag, an environment variable (CAIRN_X), the profile file (FILE:LINE) or
//! the built-in default — so that "why does cron use that repository?" has
//! an answer without reading code.

use anyhow::Result;
use clap::Subcommand;

use crate::args::Global;
use crate::config::{self, Profile};
use crate::output::outln;
use crate::{locations, output};

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective settings and where each comes from (flag, env CAIRN_X, FILE:LINE, default)
    Show,
}

/// One row: the key, its value, its source.
type Row = (String, String, String);

pub fn run(g: &Global, c: &ConfigCommand) -> Result<u8> {
    let ConfigCommand::Show = c;
    let file = config::config_file(g)?;
    let profile = config::active_profile(g)?;
    let rows = rows(g, &file, profile.as_ref())?;
    if g.json {
        let list: Vec<_> =
            rows.iter().map(|(k, v, s)| serde_json::json!({ "key": k, "value": v, "source": s })).collect();
        outln!("{}", serde_json::Value::Array(list))?;
    } else {
        let table: Vec<Vec<String>> = rows.into_iter().map(|(k, v, s)| vec![k, v, s]).collect();
        output::table(&["SETTING", "VALUE", "FROM"], &table)?;
    }
    Ok(0)
}

/// Where a global option came from: flag, environment, or neither.
fn given(g: &Global, id: &str, env: &str) -> String {
    if g.from_env.contains(&id) { format!("env {env}") } else { format!("flag --{}", id.replace('_', "-")) }
}

fn rows(g: &Global, file: &std::path::Path, p: Option<&Profile>) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut row = |k: &str, v: String, s: String| rows.push((k.to_string(), v, s));
    let config_source = if g.config.is_some() { given(g, "config", "CAIRN_CONFIG") } else { "default".into() };
    row("config", file.display().to_string(), config_source);
    let (name, name_source) = match (&g.profile, p) {
        (Some(n), _) => (n.clone(), given(g, "profile", "CAIRN_PROFILE")),
        (None, Some(p)) => (p.name.clone(), "default".into()),
        (None, None) => ("(none)".into(), "no profile file or no [default] in it".into()),
    };
    row("profile", name, name_source);
    let place = |key: &str| p.and_then(|p| p.place(key));
    // The repository: flag/env, else the profile's, else the default one.
    let (repo, repo_source) = match (&g.repo, p.and_then(|p| p.repository.clone())) {
        (Some(r), _) => (r.display().to_string(), given(g, "repo", "CAIRN_REPO")),
        (None, Some(r)) => (r.display().to_string(), place("repository").unwrap_or_default()),
        (None, None) => (crate::password::location(g)?.path.display().to_string(), "default".into()),
    };
    row("repository", repo, repo_source);
    let (pw, pw_source) = if let Some(c) = &g.password_command {
        (format!("command {c}"), given(g, "password_command", "CAIRN_PASSWORD_COMMAND"))
    } else if let Some(f) = &g.password_file {
        (format!("file {}", f.display()), given(g, "password_file", "CAIRN_PASSWORD_FILE"))
    } else if std::env::var_os("CAIRN_PASSWORD").is_some() {
        ("(hidden)".into(), "env CAIRN_PASSWORD".into())
    } else if let Some(c) = p.and_then(|p| p.password_command.clone()) {
        (format!("command {c}"), place("password-command").unwrap_or_default())
    } else if let Some(f) = p.and_then(|p| p.password_file.clone()) {
        (format!("file {}", f.display()), place("password-file").unwrap_or_default())
    } else {
        (format!("file {}", locations::default_password_file()?.display()), "default".into())
    };
    row("password", pw, pw_source);
    let Some(p) = p else { return Ok(rows) };
    let list = |v: &[String]| if v.is_empty() { "[]".to_string() } else { v.join(", ") };
    let paths = |v: &[std::path::PathBuf]| list(&v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>());
    let flag = |b: Option<bool>, default: bool| b.unwrap_or(default).to_string();
    let every = |e: Option<config::Every>, default: std::time::Duration| match e {
        Some(config::Every::Never) => "never".to_string(),
        Some(config::Every::After(d)) => config::format_interval(d),
        None => config::format_interval(default),
    };
    let keep = p.keep_flags().join(" ");
    let alarm = &p.alarm;
    let settings: Vec<(&str, String)> = vec![
        ("paths", paths(&p.paths)),
        ("exclude", list(&p.exclude)),
        ("exclude-file", paths(&p.exclude_file)),
        ("exclude-if-present", list(&p.exclude_if_present)),
        ("default-excludes", flag(p.default_excludes, true)),
        ("git-ignore", flag(p.git_ignore, false)),
        ("one-file-system", flag(p.one_file_system, false)),
        ("exclude-larger-than", p.exclude_larger_than.map_or("(no limit)".into(), output::bytes)),
        ("host", p.host.clone().unwrap_or_else(locations::hostname)),
        ("tags", list(&p.tags)),
        ("every", p.every.map_or("(not scheduled)".into(), config::format_interval)),
        ("prune-every", every(p.prune_every, config::DEFAULT_PRUNE_EVERY)),
        ("check-every", every(p.check_every, config::DEFAULT_CHECK_EVERY)),
        ("check-read-data-subset", p.check_read_data_subset.clone().unwrap_or(config::DEFAULT_SUBSET.into())),
        ("restore-sample", p.restore_sample.unwrap_or(config::DEFAULT_RESTORE_SAMPLE).to_string()),
        ("on-alert", p.on_alert.clone().unwrap_or("notify-send, when on PATH".into())),
        ("keep", if keep.is_empty() { "the repository's policy".into() } else { keep }),
        ("copy-to", p.copy_to.as_ref().map_or("(none)".into(), |r| r.display().to_string())),
        (
            "copy-to-password",
            match (&p.copy_to_password_file, &p.copy_to_password_command) {
                (Some(f), _) => format!("file {}", f.display()),
                (None, Some(c)) => format!("command {c}"),
                (None, None) => "(none)".into(),
            },
        ),
        (
            "alarm",
            format!(
                "vanished-share {}, min-files {}, protected [{}], protected-min {}",
                alarm.vanished_share,
                alarm.min_files,
                alarm.protected.join(", "),
                alarm.protected_min
            ),
        ),
    ];
    for (key, value) in settings {
        let source = match key {
            "copy-to-password" => place("copy-to-password-file").or_else(|| place("copy-to-password-command")),
            _ => place(key),
        };
        let source = source.unwrap_or_else(|| "default".into());
        row(key, value, source);
    }
    Ok(rows)
}
