//! Counting the requests a run makes to its storage: [`CountingBackend`]
//! wraps every backend `for_location` makes (outermost, always on) and
//! counts each trait call by operation, and reads also by folder, so that
//! `snapshot --json` and `--verbose` can say what a run cost on a remote
//! store and the tests can hold the no-change snapshot to a constant.
//!
//! A call is counted once however many retries or pages the backend needs
//! underneath: these are the repository's requests, not HTTP round trips
//! (a listing of 10 000 objects on S3 is ten pages but one `list`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use super::{Backend, BackendResult, FileKind, Spool};
use crate::id::Id;

/// Requests by operation, as `snapshot --json` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Listings (`list`, `list_times`, temporaries).
    pub list: u64,
    /// Whole-file reads, the config's included.
    pub read: u64,
    pub read_range: u64,
    /// Tail reads (also how a file's size is asked for).
    pub read_tail: u64,
    /// Creates (from bytes, from a spool, the config, its replacement, a
    /// new repository's layout).
    pub create: u64,
    pub remove: u64,
    /// The sum of the above.
    pub total: u64,
    /// Reads of every form (`read`, `read_range`, `read_tail`) by folder
    /// (`config`, `keys`, `data`, `index`, `snapshots`…); folders never
    /// read are left out.
    pub reads_by_folder: BTreeMap<&'static str, u64>,
}

impl RequestCounts {
    /// Reads of every form from one folder.
    pub fn reads_of(&self, folder: &str) -> u64 {
        self.reads_by_folder.get(folder).copied().unwrap_or(0)
    }

    /// One line for `--verbose`: `requests: 12 (3 list, 1 read, …)`.
    pub fn line(&self) -> String {
        format!(
            "requests: {} ({} list, {} read, {} read_range, {} read_tail, {} create, {} remove)",
            self.total, self.list, self.read, self.read_range, self.read_tail, self.create, self.remove
        )
    }
}

/// The operations counted; the index into [`Counters::ops`].
#[derive(Clone, Copy)]
enum Counted {
    List,
    Read,
    ReadRange,
    ReadTail,
    Create,
    Remove,
}

/// The name reads of the config are counted under.
const CONFIG_FOLDER: &str = "config";

/// One slot per kind of file plus one for the config.
const FOLDERS: usize = FileKind::ALL.len() + 1;

fn folder_slot(kind: Option<FileKind>) -> usize {
    match kind {
        Some(kind) => FileKind::ALL.iter().position(|k| *k == kind).unwrap_or(0),
        None => FileKind::ALL.len(),
    }
}

fn folder_name(slot: usize) -> &'static str {
    FileKind::ALL.get(slot).map_or(CONFIG_FOLDER, |k| k.folder())
}

#[derive(Debug, Default)]
struct Counters {
    ops: [AtomicU64; 6],
    reads: [AtomicU64; FOLDERS],
}

/// Wraps `inner` and counts its requests; otherwise it is `inner`.
#[derive(Debug)]
pub struct CountingBackend {
    inner: Arc<dyn Backend>,
    counters: Counters,
}

impl CountingBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        CountingBackend { inner, counters: Counters::default() }
    }

    fn count(&self, op: Counted) {
        self.counters.ops[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a read of `kind` (`None`: the config).
    fn count_read(&self, op: Counted, kind: Option<FileKind>) {
        self.count(op);
        self.counters.reads[folder_slot(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// The requests made so far.
    pub fn counts(&self) -> RequestCounts {
        let op = |o: Counted| self.counters.ops[o as usize].load(Ordering::Relaxed);
        let mut counts = RequestCounts {
            list: op(Counted::List),
            read: op(Counted::Read),
            read_range: op(Counted::ReadRange),
            read_tail: op(Counted::ReadTail),
            create: op(Counted::Create),
            remove: op(Counted::Remove),
            ..RequestCounts::default()
        };
        counts.total = counts.list + counts.read + counts.read_range + counts.read_tail + counts.create + counts.remove;
        for (slot, n) in self.counters.reads.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                counts.reads_by_folder.insert(folder_name(slot), n);
            }
        }
        counts
    }
}

impl Backend for CountingBackend {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn create_layout(&self) -> BackendResult<()> {
        self.count(Counted::Create);
        self.inner.create_layout()
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        self.count(Counted::List);
        self.inner.list(kind)
    }

    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        self.count(Counted::List);
        self.inner.list_times(kind)
    }

    fn list_temporaries(&self) -> BackendResult<Vec<String>> {
        self.count(Counted::List);
        self.inner.list_temporaries()
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        self.count_read(Counted::Read, Some(kind));
        self.inner.read(kind, id)
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        self.count_read(Counted::ReadRange, Some(kind));
        self.inner.read_range(kind, id, offset, len)
    }

    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        self.count_read(Counted::ReadTail, Some(kind));
        self.inner.read_tail(kind, id, len)
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        self.count(Counted::Create);
        self.inner.create(kind, id, bytes)
    }

    // A spool is a local file, not a request.
    fn create_spool(&self, kind: FileKind) -> BackendResult<Spool> {
        self.inner.create_spool(kind)
    }

    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        self.count(Counted::Create);
        self.inner.create_from_spool(kind, id, spool)
    }

    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.count(Counted::Remove);
        self.inner.remove(kind, id)
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        self.count_read(Counted::Read, None);
        self.inner.read_config()
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.count(Counted::Create);
        self.inner.create_config(bytes)
    }

    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.count(Counted::Create);
        self.inner.replace_config(bytes)
    }

    fn append_only(&self) -> bool {
        self.inner.append_only()
    }

    // Not counted: only a `cairn serve` answers it, once per status.
    fn server_report(&self) -> BackendResult<Option<Vec<u8>>> {
        self.inner.server_report()
    }

    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        self.inner.local_path(kind, id)
    }

    // Answered from the retention the backend read once (not per file).
    fn set_default_retention(&self, retention: super::object_lock::Retention) -> BackendResult<()> {
        self.inner.set_default_retention(retention)
    }

    fn locked_until(&self, kind: FileKind, id: &Id, modified: Option<SystemTime>) -> BackendResult<Option<SystemTime>> {
        self.inner.locked_until(kind, id, modified)
    }

    fn request_counts(&self) -> Option<RequestCounts> {
        Some(self.counts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::MemoryBackend;

    #[test]
    fn every_operation_is_counted_once_and_reads_by_folder() {
        let counting = CountingBackend::new(Arc::new(MemoryBackend::new()));
        let backend: &dyn Backend = &counting;
        backend.create_layout().unwrap();
        backend.create_config(b"config").unwrap();
        let id = backend.write(FileKind::Index, b"index bytes").unwrap();
        let pack = backend.write(FileKind::Pack, b"pack bytes").unwrap();
        backend.read_config().unwrap();
        backend.read(FileKind::Index, &id).unwrap();
        backend.read_range(FileKind::Pack, &pack, 1, 3).unwrap();
        backend.read_tail(FileKind::Pack, &pack, 2).unwrap();
        backend.list(FileKind::Index).unwrap();
        backend.list_times(FileKind::Pack).unwrap();
        backend.remove(FileKind::Index, &id).unwrap();
        // A failed request is a request too.
        assert!(backend.read(FileKind::Snapshot, &id).is_err());
        let c = backend.request_counts().expect("counted");
        assert_eq!((c.list, c.read, c.read_range, c.read_tail, c.create, c.remove), (2, 3, 1, 1, 4, 1));
        assert_eq!(c.total, 12);
        assert_eq!(c.reads_of("config"), 1);
        assert_eq!(c.reads_of("index"), 1);
        assert_eq!(c.reads_of("data"), 2);
        assert_eq!(c.reads_of("snapshots"), 1);
        assert_eq!(c.reads_of("keys"), 0);
        assert!(!c.reads_by_folder.contains_key("keys"), "folders never read are left out");
        assert_eq!(c.line(), "requests: 12 (2 list, 3 read, 1 read_range, 1 read_tail, 4 create, 1 remove)");
    }

    #[test]
    fn the_json_form_has_the_documented_fields() {
        let counting = CountingBackend::new(Arc::new(MemoryBackend::new()));
        counting.list(FileKind::Snapshot).unwrap();
        let v = serde_json::to_value(counting.counts()).unwrap();
        for field in ["list", "read", "read_range", "read_tail", "create", "remove", "total"] {
            assert!(v[field].is_u64(), "{field} in {v}");
        }
        assert_eq!(v["list"], 1);
        assert_eq!(v["total"], 1);
        assert!(v["reads_by_folder"].as_object().unwrap().is_empty());
    }

    #[test]
    fn an_uncounted_backend_has_no_counts() {
        assert!(MemoryBackend::new().request_counts().is_none());
    }
}
