//! Opening a file for reading only if it is still the regular file a walk
//! saw, and telling "deleted or replaced meanwhile" from "cannot be read".

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Why `open_regular` refused a path, as the user reads it.
pub const CHANGED_TYPE: &str = "changed type while being read";

/// The error `open_regular` returns when the path is no longer the regular
/// file the walk saw (typed, so that the archiver can tell it from a file
/// it may not read).
#[derive(Debug)]
struct ChangedType;

impl std::fmt::Display for ChangedType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(CHANGED_TYPE)
    }
}

impl std::error::Error for ChangedType {}

/// Whether a failure to stat, list or open `path` means it was deleted or
/// replaced after the walk found it, rather than that it cannot be read.
pub fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.get_ref().is_some_and(|inner| inner.is::<ChangedType>())
}

/// Opens `path` for reading only if it is still the regular file a walk
/// saw: symlinks are not followed (`O_NOFOLLOW`), fifos and devices do not
/// block the open (`O_NONBLOCK`) nor become a controlling terminal
/// (`O_NOCTTY`), and the open file must be a regular file with the
/// (device, inode) of `expected` when given. Returns the file and its
/// fstat. Anything else fails with "changed type while being read".
pub fn open_regular(path: &Path, expected: Option<(u64, u64)>) -> std::io::Result<(File, Metadata)> {
    use rustix::fs::OFlags;
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let file = match OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path) {
        Ok(f) => f,
        // ELOOP: a symlink now; ENXIO: a socket or a fifo without writer
        // (never for reading, but harmless); both mean the type changed.
        Err(e)
            if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::LOOP.raw_os_error()
            || c == rustix::io::Errno::NXIO.raw_os_error()) =>
        {
            return Err(std::io::Error::other(ChangedType));
        }
        Err(e) => return Err(e),
    };
    let md = file.metadata()?;
    if !md.is_file() || expected.is_some_and(|id| id != (md.dev(), md.ino())) {
        return Err(std::io::Error::other(ChangedType));
    }
    // Regular files ignore O_NONBLOCK on local filesystems; clear it anyway
    // so that network and FUSE filesystems read normally.
    let fl = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, fl - OFlags::NONBLOCK)?;
    Ok((file, md))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn open_regular_refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"data").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_regular(&link, None).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
        // A symlink to a device, as a swapped-in `/dev/zero` would be.
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(open_regular(&zero, None).unwrap_err().to_string(), CHANGED_TYPE);
        let (_, md) = open_regular(&target, None).unwrap();
        assert!(md.is_file());
    }

    #[test]
    fn open_regular_does_not_block_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let started = Instant::now();
        // No writer: a blocking open would hang here.
        let err = open_regular(&fifo, None).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(open_regular(Path::new("/dev/null"), None).unwrap_err().to_string(), CHANGED_TYPE);
    }

    #[test]
    fn open_regular_refuses_another_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        assert!(open_regular(&path, Some((md.dev(), md.ino()))).is_ok());
        // Replaced by another file under the same name.
        let other = dir.path().join("g");
        std::fs::write(&other, b"two").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = open_regular(&path, Some((md.dev(), md.ino()))).unwrap_err();
        assert_eq!(err.to_string(), CHANGED_TYPE);
    }
}
