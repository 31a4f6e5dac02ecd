//! The `s3:` backend: a repository in an S3 bucket (AWS S3 or a compatible
//! server), as format-spec.md "S3 storage" describes. Keys are
//! `PREFIX/config` and `PREFIX/<folder>/<id>` (flat, no `data/xx/`).
//!
//! There is no rename and no fsync on S3: an acknowledged PUT is the
//! durability point and makes the whole object visible at once, so every
//! create is one conditional PUT (`If-None-Match: *`; a server that does
//! not implement the condition gets HEAD then PUT, remembered for the
//! process), and a large pack is a multipart upload completed with the
//! same condition. Reads are ranged GETs bounded by the kind's size bound.
//! `client.rs` holds the opendal operator, its retries and error mapping;
//! `lock.rs` the bucket's Object Lock configuration.

pub mod client;
pub mod location;
pub mod lock;
#[cfg(any(test, feature = "testing"))]
pub mod test_server;

use std::io::{self, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opendal::ErrorKind as OdKind;

use super::object_lock::{LockConfiguration, Retention};
use super::readahead::ReadAhead;
use super::{Backend, BackendError, BackendResult, FileKind, Op, Spool, is_id_name};
use crate::format;
use crate::id::Id;
pub use client::{Bound, BucketLookup, Client, Failure, PART_SIZE, S3Options};
pub use location::{LocationError, S3Location, is_s3};

/// The repository's files in one bucket (under a prefix).
#[derive(Debug)]
pub struct S3Backend {
    location: S3Location,
    shown: String,
    client: Client,
    multipart_threshold: u64,
    /// The server refused `If-None-Match: *` once (501): HEAD then PUT.
    no_conditional_put: AtomicBool,
    /// Windows of packs already fetched (a restore asks for chunk after
    /// chunk of the same pack: one GET per window, not one per chunk).
    read_ahead: ReadAhead,
    /// The bucket's Object Lock configuration (read once).
    lock: lock::LockRequests,
}

impl S3Backend {
    pub fn new(location: S3Location, options: &S3Options) -> io::Result<S3Backend> {
        let client = Client::new(&location, options)?;
        let lock = lock::LockRequests::new(&location, options, client::virtual_host(&location, options));
        Ok(S3Backend {
            lock,
            shown: location.to_string(),
            location,
            client,
            multipart_threshold: options.multipart_threshold,
            no_conditional_put: AtomicBool::new(false),
            read_ahead: ReadAhead::default(),
        })
    }

    /// The opendal operator and the runtime it runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn s3_location(&self) -> &S3Location {
        &self.location
    }

    /// The key of a repository file.
    pub fn key_of(&self, kind: FileKind, id: &Id) -> String {
        self.location.key(&format!("{}/{}", kind.folder(), id.to_hex()))
    }

    fn error(&self, op: Op, key: &str, failure: Failure) -> BackendError {
        BackendError::new(op, self.url(key), failure.into_io(&self.location.bucket))
    }

    /// The object as shown in messages: `s3:http://host/bucket/key`.
    fn url(&self, key: &str) -> String {
        format!("s3:{}/{}/{key}", self.location.endpoint(), self.location.bucket)
    }

    /// The object's size, `None` when absent.
    fn head(&self, op: Op, key: &str) -> BackendResult<Option<u64>> {
        match self.client.block_on(self.client.operator.stat(key)) {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == OdKind::NotFound => Ok(None),
            Err(e) => Err(self.error(op, key, e.into())),
        }
    }

    /// One conditional PUT of a whole object.
    fn put_new(&self, key: &str, bytes: Vec<u8>) -> BackendResult<()> {
        if self.no_conditional_put.load(Ordering::Relaxed) {
            return self.put_after_head(key, bytes);
        }
        let op = &self.client.operator;
        let body = bytes.clone();
        match self.client.block_on(op.write_with(key, body).if_not_exists(true)) {
            Ok(_) => Ok(()),
            Err(e) if refuses_condition(&e) => {
                self.no_conditional_put.store(true, Ordering::Relaxed);
                self.put_after_head(key, bytes)
            }
            Err(e) => Err(self.error(Op::Create, key, e.into())),
        }
    }

    /// The fallback for servers without conditional PUT: HEAD, then PUT.
    /// Two writers racing between the two can both "win" (the later PUT
    /// replaces the earlier): format-spec.md "S3 storage" says when it matters.
    fn put_after_head(&self, key: &str, bytes: Vec<u8>) -> BackendResult<()> {
        if self.head(Op::Create, key)?.is_some() {
            return Err(exists(self.url(key)));
        }
        match self.client.block_on(self.client.operator.write(key, bytes)) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(Op::Create, key, e.into())),
        }
    }

    /// A multipart upload streamed from `file` (`size` bytes), completed
    /// with `If-None-Match: *`; each part carries its crc32c.
    fn put_multipart(&self, key: &str, file: &mut std::fs::File, size: u64) -> BackendResult<()> {
        let conditional = !self.no_conditional_put.load(Ordering::Relaxed);
        if !conditional && self.head(Op::Create, key)?.is_some() {
            return Err(exists(self.url(key)));
        }
        let op = &self.client.operator;
        let result: Result<(), Failure> = self.client.block_on(async {
            let mut writer = op.writer_with(key).chunk(PART_SIZE as usize).if_not_exists(conditional).await?;
            let mut left = size;
            while left > 0 {
                let n = left.min(PART_SIZE) as usize;
                let mut part = vec![0u8; n];
                if let Err(e) = file.read_exact(&mut part) {
                    let _ = writer.abort().await;
                    return Err(Failure::Od(opendal::Error::new(
                        OdKind::Unexpected,
                        format!("reading the spool: {e}"),
                    )));
                }
                if let Err(e) = writer.write(part).await {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
                left -= n as u64;
            }
            match writer.close().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let _ = writer.abort().await;
                    Err(e.into())
                }
            }
        });
        match result {
            Ok(()) => Ok(()),
            Err(Failure::Od(e)) if conditional && refuses_condition(&e) => {
                self.no_conditional_put.store(true, Ordering::Relaxed);
                file.rewind_to_start().map_err(|e| BackendError::new(Op::Create, self.url(key), e))?;
                self.put_multipart(key, file, size)
            }
            Err(f) => Err(self.error(Op::Create, key, f)),
        }
    }

    /// Deletes every version of a file, delete markers included, in a
    /// versioned bucket (Object Lock turns versioning on): a plain DELETE
    /// there only adds a delete marker and frees nothing. Returns how many
    /// versions were deleted; a version the bucket still locks fails with
    /// the server's refusal (403), the others are deleted regardless.
    pub fn remove_versions(&self, kind: FileKind, id: &Id) -> BackendResult<usize> {
        let key = self.key_of(kind, id);
        let op = &self.client.operator;
        let entries = self
            .client
            .block_on(op.list_with(&key).versions(true).deleted(true))
            .map_err(|e| self.error(Op::Remove, &key, e.into()))?;
        let mut removed = 0;
        let mut refused = None;
        for entry in entries.iter().filter(|e| e.path() == key) {
            let Some(version) = entry.metadata().version() else { continue };
            match self.client.block_on(op.delete_with(&key).version(version)) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == OdKind::NotFound => {}
                Err(e) => refused = Some(self.error(Op::Remove, &key, e.into())),
            }
        }
        match refused {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    fn list_entries(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        let dir = self.location.key(&format!("{}/", kind.folder()));
        let entries = self
            .client
            .block_on(self.client.operator.list_with(&dir))
            .map_err(|e| self.error(Op::List, &dir, e.into()))?;
        let mut out = Vec::new();
        for entry in entries {
            let name = entry.name();
            if !is_id_name(name) {
                continue;
            }
            let Ok(id) = Id::from_hex(name) else { continue };
            let meta = entry.metadata();
            let time = meta.last_modified().map(|t| SystemTime::from(t.into_inner()));
            out.push((id, meta.content_length(), time));
        }
        out.sort_by_key(|(id, _, _)| *id);
        out.dedup_by_key(|(id, _, _)| *id);
        Ok(out)
    }

    /// A whole object of at most `limit` bytes (one GET).
    fn read_whole(&self, key: &str, limit: u64, bound: Bound) -> BackendResult<Vec<u8>> {
        match self.client.block_on(self.client.read_bounded(key, 0, limit, bound)) {
            Ok(bytes) => Ok(bytes),
            // A range on an empty object cannot be satisfied.
            Err(f) if f.kind() == Some(OdKind::RangeNotSatisfied) => match self.head(Op::Read, key)? {
                Some(0) => Ok(Vec::new()),
                _ => Err(self.error(Op::Read, key, f)),
            },
            Err(f) => Err(self.error(Op::Read, key, f)),
        }
    }

    fn eof(&self, key: &str, what: String) -> BackendError {
        BackendError::new(Op::Read, self.url(key), io::Error::new(ErrorKind::UnexpectedEof, what))
    }
}

/// Whether the server said it does not implement the `If-None-Match`
/// condition (501 NotImplemented), rather than that the name is taken.
fn refuses_condition(e: &opendal::Error) -> bool {
    let text = e.to_string();
    e.kind() != OdKind::ConditionNotMatch && (text.contains("NotImplemented") || text.contains("501"))
}

fn exists(url: String) -> BackendError {
    BackendError::new(
        Op::Create,
        url,
        io::Error::new(ErrorKind::AlreadyExists, "the bucket already holds an object of that name"),
    )
}

/// Seeking a spool back to its start (for a second attempt).
trait Rewind {
    fn rewind_to_start(&mut self) -> io::Result<()>;
}

impl Rewind for std::fs::File {
    fn rewind_to_start(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.seek(io::SeekFrom::Start(0)).map(|_| ())
    }
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        self.shown.clone()
    }

    /// S3 has no folders: a new repository needs only that the bucket
    /// exists (cairn never creates buckets) and that the prefix holds no
    /// repository yet. One listing tells both.
    fn create_layout(&self) -> BackendResult<()> {
        let dir = self.location.key("");
        let entries = self
            .client
            .block_on(self.client.operator.list_with(&dir))
            .map_err(|e| self.error(Op::Layout, &dir, e.into()))?;
        let taken = entries.iter().any(|e| {
            let name = e.name().trim_end_matches('/');
            name == super::CONFIG_NAME || name == FileKind::Key.folder()
        });
        if taken {
            return Err(BackendError::new(
                Op::Layout,
                self.shown.clone(),
                io::Error::new(ErrorKind::AlreadyExists, "it already holds a repository"),
            ));
        }
        Ok(())
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        Ok(self.list_entries(kind)?.into_iter().map(|(id, size, _)| (id, size)).collect())
    }

    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        self.list_entries(kind)
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        self.read_whole(&self.key_of(kind, id), kind.max_len(), Bound::AtMost)
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        let key = self.key_of(kind, id);
        let past_end = || self.eof(&key, format!("{len} bytes at {offset} reach past the end"));
        offset.checked_add(len as u64).ok_or_else(past_end)?;
        if len == 0 {
            return match self.head(Op::Read, &key)? {
                None => Err(self.error(Op::Read, &key, Failure::Od(opendal::Error::new(OdKind::NotFound, "")))),
                Some(size) if offset > size => Err(past_end()),
                Some(_) => Ok(Vec::new()),
            };
        }
        if ReadAhead::applies(kind, len) {
            // The server stops the window at the end of the object.
            let fetch = |start, window_len| match self.client.block_on(self.client.read_bounded(
                &key,
                start,
                window_len,
                Bound::UpTo,
            )) {
                Ok(window) => Ok(window.into()),
                Err(f) if f.kind() == Some(OdKind::RangeNotSatisfied) => Err(past_end()),
                Err(f) => Err(self.error(Op::Read, &key, f)),
            };
            return self.read_ahead.read_through(kind, id, offset, len, fetch)?.ok_or_else(past_end);
        }
        match self.client.block_on(self.client.read_bounded(&key, offset, len as u64, Bound::Exact)) {
            Ok(bytes) if bytes.len() == len => Ok(bytes),
            Ok(_) => Err(past_end()),
            Err(f) if f.kind() == Some(OdKind::RangeNotSatisfied) || f.is_short() => Err(past_end()),
            Err(f) => Err(self.error(Op::Read, &key, f)),
        }
    }

    /// HEAD for the size, then one ranged GET of the tail.
    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        let key = self.key_of(kind, id);
        let size = match self.head(Op::Read, &key)? {
            Some(size) => size,
            None => return Err(self.error(Op::Read, &key, Failure::Od(opendal::Error::new(OdKind::NotFound, "")))),
        };
        let len = len.min(size).min(kind.max_len());
        if len == 0 {
            return Ok((Vec::new(), size));
        }
        let start = size - len;
        match self.client.block_on(self.client.read_bounded(&key, start, len, Bound::Exact)) {
            Ok(bytes) if bytes.len() as u64 == len => Ok((bytes, size)),
            Ok(_) => Err(self.eof(&key, "the object shrank while it was read".into())),
            Err(f) => Err(self.error(Op::Read, &key, f)),
        }
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        self.put_new(&self.key_of(kind, id), bytes.to_vec())
    }

    /// One PUT up to the threshold, a multipart upload above it; the spool
    /// is streamed, never held whole.
    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        let key = self.key_of(kind, id);
        let mut file =
            std::fs::File::open(spool.path()).map_err(|e| BackendError::new(Op::Read, spool.path().display(), e))?;
        let size = file.metadata().map_err(|e| BackendError::new(Op::Read, spool.path().display(), e))?.len();
        if size <= self.multipart_threshold {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(|e| BackendError::new(Op::Read, spool.path().display(), e))?;
            return self.put_new(&key, bytes);
        }
        self.put_multipart(&key, &mut file, size)
        // Dropping the spool removes it, whatever the outcome.
    }

    /// DELETE; an absent object is success (S3 answers 204 either way). In
    /// a bucket with Object Lock (hence versioned) a DELETE only adds a
    /// delete marker and frees nothing: there every version is deleted
    /// (`remove_versions`). A version the storage still retains (prune and
    /// forget never ask for one; cairn's own short-lived files, lock
    /// markers, pins, do) is refused: the file then gets a delete marker,
    /// so that it is gone for cairn, and its version is kept by the storage
    /// until its retention ends. Other buckets keep the single DELETE, the
    /// configuration being read once per process.
    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.read_ahead.forget(kind, id);
        if self.lock.configuration(&self.client)? != LockConfiguration::NotEnabled {
            match self.remove_versions(kind, id) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
        let key = self.key_of(kind, id);
        match self.client.block_on(self.client.operator.delete(&key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound => Ok(()),
            Err(e) => Err(self.error(Op::Remove, &key, e.into())),
        }
    }

    /// The bucket's default retention from the file's upload (its listed
    /// `LastModified`, else now: never deleted early).
    fn locked_until(&self, kind: FileKind, id: &Id, modified: Option<SystemTime>) -> BackendResult<Option<SystemTime>> {
        let _ = (kind, id);
        match self.lock.configuration(&self.client)? {
            LockConfiguration::Default(retention) => Ok(retention.locked_until(modified, SystemTime::now())),
            LockConfiguration::NotEnabled | LockConfiguration::NoDefault => Ok(None),
        }
    }

    /// PutObjectLockConfiguration (`lock.rs`); a bucket created without
    /// Object Lock is refused.
    fn set_default_retention(&self, retention: Retention) -> BackendResult<()> {
        self.lock.set_default(&self.client, retention)
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        self.read_whole(&self.location.key(super::CONFIG_NAME), format::MAX_CONFIG_FILE_LEN + 1, Bound::Cut)
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        self.put_new(&self.location.key(super::CONFIG_NAME), bytes.to_vec())
    }

    /// A plain PUT replaces the object whole (readers see the old or the new).
    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let key = self.location.key(super::CONFIG_NAME);
        if self.head(Op::Create, &key)?.is_none() {
            return Err(BackendError::new(
                Op::Create,
                self.url(&key),
                io::Error::new(ErrorKind::NotFound, "no config to replace"),
            ));
        }
        match self.client.block_on(self.client.operator.write(&key, bytes.to_vec())) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error(Op::Create, &key, e.into())),
        }
    }
}

#[cfg(test)]
mod tests;
