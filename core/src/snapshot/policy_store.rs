//! The repository's forget policy: `policy/<id>`, a sealed, content-named
//! object (format-spec §10.1), so that every machine sharing the repository
//! applies the same rules. Setting one creates a new file and only then
//! removes the ones it replaces; if several exist (two machines set it at
//! once, or a run was killed in between), the newest by `(time, id)` wins.

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::retention::{KeepRules, PolicyFile};
use crate::format::{FORMAT_VERSION, check_version};
use crate::id::Id;
use crate::repo::{Repository, now_timestamp};

/// A policy file is small; a larger one is not read.
const MAX_POLICY_FILE: u64 = 1 << 20;

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
    if size > MAX_POLICY_FILE {
        return Err(Error::corrupt(what(), format!("{size} bytes, more than a policy holds")));
    }
    let bytes = repo.read_verified(FileKind::Policy, id)?;
    let file: PolicyFile =
        codec::decode(repo.keys(), ObjectKind::Policy, &bytes).map_err(|e| Error::corrupt(what(), e))?;
    check_version("policy", file.version)?;
    Ok(file)
}
