//! What an append-only server still lets a client delete: a lock (a cairn
//! run marker, a restic lock) that the same principal created through this
//! server process. Locks are short-lived and the concurrency protocols of
//! both tools must remove them; nothing else is ever removed.
//!
//! The record is in memory only: after a restart the server no longer knows
//! who created an older lock, and refuses to delete it (a stale lock blocks
//! nothing of a writer's; the server's own maintenance removes it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_core::id::Id;

use crate::auth::Principal;

#[derive(Debug, Default)]
pub struct LockOwners {
    owners: Mutex<HashMap<(PathBuf, Id), Principal>>,
}

impl LockOwners {
    /// Records that `who` created lock `id` in the repository at `repo`.
    pub fn created(&self, repo: &Path, id: Id, who: &Principal) {
        self.lock().insert((repo.to_path_buf(), id), who.clone());
    }

    /// Whether `who` created lock `id` of `repo` through this process.
    pub fn owned_by(&self, repo: &Path, id: Id, who: &Principal) -> bool {
        self.lock().get(&(repo.to_path_buf(), id)) == Some(who)
    }

    pub fn removed(&self, repo: &Path, id: Id) {
        self.lock().remove(&(repo.to_path_buf(), id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, Id), Principal>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_creator_owns_a_lock() {
        let owners = LockOwners::default();
        let (alice, bob) = (Principal::User("alice".into()), Principal::User("bob".into()));
        let repo = Path::new("/srv/r");
        owners.created(repo, Id([1; 32]), &alice);
        assert!(owners.owned_by(repo, Id([1; 32]), &alice));
        assert!(!owners.owned_by(repo, Id([1; 32]), &bob));
        assert!(!owners.owned_by(Path::new("/srv/other"), Id([1; 32]), &alice));
        assert!(!owners.owned_by(repo, Id([2; 32]), &alice));
        owners.removed(repo, Id([1; 32]));
        assert!(!owners.owned_by(repo, Id([1; 32]), &alice));
    }
}
