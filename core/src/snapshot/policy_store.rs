//! The repository's forget policy: `policy/<id>`, a sealed, content-named
//! object (format-spec §10.1), so that every machine sharing the repository
//! applies the same rules. Setting one creates a new file and only then
//! removes the ones it replaces; if several exist (two machines set it at
//! once, or a run was killed in between), the newest by `(time, id)` wins.

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::retention::{KeepRules, PolicyFile};
use crate::format::{FORMAT_VERSION, MAX_POLICY_FILE_LEN, check_version};
use crate::id::Id;
use crate::repo::{Repository, now_timestamp};

/// Where the rules `forget` applies came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// Stored in the repository by `policy set`.
    Stored { id: Id, file: Box<PolicyFile> },
    /// None stored: the built-in default.
    Default,
}

/// The repository's policy: the newest readable policy file, or the
/// default when there is none. A policy file that cannot be read is an
/// error, not a silent fall-back to other rules: it may be the newest.
pub fn load(repo: &Repository) -> Result<(KeepRules, PolicySource)> {
    let mut newest: Option<(Id, PolicyFile)> = None;
    for (id, size) in repo.backend().list(FileKind::Policy)? {
        let file = read(repo, &id, size)?;
        if newest.as_ref().is_none_or(|(nid, n)| (file.time, id) > (n.time, *nid)) {
            newest = Some((id, file));
        }
    }
    Ok(match newest {
        Some((id, file)) => (file.rules.clone(), PolicySource::Stored { id, file: Box::new(file) }),
        None => (KeepRules::repository_default(), PolicySource::Default),
    })
}

/// Stores `rules` as the repository's policy and removes the files it
/// replaces (those present before it was written), once it is durable.
pub fn store(repo: &Repository, rules: &KeepRules, host: &str, user: &str) -> Result<Id> {
    // An append-only server refuses new policies (its forget obeys them) and
    // the removal of the old ones: say so before writing anything.
    repo.refuse_if_append_only()?;
    if rules.is_empty() {
        return Err(Error::InvalidArgument(String::from(
            "an empty policy keeps nothing; give at least one --keep-* rule",
        )));
    }
    let replaced = repo.backend().list(FileKind::Policy)?;
    let file = PolicyFile {
        version: FORMAT_VERSION,
        time: now_timestamp(),
        host: host.to_string(),
        user: user.to_string(),
        rules: rules.clone(),
    };
    let bytes = codec::encode(repo.keys(), ObjectKind::Policy, &file, 3)?;
    let id = repo.backend().write(FileKind::Policy, &bytes)?;
    for (old, _) in replaced.into_iter().filter(|(old, _)| *old != id) {
        repo.backend().remove(FileKind::Policy, &old)?;
    }
    Ok(id)
}

fn read(repo: &Repository, id: &Id, size: u64) -> Result<PolicyFile> {
    let what = || format!("policy {id}");
    if size > MAX_POLICY_FILE_LEN {
        return Err(Error::corrupt(what(), format!("{size} bytes, more than a policy holds")));
    }
    let bytes = repo.read_verified(FileKind::Policy, id)?;
    let file: PolicyFile =
        codec::decode(repo.keys(), ObjectKind::Policy, &bytes).map_err(|e| Error::corrupt(what(), e))?;
    check_version("policy", file.version)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Timestamp;
    use crate::test_fixtures;

    fn plant(repo: &Repository, rules: KeepRules, unix_seconds: i64) -> Id {
        let time = Timestamp { unix_seconds, nanos: 0, offset_seconds: 0 };
        let file = PolicyFile { version: 1, time, host: "h".into(), user: "u".into(), rules };
        let bytes = codec::encode(repo.keys(), ObjectKind::Policy, &file, 3).unwrap();
        repo.backend().write(FileKind::Policy, &bytes).unwrap()
    }

    #[test]
    fn the_default_applies_until_a_policy_is_set_then_the_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
        assert_eq!(load(&repo).unwrap(), (KeepRules::repository_default(), PolicySource::Default));

        // Two policies left side by side (two machines setting at once):
        // the newer time wins whatever the file names.
        let last = |n| KeepRules { last: n, ..KeepRules::default() };
        plant(&repo, last(1), 2_000_000_000);
        plant(&repo, last(2), 1_000_000_000);
        assert_eq!(load(&repo).unwrap().0, last(1));

        // Setting one removes those present before, once it is written.
        let id = store(&repo, &last(3), "h", "u").unwrap();
        assert_eq!(repo.backend().list(FileKind::Policy).unwrap().iter().map(|(i, _)| *i).collect::<Vec<_>>(), [id]);
        assert_eq!(load(&repo).unwrap().0, last(3));
        assert!(store(&repo, &KeepRules::default(), "h", "u").is_err(), "an empty policy is refused");
    }

    #[test]
    fn a_damaged_policy_is_an_error_not_a_silent_default() {
        let dir = tempfile::tempdir().unwrap();
        let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
        let id = store(&repo, &KeepRules::repository_default(), "h", "u").unwrap();
        let path = repo.backend().local_path(FileKind::Policy, &id).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[30] ^= 1;
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(load(&repo).is_err());
    }
}
