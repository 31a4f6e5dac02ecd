//! cairn's own files, which no snapshot should hold: the repository (when
//! it is a local folder), the local cache and the password file. Backing
//! them up would store the repository inside itself, waste space on a
//! cache, and put the key's only copy where only that key can open it.

use std::path::{Path, PathBuf};

use crate::args::Global;
use crate::{locations, password};

/// Each of cairn's own files that exists, as an absolute path and, when it
/// differs, with symlinks resolved (the walk may meet either form).
pub fn own_paths(g: &Global) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(loc) = password::location(g)
        && loc.path.is_dir()
    {
        candidates.push(loc.path);
    }
    candidates.extend(locations::cache_root());
    candidates.extend(locations::default_password_file().ok());
    candidates.extend(g.password_file.clone());
    let mut paths = Vec::new();
    for c in candidates.iter().filter(|c| c.symlink_metadata().is_ok()) {
        paths.extend(forms(c));
    }
    paths.sort();
    paths.dedup();
    paths
}

fn forms(path: &Path) -> Vec<PathBuf> {
    let mut forms = Vec::new();
    forms.extend(cairn_core::fs::path::absolute(path).ok());
    forms.extend(std::fs::canonicalize(path).ok());
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_a_symlinked_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = real.parent().unwrap().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(forms(&link), vec![link.clone(), real.clone()]);
    }
}
