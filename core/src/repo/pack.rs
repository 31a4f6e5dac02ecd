//! Pack files: sealed blobs back to back, then the sealed pack header
//! listing them, then the header's length as a little-endian u32.
//! Building a pack in memory, streaming one to the backend (finished on a
//! thread of its own), and reading a pack's header back.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{Backend, FileKind, Spool};
use crate::error::{Error, IoContext, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::Keys;
use crate::format::{BlobKind, FORMAT_VERSION, IndexedPack, PackEntry, PackHeader, check_version};
use crate::id::Id;

/// Bytes read from the end of a pack in one go when looking for its header;
/// enough for the header of a typical pack.
const TAIL_GUESS: u64 = 64 * 1024;
/// Largest header accepted: far above 16 MiB packs of 64-byte blobs.
const MAX_HEADER_LEN: u32 = 64 * 1024 * 1024;

/// A pack being filled in memory.
pub struct PackBuilder {
    kind: BlobKind,
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl PackBuilder {
    pub fn new(kind: BlobKind) -> Self {
        PackBuilder { kind, buf: Vec::new(), entries: Vec::new() }
    }

    pub fn add(&mut self, id: Id, sealed: &[u8], raw_length: usize) {
        self.entries.push(PackEntry {
            kind: self.kind,
            id,
            // Packs close at their target size (at most 16 MiB plus one
            // 16 MiB chunk), so offsets and lengths fit in u32.
            offset: self.buf.len() as u32,
            length: sealed.len() as u32,
            raw_length: raw_length as u32,
        });
        self.buf.extend_from_slice(sealed);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the sealed header and its length; returns the file bytes and
    /// the entries for the index.
    pub fn finish(self, keys: &Keys) -> Result<(Vec<u8>, Vec<PackEntry>)> {
        let mut bytes = self.buf;
        bytes.extend_from_slice(&trailer(keys, &self.entries)?);
        Ok((bytes, self.entries))
    }
}

/// The sealed header listing `entries`, followed by its length (u32 LE).
fn trailer(keys: &Keys, entries: &[PackEntry]) -> Result<Vec<u8>> {
    let header = PackHeader { version: FORMAT_VERSION, entries: entries.to_vec() };
    let mut sealed = codec::encode(keys, ObjectKind::PackHeader, &header, 3)?;
    let len = sealed.len() as u32;
    sealed.extend_from_slice(&len.to_le_bytes());
    Ok(sealed)
}

/// A pack streamed to a local spool file as blobs arrive, hashed on the
/// way, and handed to the backend under its final name (the hash) once
/// complete. Only one blob is in memory at a time. Dropped unfinished, it
/// removes its spool.
pub struct PackWriter {
    kind: BlobKind,
    spool: Option<Spool>,
    hasher: blake3::Hasher,
    entries: Vec<PackEntry>,
    len: u64,
}

impl PackWriter {
    pub fn create(backend: &dyn Backend, kind: BlobKind) -> Result<PackWriter> {
        let spool = backend.create_spool(FileKind::Pack)?;
        Ok(PackWriter { kind, spool: Some(spool), hasher: blake3::Hasher::new(), entries: Vec::new(), len: 0 })
    }

    pub fn add(&mut self, id: Id, sealed: &[u8], raw_length: usize) -> Result<()> {
        let spool = self.spool.as_mut().ok_or_else(|| Error::Internal("pack writer used after finish".into()))?;
        spool.file().write_all(sealed).at(spool.path())?;
        self.hasher.update(sealed);
        self.entries.push(PackEntry {
            kind: self.kind,
            id,
            // A pack is closed at its target size (at most 64 MiB by
            // RepoParams::validate) plus one blob (at most 16 MiB), so
            // offsets and lengths fit in u32.
            offset: self.len as u32,
            length: sealed.len() as u32,
            raw_length: raw_length as u32,
        });
        self.len += sealed.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the header and has the backend create the pack under its
    /// final name (durable once this returns). Returns the pack id, its
    /// entries and its size in bytes.
    pub fn finish(mut self, backend: &dyn Backend, keys: &Keys) -> Result<(Id, Vec<PackEntry>, u64)> {
        let tail = trailer(keys, &self.entries)?;
        let mut spool = self.spool.take().ok_or_else(|| Error::Internal("pack writer finished twice".into()))?;
        spool.file().write_all(&tail).at(spool.path())?;
        self.hasher.update(&tail);
        let id = Id(*self.hasher.finalize().as_bytes());
        match backend.create_from_spool(FileKind::Pack, &id, spool) {
            // Same name, same bytes: the pack is already stored.
            Err(e) if e.is_already_exists() => {}
            other => other?,
        }
        Ok((id, std::mem::take(&mut self.entries), self.len + tail.len() as u64))
    }
}

/// A thread that completes full packs (header, fsync, rename) in the order
/// they fill, returning each pack's index entry and size.
pub(crate) struct Finisher {
    sender: Mutex<Option<std::sync::mpsc::SyncSender<Box<PackWriter>>>>,
    handle: Mutex<Option<FinisherThread>>,
    /// Set when the saver is dropped unfinished: queued packs are dropped.
    abandoned: Arc<AtomicBool>,
}

/// The finisher thread; it returns each finished pack's entry and size.
type FinisherThread = std::thread::JoinHandle<Result<Vec<(IndexedPack, u64)>>>;

/// Full packs waiting for the finisher; they are already on disk, so this
/// bounds open files, not memory.
const PACKS_IN_FLIGHT: usize = 4;

impl Finisher {
    pub(crate) fn start(backend: Arc<dyn Backend>, keys: Keys) -> Finisher {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Box<PackWriter>>(PACKS_IN_FLIGHT);
        let abandoned = Arc::new(AtomicBool::new(false));
        let abandon = Arc::clone(&abandoned);
        let handle = std::thread::spawn(move || {
            let mut done = Vec::new();
            for pack in receiver {
                if abandon.load(Ordering::Relaxed) {
                    // Dropping the writer removes its spool.
                    continue;
                }
                let (id, entries, size) = (*pack).finish(&*backend, &keys)?;
                // The backend acknowledged the pack as created: durable.
                crate::testhook::reached(crate::testhook::Point::PackDurable, None);
                done.push((IndexedPack { pack: id, entries }, size));
            }
            Ok(done)
        });
        Finisher { sender: Mutex::new(Some(sender)), handle: Mutex::new(Some(handle)), abandoned }
    }

    pub(crate) fn send(&self, pack: PackWriter) -> Result<()> {
        let sender = lock(&self.sender).clone();
        match sender.map(|s| s.send(Box::new(pack))) {
            Some(Ok(())) => Ok(()),
            // The thread stopped on an error: report that error.
            _ => self.join().and(Err(Error::Internal("the pack writer stopped".into()))),
        }
    }

    /// Waits for every pack sent so far to be durable.
    pub(crate) fn join(&self) -> Result<Vec<(IndexedPack, u64)>> {
        lock(&self.sender).take();
        match lock(&self.handle).take() {
            Some(handle) => handle.join().unwrap_or_else(|_| Err(Error::Internal("the pack writer panicked".into()))),
            None => Err(Error::Internal("the pack writer was already stopped".into())),
        }
    }
}

impl Drop for Finisher {
    /// A saver dropped unfinished (its snapshot failed) stops the thread
    /// before the failed call returns: otherwise it went on writing packs
    /// (or left their spools behind when the process exited) after the
    /// caller had been told the run was over.
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        lock(&self.sender).take();
        if let Some(handle) = lock(&self.handle).take() {
            let _ = handle.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning only follows a panic elsewhere; the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Parses a pack header from the sealed header bytes and checks that its
/// entries tile the blob area `[0, blobs_end)` exactly.
pub fn decode_header(keys: &Keys, sealed: &[u8], blobs_end: u64) -> Result<Vec<PackEntry>> {
    let header: PackHeader = codec::decode(keys, ObjectKind::PackHeader, sealed)?;
    check_version("pack header", header.version)?;
    let mut expected = 0u64;
    if header.entries.windows(2).any(|w| w[0].kind != w[1].kind) {
        return Err(Error::corrupt("pack header", "data and tree blobs in one pack"));
    }
    for e in &header.entries {
        if u64::from(e.offset) != expected {
            return Err(Error::corrupt(
                "pack header",
                format!("blob {} at offset {} (expected {expected})", e.id, e.offset),
            ));
        }
        expected += u64::from(e.length);
    }
    if expected != blobs_end {
        return Err(Error::corrupt("pack header", format!("blobs end at {expected}, header starts at {blobs_end}")));
    }
    Ok(header.entries)
}

/// Splits a whole pack file into its blob area length and its sealed header.
pub fn split_pack(bytes: &[u8]) -> Result<(u64, &[u8])> {
    let n = bytes.len();
    if n < 4 {
        return Err(Error::corrupt("pack", "shorter than its trailer"));
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&bytes[n - 4..]);
    let header_len = u32::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_LEN || header_len as usize > n - 4 {
        return Err(Error::corrupt("pack", format!("header length {header_len} does not fit a {n}-byte file")));
    }
    let start = n - 4 - header_len as usize;
    Ok((start as u64, &bytes[start..n - 4]))
}

/// Reads and checks the header of a stored pack, reading only its tail.
pub fn read_header(backend: &dyn Backend, keys: &Keys, pack: &Id) -> Result<Vec<PackEntry>> {
    let (tail, size) = backend.read_tail(FileKind::Pack, pack, TAIL_GUESS)?;
    let corrupt = |detail: String| Error::corrupt(format!("pack {pack}"), detail);
    if tail.len() < 4 {
        return Err(corrupt("shorter than its trailer".into()));
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&tail[tail.len() - 4..]);
    let header_len = u64::from(u32::from_le_bytes(len_bytes));
    if header_len > u64::from(MAX_HEADER_LEN) || header_len + 4 > size {
        return Err(corrupt(format!("header length {header_len} does not fit a {size}-byte file")));
    }
    let header_start = size - 4 - header_len;
    let sealed = if header_len + 4 <= tail.len() as u64 {
        tail[tail.len() - 4 - header_len as usize..tail.len() - 4].to_vec()
    } else {
        // The header is longer than the guess: read exactly it.
        backend.read_range(FileKind::Pack, pack, header_start, header_len as usize)?
    };
    decode_header(keys, &sealed, header_start).map_err(|e| name_pack(pack, e))
}

/// Parses a whole pack file held in memory.
pub fn parse_pack(keys: &Keys, bytes: &[u8]) -> Result<Vec<PackEntry>> {
    let (blobs_end, sealed) = split_pack(bytes)?;
    decode_header(keys, sealed, blobs_end)
}

fn name_pack(pack: &Id, e: Error) -> Error {
    match e {
        Error::Corrupt { what, detail } => Error::Corrupt { what: format!("pack {pack} ({what})"), detail },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse() {
        let keys = Keys::from_master(&[9; 32]);
        let mut b = PackBuilder::new(BlobKind::Data);
        for i in 0..5u8 {
            let raw = vec![i; 100 * usize::from(i)];
            let sealed = codec::seal_bytes(&keys, ObjectKind::DataBlob, &raw, 3).unwrap();
            b.add(keys.blob_id(&raw), &sealed, raw.len());
        }
        let (bytes, entries) = b.finish(&keys).unwrap();
        assert_eq!(parse_pack(&keys, &bytes).unwrap(), entries);
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 1] = 0xff;
        assert!(parse_pack(&keys, &bad).is_err());
        assert!(parse_pack(&keys, &bytes[1..]).is_err());
    }

    #[test]
    fn streamed_pack_equals_built_pack_layout() {
        let dir = tempfile::tempdir().unwrap();
        let backend = crate::backend::for_location(&dir.path().join("r")).unwrap();
        backend.create_layout().unwrap();
        let backend = &*backend;
        let keys = Keys::Plain;
        let mut w = PackWriter::create(backend, BlobKind::Tree).unwrap();
        let mut b = PackBuilder::new(BlobKind::Tree);
        for i in 0..3u8 {
            let raw = vec![i; 1000];
            let sealed = codec::seal_bytes(&keys, ObjectKind::TreeBlob, &raw, 3).unwrap();
            w.add(keys.blob_id(&raw), &sealed, raw.len()).unwrap();
            b.add(keys.blob_id(&raw), &sealed, raw.len());
        }
        let (id, entries, size) = w.finish(backend, &keys).unwrap();
        let (bytes, built) = b.finish(&keys).unwrap();
        assert_eq!(entries, built);
        // Plain sealing has no nonce, so both ways give the same bytes.
        assert_eq!(id, Id::of_file_bytes(&bytes));
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(read_header(backend, &keys, &id).unwrap(), entries);
        assert!(backend.list_temporaries().unwrap().is_empty());
        // An unfinished writer leaves nothing behind.
        let w = PackWriter::create(backend, BlobKind::Data).unwrap();
        drop(w);
        assert!(backend.list_temporaries().unwrap().is_empty());
    }
}
