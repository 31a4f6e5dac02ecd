//! Writing a whole file so that a crash leaves the old one or the new one,
//! never half of either: a temporary file in the same folder, synced,
//! renamed over the name, and the folder synced. Used for the files cairn
//! writes outside a repository (systemd units, man pages).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces (or creates) `path` with `bytes`, creating its folder.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let temp = cairn_core::backend::temp_path_in(dir)
        .with_context(|| format!("could not name a file in {}", dir.display()))?;
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("could not write {}", path.display()))
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
