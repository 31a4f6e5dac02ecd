//! On-disk structures (format version 1), as serde types encoded with
//! postcard. Every top-level structure starts with its `version`. The
//! byte-level contract is `format-spec.md`; change both together.

pub mod chunker;
pub mod codec;
pub mod crypto;
pub mod marker;
pub mod params;
pub mod recipe;
pub mod retention;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::format::crypto::KdfParams;
use crate::id::Id;

/// The version of every structure this cairn writes, and the newest it reads,
/// except `Snapshot` ([`SNAPSHOT_VERSION`]).
pub const FORMAT_VERSION: u32 = 1;

/// The repository format version (`ConfigFile.version` and the
/// authenticated `RepoParams.version`) this cairn writes, and the newest it
/// opens. Version 2 added `RepoParams.features` and the deletion protocol
/// (format-spec §12); version 1 repositories open as before.
pub const REPO_VERSION: u32 = 2;

/// The oldest repository format version this cairn opens (`cairn --version`
/// names the range).
pub const OLDEST_REPO_VERSION: u32 = 1;

/// Feature bit 0 of `RepoParams.features`: the repository follows the
/// deletion protocol (format-spec §6), so prune may delete in it. Every
/// version-2 repository has it.
pub const FEATURE_DELETION_PROTOCOL: u64 = 1;

/// Feature bit 1 of `RepoParams.features`: the repository's blob-id key and
/// chunker seed are not derived from its master key but carried, sealed, in
/// `RepoParams` (`init --copy-chunker-params`: another repository's, so
/// that both cut and name the same blobs alike, format-spec §3). An older
/// cairn would compute other blob ids, so it must refuse the repository.
pub const FEATURE_ADOPTED_IDS: u64 = 2;

/// Every feature bit this cairn knows; a repository with any other is refused.
pub const KNOWN_FEATURES: u64 = FEATURE_DELETION_PROTOCOL | FEATURE_ADOPTED_IDS;

/// The newest version of `Snapshot` this cairn reads. Version 2 added the
/// [`recipe::Recipe`] (how the snapshot was taken); version 3, written only
/// by `cairn copy`, made the recipe optional and added `original`. A
/// snapshot taken here is still written as version 2
/// ([`TAKEN_SNAPSHOT_VERSION`]), which older cairns read.
pub const SNAPSHOT_VERSION: u32 = 3;

/// The version of a snapshot taken by this cairn (not a copy).
pub const TAKEN_SNAPSHOT_VERSION: u32 = 2;

pub const CONFIG_MAGIC: [u8; 8] = *b"CAIRNREP";

/// Whether `config` (its first bytes suffice) is cairn's: its magic, or one
/// one or two bytes off (a damaged cairn config, not another tool's).
pub fn is_cairn_config(config: &[u8]) -> bool {
    config.len() >= CONFIG_MAGIC.len() && config.iter().zip(CONFIG_MAGIC).filter(|(a, b)| *a != b).count() <= 2
}
pub const KEY_MAGIC: [u8; 8] = *b"CAIRNKEY";

// The largest file of each kind a reader accepts (format-spec.md §6, "File
// size bounds"). A reader compares the size first and refuses a larger file
// without reading it: nothing is authenticated before it is read whole, so
// a planted 4 GiB file must not become a 4 GiB buffer.

/// `config`: a fixed header and the sealed parameters (under 4.2 KiB).
pub const MAX_CONFIG_FILE_LEN: u64 = 8 * 1024;
/// `keys/<id>`: a fixed part of about 160 bytes, and the host and user names.
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;
/// `index/<id>`: one sealed `IndexFile`.
pub const MAX_INDEX_FILE_LEN: u64 = codec::ObjectKind::Index.max_stored();
/// `snapshots/<id>`: one sealed `Snapshot`.
pub const MAX_SNAPSHOT_FILE_LEN: u64 = codec::ObjectKind::Snapshot.max_stored();
/// The largest valid `policy/<id>` file.
pub const MAX_POLICY_FILE_LEN: u64 = codec::ObjectKind::Policy.max_stored();
/// The largest valid `pins/<id>` file.
pub const MAX_PIN_FILE_LEN: u64 = codec::ObjectKind::Pin.max_stored();
/// How many key files `open` tries at most (the one that worked last
/// time first): a planted crowd of key files cannot make it try forever.
pub const MAX_KEY_FILES_TRIED: usize = 16;
/// The total argon2 cost (`memory_kib × iterations`, in KiB-passes) `open`
/// spends on key files, twice that of the costliest valid key file: one
/// expensive planted key file cannot be paid for more than twice over.
pub const MAX_KDF_COST_TOTAL: u64 = 2 * 4 * 1024 * 1024 * 64;

/// `config`: the one file with a fixed name, written once by `init`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConfigFile {
    pub magic: [u8; 8],
    pub version: u32,
    pub repo_id: Id,
    pub encrypted: bool,
    /// `RepoParams` as a sealed object (kind `Config`): authenticated by the
    /// master key in an encrypted repository.
    pub params: ByteBuf,
}

/// Parameters fixed at `init` for the life of the repository (save
/// `version` and `features`, which an upgrade raises). Its encoding
/// depends on `version` (`params.rs`): version 1 ends after `zstd_level`,
/// version 2 adds `features`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoParams {
    pub version: u32,
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
    /// A pack is closed once its blobs reach this many bytes.
    pub pack_target: u32,
    pub zstd_level: i32,
    /// Feature bits (version 2 and later; 0 in version 1).
    pub features: u64,
    /// The blob-id key and chunker seed when [`FEATURE_ADOPTED_IDS`] is set
    /// (and only then): encoded after `features`.
    pub adopted: Option<AdoptedIds>,
}

/// Another repository's blob-id key and chunker seed, adopted at `init
/// --copy-chunker-params`. Secret: never printed (`Debug` hides it) and
/// wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct AdoptedIds {
    pub blob_id_key: [u8; 32],
    pub chunker_seed: u64,
}

impl std::fmt::Debug for AdoptedIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdoptedIds(..)")
    }
}

impl Drop for AdoptedIds {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.blob_id_key.zeroize();
        self.chunker_seed.zeroize();
    }
}

impl RepoParams {
    /// Chunk sizes chosen by measuring 24 hourly snapshots of a medium agent
    /// workspace (see the issue notes): 32/128/512 KiB grew the repository
    /// least per hour with an index no larger than 64/256/1024 KiB's.
    pub const DEFAULT: RepoParams = RepoParams {
        version: REPO_VERSION,
        chunk_min: 32 * 1024,
        chunk_avg: 128 * 1024,
        chunk_max: 512 * 1024,
        pack_target: 16 * 1024 * 1024,
        zstd_level: 3,
        features: FEATURE_DELETION_PROTOCOL,
        adopted: None,
    };

    /// Rejects parameters that FastCDC or the pack format cannot honour.
    pub fn validate(&self) -> Result<()> {
        // FastCDC 2020's limits: min 64 B..1 MiB, avg 256 B..4 MiB, max 1 KiB..16 MiB.
        let ok = self.chunk_min >= 64
            && self.chunk_min <= 1024 * 1024
            && self.chunk_avg <= 4 * 1024 * 1024
            && self.chunk_min <= self.chunk_avg
            && self.chunk_avg <= self.chunk_max
            && self.chunk_max <= 16 * 1024 * 1024
            && self.chunk_min.is_multiple_of(2)
            && self.chunk_avg.is_multiple_of(2)
            && self.chunk_max.is_multiple_of(2)
            && self.chunk_avg >= 256
            && self.chunk_max >= 1024
            && self.pack_target >= 1024
            && self.pack_target <= 64 * 1024 * 1024
            && (-7..=22).contains(&self.zstd_level);
        if ok { Ok(()) } else { Err(Error::corrupt("config", format!("invalid parameters {self:?}"))) }
    }
}

/// `keys/<id>`: a password-protected copy of the master key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyFile {
    pub magic: [u8; 8],
    pub version: u32,
    pub kdf: KdfParams,
    pub salt: [u8; 32],
    /// `nonce || XChaCha20-Poly1305(kek, master key, aad = repo id)`.
    pub sealed_master: ByteBuf,
    pub created: Timestamp,
    pub host: String,
    pub user: String,
}

/// A point in time with the UTC offset it was recorded in.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    pub unix_seconds: i64,
    pub nanos: u32,
    pub offset_seconds: i32,
}

/// Which kind of blob a pack entry holds. Data and tree blobs never share a pack.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum BlobKind {
    Data,
    Tree,
}

/// One blob's place in a pack, as listed in the pack header and in indexes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackEntry {
    pub kind: BlobKind,
    pub id: Id,
    pub offset: u32,
    /// Stored (compressed, sealed) length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

/// The header at the end of every pack file (sealed, kind `PackHeader`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PackHeader {
    pub version: u32,
    pub entries: Vec<PackEntry>,
}

/// `index/<id>`: where blobs live. Written after its packs, before any
/// snapshot that needs them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IndexFile {
    pub version: u32,
    pub packs: Vec<IndexedPack>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IndexedPack {
    pub pack: Id,
    pub entries: Vec<PackEntry>,
}

/// `snapshots/<id>`: one snapshot manifest. Its (de)serialisation is
/// written by hand in [`recipe`], since the layout depends on `version`.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub version: u32,
    pub time: Timestamp,
    pub host: String,
    pub user: String,
    /// Absolute paths as given (after normalisation), as bytes.
    pub paths: Vec<ByteBuf>,
    pub tags: Vec<String>,
    /// Tree of `/`, holding only the components that lead to `paths`.
    pub tree: Id,
    pub parent: Option<Id>,
    pub summary: Summary,
    pub program_version: String,
    /// How the snapshot was taken (exclude rules, symlinks followed);
    /// `None` in a version-1 snapshot, which did not record it (and in a
    /// copy of one).
    pub recipe: Option<recipe::Recipe>,
    /// In a copy made by `cairn copy` (version 3): the id of the snapshot
    /// first taken, in the repository it was taken in (a copy of a copy
    /// keeps the first one's). `None` in a snapshot taken here.
    pub original: Option<Id>,
}

/// What one snapshot run did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unchanged: u64,
    pub dirs: u64,
    pub others: u64,
    /// Files whose contents were read (not reused from the parent).
    pub files_read: u64,
    pub bytes_read: u64,
    /// Logical bytes of all files in the snapshot.
    pub total_bytes: u64,
    pub data_blobs_added: u64,
    pub tree_blobs_added: u64,
    /// Bytes of new pack files written.
    pub bytes_added: u64,
    pub duration_ms: u64,
    pub warnings: u64,
}

/// A tree blob: one directory's entries, sorted by name bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Tree {
    pub version: u32,
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Node {
    pub name: ByteBuf,
    pub kind: NodeKind,
    /// Permission bits and set-id/sticky bits (st_mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: FileTime,
    pub ctime: FileTime,
    pub inode: u64,
    pub device: u64,
    pub nlink: u64,
    pub xattrs: Vec<Xattr>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FileTime {
    pub seconds: i64,
    pub nanos: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Xattr {
    pub name: ByteBuf,
    pub value: ByteBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum NodeKind {
    File { size: u64, content: Vec<Id> },
    Dir { subtree: Id },
    Symlink { target: ByteBuf },
    Fifo,
    Socket,
    CharDevice { rdev: u64 },
    BlockDevice { rdev: u64 },
}

impl Tree {
    /// Rejects names that could escape the folder they are restored into
    /// (empty, `.`, `..`, or holding `/` or NUL) and unsorted or repeated
    /// names. Every tree read from a repository passes through this.
    pub fn validate_names(&self) -> Result<()> {
        let mut previous: Option<&[u8]> = None;
        for node in &self.nodes {
            let name = node.name.as_slice();
            if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
                return Err(Error::corrupt("tree", format!("invalid entry name {:?}", String::from_utf8_lossy(name))));
            }
            if previous.is_some_and(|p| p >= name) {
                return Err(Error::corrupt("tree", "entries are not sorted by name"));
            }
            previous = Some(name);
        }
        Ok(())
    }
}

impl KdfParams {
    /// The cost counted against [`MAX_KDF_COST_TOTAL`]: memory times passes.
    pub fn cost(&self) -> u64 {
        u64::from(self.memory_kib) * u64::from(self.iterations)
    }

    /// Rejects costs no honest key file asks for, so a tampered key file
    /// cannot stall `open` or exhaust memory: at most 4 GiB, 64 passes,
    /// 64 lanes.
    pub fn validate(&self) -> Result<()> {
        // argon2 also needs at least 8 KiB per lane.
        let ok = (8..=4 * 1024 * 1024).contains(&self.memory_kib)
            && u64::from(self.memory_kib) >= 8 * u64::from(self.parallelism)
            && (1..=64).contains(&self.iterations)
            && (1..=64).contains(&self.parallelism);
        if ok { Ok(()) } else { Err(Error::corrupt("key file", format!("unreasonable key derivation cost {self:?}"))) }
    }
}

#[cfg(any(test, feature = "testing"))]
impl Node {
    /// A node with this name, kind and mode and zero metadata otherwise.
    pub fn for_test(name: &[u8], kind: NodeKind, mode: u32) -> Node {
        Node {
            name: ByteBuf::from(name.to_vec()),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: FileTime::default(),
            ctime: FileTime::default(),
            inode: 0,
            device: 0,
            nlink: 1,
            xattrs: Vec::new(),
        }
    }
}

/// Rejects a snapshot from a newer cairn (or version 0).
pub fn check_snapshot_version(found: u32) -> Result<()> {
    if found == 0 || found > SNAPSHOT_VERSION {
        return Err(Error::UnsupportedVersion { what: "snapshot", found, supported: SNAPSHOT_VERSION });
    }
    Ok(())
}

/// Rejects a structure from a newer cairn.
pub fn check_version(what: &'static str, found: u32) -> Result<()> {
    if found == 0 || found > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion { what, found, supported: FORMAT_VERSION });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &[u8]) -> Node {
        Node::for_test(name, NodeKind::Fifo, 0)
    }

    #[test]
    fn tree_names_cannot_escape() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"/etc", b"x\0y"] {
            let tree = Tree { version: 1, nodes: vec![node(bad)] };
            assert!(tree.validate_names().is_err(), "{bad:?}");
        }
        let unsorted = Tree { version: 1, nodes: vec![node(b"b"), node(b"a")] };
        assert!(unsorted.validate_names().is_err());
        let ok = Tree { version: 1, nodes: vec![node(b"..a"), node(b"a"), node(b"\xff")] };
        assert!(ok.validate_names().is_ok());
    }

    #[test]
    fn params_within_fastcdc_limits() {
        assert!(RepoParams::DEFAULT.validate().is_ok());
        let too_big_min =
            RepoParams { chunk_min: 2 << 20, chunk_avg: 4 << 20, chunk_max: 16 << 20, ..RepoParams::DEFAULT };
        assert!(too_big_min.validate().is_err());
        let too_big_avg = RepoParams { chunk_avg: 8 << 20, chunk_max: 16 << 20, ..RepoParams::DEFAULT };
        assert!(too_big_avg.validate().is_err());
        assert!(KdfParams::DEFAULT.validate().is_ok());
        assert!(KdfParams { memory_kib: u32::MAX, ..KdfParams::DEFAULT }.validate().is_err());
    }
}
