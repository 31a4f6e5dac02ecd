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

/// Largest plaintext of a non-blob object (index, tree, snapshot, header).
pub const MAX_OBJECT_LEN: usize = 1 << 30;

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
    let what = || format!("{kind:?} object");
    let body = keys
        .open(aad, stored)
        .ok_or_else(|| Error::corrupt(what(), "authentication failed (damaged, or not a cairn object)"))?;
    let (tag, payload) = body.split_first().ok_or_else(|| Error::corrupt(what(), "empty body"))?;
    match *tag {
        TAG_RAW => {
            if payload.len() > max_len {
                return Err(Error::corrupt(what(), "longer than allowed"));
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
                return Err(Error::corrupt(what(), "decompresses beyond its limit"));
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
}
