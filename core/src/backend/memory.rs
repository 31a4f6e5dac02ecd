//! The in-memory backend: a repository in a map, for tests. It keeps the
//! rules of the trait (create-if-absent, ranged reads at the edges, idempotent
//! remove) so that code tested against it behaves the same on disk.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Backend, BackendError, BackendResult, FileKind, Op, is_id_name};
use crate::id::Id;

/// Files by kind and name. Names are strings so that tests can plant names
/// that are not ids, as a user or a sync tool might.
type Files = BTreeMap<(FileKind, String), Arc<Vec<u8>>>;

/// Each file's time: when it was created, unless a test set another.
type Times = BTreeMap<(FileKind, String), SystemTime>;

#[derive(Debug, Default)]
pub struct MemoryBackend {
    files: Mutex<Files>,
    times: Mutex<Times>,
    config: Mutex<Option<Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores bytes under any name, bypassing every rule (tests only: a
    /// stray or damaged file).
    pub fn put_raw(&self, kind: FileKind, name: &str, bytes: &[u8]) {
        self.files().insert((kind, name.to_string()), Arc::new(bytes.to_vec()));
        self.times().insert((kind, name.to_string()), SystemTime::now());
    }

    /// Sets a file's modification time (tests: a marker written long ago).
    pub fn set_time(&self, kind: FileKind, id: &Id, time: SystemTime) {
        self.times().insert((kind, id.to_hex()), time);
    }

    fn times(&self) -> MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        // A panic elsewhere while holding the lock leaves a valid map.
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, kind: FileKind, id: &Id) -> BackendResult<Arc<Vec<u8>>> {
        self.files()
            .get(&(kind, id.to_hex()))
            .cloned()
            .ok_or_else(|| fail(Op::Read, kind, id, ErrorKind::NotFound.into()))
    }
}

fn name(kind: FileKind, id: &Id) -> String {
    format!("memory:{}/{id}", kind.folder())
}

fn fail(op: Op, kind: FileKind, id: &Id, e: io::Error) -> BackendError {
    BackendError::new(op, name(kind, id), e)
}

impl Backend for MemoryBackend {
    fn location(&self) -> String {
        "memory".into()
    }

    fn create_layout(&self) -> BackendResult<()> {
        let config = self.config.lock().unwrap_or_else(|p| p.into_inner());
        if config.is_some() || !self.files().is_empty() {
            return Err(BackendError::new(Op::Layout, "memory", ErrorKind::AlreadyExists.into()));
        }
        Ok(())
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        Ok(self
            .files()
            .iter()
            .filter(|((k, name), _)| *k == kind && is_id_name(name))
            .filter_map(|((_, name), bytes)| Some((Id::from_hex(name).ok()?, bytes.len() as u64)))
            .collect())
    }

    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        let times = self.times();
        Ok(self
            .list(kind)?
            .into_iter()
            .map(|(id, size)| (id, size, Some(times.get(&(kind, id.to_hex())).copied().unwrap_or(UNIX_EPOCH))))
            .collect())
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        Ok(self.get(kind, id)?.to_vec())
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        let bytes = self.get(kind, id)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len).filter(|end| *end <= bytes.len()) {
            Some(end) => Ok(bytes[start..end].to_vec()),
            None => Err(fail(Op::Read, kind, id, ErrorKind::UnexpectedEof.into())),
        }
    }

    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        let bytes = self.get(kind, id)?;
        let start = bytes.len().saturating_sub(usize::try_from(len).unwrap_or(usize::MAX));
        Ok((bytes[start..].to_vec(), bytes.len() as u64))
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        let mut files = self.files();
        let key = (kind, id.to_hex());
        if files.contains_key(&key) {
            return Err(fail(Op::Create, kind, id, ErrorKind::AlreadyExists.into()));
        }
        files.insert(key.clone(), Arc::new(bytes.to_vec()));
        self.times().insert(key, SystemTime::now());
        Ok(())
    }

    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.files().remove(&(kind, id.to_hex()));
        self.times().remove(&(kind, id.to_hex()));
        Ok(())
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        let config = self.config.lock().unwrap_or_else(|p| p.into_inner());
        config.clone().ok_or_else(|| BackendError::new(Op::Read, "memory:config", ErrorKind::NotFound.into()))
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let mut config = self.config.lock().unwrap_or_else(|p| p.into_inner());
        if config.is_some() {
            return Err(BackendError::new(Op::Create, "memory:config", ErrorKind::AlreadyExists.into()));
        }
        *config = Some(bytes.to_vec());
        Ok(())
    }

    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let mut config = self.config.lock().unwrap_or_else(|p| p.into_inner());
        if config.is_none() {
            return Err(BackendError::new(Op::Create, "memory:config", ErrorKind::NotFound.into()));
        }
        *config = Some(bytes.to_vec());
        Ok(())
    }
}
