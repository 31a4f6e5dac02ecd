//! Where things live by default and who is taking the snapshot: the default
//! repository (XDG data folder), its generated password file (XDG config
//! folder), the cache folder, the host name and the user name. These are
//! the command line's conventions; core takes every location as an argument.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

fn home() -> Result<PathBuf> {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h)),
        None => bail!("HOME is not set; give --repo"),
    }
}

fn xdg(var: &str, fallback: &str) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(p) if p.is_absolute() => Ok(p),
        _ => Ok(home()?.join(fallback)),
    }
}

/// `$XDG_DATA_HOME/cairn/repo`, by default `~/.local/share/cairn/repo`.
pub fn default_repository() -> Result<PathBuf> {
    Ok(xdg("XDG_DATA_HOME", ".local/share")?.join("cairn").join("repo"))
}

/// `$XDG_CONFIG_HOME/cairn/password`, by default `~/.config/cairn/password`.
pub fn default_password_file() -> Result<PathBuf> {
    Ok(config_dir()?.join("password"))
}

/// `$XDG_CONFIG_HOME/cairn`, by default `~/.config/cairn`.
pub fn config_dir() -> Result<PathBuf> {
    Ok(xdg("XDG_CONFIG_HOME", ".config")?.join("cairn"))
}

/// `~/.config/cairn` whatever `XDG_CONFIG_HOME` says: where a run without
/// that variable (cron) looks.
pub fn home_config_dir() -> Result<PathBuf> {
    Ok(home()?.join(".config").join("cairn"))
}

/// `$XDG_CACHE_HOME/cairn`, by default `~/.cache/cairn`; `None` without a home.
pub fn cache_root() -> Option<PathBuf> {
    xdg("XDG_CACHE_HOME", ".cache").ok().map(|p| p.join("cairn"))
}

/// `$XDG_STATE_HOME/cairn`, by default `~/.local/state/cairn`: what this
/// machine remembers of repositories (that one was encrypted, the key file
/// that opened it last). Not the cache: deleting it loses the protection
/// against a repository's encryption being removed. `None` without a home.
pub fn state_root() -> Option<PathBuf> {
    xdg("XDG_STATE_HOME", ".local/state").ok().map(|p| p.join("cairn"))
}

pub fn hostname() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() { "localhost".into() } else { name }
}

pub fn username() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid{}", rustix::process::getuid().as_raw()))
}

/// Writes a new random password (base64-like, 43 characters) to `path`
/// with mode 0600, creating its folder. Refuses to replace an existing file.
/// This file is the only copy of the key most users have: it is written
/// under a temporary name, synced, linked to its final name (which fails if
/// that exists) and its folder synced, so a crash leaves it whole or absent.
pub fn create_password_file(path: &Path) -> Result<String> {
    let password = random_password()?;
    let dir = path.parent().context("the password file needs a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let temp = cairn_core::backend::temp_path_in(dir)
        .with_context(|| format!("could not name a file in {}", dir.display()))?;
    let written = write_synced(&temp, format!("{password}\n").as_bytes())
        .and_then(|()| std::fs::hard_link(&temp, path))
        .and_then(|()| std::fs::File::open(dir)?.sync_all());
    let _ = std::fs::remove_file(&temp);
    written.with_context(|| format!("could not create the password file {}", path.display()))?;
    Ok(password)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// 32 random bytes as 43 characters of 6 bits each (256 bits of entropy).
pub fn random_password() -> Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: [u8; 32] = cairn_core::format::crypto::random_bytes()?;
    let mut password = String::with_capacity(43);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            password.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        password.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_is_whole_private_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/cairn/password");
        let password = create_password_file(&path).unwrap();
        assert_eq!(password.len(), 43);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{password}\n"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A second one never replaces the first, and leaves no temporary behind.
        assert!(create_password_file(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{password}\n"));
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["password"]);
        assert_ne!(random_password().unwrap(), password);
    }
}
