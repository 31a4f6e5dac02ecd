//! `cairn init [--paths PATH…]`: creates the repository and, with
//! --paths, writes the profile that `cairn run` and the schedule use, so
//! that setting up is one command. Everything the profile needs is checked
//! before the repository is created: a refused profile leaves nothing behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::Repository;
use cairn_core::backend::object_lock::{LockMode, Retention};
use cairn_core::format::crypto::KdfParams;

use crate::args::{Global, InitArgs};
use crate::output::outln;
use crate::{config, password};

pub fn run(g: &Global, a: &InitArgs) -> Result<u8> {
    let loc = password::init_location(g)?;
    let retention = a.object_lock.as_deref().map(|days| retention_of(days, &a.object_lock_mode)).transpose()?;
    let mut profile = if a.paths.is_empty() { None } else { Some(plan_profile(g, a, &loc)?) };
    if profile.is_some() && Repository::exists_at(&loc.path)? {
        return profile_for_existing(g, a, &loc, profile.take().expect("checked above"));
    }
    let mut kdf = KdfParams::DEFAULT;
    if let Some(m) = a.kdf_memory_kib {
        kdf.memory_kib = m;
    }
    if let Some(t) = a.kdf_iterations {
        kdf.iterations = t;
    }
    let mut params = cairn_core::format::RepoParams::DEFAULT;
    params.chunk_min = a.chunk_min.unwrap_or(params.chunk_min);
    params.chunk_avg = a.chunk_avg.unwrap_or(params.chunk_avg);
    params.chunk_max = a.chunk_max.unwrap_or(params.chunk_max);
    params.zstd_level = a.zstd_level.unwrap_or(params.zstd_level);
    if let Some(source) = &a.copy_chunker_params {
        params = chunker_params_of(g, a, source, params)?;
    }
    // Before anything is uploaded: every object of the repository is retained.
    if let Some(retention) = retention {
        if Repository::exists_at(&loc.path)? {
            bail!("{}: a repository is there already; nothing was changed", loc.path.display());
        }
        cairn_core::backend::object_lock::set_default_retention(&loc.path, retention)?;
        if !g.quiet && !g.json {
            outln!(
                "Object Lock: every object uploaded to the bucket is retained {} days ({})",
                retention.days,
                retention.mode
            )?;
        }
    }
    let repo = if loc.is_default {
        // The same repository, password file and record as the first
        // `cairn snapshot` would make.
        password::create_default(g, &loc, kdf, params, !a.no_encryption)?
    } else {
        let password = if a.no_encryption { None } else { Some(password::new_password(g)?) };
        let mut opts = password::init_options(password.as_deref().map(str::as_bytes), kdf);
        opts.params = params;
        let repo = Repository::init(&loc.path, &opts)?;
        // Remembered from the start: a repository encrypted here is refused
        // if it later claims not to be (and a new one replaces an old memory).
        if let Some(state) = crate::locations::state_root() {
            repo.remember_in(&state);
        }
        repo
    };
    let shown = cairn_core::backend::shown_location(&loc.path);
    if g.json {
        outln!("{}", serde_json::json!({ "id": repo.id().to_hex(), "path": shown, "encrypted": repo.is_encrypted() }))?;
    } else if !g.quiet {
        let how = if repo.is_encrypted() { "encrypted" } else { "unencrypted" };
        outln!("created {how} repository {} at {}", repo.id().short(), shown.display())?;
    }
    if let Some(p) = profile {
        config::write_profile(&p.file, &p.name, p.keys, a.force)?;
        if !g.quiet && !g.json {
            outln!("wrote the profile `{}` to {}: `cairn run` takes its snapshot", p.name, p.file.display())?;
        }
    }
    Ok(0)
}

/// `--object-lock DAYS[d] --object-lock-mode MODE`.
fn retention_of(days: &str, mode: &str) -> Result<Retention> {
    let days = Retention::parse_days(days).map_err(anyhow::Error::msg)?;
    let Some(mode) = LockMode::parse(mode) else {
        bail!("--object-lock-mode {mode:?}: give governance or compliance");
    };
    Ok(Retention { mode, days })
}

/// `--copy-chunker-params SOURCE`: `params` with the source's chunk sizes
/// and, when encrypted, its blob-id key and chunker seed (sealed in the new
/// repository's parameters; its master key and key file stay its own).
fn chunker_params_of(
    g: &Global,
    a: &InitArgs,
    source: &Path,
    params: cairn_core::format::RepoParams,
) -> Result<cairn_core::format::RepoParams> {
    let from =
        crate::commands::copy::other_global(g, source, a.from_password_file.as_ref(), a.from_password_command.as_ref());
    let src =
        password::open(&from).context("the --copy-chunker-params repository did not open; nothing was created")?;
    let theirs = src.params();
    let params = cairn_core::format::RepoParams {
        chunk_min: theirs.chunk_min,
        chunk_avg: theirs.chunk_avg,
        chunk_max: theirs.chunk_max,
        ..params
    };
    match (src.keys().ids_to_adopt(), a.no_encryption) {
        (Some(_), true) => bail!(
            "{} is encrypted: an unencrypted repository cannot carry its blob-id key (drop --no-encryption)",
            cairn_core::backend::shown_location(source).display()
        ),
        (None, false) => bail!(
            "{} is unencrypted: its blob ids are plain BLAKE3, which an encrypted repository cannot share              (give --no-encryption)",
            cairn_core::backend::shown_location(source).display()
        ),
        (Some(ids), false) => Ok(params.adopting(ids)),
        (None, true) => Ok(params),
    }
}

/// `init --paths` where the repository exists already (the user took
/// snapshots before having a profile): the profile is written once the
/// password it names has opened the repository.
fn profile_for_existing(g: &Global, a: &InitArgs, loc: &password::Location, p: NewProfile) -> Result<u8> {
    let mut check = g.clone();
    check.repo = Some(loc.path.clone());
    if loc.is_default && check.password_file.is_none() && check.password_command.is_none() {
        check.password_file.clone_from(&loc.password_file);
    }
    password::open(&check).context("the existing repository did not open; nothing was written")?;
    config::write_profile(&p.file, &p.name, p.keys, a.force)?;
    if !g.quiet && !g.json {
        outln!(
            "the repository {} exists already; wrote the profile `{}` for it to {}: `cairn run` takes its snapshot",
            cairn_core::backend::shown_location(&loc.path).display(),
            p.name,
            p.file.display()
        )?;
    }
    Ok(0)
}

/// The profile `init --paths` writes.
struct NewProfile {
    file: PathBuf,
    name: String,
    keys: Vec<(&'static str, toml_edit::Value)>,
}

fn plan_profile(g: &Global, a: &InitArgs, loc: &password::Location) -> Result<NewProfile> {
    let name = g.profile.clone().unwrap_or_else(|| config::DEFAULT_PROFILE.to_string());
    crate::state::profile_dir(&name)?;
    let (file, existing) = config::load_all(g)?;
    if existing.contains_key(&name) && !a.force {
        bail!(
            "{} already has a profile `{name}`; give --force to replace it, or --profile NAME for another (nothing was created)",
            file.display()
        );
    }
    let path_text = |p: &Path| -> Result<String> {
        let abs = cairn_core::fs::path::absolute(p)?;
        abs.to_str()
            .map(str::to_string)
            .with_context(|| format!("{}: the profile file needs UTF-8 paths", abs.display()))
    };
    let mut paths = toml_edit::Array::new();
    for p in &a.paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or folder (nothing was created)", p.display());
        }
        paths.push(path_text(p)?);
    }
    // A `rest:` location goes into the profile as given (a URL, not a path).
    let repository = match loc.path.to_str().filter(|r| cairn_core::backend::rest::is_rest(r)) {
        Some(url) => url.to_string(),
        None => path_text(&loc.path)?,
    };
    let mut keys: Vec<(&'static str, toml_edit::Value)> = vec![("repository", repository.into())];
    // A scheduled run has no terminal and none of this shell's variables:
    // the profile must name a password source that it can read alone.
    if !a.no_encryption {
        if let Some(cmd) = &g.password_command {
            keys.push(("password-command", cmd.as_str().into()));
        } else if let Some(file) = &g.password_file {
            keys.push(("password-file", path_text(file)?.into()));
        } else if std::env::var_os("CAIRN_PASSWORD").is_some() {
            bail!(
                "the password comes from CAIRN_PASSWORD, which a scheduled `cairn run` cannot read: give --password-file FILE or --password-command CMD instead (nothing was created)"
            );
        } else if loc.is_default {
            let file = loc.password_file.clone().map_or_else(crate::locations::default_password_file, Ok)?;
            keys.push(("password-file", path_text(&file)?.into()));
        } else {
            bail!(
                "a scheduled `cairn run` cannot type a password: give --password-file FILE or --password-command CMD (nothing was created)"
            );
        }
    }
    keys.push(("paths", toml_edit::Value::Array(paths)));
    Ok(NewProfile { file, name, keys })
}
