//! Read-ahead for ranged reads of packs (the `rest:` and `s3:` backends). A restore reads a file's blobs one
//! by one, each a range of some pack, and the packs were written in the
//! order the files were read: one request per blob would make a restore
//! over a socket pay a round trip per chunk (thousands for a tree of small
//! files). Instead one request fetches the aligned window of the pack that
//! holds the blob asked for, and the next blobs are cut from it. Aligned,
//! because readers go either way through a pack: a restore forwards, the
//! walk of a parent snapshot's trees backwards (trees are written children
//! first); either way a pack costs at most one request per window.
//!
//! Packs never change under a name (content-addressed; a removed name
//! drops its windows), so a window is never stale.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

use crate::backend::FileKind;
use crate::id::Id;

/// How much of a pack one request fetches (packs are about 16 MiB).
pub const WINDOW: u64 = 4 * 1024 * 1024;
/// How many bytes of windows are kept: a budget, not a count, because a
/// restore reads the files of a snapshot taken hour after hour, whose
/// chunks lie in many small packs (one per hourly snapshot) besides the
/// big ones of the first: with a few windows only, they evicted each other
/// and a pack was fetched again for nearly every file.
const BUDGET: usize = 64 * 1024 * 1024;

/// The window (first and last byte, inclusive) to fetch for `len` bytes at
/// `offset`: the aligned `WINDOW` holding `offset`, stretched to the end of
/// the range if it crosses the next boundary.
pub fn window_around(offset: u64, len: usize) -> (u64, u64) {
    let start = offset - offset % WINDOW;
    let end = (start.saturating_add(WINDOW)).max(offset.saturating_add(len as u64));
    (start, end - 1)
}

struct Window {
    kind: FileKind,
    id: Id,
    start: u64,
    bytes: Bytes,
}

#[derive(Default)]
pub struct ReadAhead {
    windows: Mutex<Windows>,
}

/// Most recently used last, with their total length.
#[derive(Default)]
struct Windows {
    list: VecDeque<Window>,
    bytes: usize,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadAhead")
    }
}

impl ReadAhead {
    /// Whether reads of `kind` of `len` bytes go through windows.
    pub fn applies(kind: FileKind, len: usize) -> bool {
        kind == FileKind::Pack && (len as u64) < WINDOW
    }

    /// `len` bytes at `offset`, if a window holds them all.
    pub fn get(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let windows = &mut windows.list;
        let at = windows.iter().position(|w| {
            w.kind == kind
                && w.id == *id
                && offset >= w.start
                && offset.checked_add(len as u64).is_some_and(|end| end <= w.start + w.bytes.len() as u64)
        })?;
        let window = windows.remove(at)?;
        let from = (offset - window.start) as usize;
        // A reference-counted slice under the lock; the copy after it, so
        // the restorer's threads do not take turns copying.
        let bytes = window.bytes.slice(from..from + len);
        // Most recently used last: the front is evicted first.
        windows.push_back(window);
        Some(bytes.to_vec())
    }

    /// `len` bytes at `offset` of a file: from a window held, else from the
    /// aligned window around them, which `fetch(start, window_len)` reads
    /// (the bytes from `start`, fewer where the file ends) and which is
    /// then kept. `None` when the file ends before the range does.
    pub fn read_through<E>(
        &self,
        kind: FileKind,
        id: &Id,
        offset: u64,
        len: usize,
        fetch: impl FnOnce(u64, u64) -> Result<Bytes, E>,
    ) -> Result<Option<Vec<u8>>, E> {
        if let Some(bytes) = self.get(kind, id, offset, len) {
            return Ok(Some(bytes));
        }
        let (start, last) = window_around(offset, len);
        let window = fetch(start, last - start + 1)?;
        let from = (offset - start) as usize;
        if window.len() < from + len {
            return Ok(None);
        }
        let bytes = window[from..from + len].to_vec();
        self.put(kind, id, start, window);
        Ok(Some(bytes))
    }

    /// Keeps `bytes`, read from `start` of the file.
    pub fn put(&self, kind: FileKind, id: &Id, start: u64, bytes: Bytes) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Two threads that missed the same window both fetched it: keep one.
        if windows.list.iter().any(|w| w.kind == kind && w.id == *id && w.start == start) {
            return;
        }
        windows.bytes += bytes.len();
        windows.list.push_back(Window { kind, id: *id, start, bytes });
        while windows.bytes > BUDGET {
            let Some(oldest) = windows.list.pop_front() else { break };
            windows.bytes -= oldest.bytes.len();
        }
    }

    /// Drops the windows of a file (removed, so its name may come back).
    pub fn forget(&self, kind: FileKind, id: &Id) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.list.retain(|w| !(w.kind == kind && w.id == *id));
        windows.bytes = windows.list.iter().map(|w| w.bytes.len()).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_hold_the_whole_range() {
        assert_eq!(window_around(0, 10), (0, WINDOW - 1));
        assert_eq!(window_around(WINDOW + 5, 10), (WINDOW, 2 * WINDOW - 1));
        assert_eq!(window_around(WINDOW - 5, 10), (0, WINDOW + 4), "crossing the boundary");
        let (start, last) = window_around(u64::MAX - 3, 1);
        assert!(start <= u64::MAX - 3 && last >= u64::MAX - 3);
    }

    #[test]
    fn windows_serve_what_they_hold_and_nothing_else() {
        let ra = ReadAhead::default();
        let id = Id([1; 32]);
        ra.put(FileKind::Pack, &id, 100, Bytes::from((0..50u8).collect::<Vec<u8>>()));
        assert_eq!(ra.get(FileKind::Pack, &id, 100, 3), Some(vec![0, 1, 2]));
        assert_eq!(ra.get(FileKind::Pack, &id, 148, 2), Some(vec![48, 49]));
        assert_eq!(ra.get(FileKind::Pack, &id, 148, 3), None, "past the window");
        assert_eq!(ra.get(FileKind::Pack, &id, 99, 1), None, "before it");
        assert_eq!(ra.get(FileKind::Pack, &id, u64::MAX, 1), None);
        assert_eq!(ra.get(FileKind::Index, &id, 100, 1), None, "another kind");
        assert_eq!(ra.get(FileKind::Pack, &Id([2; 32]), 100, 1), None, "another file");
        ra.forget(FileKind::Pack, &id);
        assert_eq!(ra.get(FileKind::Pack, &id, 100, 1), None, "forgotten");
        // Many small windows fit (hourly packs); the budget evicts the oldest.
        let small = Bytes::from(vec![7u8; 1024]);
        for n in 0..64u8 {
            ra.put(FileKind::Pack, &Id([n; 32]), 0, small.clone());
        }
        assert_eq!(ra.get(FileKind::Pack, &Id([0; 32]), 0, 1), Some(vec![7]), "64 small windows are all kept");
        let full = Bytes::from(vec![9u8; WINDOW as usize]);
        for n in 100..100 + (BUDGET / WINDOW as usize) as u8 {
            ra.put(FileKind::Pack, &Id([n; 32]), 0, full.clone());
        }
        assert_eq!(ra.get(FileKind::Pack, &Id([1; 32]), 0, 1), None, "the oldest went");
        assert_eq!(ra.get(FileKind::Pack, &Id([100; 32]), 0, 1), Some(vec![9]));
        let windows = ra.windows.lock().unwrap();
        assert!(windows.bytes <= BUDGET && windows.bytes == windows.list.iter().map(|w| w.bytes.len()).sum::<usize>());
    }
}
