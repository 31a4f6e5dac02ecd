//! Where the default repository was created, recorded once so that no run
//! in another environment (cron with other `XDG_*` variables, a shell after
//! the data folder moved) silently starts a second repository with a second
//! password.
//!
//! The record is a small text file, `$XDG_CONFIG_HOME/cairn/default-repository`
//! (and, when `XDG_CONFIG_HOME` points elsewhere, the same name under
//! `~/.config/cairn/`, which a cron job without the variable still finds):
//!
//! ```text
//! # comment lines
//! repository=/home/me/.local/share/cairn/repo
//! password-file=/home/me/.config/cairn/password
//! ```
//!
//! It is written under a temporary name, synced and renamed, so a crash
//! leaves the old record or the new one, never half of one.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::locations;

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub repository: PathBuf,
    /// The password file generated with the repository (it may be absent
    /// when the repository's password was given another way).
    pub password_file: PathBuf,
}

/// The recorded default repository is gone: `snapshot` must not create a
/// new one in its place, and no command finds anything there. Exits 10
/// (no repository).
#[derive(Debug)]
pub struct RecordedRepositoryMissing {
    pub repository: PathBuf,
    pub record: PathBuf,
}

impl std::fmt::Display for RecordedRepositoryMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the default repository {} (recorded in {}) is missing: if you moved it, give its new place with \
             --repo / CAIRN_REPO or write it in that file; to start a new, empty one instead, run `cairn init` \
             (nothing was stored)",
            self.repository.display(),
            self.record.display()
        )
    }
}

impl std::error::Error for RecordedRepositoryMissing {}

/// The largest record read (it holds two paths).
const MAX_RECORD: u64 = 64 * 1024;

/// Where records are looked for, in order: the config folder, then
/// `~/.config/cairn` when `XDG_CONFIG_HOME` names another folder.
fn record_files() -> Result<Vec<PathBuf>> {
    let primary = locations::config_dir()?.join("default-repository");
    let home = locations::home_config_dir()?.join("default-repository");
    Ok(if primary == home { vec![primary] } else { vec![primary, home] })
}

/// The record and the file it was read from, if one exists.
pub fn read() -> Result<Option<(Record, PathBuf)>> {
    for file in record_files()? {
        let mut text = Vec::new();
        match std::fs::File::open(&file) {
            Ok(f) => f
                .take(MAX_RECORD)
                .read_to_end(&mut text)
                .with_context(|| format!("could not read {}", file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("could not read {}", file.display())),
        };
        let record = parse(&text).with_context(|| {
            format!("{} is damaged; fix it (or delete it to use the XDG default location)", file.display())
        })?;
        return Ok(Some((record, file)));
    }
    Ok(None)
}

fn parse(text: &[u8]) -> Result<Record> {
    let (mut repository, mut password_file) = (None, None);
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else { bail!("a line has no `=`") };
        let slot = match &line[..eq] {
            b"repository" => &mut repository,
            b"password-file" => &mut password_file,
            _ => continue, // written by a later cairn: ignored
        };
        let value = PathBuf::from(OsStr::from_bytes(&line[eq + 1..]));
        if !value.is_absolute() {
            bail!("{} is not an absolute path", value.display());
        }
        *slot = Some(value);
    }
    match (repository, password_file) {
        (Some(repository), Some(password_file)) => Ok(Record { repository, password_file }),
        _ => bail!("it lacks the repository= or password-file= line"),
    }
}

fn render(record: &Record) -> Result<Vec<u8>> {
    let mut out = b"# cairn's default repository, recorded when it was created: every run without --repo uses it,\n\
# whatever XDG_DATA_HOME says. If you move the repository, write its new place here.\n"
        .to_vec();
    for (key, path) in [("repository", &record.repository), ("password-file", &record.password_file)] {
        let bytes = path.as_os_str().as_bytes();
        if bytes.contains(&b'\n') || !path.is_absolute() {
            bail!("cannot record {}: it must be absolute and hold no line break", path.display());
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    Ok(out)
}

/// Records `record` in every place `read` looks, replacing what was there.
pub fn write(record: &Record) -> Result<()> {
    let bytes = render(record)?;
    for file in record_files()? {
        crate::atomic_file::replace_private(&file, &bytes)
            .with_context(|| format!("could not record the default repository in {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let record = Record { repository: "/d/cairn/repo".into(), password_file: "/c/cairn/pass word".into() };
        assert_eq!(parse(&render(&record).unwrap()).unwrap(), record);
    }

    #[test]
    fn damaged_records_are_refused_not_guessed() {
        assert!(parse(b"repository=/r\n").is_err());
        assert!(parse(b"repository=relative\npassword-file=/p\n").is_err());
        assert!(parse(b"garbage\n").is_err());
        let later = parse(b"repository=/r\npassword-file=/p\nfuture=1\n").unwrap();
        assert_eq!(later.repository, PathBuf::from("/r"));
        let with_newline = Record { repository: "/a\nb".into(), password_file: "/p".into() };
        assert!(render(&with_newline).is_err());
    }
}
