//! Finding the repository and its password: --repo / CAIRN_REPO or the
//! default location; the password from --password-command,
//! --password-file / CAIRN_PASSWORD_FILE, CAIRN_PASSWORD, the default
//! repository's password file, or a prompt on a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::format::marker::MarkerRole;
use cairn_core::repo::{InitOptions, OpenOptions};
use cairn_core::{Repository, format::RepoParams, format::crypto::KdfParams};

use crate::{default_repo, locations};

use crate::args::Global;

#[derive(Clone)]
pub struct Location {
    pub path: PathBuf,
    /// True when neither --repo nor CAIRN_REPO named it.
    pub is_default: bool,
    /// The default repository's password file (recorded with it, or the
    /// XDG one); `None` for a repository named by --repo / CAIRN_REPO.
    pub password_file: Option<PathBuf>,
    /// The record file this location was read from (`default_repo`).
    pub record: Option<PathBuf>,
}

pub fn location(g: &Global) -> Result<Location> {
    if let Some(p) = &g.repo {
        return Ok(Location { path: p.clone(), is_default: false, password_file: None, record: None });
    }
    match default_repo::read()? {
        Some((recorded, file)) => Ok(Location {
            path: recorded.repository,
            is_default: true,
            password_file: Some(recorded.password_file),
            record: Some(file),
        }),
        None => xdg_default(),
    }
}

/// The default repository where this environment's XDG variables put it.
fn xdg_default() -> Result<Location> {
    Ok(Location {
        path: locations::default_repository()?,
        is_default: true,
        password_file: Some(locations::default_password_file()?),
        record: None,
    })
}

/// The recorded default repository is missing: say so instead of
/// creating another one or calling it "not a repository".
fn check_recorded(loc: &Location) -> Result<()> {
    if let Some(record) = &loc.record
        && !Repository::exists_at(&loc.path)?
    {
        return Err(
            default_repo::RecordedRepositoryMissing { repository: loc.path.clone(), record: record.clone() }.into()
        );
    }
    Ok(())
}

/// The password from the explicit sources, if any is given.
fn explicit_password(g: &Global) -> Result<Option<String>> {
    if let Some(cmd) = &g.password_command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("could not run --password-command {cmd:?}"))?;
        if !out.status.success() {
            bail!("--password-command {cmd:?} failed ({})", out.status);
        }
        let password = first_line(&String::from_utf8_lossy(&out.stdout));
        return refuse_empty(password, &format!("--password-command {cmd:?}")).map(Some);
    }
    if let Some(file) = &g.password_file {
        return read_password_file(file).map(Some);
    }
    match std::env::var("CAIRN_PASSWORD") {
        Ok(password) => refuse_empty(password, "CAIRN_PASSWORD").map(Some),
        Err(_) => Ok(None),
    }
}

/// Every password source goes through here. An empty password would seal
/// the only key with nothing (init) or be a mistake that reads as "wrong
/// password" (open): an empty file or an unset variable in a script, say.
fn refuse_empty(password: String, source: &str) -> Result<String> {
    if password.is_empty() {
        bail!("the password from {source} is empty; cairn refuses empty passwords");
    }
    Ok(password)
}

fn read_password_file(file: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("could not read password file {}", file.display()))?;
    refuse_empty(first_line(&text), &format!("the password file {}", file.display()))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

fn prompt(question: &str) -> Result<String> {
    let password = rpassword::prompt_password(question).context("could not read the password from the terminal")?;
    refuse_empty(password, "the terminal")
}

/// Opens the repository, asking for a password only if it is encrypted.
pub fn open(g: &Global) -> Result<Repository> {
    let loc = location(g)?;
    open_at(g, &loc, !g.no_cache, None)
}

/// Opens the repository for a run that writes (or `check`): its marker is
/// registered in the repository before the index is read, and removed when
/// the repository is dropped (the deletion protocol, format-spec §6).
pub fn open_registered(g: &Global, role: MarkerRole) -> Result<Repository> {
    let loc = location(g)?;
    open_at(g, &loc, !g.no_cache, Some(role))
}

/// Opens the repository without the local cache, registered as `role`
/// (`None`: not registered): `check` and `repair` must read every file from
/// the repository itself.
pub fn open_uncached(g: &Global, role: Option<MarkerRole>) -> Result<Repository> {
    let loc = location(g)?;
    open_at(g, &loc, false, role)
}

fn open_at(g: &Global, loc: &Location, use_cache: bool, register: Option<MarkerRole>) -> Result<Repository> {
    Ok(open_full(g, loc, use_cache, register)?.repo)
}

/// An open repository with the password that opened it.
pub struct Opened {
    pub repo: Repository,
    pub password: Option<String>,
    /// The default password file, when the password came from it.
    pub from_file: Option<PathBuf>,
}

/// For `key passwd`: opens the repository (without the cache) and keeps
/// the password and where it came from.
pub fn open_keeping_password(g: &Global) -> Result<Opened> {
    open_full(g, &location(g)?, false, None)
}

fn open_full(g: &Global, loc: &Location, use_cache: bool, register: Option<MarkerRole>) -> Result<Opened> {
    check_recorded(loc)?;
    let mut password = explicit_password(g)?;
    let mut from_file = None;
    if let (None, Some(file)) = (&password, &loc.password_file)
        && file.is_file()
    {
        password = Some(read_password_file(file)?);
        from_file = Some(file);
    }
    let needs = Repository::is_encrypted_at(&loc.path)?;
    if needs && password.is_none() {
        // Name the file the default repository's password lives in:
        // "give a password" alone leaves the user guessing where it went.
        let missing_file = match &loc.password_file {
            Some(file) => format!(" (its password file {} is missing)", file.display()),
            None => String::new(),
        };
        if std::io::stdin().is_terminal() {
            password = Some(prompt(&format!(
                "password for {}{missing_file}: ",
                cairn_core::backend::shown_location(&loc.path).display()
            ))?);
        } else {
            bail!(
                "the repository {} is encrypted{missing_file}: give its password with CAIRN_PASSWORD, CAIRN_PASSWORD_FILE, --password-file, --password-command or CAIRN_PASSWORD_COMMAND",
                cairn_core::backend::shown_location(&loc.path).display()
            );
        }
    }
    let cache_root = if use_cache { locations::cache_root() } else { None };
    let state_root = locations::state_root();
    let opts = OpenOptions {
        password: password.as_deref().map(str::as_bytes),
        cache_root: cache_root.as_deref(),
        state_root: state_root.as_deref(),
        allow_unencrypted: g.insecure_no_encryption,
        register,
    };
    let opened = Repository::open_with_options(&loc.path, &opts);
    match (opened, from_file) {
        (Err(e @ cairn_core::Error::WrongPassword(_)), Some(file)) => {
            Err(anyhow::Error::new(e).context(format!("the password in {} does not open it", file.display())))
        }
        (opened, from_file) => Ok(Opened { repo: opened?, password, from_file: from_file.cloned() }),
    }
}

/// For `snapshot`: opens the repository, first creating the default one
/// (with a generated password file) if it does not exist yet. A recorded
/// default repository that is missing is an error, never replaced.
pub fn open_or_create_default(g: &Global) -> Result<Repository> {
    let loc = location(g)?;
    if loc.is_default && loc.record.is_none() {
        if Repository::exists_at(&loc.path)? {
            // Made before locations were recorded: record it now, so that a
            // run in another environment finds this one.
            if let Err(e) = record(&loc) {
                crate::output::warning(format!("{e:#}"));
            }
        } else {
            create_default(g, &loc, KdfParams::DEFAULT, RepoParams::DEFAULT, true)?;
        }
    }
    open_at(g, &loc, !g.no_cache, Some(MarkerRole::Snapshot))
}

/// Creates the default repository at `loc` as the first snapshot and
/// `cairn init` both do: the password from an explicit source, else from
/// the password file, else a new one generated into that file; then the
/// location is recorded.
pub fn create_default(
    g: &Global,
    loc: &Location,
    kdf: KdfParams,
    params: RepoParams,
    encrypted: bool,
) -> Result<Repository> {
    let pw_file = loc.password_file.clone().unwrap_or(locations::default_password_file()?);
    let (password, kept_in) = if !encrypted {
        (None, None)
    } else {
        match explicit_password(g)? {
            Some(p) => (Some(p), None),
            None if pw_file.is_file() => (Some(read_password_file(&pw_file)?), Some(&pw_file)),
            None => (Some(locations::create_password_file(&pw_file)?), Some(&pw_file)),
        }
    };
    let mut opts = init_options(password.as_deref().map(str::as_bytes), kdf);
    opts.params = params;
    let repo = Repository::init(&loc.path, &opts)?;
    if let Some(state) = locations::state_root() {
        repo.remember_in(&state);
    }
    match (kept_in, encrypted) {
        (Some(file), _) => eprintln!(
            "cairn: created the repository {} with its password in {}; keep a copy of that file somewhere safe (offsite): without it nothing can be restored",
            cairn_core::backend::shown_location(&loc.path).display(),
            file.display()
        ),
        (None, true) => eprintln!(
            "cairn: created the repository {}, encrypted with the password you gave; keep that password safe: without it nothing can be restored",
            cairn_core::backend::shown_location(&loc.path).display()
        ),
        (None, false) => {}
    }
    // The repository works without the record; only the protection against
    // a second default repository is missing then, which deserves a warning.
    if let Err(e) = record(&Location { password_file: Some(pw_file), ..loc.clone() }) {
        crate::output::warning(format!("{e:#}"));
    }
    Ok(repo)
}

fn record(loc: &Location) -> Result<()> {
    let password_file = match &loc.password_file {
        Some(file) => file.clone(),
        None => locations::default_password_file()?,
    };
    let repository = cairn_core::fs::path::absolute(&loc.path)?;
    default_repo::write(&default_repo::Record { repository, password_file })
}

/// Where `cairn init` without --repo creates the default repository: this
/// environment's XDG location (a recorded one that went missing is
/// replaced by it, and the record rewritten).
pub fn init_location(g: &Global) -> Result<Location> {
    if g.repo.is_some() { location(g) } else { xdg_default() }
}

pub fn init_options(password: Option<&[u8]>, kdf: KdfParams) -> InitOptions<'_> {
    InitOptions { password, kdf, params: RepoParams::DEFAULT, host: locations::hostname(), user: locations::username() }
}

/// A new password from `file` (its first line, not empty).
pub fn read_new_password_file(file: &Path) -> Result<String> {
    read_password_file(file)
}

/// A new password asked twice on the terminal, if there is one.
pub fn prompt_new_password() -> Result<Option<String>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let first = prompt("new password: ")?;
    if first != prompt("repeat the new password: ")? {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(Some(first))
}

/// The password for a new repository: explicit sources, or asked twice.
pub fn new_password(g: &Global) -> Result<String> {
    // Every source refuses an empty password itself (`refuse_empty`).
    if let Some(p) = explicit_password(g)? {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password given: set CAIRN_PASSWORD or CAIRN_PASSWORD_FILE, pass --password-file or --password-command, or run on a terminal"
        );
    }
    let first = prompt("new repository password: ")?;
    let second = prompt("repeat the password: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was created");
    }
    Ok(first)
}
