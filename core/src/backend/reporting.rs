//! Tests only: a backend that answers `server_report` with the bytes of a
//! file, as a `cairn serve` running maintenance would, so that `cairn
//! status` can be tested against a report without a server
//! (`CAIRN_TEST_SERVER_REPORT=FILE` in test builds). Everything else goes
//! to the wrapped backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Backend, BackendError, BackendResult, FileKind, Op, Spool};
use crate::id::Id;

#[derive(Debug)]
pub struct ReportingBackend {
    inner: Arc<dyn Backend>,
    report: PathBuf,
}

impl ReportingBackend {
    pub fn new(inner: Arc<dyn Backend>, report: PathBuf) -> ReportingBackend {
        ReportingBackend { inner, report }
    }
}

/// `inner`, answering `server_report` from the file named by
/// `CAIRN_TEST_SERVER_REPORT` when it is set.
pub fn from_test_environment(inner: Arc<dyn Backend>) -> Arc<dyn Backend> {
    match std::env::var_os("CAIRN_TEST_SERVER_REPORT") {
        Some(file) => Arc::new(ReportingBackend::new(inner, PathBuf::from(file))),
        None => inner,
    }
}

impl Backend for ReportingBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn create_layout(&self) -> BackendResult<()> {
        self.inner.create_layout()
    }
    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        self.inner.list(kind)
    }
    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        self.inner.list_times(kind)
    }
    fn list_temporaries(&self) -> BackendResult<Vec<String>> {
        self.inner.list_temporaries()
    }
    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        self.inner.read(kind, id)
    }
    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        self.inner.read_range(kind, id, offset, len)
    }
    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        self.inner.read_tail(kind, id, len)
    }
    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        self.inner.create(kind, id, bytes)
    }
    fn create_spool(&self, kind: FileKind) -> BackendResult<Spool> {
        self.inner.create_spool(kind)
    }
    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        self.inner.create_from_spool(kind, id, spool)
    }
    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.inner.remove(kind, id)
    }
    fn read_config(&self) -> BackendResult<Vec<u8>> {
        self.inner.read_config()
    }
    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.inner.create_config(bytes)
    }
    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.inner.replace_config(bytes)
    }
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
        self.inner.locked_until(kind, id, modified)
    }

    fn server_report(&self) -> BackendResult<Option<Vec<u8>>> {
        match std::fs::read(&self.report) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BackendError::new(Op::Read, self.report.display(), e)),
        }
    }
    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        self.inner.local_path(kind, id)
    }
}
