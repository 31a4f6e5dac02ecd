//! The local backend: a repository in a folder (layout in `format-spec.md`).
//! Every file is written under a temporary name, fsync-ed, renamed to its
//! final name without replacing anything (`RENAME_NOREPLACE`), and the
//! folder fsync-ed: readers see nothing or the whole file, even after a
//! crash.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Backend, BackendError, BackendResult, CONFIG_NAME, FileKind, Op, Spool, TEMP_PREFIX, is_id_name};
use crate::error::{IoContext, Result};
use crate::id::Id;

#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    /// Open pack files, so reading many blobs from one pack opens it once.
    open_packs: Mutex<HashMap<Id, Arc<File>>>,
}

/// How many pack files stay open at once.
const OPEN_PACKS: usize = 64;

/// Adds the operation and the path to an `io::Result`.
trait At<T> {
    fn at_op(self, op: Op, path: &Path) -> BackendResult<T>;
}

impl<T> At<T> for io::Result<T> {
    fn at_op(self, op: Op, path: &Path) -> BackendResult<T> {
        self.map_err(|e| BackendError::new(op, path.display(), e))
    }
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into(), open_packs: Mutex::new(HashMap::new()) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates whatever folder of the layout is missing (0700), the root
    /// included, each parent synced after: `create_layout` once the location
    /// is known to be empty, and a server completing a folder a client made.
    pub fn complete_layout(&self) -> BackendResult<()> {
        let layout = || -> io::Result<()> {
            create_private_dir(&self.root)?;
            for kind in FileKind::ALL {
                create_private_dir(&self.root.join(kind.folder()))?;
            }
            for byte in 0..=255u8 {
                create_private_dir(&self.root.join("data").join(format!("{byte:02x}")))?;
            }
            // W8: each new folder's parent is synced, or a crash can lose the
            // 256 pack folders (`data/`) or the kind folders (the root).
            sync_dir_io(&self.root.join("data"))?;
            sync_dir_io(&self.root)
        };
        layout().at_op(Op::Layout, &self.root)
    }

    pub fn path_of(&self, kind: FileKind, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        match kind {
            FileKind::Pack => self.root.join("data").join(&hex[..2]).join(hex),
            _ => self.root.join(kind.folder()).join(hex),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_NAME)
    }

    fn open_cached(&self, kind: FileKind, id: &Id) -> BackendResult<Arc<File>> {
        let mut open = self.open_packs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = open.get(id) {
            return Ok(f.clone());
        }
        let path = self.path_of(kind, id);
        let file = Arc::new(File::open(&path).at_op(Op::Read, &path)?);
        if open.len() >= OPEN_PACKS {
            open.clear();
        }
        open.insert(*id, file.clone());
        Ok(file)
    }

    /// Gives the complete, fsync-ed temporary `temp` the name `path` unless
    /// that name exists, and makes the new name durable.
    fn move_into_place(&self, temp: &Path, path: &Path) -> BackendResult<()> {
        let dir = path.parent().unwrap_or(&self.root);
        if !dir.exists() {
            create_folder_durably(dir).at_op(Op::Create, path)?;
        }
        place_without_replacing(temp, path).at_op(Op::Create, path)?;
        sync_dir_io(dir).at_op(Op::Create, path)
    }
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn create_layout(&self) -> BackendResult<()> {
        let layout = || -> io::Result<()> {
            if self.root.exists() {
                let empty = fs::read_dir(&self.root).map(|mut d| d.next().is_none()).unwrap_or(false);
                if !empty {
                    return Err(ErrorKind::AlreadyExists.into());
                }
            }
            if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)?;
            }
            Ok(())
        };
        layout().at_op(Op::Layout, &self.root)?;
        self.complete_layout()
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        Ok(self.list_times(kind)?.into_iter().map(|(id, size, _)| (id, size)).collect())
    }

    /// One stat per file gives both its size and its time.
    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        let mut out = Vec::new();
        let base = self.root.join(kind.folder());
        if !base.exists() {
            // Copies that drop empty folders (git, some sync tools) are fine.
            return Ok(out);
        }
        let folders = if kind == FileKind::Pack { subfolders(&base).at_op(Op::List, &base)? } else { vec![base] };
        for folder in folders {
            let entries = match fs::read_dir(&folder) {
                // A `data/xx` removed since `data/` was read holds nothing.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                other => other.at_op(Op::List, &folder)?,
            };
            let mut names = Vec::new();
            for entry in entries {
                let name = entry.at_op(Op::List, &folder)?.file_name();
                let Some(name) = name.to_str().filter(|n| is_id_name(n)) else { continue };
                let Ok(id) = Id::from_hex(name) else { continue };
                names.push((id, name.to_string()));
            }
            out.extend(sizes_of(&folder, names)?);
        }
        out.sort();
        Ok(out)
    }

    fn list_temporaries(&self) -> BackendResult<Vec<String>> {
        let mut out = Vec::new();
        let mut folders = vec![self.root.clone()];
        for kind in FileKind::ALL {
            folders.push(self.root.join(kind.folder()));
        }
        folders.extend(subfolders(&self.root.join("data")).unwrap_or_default());
        for folder in folders {
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    out.push(entry.path().display().to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        let path = self.path_of(kind, id);
        fs::read(&path).at_op(Op::Read, &path)
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        let file = self.open_cached(kind, id)?;
        let path = self.path_of(kind, id);
        // Checked first: an offset past what the OS takes (u64::MAX) would
        // be EINVAL, an empty read past the end no error at all.
        let size = file.metadata().at_op(Op::Read, &path)?.len();
        if offset.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(ErrorKind::UnexpectedEof.into()).at_op(Op::Read, &path);
        }
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).at_op(Op::Read, &path)?;
        Ok(buf)
    }

    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        let path = self.path_of(kind, id);
        let read = || -> io::Result<(Vec<u8>, u64)> {
            let mut file = File::open(&path)?;
            let size = file.metadata()?.len();
            let start = size.saturating_sub(len);
            file.seek(SeekFrom::Start(start))?;
            let mut buf = Vec::with_capacity((size - start) as usize);
            file.read_to_end(&mut buf)?;
            Ok((buf, size))
        };
        read().at_op(Op::Read, &path)
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        let path = self.path_of(kind, id);
        let mut spool = self.create_spool(kind)?;
        spool.file().write_all(bytes).at_op(Op::Create, &path)?;
        self.create_from_spool(kind, id, spool)
    }

    /// Spools in the repository's own folder, so that the finished spool
    /// gets its final name by a rename on the same filesystem, not a copy.
    fn create_spool(&self, kind: FileKind) -> BackendResult<Spool> {
        let dir = self.root.join(kind.folder());
        if !dir.exists() {
            // A copy that drops empty folders may have dropped this one.
            create_folder_durably(&dir).at_op(Op::Spool, &dir)?;
        }
        Spool::create_in(&dir).at_op(Op::Spool, &dir)
    }

    fn create_from_spool(&self, kind: FileKind, id: &Id, mut spool: Spool) -> BackendResult<()> {
        let path = self.path_of(kind, id);
        spool.file().sync_all().at_op(Op::Create, &path)?;
        self.move_into_place(spool.path(), &path)
        // Dropping the spool removes the temporary name if it is still there.
    }

    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        let path = self.path_of(kind, id);
        self.open_packs.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            other => other.at_op(Op::Remove, &path)?,
        }
        sync_dir_io(path.parent().unwrap_or(&self.root)).at_op(Op::Remove, &path)
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        let path = self.config_path();
        // At most one byte past the largest valid config: the file is not
        // authenticated, and a planted huge one must not be read whole.
        let read = || -> io::Result<Vec<u8>> {
            let mut bytes = Vec::new();
            File::open(&path)?.take(crate::format::MAX_CONFIG_FILE_LEN + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        read().at_op(Op::Read, &path)
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let path = self.config_path();
        let mut spool = Spool::create_in(&self.root).at_op(Op::Spool, &self.root)?;
        spool.file().write_all(bytes).at_op(Op::Create, &path)?;
        spool.file().sync_all().at_op(Op::Create, &path)?;
        self.move_into_place(spool.path(), &path)
    }

    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let path = self.config_path();
        fs::symlink_metadata(&path).at_op(Op::Read, &path)?;
        let mut spool = Spool::create_in(&self.root).at_op(Op::Spool, &self.root)?;
        spool.file().write_all(bytes).at_op(Op::Create, &path)?;
        spool.file().sync_all().at_op(Op::Create, &path)?;
        // rename(2) replaces atomically: a reader opens the old or the new.
        fs::rename(spool.path(), &path).at_op(Op::Create, &path)?;
        sync_dir_io(&self.root).at_op(Op::Create, &path)
    }

    fn local_path(&self, kind: FileKind, id: &Id) -> Option<PathBuf> {
        Some(self.path_of(kind, id))
    }
}

/// Renames `temp` to `path` unless `path` exists (`AlreadyExists`), so no
/// file is ever replaced, even by two writers racing.
fn place_without_replacing(temp: &Path, path: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags};
    use rustix::io::Errno;
    match rustix::fs::renameat_with(CWD, temp, CWD, path, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => Err(ErrorKind::AlreadyExists.into()),
        // A filesystem or kernel without RENAME_NOREPLACE: a hard link also
        // refuses an existing name (the temporary name is then unlinked by
        // the spool); without hard links either, check then rename.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => match fs::hard_link(temp, path) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists && fs::symlink_metadata(path).is_err() => {
                fs::rename(temp, path)
            }
            other => other,
        },
        Err(e) => Err(e.into()),
    }
}

/// The size of each named file in `folder`, leaving out those removed since
/// the folder was read (a concurrent prune): a listing never fails, nor
/// lists a file, for a name that went away in between.
/// Each named file's size and modification time; a file removed since its
/// folder was read is not listed.
fn sizes_of(folder: &Path, names: Vec<(Id, String)>) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
    let mut out = Vec::with_capacity(names.len());
    for (id, name) in names {
        let path = folder.join(name);
        match fs::symlink_metadata(&path) {
            Ok(md) => out.push((id, md.len(), md.modified().ok())),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).at_op(Op::List, &path),
        }
    }
    Ok(out)
}

fn subfolders(base: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(base)? {
        let entry = entry?;
        let name = entry.file_name();
        // `file_type` may stat: a folder removed meanwhile is no folder.
        if name.len() == 2 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Creates a missing folder (a `data/xx` dropped by a copy) and makes its
/// entry in the parent durable before anything is written into it.
fn create_folder_durably(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    match dir.parent() {
        Some(parent) => sync_dir_io(parent),
        None => Ok(()),
    }
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        other => other,
    }
}

/// Temporary name in the same folder, fsync, rename, fsync of the folder:
/// readers see either nothing or the whole file, even after a crash. It
/// replaces an existing file (the local cache rewrites its files).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = super::temp_path_in(dir).at(dir)?;
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).at(&tmp)?;
        file.write_all(bytes).at(&tmp)?;
        file.sync_all().at(&tmp)?;
        drop(file);
        fs::rename(&tmp, path).at(path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    sync_dir_io(dir).at(dir)
}

fn sync_dir_io(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    synced_for_tests::record(dir);
    File::open(dir).and_then(|d| d.sync_all())
}

/// Which folders were fsync-ed, so unit tests can check W8 (an fsync leaves
/// no trace on the file system to look at afterwards).
#[cfg(test)]
pub(crate) mod synced_for_tests {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static SYNCED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn record(dir: &Path) {
        SYNCED.lock().unwrap().push(dir.to_path_buf());
    }

    /// Whether `dir` was synced (tests run in parallel: ask by exact path).
    pub fn was_synced(dir: &Path) -> bool {
        SYNCED.lock().unwrap().iter().any(|d| d == dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file removed between reading its folder and stat-ing it (prune
    /// running beside a reader) is left out of the listing, not an error.
    #[test]
    fn a_file_removed_between_reading_the_folder_and_its_stat_is_not_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let be = LocalBackend::new(tmp.path().join("r"));
        be.create_layout().unwrap();
        be.create(FileKind::Snapshot, &Id([1; 32]), b"one").unwrap();
        be.create(FileKind::Snapshot, &Id([2; 32]), b"two!").unwrap();
        let folder = tmp.path().join("r/snapshots");
        // The names as the folder was read, then one removed before the stat.
        let names = vec![(Id([1; 32]), Id([1; 32]).to_hex()), (Id([2; 32]), Id([2; 32]).to_hex())];
        be.remove(FileKind::Snapshot, &Id([1; 32])).unwrap();
        let listed: Vec<(Id, u64)> = sizes_of(&folder, names).unwrap().into_iter().map(|(id, n, _)| (id, n)).collect();
        assert_eq!(listed, vec![(Id([2; 32]), 4)]);
    }

    #[test]
    fn creating_the_layout_syncs_data_after_its_256_folders_and_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        LocalBackend::new(&root).create_layout().unwrap();
        assert!(synced_for_tests::was_synced(&root.join("data")), "W8: data/ after data/00..ff");
        assert!(synced_for_tests::was_synced(&root), "W8: the root after its kind folders");
    }
}
