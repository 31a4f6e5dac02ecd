//! Storage backend: bytes only. Lists, reads (whole or a range) and writes
//! repository files atomically (temporary name, fsync, rename, fsync of the
//! folder). Knows the layout of a local repository folder and nothing of
//! what the bytes mean.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::crypto::random_bytes;
use crate::error::{Error, IoContext, Result};
use crate::id::{Id, is_hex};

/// The kinds of repository file, each in its own folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Key,
    Pack,
    Index,
    Snapshot,
}

impl FileKind {
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Key => "keys",
            FileKind::Pack => "data",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
        }
    }
}

pub const CONFIG_NAME: &str = "config";
const TEMP_PREFIX: &str = ".tmp-";

#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    /// Open pack files, so reading many blobs from one pack opens it once.
    open_packs: Mutex<HashMap<Id, Arc<File>>>,
}

/// How many pack files stay open at once.
const OPEN_PACKS: usize = 64;

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into(), open_packs: Mutex::new(HashMap::new()) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the folder layout of a new repository.
    pub fn create_layout(&self) -> Result<()> {
        if let Some(parent) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).at(parent)?;
        }
        create_private_dir(&self.root)?;
        for kind in [FileKind::Key, FileKind::Pack, FileKind::Index, FileKind::Snapshot] {
            create_private_dir(&self.root.join(kind.folder()))?;
        }
        for byte in 0..=255u8 {
            create_private_dir(&self.root.join("data").join(format!("{byte:02x}")))?;
        }
        sync_dir(&self.root)
    }

    pub fn path_of(&self, kind: FileKind, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        match kind {
            FileKind::Pack => self.root.join("data").join(&hex[..2]).join(hex),
            _ => self.root.join(kind.folder()).join(hex),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_NAME)
    }

    /// Lists the files of one kind with their sizes, skipping temporaries
    /// and names that are not ids.
    pub fn list(&self, kind: FileKind) -> Result<Vec<(Id, u64)>> {
        let mut out = Vec::new();
        let base = self.root.join(kind.folder());
        if !base.exists() {
            // Copies that drop empty folders (git, some sync tools) are fine.
            return Ok(out);
        }
        let folders = if kind == FileKind::Pack { subfolders(&base)? } else { vec![base] };
        for folder in folders {
            for entry in fs::read_dir(&folder).at(&folder)? {
                let entry = entry.at(&folder)?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.len() != 64 || !is_hex(name) || name.bytes().any(|c| c.is_ascii_uppercase()) {
                    continue;
                }
                let size = entry.metadata().at(entry.path())?.len();
                out.push((Id::from_hex(name)?, size));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Temporary files left by interrupted writes (harmless; reported by check).
    pub fn list_temporaries(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut folders = vec![self.root.clone()];
        for kind in [FileKind::Key, FileKind::Pack, FileKind::Index, FileKind::Snapshot] {
            folders.push(self.root.join(kind.folder()));
        }
        folders.extend(subfolders(&self.root.join("data")).unwrap_or_default());
        for folder in folders {
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    out.push(entry.path());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn read(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        let path = self.path_of(kind, id);
        fs::read(&path).at(path)
    }

    pub fn read_config(&self) -> Result<Vec<u8>> {
        let path = self.config_path();
        fs::read(&path).at(path)
    }

    /// Reads `len` bytes at `offset`; a short file is an error.
    pub fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> Result<Vec<u8>> {
        let file = self.open_cached(kind, id)?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).at(self.path_of(kind, id))?;
        Ok(buf)
    }

    fn open_cached(&self, kind: FileKind, id: &Id) -> Result<Arc<File>> {
        let mut open = self.open_packs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = open.get(id) {
            return Ok(f.clone());
        }
        let path = self.path_of(kind, id);
        let file = Arc::new(File::open(&path).at(&path)?);
        if open.len() >= OPEN_PACKS {
            open.clear();
        }
        open.insert(*id, file.clone());
        Ok(file)
    }

    /// Reads the last `len` bytes (or the whole file if shorter) and returns
    /// them with the file's total size.
    pub fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> Result<(Vec<u8>, u64)> {
        let path = self.path_of(kind, id);
        let mut file = File::open(&path).at(&path)?;
        let size = file.metadata().at(&path)?.len();
        let start = size.saturating_sub(len);
        file.seek(SeekFrom::Start(start)).at(&path)?;
        let mut buf = Vec::with_capacity((size - start) as usize);
        file.read_to_end(&mut buf).at(&path)?;
        Ok((buf, size))
    }

    /// Writes a content-addressed file (named by BLAKE3 of `bytes`) atomically.
    pub fn write(&self, kind: FileKind, bytes: &[u8]) -> Result<Id> {
        let id = Id::of_file_bytes(bytes);
        let path = self.path_of(kind, &id);
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.exists()) {
                create_folder_durably(dir)?;
            }
            write_atomic(&path, bytes)?;
        }
        Ok(id)
    }

    /// A new temporary file in the folder of `kind` (for streaming writes).
    pub fn create_temp(&self, kind: FileKind) -> Result<(File, PathBuf)> {
        self.create_temp_in(&self.root.join(kind.folder()))
    }

    fn create_temp_in(&self, dir: &Path) -> Result<(File, PathBuf)> {
        let suffix: [u8; 8] = random_bytes()?;
        let path = dir.join(format!("{TEMP_PREFIX}{}", u64::from_le_bytes(suffix)));
        let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).at(&path)?;
        Ok((file, path))
    }

    /// Gives a complete, already fsync-ed temporary file its final name and
    /// makes the rename durable.
    pub fn commit_temp(&self, kind: FileKind, temp: &Path, id: &Id) -> Result<()> {
        let path = self.path_of(kind, id);
        let dir = path.parent().unwrap_or(&self.root);
        if !dir.exists() {
            create_folder_durably(dir)?;
        }
        fs::rename(temp, &path).at(&path)?;
        sync_dir(dir)
    }

    /// Writes `config` atomically; refuses to replace an existing one.
    pub fn write_config(&self, bytes: &[u8]) -> Result<()> {
        // Written under a temporary name, then linked to `config`: the link
        // fails if another `init` got there first, so a config is never
        // replaced, even by two inits racing.
        let (mut file, temp) = self.create_temp_in(&self.root)?;
        let path = self.config_path();
        let result =
            file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| fs::hard_link(&temp, &path)).map_err(
                |e| match e.kind() {
                    ErrorKind::AlreadyExists => Error::RepositoryExists(self.root.clone()),
                    _ => Error::io(&path, e),
                },
            );
        let _ = fs::remove_file(&temp);
        result?;
        sync_dir(&self.root)
    }
}

fn subfolders(base: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(base).at(base)? {
        let entry = entry.at(base)?;
        let name = entry.file_name();
        if name.len() == 2 && entry.file_type().at(entry.path())?.is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Creates a missing folder (a `data/xx` dropped by a copy) and makes its
/// entry in the parent durable before anything is written into it.
fn create_folder_durably(dir: &Path) -> Result<()> {
    create_private_dir(dir)?;
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Temporary name in the same folder, fsync, rename, fsync of the folder:
/// readers see either nothing or the whole file, even after a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let suffix: [u8; 8] = random_bytes()?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{}", u64::from_le_bytes(suffix)));
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
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_list_read() {
        let dir = tempfile::tempdir().unwrap();
        let be = LocalBackend::new(dir.path().join("repo"));
        be.create_layout().unwrap();
        let id = be.write(FileKind::Pack, b"hello world").unwrap();
        assert_eq!(be.list(FileKind::Pack).unwrap(), vec![(id, 11)]);
        assert_eq!(be.read(FileKind::Pack, &id).unwrap(), b"hello world");
        assert_eq!(be.read_range(FileKind::Pack, &id, 6, 5).unwrap(), b"world");
        assert_eq!(be.read_tail(FileKind::Pack, &id, 5).unwrap(), (b"world".to_vec(), 11));
        assert!(be.read_range(FileKind::Pack, &id, 6, 50).is_err());
        assert!(be.list_temporaries().unwrap().is_empty());
    }
}
