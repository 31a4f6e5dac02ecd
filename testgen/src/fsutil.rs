//! File system helpers: writing a file in one call with a synthetic mtime, setting
//! mtimes, and sorted directory walks that can skip the excluded build folders.

use std::fs::{self, File, FileTimes};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::META_FILE;

/// Directory names a user would exclude from backups; `tick` never changes them.
pub const EXCLUDED_DIRS: [&str; 2] = ["node_modules", "target"];

fn time(t: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t)
}

/// Sets the access and modification times of an open file to `t` (Unix seconds).
fn stamp(f: &File, t: u64) -> io::Result<()> {
    f.set_times(FileTimes::new().set_modified(time(t)).set_accessed(time(t)))
}

/// Writes `data` to `path` (creating parent directories as needed) with one write
/// call, then sets its mtime to `mtime`.
pub(crate) fn write_file(path: &Path, data: &[u8], mtime: u64) -> io::Result<()> {
    let mut f = match File::create(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            File::create(path)?
        }
        Err(e) => return Err(e),
    };
    f.write_all(data)?;
    stamp(&f, mtime)
}

/// Appends `data` to an existing file and sets its mtime.
pub(crate) fn append_file(path: &Path, data: &[u8], mtime: u64) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(data)?;
    stamp(&f, mtime)
}

/// Sets the mtime of an existing file without changing its content.
pub(crate) fn set_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    let f = fs::OpenOptions::new().write(true).open(path)?;
    stamp(&f, mtime)
}

/// Sets the mtime of a directory (a no-op where directories cannot be opened as files).
pub(crate) fn set_dir_mtime(path: &Path, mtime: u64) -> io::Result<()> {
    if cfg!(unix) {
        let f = File::open(path)?;
        stamp(&f, mtime)
    } else {
        Ok(())
    }
}

/// A regular file found by [`walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Path relative to the walk root, `/`-separated.
    pub rel: String,
    pub size: u64,
}

/// Whether a relative path lies inside an excluded build folder.
pub(crate) fn is_excluded(rel: &str) -> bool {
    rel.split('/').any(|c| EXCLUDED_DIRS.contains(&c))
}

/// All regular files under `root` in sorted order (names compared bytewise), without
/// the metadata file; with `skip_excluded`, `node_modules/` and `target/` folders are
/// not entered. Symlinks are neither followed nor reported.
pub(crate) fn walk(root: &Path, skip_excluded: bool) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    walk_into(root, "", skip_excluded, &mut out, &mut |_| {})?;
    Ok(out)
}

/// All directories under `root` (not `root` itself), parents before children.
pub(crate) fn walk_dirs(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    walk_into(root, "", false, &mut Vec::new(), &mut |d| dirs.push(root.join(d)))?;
    Ok(dirs)
}

fn walk_into(
    dir: &Path,
    prefix: &str,
    skip_excluded: bool,
    out: &mut Vec<Entry>,
    on_dir: &mut dyn FnMut(&str),
) -> io::Result<()> {
    let mut entries: Vec<(String, fs::DirEntry)> = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        // Generated names are ASCII; skip anything else rather than fail.
        if let Ok(name) = e.file_name().into_string() {
            entries.push((name, e));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, e) in entries {
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let ft = e.file_type()?;
        if ft.is_dir() {
            if skip_excluded && EXCLUDED_DIRS.contains(&name.as_str()) {
                continue;
            }
            on_dir(&rel);
            walk_into(&e.path(), &rel, skip_excluded, out, on_dir)?;
        } else if ft.is_file() {
            if rel == META_FILE {
                continue;
            }
            out.push(Entry { size: e.metadata()?.len(), rel });
        }
    }
    Ok(())
}

/// The extension of a relative path (`""` when none).
pub(crate) fn ext(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i + 1..],
        _ => "",
    }
}

/// The parent of a relative path (`""` for top-level names).
pub(crate) fn parent(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(ext("a/b/c.rs"), "rs");
        assert_eq!(ext("a/.gitignore"), "");
        assert_eq!(ext("a.b/c"), "");
        assert_eq!(parent("a/b/c.rs"), "a/b");
        assert_eq!(parent("c.rs"), "");
        assert!(is_excluded("projects/p/node_modules/x/index.js"));
        assert!(is_excluded("projects/p/target/debug/x"));
        assert!(!is_excluded("projects/p/src/target.rs"));
    }

    #[test]
    fn walk_sorted_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write_file(&r.join("b/x.txt"), b"1", 10).unwrap();
        write_file(&r.join("a/target/y"), b"22", 10).unwrap();
        write_file(&r.join("a/z"), b"333", 10).unwrap();
        write_file(&r.join(META_FILE), b"m", 10).unwrap();
        let all: Vec<String> = walk(r, false).unwrap().into_iter().map(|e| e.rel).collect();
        assert_eq!(all, ["a/target/y", "a/z", "b/x.txt"]);
        let some: Vec<String> = walk(r, true).unwrap().into_iter().map(|e| e.rel).collect();
        assert_eq!(some, ["a/z", "b/x.txt"]);
        let m = fs::metadata(r.join("a/z")).unwrap().modified().unwrap();
        assert_eq!(m, time(10));
        assert_eq!(walk_dirs(r).unwrap().len(), 3);
    }
}
