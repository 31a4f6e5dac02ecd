//! The config file: reading it (bounded, then checked), the repository
//! format version, and the upgrade from version 1 to 2 (format-spec §12),
//! which re-seals the parameters with the same master key and replaces the
//! config atomically, the one file cairn ever replaces.

use std::path::Path;
use std::sync::atomic::Ordering;

use serde_bytes::ByteBuf;

use super::Repository;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::Keys;
use crate::format::{
    CONFIG_MAGIC, ConfigFile, FEATURE_DELETION_PROTOCOL, MAX_CONFIG_FILE_LEN, OLDEST_REPO_VERSION, REPO_VERSION,
    RepoParams, is_cairn_config,
};

pub(super) fn read_config(backend: &dyn Backend, location: &Path) -> Result<ConfigFile> {
    let bytes = match backend.read_config() {
        Err(e) if e.is_not_found() => return Err(Error::NotARepository(location.to_path_buf())),
        other => other?,
    };
    // The local backend reads at most one byte more than the bound.
    if bytes.len() as u64 > MAX_CONFIG_FILE_LEN {
        return Err(Error::corrupt(
            "config",
            format!("larger than any valid config ({MAX_CONFIG_FILE_LEN} bytes at most); not read"),
        ));
    }
    // The magic first: another tool's config (restic's) is not a damaged
    // cairn config, and "damaged" would send its user to repair. A magic one
    // or two bytes off is damage (a flipped byte), not another tool.
    if !is_cairn_config(&bytes) {
        return Err(Error::ForeignRepository(location.to_path_buf()));
    }
    let config: ConfigFile = codec::from_postcard(&bytes, "config")?;
    if config.magic != CONFIG_MAGIC {
        return Err(Error::corrupt("config", "not a cairn repository config"));
    }
    // "config" in the name: a damaged byte here reads as a newer version.
    if config.version < OLDEST_REPO_VERSION || config.version > REPO_VERSION {
        return Err(Error::UnsupportedVersion {
            what: "repository config",
            found: config.version,
            supported: REPO_VERSION,
        });
    }
    Ok(config)
}

/// Opens the sealed parameters of `config` and checks them against it: the
/// authenticated version is the one that counts, and the config's plain
/// copy of it must agree (a mismatch is a damaged or tampered config).
pub(super) fn open_params(keys: &Keys, config: &ConfigFile) -> Result<RepoParams> {
    let raw = codec::open_bytes(keys, ObjectKind::Config, &config.params, ObjectKind::Config.max_plaintext()).map_err(
        |e| match e {
            Error::Corrupt { detail, .. } => Error::corrupt("config", detail),
            other => other,
        },
    )?;
    let params = RepoParams::decode(&raw)?;
    if params.version != config.version {
        return Err(Error::corrupt(
            "config",
            format!(
                "it says format version {} but its authenticated parameters say {}",
                config.version, params.version
            ),
        ));
    }
    params.validate()?;
    Ok(params)
}

/// The config of a repository with these parameters.
pub(super) fn seal_config(keys: &Keys, repo_id: crate::id::Id, params: &RepoParams) -> Result<Vec<u8>> {
    let sealed = codec::encode(keys, ObjectKind::Config, params, 3)?;
    let config = ConfigFile {
        magic: CONFIG_MAGIC,
        version: params.version,
        repo_id,
        encrypted: keys.is_encrypted(),
        params: ByteBuf::from(sealed),
    };
    codec::to_postcard(&config)
}

impl Repository {
    /// The repository format version (1 or 2; see format-spec §12).
    pub fn format_version(&self) -> u32 {
        self.format_version.load(Ordering::SeqCst)
    }

    /// Whether prune may delete here: version 2 with the deletion protocol.
    pub fn follows_deletion_protocol(&self) -> bool {
        self.format_version() >= 2 && self.params.upgraded().features & FEATURE_DELETION_PROTOCOL != 0
    }

    /// Upgrades a version-1 repository to version 2 (before prune deletes
    /// anything): the parameters re-sealed as version 2 with the deletion
    /// protocol, with the same master key, repository id and everything
    /// else; the config replaced atomically. Returns whether it upgraded
    /// (false: it already was version 2). The config is read again first,
    /// so an upgrade made meanwhile by another run is not repeated.
    pub fn upgrade_format(&self) -> Result<bool> {
        let current = read_config(&*self.backend, &self.location)?;
        if current.repo_id != self.repo_id {
            return Err(Error::corrupt("config", "its repository id changed while the repository was open"));
        }
        let on_disk = open_params(&self.keys, &current)?;
        if on_disk.version >= REPO_VERSION && on_disk.features & FEATURE_DELETION_PROTOCOL != 0 {
            self.format_version.store(on_disk.version, Ordering::SeqCst);
            return Ok(false);
        }
        let bytes = seal_config(&self.keys, self.repo_id, &on_disk.upgraded())?;
        self.backend.replace_config(&bytes)?;
        self.format_version.store(REPO_VERSION, Ordering::SeqCst);
        Ok(true)
    }
}
