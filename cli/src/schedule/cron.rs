//! The crontab way: one line per profile, marked with a trailing
//! `# cairn:<profile>` comment, so that installing replaces exactly that
//! line and removing deletes exactly it; every other byte of the user's
//! crontab is written back as it was. The crontab is read with
//! `crontab -l` and replaced with `crontab -` (command: `CAIRN_CRONTAB`,
//! default `crontab`), the only interface cron guarantees.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Job;
use super::every::Every;

/// The trailing marker of a profile's line.
pub fn marker(profile: &str) -> String {
    format!("# cairn:{profile}")
}

fn crontab_program() -> String {
    std::env::var("CAIRN_CRONTAB").ok().filter(|c| !c.is_empty()).unwrap_or_else(|| "crontab".into())
}

/// The user's crontab; `None` when there is no crontab program at all.
/// "no crontab for USER" (exit 1, nothing on stdout) is an empty crontab.
pub fn read() -> Result<Option<String>> {
    let program = crontab_program();
    let out = match Command::new(&program).arg("-l").stdin(Stdio::null()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("could not run {program} -l")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if out.stdout.is_empty() && stderr.contains("no crontab") {
            return Ok(Some(String::new()));
        }
        bail!("{program} -l failed: {}", stderr.trim());
    }
    let text =
        String::from_utf8(out.stdout).with_context(|| format!("{program} -l printed bytes that are not UTF-8"))?;
    Ok(Some(text))
}

/// Replaces the user's crontab with `text`.
pub fn write(text: &str) -> Result<()> {
    let program = crontab_program();
    let mut child = Command::new(&program)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not run {program}"))?;
    // The pipe is closed when `stdin` is dropped, ending crontab's input.
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).with_context(|| format!("could not write to {program}"))?;
    }
    let out = child.wait_with_output().with_context(|| format!("could not run {program}"))?;
    if !out.status.success() {
        bail!("{program} refused the new crontab: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// The profile's line: time fields, the environment, the command, the marker.
/// `%` is special to cron (a newline) and is escaped; values are quoted for
/// the shell cron runs the line with.
pub fn line(job: &Job, every: Every) -> String {
    let mut words = vec![every.cron_fields()];
    for (key, value) in &job.env {
        words.push(format!("{key}={}", shell_quote(value)));
    }
    words.push("nice -n 19".into());
    words.push(shell_quote(&job.program));
    words.extend(job.args.iter().map(|a| shell_quote(a)));
    words.push(marker(&job.profile));
    words.join(" ").replace('%', "\\%")
}

/// Is this line the profile's (ends with its marker)?
fn is_profile_line(line: &str, profile: &str) -> bool {
    line.trim_end().strip_suffix(&marker(profile)).is_some_and(|rest| rest.ends_with(' '))
}

/// The profile's line in `crontab`, if any.
pub fn find<'a>(crontab: &'a str, profile: &str) -> Option<&'a str> {
    crontab.lines().find(|l| is_profile_line(l, profile))
}

/// `crontab` without the profile's line(s), every other byte kept.
pub fn without(crontab: &str, profile: &str) -> String {
    crontab.split_inclusive('\n').filter(|l| !is_profile_line(l, profile)).collect()
}

/// `crontab` with the profile's line replaced by `line` (or added at the end).
pub fn with(crontab: &str, profile: &str, line: &str) -> String {
    let mut text = without(crontab, profile);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    text
}

/// The interval of an installed line.
pub fn every_of(line: &str) -> Option<Every> {
    let fields: Vec<&str> = line.split_whitespace().take(5).collect();
    Every::from_cron_fields(&fields)
}

/// Quotes for sh when needed: `'…'` with `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-:=,+@".contains(&b));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_every_other_byte() {
        let theirs = "# mine\nMAILTO=me\n0 5 * * 1 backup-other  # cairn:default-not\n*/5 * * * * x # cairn:work\n";
        let once = with(theirs, "work", "0 * * * * new # cairn:work");
        assert_eq!(
            once,
            "# mine\nMAILTO=me\n0 5 * * 1 backup-other  # cairn:default-not\n0 * * * * new # cairn:work\n"
        );
        assert_eq!(with(&once, "work", "0 * * * * new # cairn:work"), once);
        assert_eq!(without(&once, "work"), "# mine\nMAILTO=me\n0 5 * * 1 backup-other  # cairn:default-not\n");
        // No final newline: one is added before the new line, nothing else changes.
        assert_eq!(with("a b", "p", "L # cairn:p"), "a b\nL # cairn:p\n");
        assert_eq!(find(&once, "default"), None);
    }

    #[test]
    fn quoting_survives_sh_and_cron() {
        assert_eq!(shell_quote("/usr/bin/cairn"), "/usr/bin/cairn");
        assert_eq!(shell_quote("it's here"), "'it'\\''s here'");
        let job = Job {
            profile: "p".into(),
            program: "/opt/my cairn/cairn".into(),
            args: vec!["--config".into(), "/h/100%.toml".into(), "run".into()],
            env: vec![("HOME".into(), "/h".into())],
        };
        let l = line(&job, Every::Minutes(15));
        assert_eq!(l, "*/15 * * * * HOME=/h nice -n 19 '/opt/my cairn/cairn' --config '/h/100\\%.toml' run # cairn:p");
        assert_eq!(every_of(&l), Some(Every::Minutes(15)));
    }
}
