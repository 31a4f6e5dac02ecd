//! A fault-injecting wrapper around any backend, for tests: it counts the
//! operations of each kind and makes chosen ones fail (before or after
//! doing their work), run out of space, return short or corrupted bytes,
//! or answer slowly.

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
        self.run(Op::List, || kind.folder().to_string(), || self.inner.list(kind))
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

    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        self.inner.local_path(kind, id)
    }
}
