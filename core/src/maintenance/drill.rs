//! The restore drill (`check --restore-sample N`): N random regular files of
//! the latest snapshot are restored by the real restorer into a temporary
//! folder and compared byte for byte with the live files — a backup nobody
//! ever restored from is a hope, not a backup. Only live files that have not
//! changed since the snapshot can be compared: same size, same mtime and the
//! same inode change time (ctime) as recorded, which also rules out a file
//! rewritten and its mtime set back. The others are skipped and counted.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::browse::walk::walk;
use crate::error::{Error, Result};
use crate::format::{Node, NodeKind};
use crate::id::Id;
use crate::repo::Repository;
use crate::restorer::{self, Destination, RestoreOptions, Selection};
use crate::snapshot::snapshots::{self, Filter};

#[derive(Clone, Debug, Default)]
pub struct DrillOptions {
    /// How many files to draw.
    pub sample: usize,
    /// Only snapshots of this host are considered for "latest".
    pub host: Option<String>,
    /// Where the temporary folder is made; `None`: the system's temp folder.
    pub temp_parent: Option<PathBuf>,
}

#[derive(Clone, Debug, Default)]
pub struct DrillReport {
    /// The snapshot drilled; `None` when there is none (nothing to drill).
    pub snapshot: Option<Id>,
    /// Files restored and compared equal or not (`errors` names the bad ones).
    pub compared: usize,
    /// Files drawn whose live copy changed since the snapshot (or is gone).
    pub skipped_changed: usize,
    /// Restored files whose bytes differ from the unchanged live file.
    pub mismatches: usize,
    /// One line per file that could not be restored or did not match.
    pub errors: Vec<String>,
}

/// Runs the drill. An error return means the drill could not run at all
/// (the repository or the temporary folder); a file that failed is in
/// `errors`.
pub fn drill(repo: &Repository, opts: &DrillOptions) -> Result<DrillReport> {
    let mut report = DrillReport::default();
    if opts.sample == 0 {
        return Ok(report);
    }
    let filter = Filter { host: opts.host.clone(), ..Filter::default() };
    let entry = match snapshots::resolve_filtered(repo, "latest", &filter) {
        Ok(e) => e,
        Err(Error::NoSnapshots) => return Ok(report),
        Err(e) => return Err(e),
    };
    report.snapshot = Some(entry.id);
    let drawn = sample_files(repo, &entry.snapshot.tree, opts.sample)?;
    let (unchanged, changed): (Vec<_>, Vec<_>) = drawn.into_iter().partition(|(path, node)| unchanged(path, node));
    report.skipped_changed = changed.len();
    if unchanged.is_empty() {
        return Ok(report);
    }
    let temp = TempDir::new(opts.temp_parent.as_deref())?;
    let restore = RestoreOptions {
        destination: Destination::Folder(temp.0.clone()),
        selection: Selection { paths: unchanged.iter().map(|(p, _)| p.clone()).collect(), ..Selection::default() },
        overwrite: false,
        delete: false,
        dry_run: false,
        host: entry.snapshot.host.clone(),
        user: entry.snapshot.user.clone(),
    };
    let outcome = restorer::restore(repo, &entry.snapshot, &restore)?;
    report.errors.extend(outcome.errors.iter().map(|e| format!("restore drill: {e}")));
    for (path, _) in &unchanged {
        let restored = temp.0.join(path.strip_prefix("/").unwrap_or(path));
        report.compared += 1;
        match same_bytes(&restored, path) {
            Ok(true) => {}
            Ok(false) => {
                report.mismatches += 1;
                report.errors.push(format!(
                    "restore drill: {}: the restored file differs from the live file, which has not changed since \
                     the snapshot",
                    path.display()
                ));
            }
            // Already named by the restorer: one line per file.
            Err(_) if outcome.errors.iter().any(|e| e.contains(&*path.to_string_lossy())) => {}
            Err(e) => report.errors.push(format!("restore drill: {}: not restored: {e}", path.display())),
        }
    }
    Ok(report)
}

/// `n` regular files of the tree at random (all when it has fewer), at
/// their absolute paths. Reservoir sampling over the walk, so memory holds
/// `n` files whatever the snapshot's size.
fn sample_files(repo: &Repository, root: &Id, n: usize) -> Result<Vec<(PathBuf, Node)>> {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
    let mut random = SplitMix64(u64::from_le_bytes(seed));
    let mut drawn: Vec<(PathBuf, Node)> = Vec::with_capacity(n.min(1 << 16));
    let mut seen: u64 = 0;
    walk(repo, root, Path::new("/"), true, &mut |path, node| {
        if matches!(node.kind, NodeKind::File { .. }) {
            seen += 1;
            if drawn.len() < n {
                drawn.push((path.to_path_buf(), node.clone()));
            } else if let Some(slot) = drawn.get_mut((random.next() % seen) as usize) {
                // Kept with probability n/seen (Algorithm R).
                *slot = (path.to_path_buf(), node.clone());
            }
        }
        Ok(())
    })?;
    Ok(drawn)
}

/// splitmix64: a few lines of well-mixed pseudo-random numbers from one
/// seed, enough to choose which files a drill restores.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Whether the live file at `path` is still what the snapshot recorded:
/// a regular file of the same size, mtime and ctime.
fn unchanged(path: &Path, node: &Node) -> bool {
    let Ok(md) = std::fs::symlink_metadata(path) else { return false };
    let NodeKind::File { size, .. } = node.kind else { return false };
    md.is_file()
        && md.len() == size
        && md.mtime() == node.mtime.seconds
        && md.mtime_nsec() == i64::from(node.mtime.nanos)
        && md.ctime() == node.ctime.seconds
        && md.ctime_nsec() == i64::from(node.ctime.nanos)
}

/// Compares two files byte for byte, reading both in step.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A private temporary folder, removed (with what was restored into it)
/// when dropped, whatever happened.
struct TempDir(PathBuf);

impl TempDir {
    fn new(parent: Option<&Path>) -> Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        let parent = parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| Error::Random(e.to_string()))?;
        let path = parent.join(format!("cairn-drill-{}", Id::of_file_bytes(&random).short()));
        std::fs::DirBuilder::new().mode(0o700).create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
