//! Writing a whole file so that a crash leaves the old one or the new one,
//! never half of either: a temporary file in the same folder, synced,
//! renamed over the name, and the folder synced. Used for every file cairn
//! writes outside a repository: the default-repository record, profiles,
//! run state, the password file's replacement, systemd units, man pages.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces (or creates) `path` with `bytes`, readable as the umask allows
/// (units, man pages), creating its folder.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, 0o666).with_context(|| format!("could not write {}", path.display()))
}

/// Replaces (or creates) `path` with `bytes`, mode 0600 (records, profiles,
/// state, passwords), creating its folder.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, 0o600)
}

fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = cairn_core::backend::temp_path_in(dir)?;
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Removes `path` if it exists (and syncs its folder); true if it did.
pub fn remove(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("could not remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replacing_leaves_only_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file");
        super::replace_private(&path, b"one").unwrap();
        super::replace_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
    }
}
