//! Unit tests of the archiver's helpers.

use super::*;
use std::time::Duration;

#[test]
fn deleted_or_replaced_counts_as_vanished_and_denied_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"one").unwrap();
    let md = std::fs::symlink_metadata(&path).unwrap();
    std::fs::write(dir.path().join("g"), b"two").unwrap();
    std::fs::rename(dir.path().join("g"), &path).unwrap();
    assert!(vanished(&open_regular(&path, Some((md.dev(), md.ino()))).unwrap_err()));
    std::fs::remove_file(&path).unwrap();
    assert!(vanished(&open_regular(&path, None).unwrap_err()));
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert!(!vanished(&denied));
    assert!(!incomplete(&[Warning::Vanished { path: path.clone(), error: "deleted".into() }]));
    assert!(incomplete(&[Warning::Unreadable { path, error: denied.to_string() }]));
}

#[test]
fn a_hard_link_stamp_changes_with_size_or_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"one").unwrap();
    let first = link_stamp(&std::fs::metadata(&path).unwrap());
    assert_eq!(first, link_stamp(&std::fs::metadata(&path).unwrap()));
    std::fs::write(&path, b"three").unwrap();
    let second = link_stamp(&std::fs::metadata(&path).unwrap());
    assert_ne!(first.0, second.0);
    let old = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
    let third = link_stamp(&std::fs::metadata(&path).unwrap());
    assert_eq!(third.1, 1_000_000);
    assert_ne!(second, third);
}
