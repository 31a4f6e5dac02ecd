//! The systemd way: `cairn-<profile>.service` (one `cairn run`, at idle
//! CPU and I/O priority) and `cairn-<profile>.timer` (`OnCalendar=` from
//! the interval, `Persistent=true` so a run missed while the machine slept
//! happens at wake-up) in the user's unit folder, then `systemctl --user
//! daemon-reload` and `enable --now` of the timer. Tests point
//! `CAIRN_SYSTEMD_USER_DIR` at a temporary folder and `CAIRN_SYSTEMCTL` at
//! a script.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Job;
use super::every::Every;
use crate::atomic_file;

fn systemctl_program() -> String {
    std::env::var("CAIRN_SYSTEMCTL").ok().filter(|c| !c.is_empty()).unwrap_or_else(|| "systemctl".into())
}

/// `$CAIRN_SYSTEMD_USER_DIR`, else `$XDG_CONFIG_HOME/systemd/user`, else
/// `~/.config/systemd/user`: where `systemctl --user` looks for units.
pub fn unit_dir() -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("CAIRN_SYSTEMD_USER_DIR") {
        return Ok(dir);
    }
    if let Some(config) = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        return Ok(config.join("systemd/user"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".config/systemd/user")),
        None => bail!("HOME is not set: cannot find the systemd user unit folder"),
    }
}

pub fn unit_name(profile: &str, suffix: &str) -> String {
    format!("cairn-{profile}.{suffix}")
}

/// True when a user systemd manager answers (`systemctl --user show-environment`).
pub fn available() -> bool {
    Command::new(systemctl_program())
        .args(["--user", "show-environment"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `systemctl --user ARGS`, one error line with its complaint on failure.
pub fn systemctl(args: &[&str]) -> Result<()> {
    run_systemctl(&["--user"], args)
}

/// Runs `systemctl ARGS` on the system's units (`cairn serve install`).
pub fn systemctl_system(args: &[&str]) -> Result<()> {
    run_systemctl(&[], args)
}

fn run_systemctl(scope: &[&str], args: &[&str]) -> Result<()> {
    let program = systemctl_program();
    let out = Command::new(&program)
        .args(scope)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {program}"))?;
    if !out.status.success() {
        let words: Vec<&str> = scope.iter().chain(args).copied().collect();
        bail!("{program} {} failed: {}", words.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

pub fn service_text(job: &Job) -> String {
    let mut exec = vec![quote(&job.program)];
    exec.extend(job.args.iter().map(|a| quote(a)));
    let mut text = format!(
        "# Written by `cairn schedule install`; `cairn schedule remove` deletes it.\n\
         [Unit]\n\
         Description=cairn run of profile {profile}\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={exec}\n",
        profile = job.profile,
        exec = exec.join(" ")
    );
    for (key, value) in &job.env {
        text.push_str(&format!("Environment={}\n", quote(&format!("{key}={value}"))));
    }
    // Backups run in the background: nobody at the machine should notice.
    text.push_str("Nice=19\nIOSchedulingClass=idle\n");
    text
}

pub fn timer_text(profile: &str, every: Every) -> String {
    format!(
        "# Written by `cairn schedule install`; `cairn schedule remove` deletes it.\n\
         [Unit]\n\
         Description=cairn run of profile {profile} every {every}\n\
         \n\
         [Timer]\n\
         OnCalendar={calendar}\n\
         Persistent=true\n\
         RandomizedDelaySec={delay}\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        calendar = every.on_calendar(),
        delay = every.randomized_delay_seconds()
    )
}

/// Writes both units and enables the timer.
pub fn install(dir: &Path, job: &Job, every: Every) -> Result<Vec<PathBuf>> {
    let service = dir.join(unit_name(&job.profile, "service"));
    let timer = dir.join(unit_name(&job.profile, "timer"));
    let new = !service.exists() && !timer.exists();
    atomic_file::write(&service, service_text(job).as_bytes())?;
    atomic_file::write(&timer, timer_text(&job.profile, every).as_bytes())?;
    let enabled =
        systemctl(&["daemon-reload"]).and_then(|()| systemctl(&["enable", "--now", &unit_name(&job.profile, "timer")]));
    if let Err(e) = enabled {
        // Units no manager runs would only make `show` claim a schedule.
        if new {
            let _ = atomic_file::remove(&service);
            let _ = atomic_file::remove(&timer);
        }
        return Err(e);
    }
    Ok(vec![service, timer])
}

/// Disables the timer and deletes both units; the files removed.
pub fn remove(dir: &Path, profile: &str) -> Result<Vec<PathBuf>> {
    let files = [dir.join(unit_name(profile, "timer")), dir.join(unit_name(profile, "service"))];
    if !files.iter().any(|f| f.exists()) {
        return Ok(Vec::new());
    }
    // A timer the manager never loaded cannot be disabled: not an error.
    let _ = systemctl(&["disable", "--now", &unit_name(profile, "timer")]);
    let mut removed = Vec::new();
    for file in files {
        if atomic_file::remove(&file)? {
            removed.push(file);
        }
    }
    systemctl(&["daemon-reload"])?;
    Ok(removed)
}

/// What is installed for `profile`: the interval and the command line.
pub struct Installed {
    pub every: Option<Every>,
    pub exec: Option<String>,
    pub files: Vec<PathBuf>,
}

pub fn installed(dir: &Path, profile: &str) -> Result<Option<Installed>> {
    let timer = dir.join(unit_name(profile, "timer"));
    let service = dir.join(unit_name(profile, "service"));
    let read = |p: &Path| match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", p.display())),
    };
    let (Some(timer_text), service_text) = (read(&timer)?, read(&service)?) else {
        return Ok(None);
    };
    let value = |text: &str, key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')).map(str::to_string))
    };
    Ok(Some(Installed {
        every: value(&timer_text, "OnCalendar").and_then(|c| Every::from_on_calendar(&c)),
        exec: service_text.as_deref().and_then(|s| value(s, "ExecStart")),
        files: [timer, service].into_iter().filter(|f| f.exists()).collect(),
    }))
}

/// One word of a unit's command line or `Environment=`: `%` and `$` are
/// specifiers to systemd and are doubled; a word with a space, a quote or
/// a backslash is put in double quotes with C escapes.
pub(crate) fn quote(word: &str) -> String {
    let word = word.replace('%', "%%").replace('$', "$$");
    let plain = !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || "\"'\\;".contains(c));
    if plain { word } else { format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_name_the_full_command_and_catch_up() {
        let job = Job {
            profile: "work".into(),
            program: "/opt/cairn dir/cairn".into(),
            args: vec!["--config".into(), "/h/.config/cairn/config.toml".into(), "run".into()],
            env: vec![("XDG_STATE_HOME".into(), "/h/state 50%".into())],
        };
        let service = service_text(&job);
        assert!(service.contains("\nExecStart=\"/opt/cairn dir/cairn\" --config /h/.config/cairn/config.toml run\n"));
        assert!(service.contains("\nEnvironment=\"XDG_STATE_HOME=/h/state 50%%\"\n"), "{service}");
        assert!(service.contains("\nType=oneshot\n") && service.contains("\nIOSchedulingClass=idle\n"));
        let timer = timer_text("work", Every::Hours(2));
        assert!(timer.contains("\nOnCalendar=*-*-* 00/2:00:00\nPersistent=true\nRandomizedDelaySec=60\n"));
    }
}
