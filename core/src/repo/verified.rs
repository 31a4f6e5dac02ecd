//! Reading a whole content-addressed file with its checks: its size
//! against the bound of its kind before reading (format-spec.md §6), and
//! its bytes against its name after (R1).

use crate::backend::{Backend, FileKind};
use crate::error::{Error, Result};
use crate::format::{
    MAX_INDEX_FILE_LEN, MAX_KEY_FILE_LEN, MAX_PIN_FILE_LEN, MAX_POLICY_FILE_LEN, MAX_SNAPSHOT_FILE_LEN,
};
use crate::id::Id;

/// The largest valid file of a kind read whole (format-spec.md §6), and
/// what to call it; packs are only read by ranges (or streamed by `check`).
fn max_file_len(kind: FileKind) -> Option<(u64, &'static str)> {
    match kind {
        FileKind::Key => Some((MAX_KEY_FILE_LEN, "key file")),
        FileKind::Index => Some((MAX_INDEX_FILE_LEN, "index file")),
        FileKind::Snapshot => Some((MAX_SNAPSHOT_FILE_LEN, "snapshot file")),
        FileKind::Policy => Some((MAX_POLICY_FILE_LEN, "policy file")),
        FileKind::Pin => Some((MAX_PIN_FILE_LEN, "pin file")),
        FileKind::Lock => Some((crate::format::marker::MAX_MARKER_FILE_LEN, "marker file")),
        FileKind::Pack => None,
    }
}

/// Reads a content-addressed file from `backend` and checks it against its
/// name (before a `Repository` exists: key files are read to make one).
/// Its size — as listed, or else asked for — is compared with the largest
/// valid file of its kind first, and a larger file is refused unread:
/// nothing vouches for a file before it has been read whole.
pub(crate) fn read_verified_from(
    backend: &dyn Backend,
    kind: FileKind,
    id: &Id,
    listed_size: Option<u64>,
) -> Result<Vec<u8>> {
    if let Some((max, noun)) = max_file_len(kind) {
        let size = match listed_size {
            Some(size) => size,
            None => backend.read_tail(kind, id, 0)?.1,
        };
        if size > max {
            return Err(Error::corrupt(
                format!("{}/{id}", kind.folder()),
                format!("it is {size} bytes, larger than any valid {noun} ({max} bytes at most); not read"),
            ));
        }
    }
    let bytes = backend.read(kind, id)?;
    if Id::of_file_bytes(&bytes) != *id {
        return Err(Error::corrupt(
            format!("{} file {id}", kind.folder()),
            "its contents do not match its name (damaged or truncated)",
        ));
    }
    Ok(bytes)
}
