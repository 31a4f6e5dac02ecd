//! `check --read-data` for one pack: its bytes read once, in file order,
//! as a stream. The whole-file BLAKE3 (its name) is fed window by window
//! while each blob is opened and verified from the same bytes, so memory
//! per pack is one window or one blob, never the pack: packs are not
//! authenticated before they are read, and a planted 4 GiB file under
//! `data/` must not become a 4 GiB buffer on every checking thread.

use crate::backend::FileKind;
use crate::format::PackEntry;
use crate::format::codec::ObjectKind;
use crate::id::Id;
use crate::repo::Repository;
use crate::repo::index::BlobLocation;

use super::check::{BlobKey, check_header};

/// The most read at once between blobs (and of a blob too long to be one).
const WINDOW: u64 = 1 << 20;

/// Reads the whole pack (`size` bytes as listed): its name, its header,
/// and every blob the index lists in it.
pub(crate) fn read_pack(repo: &Repository, pack: &Id, size: u64, entries: &[PackEntry]) -> (Vec<String>, Vec<BlobKey>) {
    read_pack_in_windows(repo, pack, size, entries, WINDOW)
}

fn read_pack_in_windows(
    repo: &Repository,
    pack: &Id,
    size: u64,
    entries: &[PackEntry],
    window: u64,
) -> (Vec<String>, Vec<BlobKey>) {
    // The header is read from the tail and compared with the index, as
    // without --read-data; its bytes are hashed again below with the rest.
    let (mut errors, mut bad) = check_header(repo, pack, entries);
    let mut hasher = blake3::Hasher::new();
    let mut hashed = 0u64;
    let mut in_order: Vec<&PackEntry> = entries.iter().collect();
    in_order.sort_by_key(|e| e.offset);
    for e in in_order {
        let start = u64::from(e.offset);
        let end = start + u64::from(e.length);
        if end > size {
            errors.push(format!("pack {pack}: blob {} lies beyond the end of the pack", e.id));
            bad.push((e.kind, e.id));
            continue;
        }
        let stored = if start < hashed || u64::from(e.length) > ObjectKind::from(e.kind).max_stored() {
            None // overlapping a blob already read, or longer than any valid blob
        } else {
            if let Err(err) = hash_range(repo, pack, &mut hasher, hashed, start, window) {
                return read_failed(pack, entries, err);
            }
            match repo.backend().read_range(FileKind::Pack, pack, start, e.length as usize) {
                Ok(bytes) => {
                    hasher.update(&bytes);
                    hashed = end;
                    Some(bytes)
                }
                Err(err) => return read_failed(pack, entries, err),
            }
        };
        let loc =
            BlobLocation { pack: *pack, kind: e.kind, offset: e.offset, length: e.length, raw_length: e.raw_length };
        let opened = match &stored {
            Some(bytes) => repo.open_blob(&e.id, &loc, bytes).map(drop).map_err(|err| err.to_string()),
            None => Err(String::from("overlaps another blob or is longer than any valid blob")),
        };
        if let Err(err) = opened {
            errors.push(format!("pack {pack}: blob {}: {err}", e.id));
            bad.push((e.kind, e.id));
        }
    }
    if let Err(err) = hash_range(repo, pack, &mut hasher, hashed, size, window) {
        return read_failed(pack, entries, err);
    }
    if Id(*hasher.finalize().as_bytes()) != *pack {
        errors.insert(0, format!("pack {pack}: contents do not match its name (damaged)"));
    }
    (errors, bad)
}

/// Feeds `[from, to)` of the pack to `hasher`, `window` bytes at a time.
fn hash_range(
    repo: &Repository,
    pack: &Id,
    hasher: &mut blake3::Hasher,
    from: u64,
    to: u64,
    window: u64,
) -> Result<(), crate::backend::BackendError> {
    let mut at = from;
    while at < to {
        let len = window.min(to - at);
        hasher.update(&repo.backend().read_range(FileKind::Pack, pack, at, len as usize)?);
        at += len;
    }
    Ok(())
}

/// A pack that could not be read: every blob it holds counts as damaged.
fn read_failed(pack: &Id, entries: &[PackEntry], err: impl std::fmt::Display) -> (Vec<String>, Vec<BlobKey>) {
    (vec![format!("pack {pack}: {err}")], entries.iter().map(|e| (e.kind, e.id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    /// Every pack of a small repository with its listed size and entries.
    fn packs(r: &Repository) -> Vec<(Id, u64, Vec<PackEntry>)> {
        let sizes: std::collections::HashMap<Id, u64> = r.backend().list(FileKind::Pack).unwrap().into_iter().collect();
        let mut out = Vec::new();
        for (index, _) in r.backend().list(FileKind::Index).unwrap() {
            for p in r.read_index_file(&index).unwrap().packs {
                out.push((p.pack, sizes[&p.pack], p.entries));
            }
        }
        out
    }

    /// A repository with one data pack (two blobs) and one tree pack.
    fn stored(dir: &std::path::Path) -> Repository {
        let r = repo(dir);
        let saver = r.saver();
        saver.save(crate::format::BlobKind::Data, b"first blob, long enough to span windows").unwrap();
        saver.save(crate::format::BlobKind::Data, b"second blob").unwrap();
        saver.finish().unwrap();
        tree(&r, vec![file(&r, "x", "text of x")]);
        r
    }

    #[test]
    fn the_streamed_hash_is_the_whole_files_hash_whatever_the_window() {
        let tmp = tempfile::tempdir().unwrap();
        let r = stored(tmp.path());
        let all = packs(&r);
        assert!(all.len() >= 2 && all.iter().any(|(_, _, e)| e.len() == 2), "{all:?}");
        for (pack, size, entries) in &all {
            let whole = r.backend().read(FileKind::Pack, pack).unwrap();
            assert_eq!(Id::of_file_bytes(&whole), *pack);
            // Windows smaller than a blob, odd, and larger than the pack.
            for window in [1, 7, 4096, size + 1] {
                let (errors, bad) = read_pack_in_windows(&r, pack, *size, entries, window);
                assert!(errors.is_empty() && bad.is_empty(), "window {window}: {errors:?}");
            }
        }
    }

    #[test]
    fn a_changed_byte_is_found_by_the_streamed_hash() {
        let tmp = tempfile::tempdir().unwrap();
        let r = stored(tmp.path());
        for (pack, size, entries) in packs(&r) {
            let path = r.backend().local_path(FileKind::Pack, &pack).unwrap();
            // A byte of the blob area, then (undone) a byte of the trailer.
            for from_end in [size as usize - 1, 0] {
                flip_byte(&path, from_end);
                let (errors, _) = read_pack_in_windows(&r, &pack, size, &entries, 5);
                assert!(errors.iter().any(|e| e.contains("do not match its name")), "{errors:?}");
                flip_byte(&path, from_end);
            }
        }
    }
}
