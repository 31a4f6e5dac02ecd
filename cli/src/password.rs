//! Finding the repository and its password: --repo / CAIRN_REPO or the
//! default location; the password from --password-command,
//! --password-file / CAIRN_PASSWORD_FILE, CAIRN_PASSWORD, the default
//! repository's password file, or a prompt on a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::repo::{InitOptions, OpenOptions};
use cairn_core::{Repository, format::RepoParams, format::crypto::KdfParams};

use crate::locations;

use crate::args::Global;

pub struct Location {
    pub path: PathBuf,
    /// True when neither --repo nor CAIRN_REPO named it.
    pub is_default: bool,
}

pub fn location(g: &Global) -> Result<Location> {
    match &g.repo {
        Some(p) => Ok(Location { path: p.clone(), is_default: false }),
        None => Ok(Location { path: locations::default_repository()?, is_default: true }),
    }
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
    open_at(g, &loc, !g.no_cache)
}

/// Opens the repository without the local cache: `check` must read every
/// file from the repository itself.
pub fn open_uncached(g: &Global) -> Result<Repository> {
    let loc = location(g)?;
    open_at(g, &loc, false)
}

fn open_at(g: &Global, loc: &Location, use_cache: bool) -> Result<Repository> {
    let mut password = explicit_password(g)?;
    if password.is_none() && loc.is_default {
        let file = locations::default_password_file()?;
        if file.is_file() {
            password = Some(read_password_file(&file)?);
        }
    }
    let needs = Repository::is_encrypted_at(&loc.path)?;
    if needs && password.is_none() {
        if std::io::stdin().is_terminal() {
            password = Some(prompt(&format!("password for {}: ", loc.path.display()))?);
        } else {
            bail!(
                "the repository {} is encrypted: give its password with CAIRN_PASSWORD, CAIRN_PASSWORD_FILE, --password-file or --password-command",
                loc.path.display()
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
    };
    Ok(Repository::open_with_options(&loc.path, &opts)?)
}

/// For `snapshot`: opens the repository, first creating the default one
/// (with a generated password file) if it does not exist yet.
pub fn open_or_create_default(g: &Global) -> Result<Repository> {
    let loc = location(g)?;
    if loc.is_default && !Repository::exists_at(&loc.path)? {
        let pw_file = locations::default_password_file()?;
        let (password, kept_in) = match explicit_password(g)? {
            Some(p) => (p, None),
            None if pw_file.is_file() => (read_password_file(&pw_file)?, Some(&pw_file)),
            None => (locations::create_password_file(&pw_file)?, Some(&pw_file)),
        };
        let opts = init_options(Some(password.as_bytes()), KdfParams::DEFAULT);
        Repository::init(&loc.path, &opts)?;
        match kept_in {
            Some(file) => eprintln!(
                "cairn: created the repository {} with its password in {}; keep a copy of that file somewhere safe (offsite): without it nothing can be restored",
                loc.path.display(),
                file.display()
            ),
            None => eprintln!(
                "cairn: created the repository {}, encrypted with the password you gave; keep that password safe: without it nothing can be restored",
                loc.path.display()
            ),
        }
    }
    open_at(g, &loc, !g.no_cache)
}

pub fn init_options(password: Option<&[u8]>, kdf: KdfParams) -> InitOptions<'_> {
    InitOptions { password, kdf, params: RepoParams::DEFAULT, host: locations::hostname(), user: locations::username() }
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
