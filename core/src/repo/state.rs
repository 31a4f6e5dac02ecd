//! What this machine remembers about the repositories it opens, in a folder
//! the caller chooses (the CLI: `$XDG_STATE_HOME/cairn`, never inside a
//! repository):
//!
//! - that a repository was encrypted, so that a storage attacker who
//!   rewrites its `config` as unencrypted and deletes its keys cannot make
//!   the next snapshot be written in clear (format-spec.md §2.2, R4);
//! - which key file opened it last, tried first next time (§3).
//!
//! Layout: `repos/<repository id>` holds the lines `encrypted` and
//! `key <key file id>`; `locations/<BLAKE3 of the canonical path>` holds
//! the id of the repository last opened there, so that a rewritten config
//! that also changes the repository id is caught too. Files are written
//! under a temporary name, synced and renamed. Keeping state is best effort:
//! a state that cannot be written only loses protection later, never fails
//! the command that is running. Not a cache: deleting it loses exactly
//! this protection, so it lives apart from the cache folder.

use std::path::{Path, PathBuf};

use crate::id::Id;

/// The local memory of repositories (see the module's comment).
#[derive(Clone, Debug)]
pub struct LocalState {
    root: PathBuf,
}

/// What is remembered of one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remembered {
    pub encrypted: bool,
    /// The key file that opened it last.
    pub last_key: Option<Id>,
}

impl Remembered {
    fn to_text(&self) -> String {
        let mut text = String::new();
        if self.encrypted {
            text.push_str("encrypted\n");
        }
        if let Some(key) = &self.last_key {
            text.push_str(&format!("key {}\n", key.to_hex()));
        }
        text
    }

    /// Unknown lines are skipped, so that a later cairn may add some.
    fn from_text(text: &str) -> Remembered {
        let mut remembered = Remembered::default();
        for line in text.lines() {
            if line == "encrypted" {
                remembered.encrypted = true;
            } else if let Some(hex) = line.strip_prefix("key ") {
                remembered.last_key = Id::from_hex(hex).ok();
            }
        }
        remembered
    }
}

/// Local state files are a few lines; a larger one is not ours.
const MAX_STATE_FILE_LEN: u64 = 4096;

impl LocalState {
    pub fn new(root: &Path) -> LocalState {
        LocalState { root: root.to_path_buf() }
    }

    fn repo_file(&self, id: &Id) -> PathBuf {
        self.root.join("repos").join(id.to_hex())
    }

    fn location_file(&self, location: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        // The same repository named by another path (relative, through a
        // link) is the same place.
        let canonical = std::fs::canonicalize(location).unwrap_or_else(|_| location.to_path_buf());
        let key = blake3::hash(canonical.as_os_str().as_bytes());
        self.root.join("locations").join(key.to_hex().as_str())
    }

    fn read_small(path: &Path) -> Option<String> {
        use std::io::Read;
        let file = std::fs::File::open(path).ok()?;
        let mut text = String::new();
        file.take(MAX_STATE_FILE_LEN).read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// What is remembered of repository `id` (nothing if never seen).
    pub fn repository(&self, id: &Id) -> Remembered {
        Self::read_small(&self.repo_file(id)).map(|t| Remembered::from_text(&t)).unwrap_or_default()
    }

    /// The repository last opened at `location`, if any.
    pub fn repository_at(&self, location: &Path) -> Option<Id> {
        Id::from_hex(Self::read_small(&self.location_file(location))?.trim()).ok()
    }

    /// Whether repository `id`, or the repository last opened at
    /// `location` (whatever the config there says its id is now), was
    /// encrypted when this machine opened it.
    pub fn was_encrypted(&self, id: &Id, location: &Path) -> bool {
        self.repository(id).encrypted
            || self.repository_at(location).is_some_and(|other| self.repository(&other).encrypted)
    }

    /// Remembers repository `id` at `location` (best effort; writes only
    /// what changed, so that opening costs no write in the common case).
    pub fn remember(&self, id: &Id, location: &Path, remembered: &Remembered) {
        if self.repository(id) != *remembered {
            let _ = write(&self.repo_file(id), remembered.to_text().as_bytes());
        }
        if self.repository_at(location) != Some(*id) {
            let _ = write(&self.location_file(location), format!("{}\n", id.to_hex()).as_bytes());
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> crate::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    crate::backend::write_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_encryption_and_the_last_key_by_id_and_location() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(&dir.path().join("state"));
        let (repo, other, key) = (Id([1; 32]), Id([2; 32]), Id([3; 32]));
        let location = dir.path().join("repo");
        assert_eq!(state.repository(&repo), Remembered::default());
        assert!(!state.was_encrypted(&repo, &location));
        let seen = Remembered { encrypted: true, last_key: Some(key) };
        state.remember(&repo, &location, &seen);
        assert_eq!(state.repository(&repo), seen);
        assert!(state.was_encrypted(&repo, &location));
        // A config rewritten with another id, at the same place.
        assert!(state.was_encrypted(&other, &location));
        assert!(!state.was_encrypted(&other, &dir.path().join("elsewhere")));
        // A repository made unencrypted on purpose where one was: `init` remembers it.
        state.remember(&other, &location, &Remembered::default());
        assert!(!state.was_encrypted(&other, &location));
    }

    #[test]
    fn a_garbled_or_huge_state_file_counts_as_nothing_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path());
        let id = Id([1; 32]);
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        std::fs::write(state.repo_file(&id), "key nothex\nfuture line\n").unwrap();
        assert_eq!(state.repository(&id), Remembered::default());
        std::fs::write(state.repo_file(&id), "encrypted\n".repeat(10_000)).unwrap();
        assert!(state.repository(&id).encrypted, "read within the bound");
    }
}
