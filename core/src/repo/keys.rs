//! Changing the password (`cairn key passwd`) in two steps, so that a
//! crash at any point leaves a password that opens the repository:
//!
//! 1. [`add_key`]: the master key, opened with the old password, is sealed
//!    under the new one in a **new** key file, durable when it returns.
//!    Both passwords open the repository from here on.
//! 2. (the caller updates wherever it keeps the password)
//! 3. [`remove_old_key`]: the new key file is read back and opened with the
//!    new password; only then is the old key file removed.
//!
//! A crash between 1 and 3 leaves both key files: the old and the new
//! password both work, and running the change again finishes it.

use zeroize::Zeroizing;

use super::{InitOptions, Repository, read_key_file, seal_master_key};
use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::RepoParams;
use crate::format::crypto::{self, Keys};
use crate::id::Id;

/// The key files of one password change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The key file the old password opened (removed by step 3).
    pub old_key: Id,
    /// The key file sealing the master key under the new password.
    pub new_key: Id,
}

/// Step 1: writes a key file sealing the master key under `new_password`,
/// with the KDF parameters of the key file `old_password` opens (the cost
/// chosen at `init` stays). `host` and `user` are recorded in it.
pub fn add_key(
    repo: &Repository,
    old_password: &[u8],
    new_password: &[u8],
    host: &str,
    user: &str,
) -> Result<KeyChange> {
    if !repo.is_encrypted() {
        return Err(Error::InvalidArgument(format!("{} is not encrypted: it has no password", repo.path().display())));
    }
    if new_password.is_empty() {
        return Err(Error::EmptyPassword);
    }
    let (old_key, kdf, master) = open_any(repo, old_password)?;
    let opts = InitOptions {
        password: Some(new_password),
        kdf,
        params: RepoParams::DEFAULT,
        host: host.to_string(),
        user: user.to_string(),
    };
    let key_file = seal_master_key(&master, new_password, &repo.id(), &opts)?;
    // `write` is a create: durable under its final name when it returns.
    let new_key = repo.backend().write(FileKind::Key, &crate::format::codec::to_postcard(&key_file)?)?;
    crate::testhook::reached(crate::testhook::Point::KeyAdded, None);
    Ok(KeyChange { old_key, new_key })
}

/// Step 3: checks that the new key file opens with `new_password` to this
/// repository's keys, then removes the old key file.
pub fn remove_old_key(repo: &Repository, change: &KeyChange, new_password: &[u8]) -> Result<()> {
    repo.refuse_if_append_only()?;
    let key = read_key_file(repo.backend(), &change.new_key)?;
    let kek = key.kdf.derive(new_password, &key.salt)?;
    let master = crypto::open_with(&crypto::cipher_from(&kek), &repo.id().0, &key.sealed_master)
        .map(Zeroizing::new)
        .ok_or_else(|| Error::corrupt(format!("key file {}", change.new_key), "does not open with the new password"))?;
    let master = <&[u8; 32]>::try_from(master.as_slice())
        .map_err(|_| Error::corrupt(format!("key file {}", change.new_key), "its master key is not 32 bytes"))?;
    // Same master key: the same keyed id for the same bytes.
    let probe = b"cairn key passwd probe";
    let new_keys = match &repo.params().adopted {
        Some(adopted) => Keys::from_master(master).adopting(adopted),
        None => Keys::from_master(master),
    };
    if new_keys.blob_id(probe) != repo.keys().blob_id(probe) {
        return Err(Error::corrupt(format!("key file {}", change.new_key), "holds another master key"));
    }
    if change.old_key != change.new_key {
        repo.backend().remove(FileKind::Key, &change.old_key)?;
    }
    Ok(())
}

/// The first key file (in id order, as opening does) that `password`
/// opens: its id, KDF parameters and the master key.
fn open_any(repo: &Repository, password: &[u8]) -> Result<(Id, crypto::KdfParams, Zeroizing<[u8; 32]>)> {
    for (id, _) in repo.backend().list(FileKind::Key)? {
        // Damaged key files are skipped, as when opening.
        let Ok(key) = read_key_file(repo.backend(), &id) else { continue };
        let Ok(kek) = key.kdf.derive(password, &key.salt) else { continue };
        if let Some(master) =
            crypto::open_with(&crypto::cipher_from(&kek), &repo.id().0, &key.sealed_master).map(Zeroizing::new)
            && let Ok(master) = <[u8; 32]>::try_from(master.as_slice())
        {
            return Ok((id, key.kdf, Zeroizing::new(master)));
        }
    }
    Err(Error::WrongPassword(repo.path().join("keys")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend as _;
    use crate::backend::memory::MemoryBackend;
    use crate::format::crypto::KdfParams;
    use std::sync::Arc;

    fn new_repo(password: &[u8]) -> (Arc<MemoryBackend>, Repository) {
        let backend = Arc::new(MemoryBackend::new());
        let opts = InitOptions {
            password: Some(password),
            kdf: KdfParams::INSECURE_FOR_TESTS,
            params: RepoParams::DEFAULT,
            host: "h".into(),
            user: "u".into(),
        };
        let repo = Repository::init_with_backend(backend.clone(), &opts).unwrap();
        (backend, repo)
    }

    #[test]
    fn both_passwords_work_between_the_steps_and_only_the_new_one_after() {
        let (backend, repo) = new_repo(b"old");
        let change = add_key(&repo, b"old", b"new", "h", "u").unwrap();
        assert_ne!(change.old_key, change.new_key);
        for pw in [&b"old"[..], b"new"] {
            let opened = Repository::open_with_backend(backend.clone(), Some(pw), None).unwrap();
            assert_eq!(opened.keys().blob_id(b"x"), repo.keys().blob_id(b"x"));
        }
        remove_old_key(&repo, &change, b"new").unwrap();
        assert!(matches!(
            Repository::open_with_backend(backend.clone(), Some(b"old"), None),
            Err(Error::WrongPassword(_))
        ));
        Repository::open_with_backend(backend.clone(), Some(b"new"), None).unwrap();
        assert_eq!(backend.list(FileKind::Key).unwrap().len(), 1);
    }

    #[test]
    fn a_wrong_old_password_or_an_empty_new_one_changes_nothing() {
        let (backend, repo) = new_repo(b"old");
        assert!(matches!(add_key(&repo, b"nope", b"new", "h", "u"), Err(Error::WrongPassword(_))));
        assert!(matches!(add_key(&repo, b"old", b"", "h", "u"), Err(Error::EmptyPassword)));
        assert_eq!(backend.list(FileKind::Key).unwrap().len(), 1);
    }

    #[test]
    fn the_old_key_stays_when_the_new_one_does_not_open() {
        let (backend, repo) = new_repo(b"old");
        let change = add_key(&repo, b"old", b"new", "h", "u").unwrap();
        assert!(remove_old_key(&repo, &change, b"other").is_err());
        assert_eq!(backend.list(FileKind::Key).unwrap().len(), 2);
    }
}
