//! Reads that cannot stop a snapshot: a file's open and reads run on a
//! helper thread while the walk waits with a time limit. A file whose read
//! makes no progress within the limit (`/proc/kmsg`, which ignores
//! `O_NONBLOCK`; a hung NFS, FUSE or sshfs mount) is given up on: the walk
//! gets a [`Stalled`] error, warns and goes on with the next file.
//!
//! # Why an abandoned helper thread is acceptable
//!
//! A blocked `read(2)` cannot be cancelled from safe Rust (no signals to
//! one thread without `unsafe`), so the helper stuck in it is left behind:
//! the walk drops its end of the channels and moves on, and the next file
//! gets a new helper. The stuck thread owns only the file and one block
//! buffer (at most [`BLOCK`] bytes), never anything of the repository: if
//! the read ever returns, its result goes nowhere and the thread ends. At
//! exit the process ends it with the others (reads on network and FUSE
//! filesystems wait killably). One thread and one buffer per stalled file
//! is the whole cost, and stalls are rare.
//!
//! # Why the data of a stalled file is never half-recorded
//!
//! A stall is a read error to the archiver: the file gets no node, exactly
//! as a file that fails with EIO midway. Chunks of it already saved are
//! blobs no tree refers to (as after any failed read), never a node with
//! part of the file.
//!
//! # Cost, and where it is paid
//!
//! One helper per walking thread, reused from file to file; a small file
//! costs one round trip (open, stat and whole read in one job) plus one for
//! its stat after the read. A large file is read in blocks of [`BLOCK`],
//! the next block read ahead while the walk hashes and stores the current.
//! Those round trips made a first snapshot of 32,000 files about 30 %
//! slower, so they are paid only where a read can hang: [`SourceFile`]
//! reads files on local disk filesystems ([`reads_can_stall`]: ext4, xfs,
//! btrfs, tmpfs, …) directly, and everything else (FUSE, NFS, SMB, 9p,
//! `/proc`, filesystems it does not know) through the helper.

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::fs::open::open_regular;
use crate::fs::sparse::HoleSkipping;
use crate::testhook::{self, Point};

/// How long a read may make no progress before its file is skipped, unless
/// the caller says otherwise: far longer than any healthy disk or network
/// filesystem pauses, short enough that an hourly run still finishes.
pub const DEFAULT_STALL_LIMIT: Duration = Duration::from_secs(60);

/// The most a helper reads in one job (and the most a stuck one holds).
pub const BLOCK: usize = 1 << 20;

/// A read, open or stat that made no progress within the limit. Wrapped in
/// an `io::Error` of kind `TimedOut`; see [`is_stalled`].
#[derive(Debug)]
pub struct Stalled {
    pub limit: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading made no progress for {}; skipped, the rest of the snapshot goes on", seconds(self.limit))
    }
}

impl std::error::Error for Stalled {}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

/// Whether `e` is a [`Stalled`] error.
pub fn is_stalled(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Stalled>())
}

fn stalled(limit: Duration) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, Stalled { limit })
}

type Job = Box<dyn FnOnce() + Send>;

/// The calling thread's helper: a thread running jobs in order.
struct Helper {
    jobs: mpsc::Sender<Job>,
}

impl Helper {
    fn spawn() -> std::io::Result<Helper> {
        let (jobs, queue) = mpsc::channel::<Job>();
        // Detached on purpose: it ends when `jobs` is dropped, or stays
        // stuck in a read nobody waits for any more (see the module doc).
        std::thread::Builder::new().name("cairn-read".into()).spawn(move || {
            for job in queue {
                job();
            }
        })?;
        Ok(Helper { jobs })
    }
}

thread_local! {
    static HELPER: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// Starts `job` on this thread's helper (spawning one if needed); its
/// result arrives on the returned channel.
fn start<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> std::io::Result<Receiver<T>> {
    let (tx, rx) = mpsc::sync_channel(1);
    let mut job: Job = Box::new(move || {
        // The waiter may have given up; then the result is dropped.
        let _ = tx.send(job());
    });
    HELPER.with_borrow_mut(|slot| {
        // At most two tries: a helper that died (a job panicked) is replaced once.
        for _ in 0..2 {
            if slot.is_none() {
                *slot = Some(Helper::spawn()?);
            }
            match slot.as_ref().map(|h| h.jobs.send(job)) {
                Some(Ok(())) => return Ok(rx),
                Some(Err(mpsc::SendError(back))) => {
                    job = back;
                    *slot = None;
                }
                None => unreachable!("filled above"),
            }
        }
        Err(std::io::Error::other("could not start a thread to read files"))
    })
}

/// Forgets this thread's helper: the next job gets a new one. The old one
/// ends after its current job, or never if that job is stuck.
fn abandon_helper() {
    HELPER.with_borrow_mut(|slot| *slot = None);
}

/// Waits for a job's result as long as `progress` keeps moving: gives up
/// (abandoning the helper) after `limit` without a change.
fn wait<T>(rx: &Receiver<T>, limit: Duration, progress: &AtomicU64) -> std::io::Result<T> {
    let mut seen = progress.load(Ordering::Relaxed);
    loop {
        match rx.recv_timeout(limit) {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => {
                let now = progress.load(Ordering::Relaxed);
                if now == seen {
                    abandon_helper();
                    return Err(stalled(limit));
                }
                seen = now;
            }
            Err(RecvTimeoutError::Disconnected) => {
                abandon_helper();
                return Err(std::io::Error::other("the thread reading the file failed"));
            }
        }
    }
}

/// Runs `job` on this thread's helper and waits at most `limit` for it.
pub fn run_with_limit<T: Send + 'static>(
    limit: Duration,
    job: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let rx = start(job)?;
    wait(&rx, limit, &AtomicU64::new(0))
}

/// One block read by a helper: the reader back, the buffer with `filled`
/// bytes, and whether the end of the file was reached.
struct Block {
    reader: HoleSkipping<File>,
    buf: Vec<u8>,
    filled: usize,
    eof: bool,
}

/// Reads into `buf` until it is full or the file ends. Each read that
/// returns data bumps `progress`, so a slow but moving file is not a stall.
fn fill(mut reader: HoleSkipping<File>, mut buf: Vec<u8>, path: &Path, progress: &AtomicU64) -> std::io::Result<Block> {
    testhook::reached(Point::ReadBlock, Some(path));
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(Block { reader, buf, filled, eof: true }),
            Ok(n) => {
                filled += n;
                progress.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Block { reader, buf, filled, eof: false })
}

type BlockResult = std::io::Result<Block>;

/// A regular file opened and read on this thread's helper, every wait
/// bounded by the stall limit. Reads the same bytes as
/// `HoleSkipping::new(&file)` would (holes are not read).
pub struct GuardedFile {
    path: Arc<PathBuf>,
    limit: Duration,
    progress: Arc<AtomicU64>,
    /// The reader, between jobs; `None` while a job holds it.
    reader: Option<HoleSkipping<File>>,
    /// The block being handed out and how much of it is valid.
    current: Vec<u8>,
    filled: usize,
    at: usize,
    eof: bool,
    /// The next block, read ahead.
    pending: Option<Receiver<BlockResult>>,
}

impl GuardedFile {
    /// Opens `path` as `open_regular` does (only the regular file with
    /// `identity`, when given) and reads its first block, on the helper.
    /// Returns the file and its stat before the read.
    pub fn open(
        path: &Path,
        identity: Option<(u64, u64)>,
        limit: Duration,
    ) -> std::io::Result<(GuardedFile, Metadata)> {
        let path = Arc::new(path.to_path_buf());
        let progress = Arc::new(AtomicU64::new(0));
        let rx = {
            let (path, progress) = (path.clone(), progress.clone());
            start(move || -> std::io::Result<(Block, Metadata)> {
                let (file, md) = open_regular(&path, identity)?;
                // Sized by the stat: a small file is read, and its end seen,
                // in this one job, without a large buffer. Not below a page:
                // files of /proc and /sys say 0 bytes and hold some.
                let size = usize::try_from(md.len()).unwrap_or(usize::MAX).saturating_add(1).clamp(4096, BLOCK);
                let block = fill(HoleSkipping::new(file), vec![0; size], &path, &progress)?;
                Ok((block, md))
            })?
        };
        let (block, md) = wait(&rx, limit, &progress)??;
        let mut guarded = GuardedFile {
            path,
            limit,
            progress,
            reader: None,
            current: Vec::new(),
            filled: 0,
            at: 0,
            eof: false,
            pending: None,
        };
        guarded.install(block, Vec::new())?;
        Ok((guarded, md))
    }

    /// Makes `block` the current one and, unless it ended the file, starts
    /// reading the next into `spare` (or a new buffer).
    fn install(&mut self, block: Block, spare: Vec<u8>) -> std::io::Result<()> {
        let Block { reader, buf, filled, eof } = block;
        self.current = buf;
        self.filled = filled;
        self.at = 0;
        self.eof = eof;
        if eof {
            self.reader = Some(reader);
            return Ok(());
        }
        let mut spare = spare;
        spare.resize(BLOCK, 0);
        let (path, progress) = (self.path.clone(), self.progress.clone());
        self.pending = Some(start(move || fill(reader, spare, &path, &progress))?);
        Ok(())
    }

    /// The file's stat now (after the reads), taken on the helper.
    pub fn metadata(&mut self) -> std::io::Result<Metadata> {
        self.settle()?;
        let reader = self.reader.take().ok_or_else(|| std::io::Error::other("the file is no longer open"))?;
        let rx = start(move || {
            let md = reader.file().metadata();
            (reader, md)
        })?;
        let (reader, md) = wait(&rx, self.limit, &self.progress)?;
        self.reader = Some(reader);
        md
    }

    /// Waits for a block read ahead, if any, keeping it for the next reads.
    fn settle(&mut self) -> std::io::Result<()> {
        let Some(rx) = self.pending.take() else { return Ok(()) };
        let block = wait(&rx, self.limit, &self.progress)??;
        // Not consumed yet: keep both, the current first.
        let rest = self.current[self.at..self.filled].to_vec();
        let Block { reader, mut buf, filled, eof } = block;
        buf.truncate(filled);
        let mut joined = rest;
        joined.extend_from_slice(&buf);
        self.filled = joined.len();
        self.current = joined;
        self.at = 0;
        self.eof = eof;
        self.reader = Some(reader);
        Ok(())
    }
}

impl Read for GuardedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at == self.filled {
            if self.eof {
                return Ok(0);
            }
            let block = match self.pending.take() {
                Some(rx) => wait(&rx, self.limit, &self.progress)??,
                None => {
                    // After `metadata` settled a partial file: read on.
                    let reader =
                        self.reader.take().ok_or_else(|| std::io::Error::other("the file is no longer open"))?;
                    let (path, progress) = (self.path.clone(), self.progress.clone());
                    let spare = std::mem::take(&mut self.current);
                    let rx = start(move || {
                        let mut spare = spare;
                        spare.resize(BLOCK, 0);
                        fill(reader, spare, &path, &progress)
                    })?;
                    let block = wait(&rx, self.limit, &self.progress)??;
                    self.install(block, Vec::new())?;
                    return self.read(buf);
                }
            };
            let spare = std::mem::take(&mut self.current);
            self.install(block, spare)?;
            if self.at == self.filled && self.eof {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.filled - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for GuardedFile {
    fn drop(&mut self) {
        // A block still being read ahead would hold up this thread's next
        // file behind it (and blame that file if it stalls): leave it to
        // the old helper and start the next file on a new one.
        if self.pending.is_some() {
            abandon_helper();
        }
    }
}

/// Filesystems whose reads of a regular file do not hang: local disks and
/// memory, by `statfs(2)` `f_type` (from `linux/magic.h`). A failing disk
/// can still block in the kernel, but no one's FUSE daemon or network
/// server can. Anything not listed is read under the stall limit.
const LOCAL_FILESYSTEMS: &[u32] = &[
    0x0000_ef53, // ext2, ext3, ext4
    0x5846_5342, // xfs
    0x9123_683e, // btrfs
    0x0102_1994, // tmpfs
    0x8584_58f6, // ramfs
    0xf2f5_2010, // f2fs
    0x2fc1_2fc1, // zfs
    0x794c_7630, // overlayfs
    0xca45_1a4e, // bcachefs
    0x0000_4d44, // vfat
    0x2011_bab0, // exfat
    0x7366_746e, // ntfs3
    0x3153_464a, // jfs
    0x5265_4973, // reiserfs
    0x7371_7368, // squashfs
    0xe0f5_e1e2, // erofs
    0x0000_9660, // iso9660
    0x0000_482b, // hfsplus
];

/// Whether reading a regular file at `path` might block without end: true
/// unless `statfs` says it is on a local disk or memory filesystem (and
/// always while a test holds reads at the `read-block` point).
pub fn reads_can_stall(path: &Path) -> bool {
    if testhook::armed(Point::ReadBlock) {
        return true;
    }
    match rustix::fs::statfs(path) {
        Ok(fs) => !LOCAL_FILESYSTEMS.contains(&(fs.f_type as u32)),
        Err(_) => true,
    }
}

/// A regular file read for a snapshot: directly, or through this thread's
/// helper under a stall limit ([`GuardedFile`]). The same bytes either way
/// (holes are not read).
pub enum SourceFile {
    Direct(HoleSkipping<File>),
    Guarded(GuardedFile),
}

impl SourceFile {
    /// Opens `path` as `open_regular` does; under `Some(limit)` through the
    /// helper. Returns the file and its stat before the read.
    pub fn open(
        path: &Path,
        identity: Option<(u64, u64)>,
        limit: Option<Duration>,
    ) -> std::io::Result<(SourceFile, Metadata)> {
        match limit {
            None => {
                let (file, md) = open_regular(path, identity)?;
                Ok((SourceFile::Direct(HoleSkipping::new(file)), md))
            }
            Some(limit) => GuardedFile::open(path, identity, limit).map(|(file, md)| (SourceFile::Guarded(file), md)),
        }
    }

    /// The file's stat now (after the reads).
    pub fn metadata(&mut self) -> std::io::Result<Metadata> {
        match self {
            SourceFile::Direct(reader) => reader.file().metadata(),
            SourceFile::Guarded(file) => file.metadata(),
        }
    }
}

impl Read for SourceFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            SourceFile::Direct(reader) => reader.read(buf),
            SourceFile::Guarded(file) => file.read(buf),
        }
    }
}

#[cfg(test)]
mod tests;
