//! Where things live by default and who is taking the snapshot: the default
//! repository (XDG data folder), its generated password file (XDG config
//! folder), the host name and the user name.

use std::path::PathBuf;

use crate::error::{Error, Result};

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Error::InvalidArgument("HOME is not set; give --repo".into()))
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
    Ok(xdg("XDG_CONFIG_HOME", ".config")?.join("cairn").join("password"))
}

/// `$XDG_CACHE_HOME/cairn`, by default `~/.cache/cairn`; `None` without a home.
pub fn cache_root() -> Option<PathBuf> {
    xdg("XDG_CACHE_HOME", ".cache").ok().map(|p| p.join("cairn"))
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
pub fn create_password_file(path: &std::path::Path) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: [u8; 32] = crate::format::crypto::random_bytes()?;
    // 32 random bytes → 43 characters of 6 bits (256 bits of entropy).
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
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(password.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok(password)
}
