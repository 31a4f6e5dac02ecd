//! A fault-injecting wrapper around any backend, for tests: it counts the
//! operations of each kind and makes chosen ones fail (before or after
//! doing their work), run out of space, return short or corrupted bytes,
//! answer slowly, or lose a file just after listing it (a concurrent prune).

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Backend, BackendError, BackendResult, FileKind, Op, Spool};
use crate::id::Id;

/// What goes wrong with a chosen operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails with this kind of error and does nothing.
    Fail(ErrorKind),
    /// Does its work, then reports failure (a lost acknowledgement).
    FailAfter(ErrorKind),
    /// Fails with ENOSPC ("No space left on device") and does nothing.
    NoSpace,
    /// A read returns only the first half of its bytes.
    ShortRead,
    /// A read returns its bytes with one bit flipped in the middle.
    CorruptRead,
}

#[derive(Debug, Default)]
struct Plan {
    /// Operations seen so far, by kind.
    counts: HashMap<Op, u64>,
    /// Faults for the nth (1-based) operation of a kind.
    nth: HashMap<(Op, u64), Fault>,
    /// Faults for every operation of a kind (after any `nth` fault).
    every: HashMap<Op, Fault>,
    delay: Duration,
    /// Files removed right after a listing of their kind returns: the
    /// count is how many more listings of that kind until then.
    vanish_after_list: Vec<(FileKind, Id, u64)>,
    /// Files the storage retains until then (Object Lock), by kind and id.
    locked: HashMap<(FileKind, Id), std::time::SystemTime>,
}

/// Wraps `inner`; with no faults planned it behaves exactly like it.
#[derive(Debug)]
pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    plan: Mutex<Plan>,
}

impl FaultyBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        FaultyBackend { inner, plan: Mutex::new(Plan::default()) }
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `n`th (counting from 1, from now on or from the last reset)
    /// operation of kind `op` meets `fault`.
    pub fn fail_nth(&self, op: Op, n: u64, fault: Fault) {
        self.plan().nth.insert((op, n), fault);
    }

    /// Every operation of kind `op` meets `fault`.
    pub fn fail_every(&self, op: Op, fault: Fault) {
        self.plan().every.insert(op, fault);
    }

    /// Removes the file right after the `nth` (from 1, from now on)
    /// listing of its kind, which still names it: as a prune running beside
    /// a reader would.
    pub fn vanish_after_list(&self, kind: FileKind, id: Id, nth: u64) {
        self.plan().vanish_after_list.push((kind, id, nth));
    }

    /// The storage retains file `id` until `until` (as Object Lock would):
    /// `locked_until` says so. Removing it still works (tests check that
    /// callers asked first).
    pub fn lock_until(&self, kind: FileKind, id: Id, until: std::time::SystemTime) {
        self.plan().locked.insert((kind, id), until);
    }

    /// Each operation first waits this long (slow storage).
    pub fn set_delay(&self, delay: Duration) {
        self.plan().delay = delay;
    }

    /// Clears the counts and every planned fault and delay.
    pub fn reset(&self) {
        *self.plan() = Plan::default();
    }

    /// How many operations of kind `op` were attempted.
    pub fn count(&self, op: Op) -> u64 {
        self.plan().counts.get(&op).copied().unwrap_or(0)
    }

    /// Counts one operation and returns its fault, after the delay.
    fn begin(&self, op: Op) -> Option<Fault> {
        let (fault, delay) = {
            let mut plan = self.plan();
            let n = plan.counts.entry(op).or_insert(0);
            *n += 1;
            let n = *n;
            (plan.nth.get(&(op, n)).or_else(|| plan.every.get(&op)).copied(), plan.delay)
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        fault
    }

    /// Runs one operation of kind `op` on `file` under its planned fault.
    fn run<T>(&self, op: Op, file: impl Fn() -> String, work: impl FnOnce() -> BackendResult<T>) -> BackendResult<T> {
        let fault = self.begin(op);
        apply(op, fault, file, work)
    }

    /// A read: the planned fault may also damage the bytes it returns.
    fn read_with(
        &self,
        file: impl Fn() -> String,
        read: impl FnOnce() -> BackendResult<Vec<u8>>,
    ) -> BackendResult<Vec<u8>> {
        let fault = self.begin(Op::Read);
        let mut bytes = apply(Op::Read, fault, file, read)?;
        match fault {
            Some(Fault::ShortRead) => bytes.truncate(bytes.len() / 2),
            Some(Fault::CorruptRead) if !bytes.is_empty() => {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x10;
            }
            _ => {}
        }
        Ok(bytes)
    }
}

/// Does `work` under `fault`: an error instead, or after it.
fn apply<T>(
    op: Op,
    fault: Option<Fault>,
    file: impl Fn() -> String,
    work: impl FnOnce() -> BackendResult<T>,
) -> BackendResult<T> {
    let injected = |e: io::Error| BackendError::new(op, format!("{} (injected fault)", file()), e);
    match fault {
        Some(Fault::Fail(kind)) => Err(injected(kind.into())),
        Some(Fault::NoSpace) => Err(injected(no_space())),
        Some(Fault::FailAfter(kind)) => work().and(Err(injected(kind.into()))),
        Some(Fault::ShortRead | Fault::CorruptRead) | None => work(),
    }
}

/// ENOSPC as the operating system reports it.
pub fn no_space() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error())
}

fn name(kind: FileKind, id: &Id) -> String {
    format!("{}/{id}", kind.folder())
}

impl Backend for FaultyBackend {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn create_layout(&self) -> BackendResult<()> {
        self.run(Op::Layout, || self.location(), || self.inner.create_layout())
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        let listed = self.run(Op::List, || kind.folder().to_string(), || self.inner.list(kind))?;
        let vanishing: Vec<Id> = {
            let mut plan = self.plan();
            let due = |(k, _, left): &(FileKind, Id, u64)| *k == kind && *left <= 1;
            let now = plan.vanish_after_list.iter().filter(|v| due(v)).map(|(_, id, _)| *id).collect();
            plan.vanish_after_list.retain(|v| !due(v));
            for (_, _, left) in plan.vanish_after_list.iter_mut().filter(|(k, _, _)| *k == kind) {
                *left -= 1;
            }
            now
        };
        for id in vanishing {
            self.inner.remove(kind, &id)?;
        }
        Ok(listed)
    }

    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<std::time::SystemTime>)>> {
        self.run(Op::List, || kind.folder().to_string(), || self.inner.list_times(kind))
    }

    fn list_temporaries(&self) -> BackendResult<Vec<String>> {
        self.run(Op::List, || "temporaries".to_string(), || self.inner.list_temporaries())
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        self.read_with(|| name(kind, id), || self.inner.read(kind, id))
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        self.read_with(|| name(kind, id), || self.inner.read_range(kind, id, offset, len))
    }

    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        let mut size = 0;
        let bytes = self.read_with(
            || name(kind, id),
            || {
                let (bytes, total) = self.inner.read_tail(kind, id, len)?;
                size = total;
                Ok(bytes)
            },
        )?;
        Ok((bytes, size))
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        self.run(Op::Create, || name(kind, id), || self.inner.create(kind, id, bytes))
    }

    fn create_spool(&self, kind: FileKind) -> BackendResult<Spool> {
        self.run(Op::Spool, || format!("{} spool", kind.folder()), || self.inner.create_spool(kind))
    }

    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        self.run(Op::Create, || name(kind, id), || self.inner.create_from_spool(kind, id, spool))
    }

    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.run(Op::Remove, || name(kind, id), || self.inner.remove(kind, id))
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        self.read_with(|| "config".into(), || self.inner.read_config())
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.run(Op::Create, || "config".into(), || self.inner.create_config(bytes))
    }

    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.run(Op::Create, || "config".into(), || self.inner.replace_config(bytes))
    }

    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        self.inner.local_path(kind, id)
    }

    // The wrapper must stay invisible to the server's two answers too.
    fn append_only(&self) -> bool {
        self.inner.append_only()
    }

    fn set_default_retention(&self, retention: super::object_lock::Retention) -> BackendResult<()> {
        self.inner.set_default_retention(retention)
    }

    fn locked_until(
        &self,
        kind: FileKind,
        id: &Id,
        modified: Option<std::time::SystemTime>,
    ) -> BackendResult<Option<std::time::SystemTime>> {
        match self.plan().locked.get(&(kind, *id)) {
            Some(until) => Ok(Some(*until)),
            None => self.inner.locked_until(kind, id, modified),
        }
    }

    fn server_report(&self) -> BackendResult<Option<Vec<u8>>> {
        self.inner.server_report()
    }
}

/// For the integration tests of the real binary (cargo feature
/// `testing`, which only `cargo test` builds enable):
/// `CAIRN_TEST_FAULT=<op>:<n>[:<fault>]` wraps `inner` so that its `n`th
/// (from 1) operation of kind `op` (`create`, `spool`, `read`, `list`,
/// `remove`) meets `fault`: `fail` (the default: an I/O error, nothing
/// done), `fail-after` (done, then reported failed: a lost
/// acknowledgement) or `nospace`. Without the variable, `inner` as it is;
/// a malformed value panics, since only a test can set it.
#[cfg(feature = "testing")]
pub fn from_test_environment(inner: Arc<dyn Backend>) -> Arc<dyn Backend> {
    let Ok(spec) = std::env::var("CAIRN_TEST_FAULT") else { return inner };
    let parts: Vec<&str> = spec.split(':').collect();
    let op = match parts.first().copied() {
        Some("create") => Op::Create,
        Some("spool") => Op::Spool,
        Some("read") => Op::Read,
        Some("list") => Op::List,
        Some("remove") => Op::Remove,
        other => panic!("CAIRN_TEST_FAULT: unknown operation {other:?}"),
    };
    let n: u64 = parts.get(1).and_then(|n| n.parse().ok()).expect("CAIRN_TEST_FAULT: <op>:<n>[:<fault>]");
    let fault = match parts.get(2).copied() {
        None | Some("fail") => Fault::Fail(ErrorKind::Other),
        Some("fail-after") => Fault::FailAfter(ErrorKind::Other),
        Some("nospace") => Fault::NoSpace,
        other => panic!("CAIRN_TEST_FAULT: unknown fault {other:?}"),
    };
    let faulty = FaultyBackend::new(inner);
    faulty.fail_nth(op, n, fault);
    Arc::new(faulty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::MemoryBackend;

    fn faulty() -> FaultyBackend {
        FaultyBackend::new(Arc::new(MemoryBackend::new()))
    }

    #[test]
    fn the_servers_answers_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        std::fs::write(&report, b"{}").unwrap();
        let inner = Arc::new(crate::backend::reporting::ReportingBackend::new(Arc::new(MemoryBackend::new()), report));
        let be = FaultyBackend::new(inner);
        assert_eq!(be.server_report().unwrap().as_deref(), Some(&b"{}"[..]));
    }

    #[test]
    fn fails_exactly_the_nth_operation_of_a_kind() {
        let be = faulty();
        be.fail_nth(Op::Create, 2, Fault::Fail(ErrorKind::Other));
        be.create(FileKind::Pack, &Id([1; 32]), b"one").unwrap();
        let err = be.create(FileKind::Pack, &Id([2; 32]), b"two").unwrap_err();
        assert!(err.to_string().contains(&format!("data/{}", Id([2; 32]))), "names the file: {err}");
        assert!(err.to_string().starts_with("could not create"), "names the operation: {err}");
        be.create(FileKind::Pack, &Id([3; 32]), b"three").unwrap();
        assert_eq!(be.count(Op::Create), 3);
        assert_eq!(be.count(Op::Read), 0, "reads are counted apart");
        let listed: Vec<Id> = be.list(FileKind::Pack).unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(listed, [Id([1; 32]), Id([3; 32])], "the failed create stored nothing");
    }

    #[test]
    fn a_file_vanishes_after_the_listing_that_names_it() {
        let be = faulty();
        be.create(FileKind::Index, &Id([1; 32]), b"i").unwrap();
        be.vanish_after_list(FileKind::Index, Id([1; 32]), 2);
        assert_eq!(be.list(FileKind::Pack).unwrap(), vec![], "another kind's listing leaves it");
        assert_eq!(be.list(FileKind::Index).unwrap(), vec![(Id([1; 32]), 1)], "the first listing leaves it");
        assert!(be.read(FileKind::Index, &Id([1; 32])).is_ok());
        assert_eq!(be.list(FileKind::Index).unwrap(), vec![(Id([1; 32]), 1)], "still listed by the second");
        assert!(be.read(FileKind::Index, &Id([1; 32])).unwrap_err().is_not_found(), "then gone");
    }

    #[test]
    fn a_lost_acknowledgement_does_the_work() {
        let be = faulty();
        be.fail_nth(Op::Create, 1, Fault::FailAfter(ErrorKind::TimedOut));
        assert_eq!(be.create(FileKind::Key, &Id([1; 32]), b"k").unwrap_err().kind(), ErrorKind::TimedOut);
        assert_eq!(be.read(FileKind::Key, &Id([1; 32])).unwrap(), b"k");
    }

    #[test]
    fn no_space_is_enospc() {
        let be = faulty();
        be.fail_every(Op::Create, Fault::NoSpace);
        for n in 1..=3u8 {
            let err = be.create(FileKind::Index, &Id([n; 32]), b"i").unwrap_err();
            assert_eq!(err.source.raw_os_error(), Some(28), "{err}");
            assert!(err.to_string().contains("No space left on device"), "{err}");
        }
        assert!(be.create_config(b"c").is_err(), "the config is a create too");
        assert_eq!(be.list(FileKind::Index).unwrap(), vec![]);
    }

    #[test]
    fn short_and_corrupted_reads() {
        let be = faulty();
        let id = Id([1; 32]);
        let bytes: Vec<u8> = (0..10).collect();
        be.create(FileKind::Pack, &id, &bytes).unwrap();
        be.fail_nth(Op::Read, 1, Fault::ShortRead);
        be.fail_nth(Op::Read, 2, Fault::CorruptRead);
        be.fail_nth(Op::Read, 3, Fault::ShortRead);
        be.fail_nth(Op::Read, 4, Fault::CorruptRead);
        assert_eq!(be.read(FileKind::Pack, &id).unwrap(), bytes[..5]);
        let corrupted = be.read_range(FileKind::Pack, &id, 0, 10).unwrap();
        assert_eq!(corrupted.len(), 10);
        assert_eq!(corrupted.iter().zip(&bytes).filter(|(a, b)| a != b).count(), 1, "one byte differs");
        assert_eq!(be.read_tail(FileKind::Pack, &id, 4).unwrap(), (bytes[6..8].to_vec(), 10));
        assert!(be.read_config().unwrap_err().is_not_found(), "no config: the inner error, undamaged");
        assert_eq!(be.read(FileKind::Pack, &id).unwrap(), bytes, "only the planned reads are damaged");
    }

    #[test]
    fn slow_responses_still_answer() {
        let be = faulty();
        be.set_delay(Duration::from_millis(1));
        be.create(FileKind::Snapshot, &Id([1; 32]), b"s").unwrap();
        assert_eq!(be.read(FileKind::Snapshot, &Id([1; 32])).unwrap(), b"s");
        be.reset();
        assert_eq!(be.count(Op::Create), 0, "reset clears the counts");
        assert_eq!(be.read(FileKind::Snapshot, &Id([1; 32])).unwrap(), b"s");
    }

    #[test]
    fn a_failed_spool_create_leaves_no_spool() {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(crate::backend::local::LocalBackend::new(dir.path().join("r")));
        local.create_layout().unwrap();
        let be = FaultyBackend::new(local);
        let mut spool = be.create_spool(FileKind::Pack).unwrap();
        std::io::Write::write_all(spool.file(), b"pack").unwrap();
        let spool_path = spool.path().to_path_buf();
        be.fail_nth(Op::Create, 1, Fault::NoSpace);
        assert!(be.create_from_spool(FileKind::Pack, &Id([1; 32]), spool).is_err());
        assert!(!spool_path.exists());
        assert_eq!(be.list(FileKind::Pack).unwrap(), vec![]);
        assert!(be.list_temporaries().unwrap().is_empty());
    }
}
