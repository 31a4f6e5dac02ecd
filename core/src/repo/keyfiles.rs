//! Key files (`keys/<id>`, format-spec.md §3): sealing the master key
//! under a password at `init`, and opening it again: which key files are
//! tried, in which order, and within which bounds.

use std::path::Path;

use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

use super::{InitOptions, now_timestamp, read_verified_from};
use crate::backend::{Backend, FileKind};
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::{self, Keys};
use crate::format::{
    ConfigFile, FORMAT_VERSION, KEY_MAGIC, KeyFile, MAX_KDF_COST_TOTAL, MAX_KEY_FILES_TRIED, RepoParams, check_version,
};
use crate::id::Id;

pub(super) fn seal_master_key(
    master: &[u8; 32],
    password: &[u8],
    repo_id: &Id,
    opts: &InitOptions<'_>,
) -> Result<KeyFile> {
    let salt: [u8; 32] = crypto::random_bytes()?;
    let kek = opts.kdf.derive(password, &salt)?;
    let sealed = crypto::seal_with(&crypto::cipher_from(&kek), &repo_id.0, master)?;
    Ok(KeyFile {
        magic: KEY_MAGIC,
        version: FORMAT_VERSION,
        kdf: opts.kdf,
        salt,
        sealed_master: ByteBuf::from(sealed),
        created: now_timestamp(),
        host: opts.host.clone(),
        user: opts.user.clone(),
    })
}

/// Reads and verifies one key file: its name, magic, version and KDF
/// bounds. The one check for opening a repository and for `check`.
pub fn read_key_file(backend: &dyn Backend, id: &Id) -> Result<KeyFile> {
    read_key_file_listed(backend, id, None)
}

/// [`read_key_file`] of a file listed with `listed_size` bytes.
pub fn read_key_file_listed(backend: &dyn Backend, id: &Id, listed_size: Option<u64>) -> Result<KeyFile> {
    let bytes = read_verified_from(backend, FileKind::Key, id, listed_size)?;
    let key = codec::from_postcard::<KeyFile>(&bytes, "key file")?;
    if key.magic != KEY_MAGIC {
        return Err(Error::corrupt("key file", "bad magic"));
    }
    check_version("key file", key.version)?;
    key.kdf.validate()?;
    Ok(key)
}

/// The key files `open` tries, in order: the one that opened the
/// repository last time on this machine first (one KDF run for the usual
/// case, whatever else is in `keys/`), then the others by id.
pub(super) fn keys_to_try(listing: &[(Id, u64)], last: Option<&Id>) -> Vec<(Id, u64)> {
    let mut order: Vec<(Id, u64)> = listing.iter().filter(|(id, _)| Some(id) == last).copied().collect();
    order.extend(listing.iter().filter(|(id, _)| Some(id) != last).copied());
    order
}

/// Opens the master key with the first key file in `key_files` that the
/// password opens, and names that file. At most [`MAX_KEY_FILES_TRIED`]
/// files are tried, and key derivation stops once their total cost would
/// pass [`MAX_KDF_COST_TOTAL`]: planted key files delay `open` by a bounded
/// amount, never indefinitely.
pub(super) fn open_master_key(
    backend: &dyn Backend,
    location: &Path,
    key_files: &[(Id, u64)],
    password: &[u8],
    config: &ConfigFile,
) -> Result<(Keys, Id)> {
    let repo_id = &config.repo_id;
    let mut damaged = Vec::new();
    let mut wrong = Vec::new();
    let mut kdf_spent = 0u64;
    let tried = &key_files[..key_files.len().min(MAX_KEY_FILES_TRIED)];
    for (id, size) in tried {
        let key = match read_key_file_listed(backend, id, Some(*size)) {
            Ok(key) => key,
            Err(e) => {
                damaged.push(format!("keys/{id}: {e}"));
                continue;
            }
        };
        let cost = key.kdf.cost();
        if kdf_spent.saturating_add(cost) > MAX_KDF_COST_TOTAL {
            damaged.push(format!(
                "keys/{id}: not tried: its key derivation would pass the total cost cairn spends on opening ({MAX_KDF_COST_TOTAL} KiB-passes)"
            ));
            continue;
        }
        kdf_spent += cost;
        let kek = match key.kdf.derive(password, &key.salt) {
            Ok(kek) => kek,
            Err(e) => {
                damaged.push(format!("keys/{id}: {e}"));
                continue;
            }
        };
        // The opened master key is wiped once the subkeys are derived.
        if let Some(master) =
            crypto::open_with(&crypto::cipher_from(&kek), &repo_id.0, &key.sealed_master).map(Zeroizing::new)
            && let Ok(master) = <&[u8; 32]>::try_from(master.as_slice())
        {
            return Ok((Keys::from_master(master), *id));
        }
        wrong.push((kek, key.sealed_master));
    }
    if wrong.iter().any(|(kek, sealed)| password_opens_params(kek, sealed, config)) {
        return Err(Error::corrupt(
            "config",
            "its repository id is damaged (the password is right: with it, the config's own parameters \
             authenticate); restore the config from a copy",
        ));
    }
    let untried = key_files.len() - tried.len();
    if untried > 0 {
        return Err(Error::corrupt(
            "keys",
            format!(
                "none of the {} key files tried opens with this password, and {untried} more were not tried \
                 (cairn tries at most {MAX_KEY_FILES_TRIED}; remove key files you did not make)",
                tried.len()
            ),
        ));
    }
    if key_files.is_empty() || damaged.len() == key_files.len() {
        return Err(Error::corrupt("keys", format!("no usable key file ({})", damaged.join("; "))));
    }
    Err(Error::WrongPassword(location.join("keys")))
}

/// Whether `kek` (from the password) unlocks `sealed` as a master key that
/// authenticates the config's parameters, with no regard to the key file's
/// associated data (the repository id). When the key does not open but this
/// holds, the password is right and the config's repository id is damaged.
fn password_opens_params(kek: &[u8; 32], sealed: &[u8], config: &ConfigFile) -> bool {
    let Some(candidate) = crypto::decrypt_unverified(kek, sealed) else { return false };
    let Ok(master) = <&[u8; 32]>::try_from(candidate.as_slice()) else { return false };
    codec::decode::<RepoParams>(&Keys::from_master(master), ObjectKind::Config, &config.params).is_ok()
}
