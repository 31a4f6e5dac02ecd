//! The object codec shared by every sealed thing cairn stores:
//! serialize (postcard) → compress (zstd, only when it helps) → seal.
//!
//! Sealed body = `codec tag (1 byte) || payload`, tag 0 = stored as is,
//! 1 = zstd frame. The AEAD's associated data names the object kind, so an
//! object cannot be passed off as another kind.

use std::cell::RefCell;
use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::format::BlobKind;
use crate::format::crypto::Keys;

const TAG_RAW: u8 = 0;
const TAG_ZSTD: u8 = 1;

/// Largest plaintext of any object (an index or a tree; see
/// [`ObjectKind::max_plaintext`] for each kind's own bound).
pub const MAX_OBJECT_LEN: usize = 1 << 30;

/// A codec tag byte before the payload: what sealing adds besides the AEAD.
const TAG_LEN: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKind {
    DataBlob = 1,
    TreeBlob = 2,
    PackHeader = 3,
    Index = 4,
    Snapshot = 5,
    Config = 6,
    /// Local cache files (never stored in a repository).
    Cache = 7,
    /// The repository's forget policy (`policy/`).
    Policy = 8,
    /// A pinned snapshot (`pins/`).
    Pin = 9,
    /// A run's marker in `locks/` (the deletion protocol, spec §6).
    Marker = 10,
}

impl From<BlobKind> for ObjectKind {
    /// A blob is sealed as the object kind of its blob kind, so a tree can
    /// never be opened as data nor data as a tree (spec §4).
    fn from(kind: BlobKind) -> ObjectKind {
        match kind {
            BlobKind::Data => ObjectKind::DataBlob,
            BlobKind::Tree => ObjectKind::TreeBlob,
        }
    }
}

impl ObjectKind {
    /// The largest plaintext an object of this kind may have (format-spec.md
    /// §4, "Decompression bounds"). Opening refuses more, and zstd never
    /// preallocates or produces more: a zstd bomb of any kind fails as
    /// damaged after at most this many bytes.
    pub const fn max_plaintext(self) -> usize {
        match self {
            // `RepoParams::validate` caps `chunk_max` at 16 MiB.
            ObjectKind::DataBlob => 16 << 20,
            // A folder of a million entries still fits.
            ObjectKind::TreeBlob | ObjectKind::Index | ObjectKind::Cache => MAX_OBJECT_LEN,
            // A sealed header is at most 64 MiB and its random ids barely compress.
            ObjectKind::PackHeader => 128 << 20,
            // Paths and tags from one command line.
            ObjectKind::Snapshot => 64 << 20,
            // `RepoParams`: six integers.
            ObjectKind::Config => 4 << 10,
            // A handful of counts, spans and tags; one snapshot id and a time.
            ObjectKind::Policy | ObjectKind::Pin => 64 << 10,
            // A role, a few times and ids, and the host and user names.
            ObjectKind::Marker => 64 << 10,
        }
    }

    /// The largest stored (sealed) object of this kind: its largest
    /// plaintext stored raw, with the codec tag and the AEAD's nonce and
    /// tag. Compression is only kept when it makes the object smaller.
    pub const fn max_stored(self) -> u64 {
        (self.max_plaintext() + TAG_LEN + crate::format::crypto::SEAL_OVERHEAD) as u64
    }

    /// The bound on the plaintext of a stored object of this kind whose
    /// zstd payload is `payload_len` bytes long. Indexes and pack headers
    /// are mostly random 32-byte ids, which zstd cannot shrink: an honest
    /// one never expands more than 8 times (plus slack for tiny files), so
    /// a small planted file cannot make a reader decompress a GiB.
    fn decompression_bound(self, payload_len: usize) -> usize {
        let by_ratio = match self {
            ObjectKind::Index | ObjectKind::PackHeader => payload_len.saturating_mul(8).saturating_add(64 << 10),
            _ => usize::MAX,
        };
        self.max_plaintext().min(by_ratio)
    }

    /// Associated data: `"cairn1\0"` followed by the kind byte.
    pub fn aad(self) -> [u8; 8] {
        [b'c', b'a', b'i', b'r', b'n', b'1', 0, self as u8]
    }
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

fn compress(raw: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, c) = slot.as_mut()?;
        c.compress(raw).ok()
    })
}

/// Compresses when that saves space, tags, and seals.
pub fn seal_bytes(keys: &Keys, kind: ObjectKind, raw: &[u8], level: i32) -> Result<Vec<u8>> {
    seal_bytes_with_aad(keys, &kind.aad(), raw, level)
}

fn seal_bytes_with_aad(keys: &Keys, aad: &[u8], raw: &[u8], level: i32) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(raw.len() / 2 + 64);
    match compress(raw, level) {
        Some(z) if z.len() < raw.len() => {
            body.push(TAG_ZSTD);
            body.extend_from_slice(&z);
        }
        _ => {
            body.push(TAG_RAW);
            body.extend_from_slice(raw);
        }
    }
    keys.seal(aad, body)
}

/// Opens, untags and decompresses; the result is at most `max_len` bytes.
pub fn open_bytes(keys: &Keys, kind: ObjectKind, stored: &[u8], max_len: usize) -> Result<Vec<u8>> {
    open_bytes_with_aad(keys, kind, &kind.aad(), stored, max_len)
}

fn open_bytes_with_aad(keys: &Keys, kind: ObjectKind, aad: &[u8], stored: &[u8], max_len: usize) -> Result<Vec<u8>> {
    // The user's words ("data blob", "index"), not the type's ("DataBlob").
    let what = || kind_name(kind).to_string();
    let body = keys
        .open(aad, stored)
        .ok_or_else(|| Error::corrupt(what(), "authentication failed (damaged, or not a cairn object)"))?;
    let (tag, payload) = body.split_first().ok_or_else(|| Error::corrupt(what(), "empty body"))?;
    let max_len = max_len.min(kind.decompression_bound(payload.len()));
    match *tag {
        TAG_RAW => {
            if payload.len() > max_len {
                return Err(Error::corrupt(what(), format!("longer than allowed ({max_len} bytes)")));
            }
            Ok(payload.to_vec())
        }
        TAG_ZSTD => {
            // Frames written by cairn record their size: decompress in one
            // call with a reused context. Otherwise stream, within the limit.
            if let Some(size) = zstd::bulk::Decompressor::upper_bound(payload).filter(|n| *n <= max_len) {
                let out = DECOMPRESSOR
                    .with(|cell| {
                        let mut slot = cell.borrow_mut();
                        if slot.is_none() {
                            *slot = zstd::bulk::Decompressor::new().ok();
                        }
                        slot.as_mut().map(|d| d.decompress(payload, size))
                    })
                    .ok_or_else(|| Error::corrupt(what(), "no zstd context"))?
                    .map_err(|e| Error::corrupt(what(), format!("zstd: {e}")))?;
                return Ok(out);
            }
            let mut out = Vec::new();
            let decoder = zstd::stream::read::Decoder::new(payload).map_err(|e| Error::corrupt(what(), e))?;
            decoder
                .take(max_len as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::corrupt(what(), format!("zstd: {e}")))?;
            if out.len() > max_len {
                return Err(Error::corrupt(what(), format!("decompresses beyond its limit ({max_len} bytes)")));
            }
            Ok(out)
        }
        other => Err(Error::corrupt(what(), format!("unknown codec tag {other}"))),
    }
}

/// Serializes with postcard and seals.
pub fn encode<T: Serialize>(keys: &Keys, kind: ObjectKind, value: &T, level: i32) -> Result<Vec<u8>> {
    let raw = to_postcard(value)?;
    seal_bytes(keys, kind, &raw, level)
}

/// Opens and deserializes a sealed object.
pub fn decode<T: DeserializeOwned>(keys: &Keys, kind: ObjectKind, stored: &[u8]) -> Result<T> {
    let raw = open_bytes(keys, kind, stored, MAX_OBJECT_LEN)?;
    from_postcard(&raw, kind_name(kind))
}

/// The associated data of an object bound to a name as well as a kind:
/// the kind's (above) followed by `name`. Used by the local cache (§14),
/// whose files are not content-addressed: without the name, one cache file
/// copied over another would authenticate.
fn named_aad(kind: ObjectKind, name: &[u8]) -> Vec<u8> {
    let mut aad = kind.aad().to_vec();
    aad.extend_from_slice(name);
    aad
}

/// [`encode`], with the associated data also binding `name`.
pub fn encode_named<T: Serialize>(
    keys: &Keys,
    kind: ObjectKind,
    name: &[u8],
    value: &T,
    level: i32,
) -> Result<Vec<u8>> {
    seal_bytes_with_aad(keys, &named_aad(kind, name), &to_postcard(value)?, level)
}

/// [`decode`] of an object sealed by [`encode_named`] with the same `name`.
pub fn decode_named<T: DeserializeOwned>(keys: &Keys, kind: ObjectKind, name: &[u8], stored: &[u8]) -> Result<T> {
    let raw = open_bytes_with_aad(keys, kind, &named_aad(kind, name), stored, MAX_OBJECT_LEN)?;
    from_postcard(&raw, kind_name(kind))
}

pub fn to_postcard<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    // Serializing our own in-memory structures into a Vec cannot fail except
    // on allocation failure, which aborts anyway; still, no panic.
    postcard::to_stdvec(value).map_err(|e| Error::Internal(format!("encoding: {e}")))
}

pub fn from_postcard<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T> {
    let (value, rest) = postcard::take_from_bytes(raw).map_err(|e| Error::corrupt(what, format!("postcard: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::corrupt(what, format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::DataBlob => "data blob",
        ObjectKind::TreeBlob => "tree",
        ObjectKind::PackHeader => "pack header",
        ObjectKind::Index => "index",
        ObjectKind::Snapshot => "snapshot",
        ObjectKind::Config => "config",
        ObjectKind::Cache => "cache file",
        ObjectKind::Policy => "policy",
        ObjectKind::Pin => "pin",
        ObjectKind::Marker => "marker",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000), enc in any::<bool>()) {
            let keys = if enc { Keys::from_master(&[3; 32]) } else { Keys::Plain };
            let sealed = seal_bytes(&keys, ObjectKind::DataBlob, &data, 3).unwrap();
            prop_assert_eq!(open_bytes(&keys, ObjectKind::DataBlob, &sealed, data.len()).unwrap(), data);
        }

        #[test]
        fn open_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = open_bytes(&Keys::Plain, ObjectKind::Index, &data, 1000);
            let _ = open_bytes(&Keys::from_master(&[1; 32]), ObjectKind::Index, &data, 1000);
        }
    }

    #[test]
    fn kinds_are_not_interchangeable() {
        let keys = Keys::from_master(&[3; 32]);
        let sealed = seal_bytes(&keys, ObjectKind::Index, b"x", 3).unwrap();
        assert!(open_bytes(&keys, ObjectKind::Snapshot, &sealed, 10).is_err());
    }

    #[test]
    fn compressible_data_is_compressed() {
        let data = vec![b'a'; 10_000];
        let sealed = seal_bytes(&Keys::Plain, ObjectKind::DataBlob, &data, 3).unwrap();
        assert_eq!(sealed[0], TAG_ZSTD);
        assert!(sealed.len() < 200);
        assert!(open_bytes(&Keys::Plain, ObjectKind::DataBlob, &sealed, 9_999).is_err());
    }

    /// An unencrypted stored object whose zstd payload expands to `len`
    /// zero bytes (fed to the encoder a MiB at a time), recording the
    /// content size in its frame or not.
    fn zstd_bomb(len: usize, record_size: bool) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = zstd::stream::write::Encoder::new(vec![TAG_ZSTD], 1).unwrap();
        encoder.include_contentsize(record_size).unwrap();
        encoder.set_pledged_src_size(record_size.then_some(len as u64)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..len >> 20 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap()
    }

    fn assert_damaged(result: Result<Vec<u8>>, why: &str) {
        match result {
            Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("limit"), "{why}: {detail}"),
            Err(other) => panic!("{why}: not reported as damaged: {other}"),
            Ok(out) => panic!("{why}: a zstd bomb decompressed to {} bytes", out.len()),
        }
    }

    #[test]
    fn a_zstd_bomb_is_damaged_within_its_kinds_bound() {
        // Each caller passes the most generous bound; the kind's own wins.
        for record_size in [true, false] {
            // 256 MiB from a few KiB: far beyond what an index's random ids allow.
            let bomb = zstd_bomb(256 << 20, record_size);
            assert!(bomb.len() < 64 << 10, "the bomb is small: {}", bomb.len());
            assert_damaged(open_bytes(&Keys::Plain, ObjectKind::Index, &bomb, MAX_OBJECT_LEN), "index");
            assert_damaged(open_bytes(&Keys::Plain, ObjectKind::PackHeader, &bomb, MAX_OBJECT_LEN), "header");
            let small = zstd_bomb(1 << 20, record_size);
            assert_damaged(open_bytes(&Keys::Plain, ObjectKind::Config, &small, MAX_OBJECT_LEN), "config");
        }
    }

    #[test]
    fn honest_objects_stay_within_their_kinds_bounds() {
        // An index of random ids compresses not at all; zeros compress, but
        // the ratio bound's slack covers a small honest object of any content.
        let random: Vec<u8> = (0..200_000u32).flat_map(|i| *blake3::hash(&i.to_le_bytes()).as_bytes()).collect();
        let sealed = seal_bytes(&Keys::Plain, ObjectKind::Index, &random, 3).unwrap();
        assert_eq!(open_bytes(&Keys::Plain, ObjectKind::Index, &sealed, MAX_OBJECT_LEN).unwrap(), random);
        let zeros = vec![0u8; 60 << 10];
        let sealed = seal_bytes(&Keys::Plain, ObjectKind::PackHeader, &zeros, 3).unwrap();
        assert_eq!(sealed[0], TAG_ZSTD);
        assert_eq!(open_bytes(&Keys::Plain, ObjectKind::PackHeader, &sealed, MAX_OBJECT_LEN).unwrap(), zeros);
        assert_eq!(ObjectKind::Config.max_stored(), 4096 + 1 + 40);
    }
}
