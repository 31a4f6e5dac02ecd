//! The backend conformance suite: the rules of the `Backend` trait, written
//! once and run against every backend. A new backend joins with one line,
//! `backend_conformance_suite!(name, factory);`, where the factory returns a
//! fresh, laid-out [`Subject`]. Exported under the `testing` feature, so
//! that other crates (the server's tests: `rest:` against `cairn serve`)
//! run the same suite.

use std::io::{ErrorKind, Write};
use std::sync::{Arc, Barrier};

use super::{Backend, FileKind};
use crate::id::Id;

/// Puts bytes under a name of a kind, bypassing the backend's rules.
pub type Plant = Box<dyn Fn(FileKind, &str, &[u8])>;

/// A backend under test and a way to put a file under any name into it, as
/// a user or a sync tool might.
pub struct Subject {
    pub backend: Arc<dyn Backend>,
    pub plant: Plant,
    /// Whatever must live as long as the test (a temporary folder, a
    /// server); dropped after the backend.
    pub keep: Vec<Box<dyn std::any::Any>>,
    /// The storage checks that each file is named by the hash of its bytes
    /// (`cairn serve`): the suite then names its files so, and writes the
    /// same bytes where it tests a second create of one name.
    pub content_addressed: bool,
}

impl Subject {
    /// The name of test file `n` holding `bytes`.
    fn name(&self, n: u8, bytes: &[u8]) -> Id {
        if self.content_addressed { Id::of_file_bytes(bytes) } else { id(n) }
    }

    /// What a second create of the name of `first` writes: other bytes,
    /// or the same ones where names are hashes.
    fn other<'a>(&self, first: &'a [u8], other: &'a [u8]) -> &'a [u8] {
        if self.content_addressed { first } else { other }
    }
}

/// Puts bytes under `name` of `kind` in a repository in the local layout
/// at `root` (`data/` files also in `data/00/`), as a user might.
pub fn plant_in_folder(root: std::path::PathBuf) -> Plant {
    Box::new(move |kind: FileKind, name: &str, bytes: &[u8]| {
        let folder = root.join(kind.folder());
        std::fs::write(folder.join(name), bytes).unwrap();
        if kind == FileKind::Pack {
            std::fs::write(folder.join("00").join(name), bytes).unwrap();
        }
    })
}

/// The suite, one `#[test]` per rule, in a module `$name`; `$factory` is
/// an expression that makes a fresh [`Subject`].
#[macro_export]
macro_rules! backend_conformance_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn create_then_list_and_read() {
                $crate::backend::conformance::create_then_list_and_read(&$factory());
            }
            #[test]
            fn second_create_is_refused_and_keeps_the_first() {
                $crate::backend::conformance::second_create_is_refused_and_keeps_the_first(&$factory());
            }
            #[test]
            fn config_is_created_once() {
                $crate::backend::conformance::config_is_created_once(&$factory());
            }
            #[test]
            fn ranged_and_tail_reads_at_the_edges() {
                $crate::backend::conformance::ranged_and_tail_reads_at_the_edges(&$factory());
            }
            #[test]
            fn remove_and_remove_of_a_missing_file() {
                $crate::backend::conformance::remove_and_remove_of_a_missing_file(&$factory());
            }
            #[test]
            fn names_that_are_not_ids_are_not_listed() {
                $crate::backend::conformance::names_that_are_not_ids_are_not_listed(&$factory());
            }
            #[test]
            fn concurrent_creates_have_one_winner() {
                $crate::backend::conformance::concurrent_creates_have_one_winner(&$factory());
            }
            #[test]
            fn create_from_spool() {
                $crate::backend::conformance::create_from_spool(&$factory());
            }
            #[test]
            fn layout_refuses_a_used_location() {
                $crate::backend::conformance::layout_refuses_a_used_location(&$factory());
            }
            #[test]
            fn list_times_lists_what_list_does_with_times() {
                $crate::backend::conformance::list_times_lists_what_list_does_with_times(&$factory());
            }
            #[test]
            fn replace_config_replaces_only_an_existing_config() {
                $crate::backend::conformance::replace_config_replaces_only_an_existing_config(&$factory());
            }
        }
    };
}

fn id(n: u8) -> Id {
    Id([n; 32])
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

pub fn create_then_list_and_read(s: &Subject) {
    let be = &*s.backend;
    for kind in FileKind::ALL {
        assert_eq!(be.list(kind).unwrap(), vec![], "{kind:?} starts empty");
        assert!(be.read(kind, &id(1)).unwrap_err().is_not_found());
    }
    let (one, two, three) = (s.name(1, b"one"), s.name(2, b"pack two"), s.name(3, b""));
    be.create(FileKind::Pack, &two, b"pack two").unwrap();
    be.create(FileKind::Pack, &one, b"one").unwrap();
    be.create(FileKind::Index, &three, b"").unwrap();
    assert_eq!(be.list(FileKind::Pack).unwrap(), sorted(vec![(one, 3), (two, 8)]), "sorted, with sizes");
    assert_eq!(be.list(FileKind::Index).unwrap(), vec![(three, 0)]);
    assert_eq!(be.list(FileKind::Key).unwrap(), vec![], "other kinds are separate");
    assert_eq!(be.read(FileKind::Pack, &two).unwrap(), b"pack two");
    assert_eq!(be.read(FileKind::Index, &three).unwrap(), b"");
    assert!(be.read(FileKind::Snapshot, &two).unwrap_err().is_not_found(), "same name, other kind");
    assert!(be.list_temporaries().unwrap().is_empty(), "a create leaves no temporaries");
}

pub fn second_create_is_refused_and_keeps_the_first(s: &Subject) {
    let be = &*s.backend;
    let seven = s.name(7, b"first");
    be.create(FileKind::Snapshot, &seven, b"first").unwrap();
    let err = be.create(FileKind::Snapshot, &seven, s.other(b"first", b"second, longer")).unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    assert!(err.to_string().contains(&seven.to_hex()), "names the file: {err}");
    assert_eq!(be.read(FileKind::Snapshot, &seven).unwrap(), b"first");
    assert_eq!(be.list(FileKind::Snapshot).unwrap(), vec![(seven, 5)]);
    // The content-addressed write finds its file present: success.
    let written = be.write(FileKind::Key, b"key").unwrap();
    assert_eq!(be.write(FileKind::Key, b"key").unwrap(), written);
    assert_eq!(written, Id::of_file_bytes(b"key"));
    assert!(be.list_temporaries().unwrap().is_empty(), "the refused create left no temporary");
}

pub fn config_is_created_once(s: &Subject) {
    let be = &*s.backend;
    assert!(be.read_config().unwrap_err().is_not_found());
    be.create_config(b"config one").unwrap();
    assert!(be.create_config(b"config two").unwrap_err().is_already_exists());
    assert_eq!(be.read_config().unwrap(), b"config one");
    for kind in FileKind::ALL {
        assert_eq!(be.list(kind).unwrap(), vec![], "the config is no {kind:?} file");
    }
}

pub fn ranged_and_tail_reads_at_the_edges(s: &Subject) {
    let be = &*s.backend;
    let bytes: Vec<u8> = (0..100u8).collect();
    let (one, two) = (s.name(1, &bytes), s.name(2, b""));
    be.create(FileKind::Pack, &one, &bytes).unwrap();
    be.create(FileKind::Pack, &two, b"").unwrap();
    let range = |offset: u64, len: usize| be.read_range(FileKind::Pack, &one, offset, len);
    assert_eq!(range(0, 0).unwrap(), b"");
    assert_eq!(range(0, 100).unwrap(), bytes);
    assert_eq!(range(0, 1).unwrap(), [0]);
    assert_eq!(range(99, 1).unwrap(), [99]);
    assert_eq!(range(40, 20).unwrap(), bytes[40..60]);
    assert_eq!(range(100, 0).unwrap(), b"", "empty range at the exact end");
    for (offset, len) in [(100, 1), (99, 2), (0, 101), (101, 0), (u64::MAX, 1), (u64::MAX, 0), (1, usize::MAX)] {
        let err = range(offset, len).expect_err("a range past the end is an error");
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "({offset}, {len}): {err}");
    }
    let tail = |len: u64| be.read_tail(FileKind::Pack, &one, len).unwrap();
    assert_eq!(tail(0), (vec![], 100));
    assert_eq!(tail(1), (vec![99], 100));
    assert_eq!(tail(10), (bytes[90..].to_vec(), 100));
    assert_eq!(tail(100), (bytes.clone(), 100));
    assert_eq!(tail(101), (bytes.clone(), 100), "longer than the file: the whole file");
    assert_eq!(tail(u64::MAX), (bytes.clone(), 100));
    assert_eq!(be.read_tail(FileKind::Pack, &two, 4).unwrap(), (vec![], 0));
    assert_eq!(be.read_range(FileKind::Pack, &two, 0, 0).unwrap(), b"");
    assert!(be.read_range(FileKind::Pack, &two, 0, 1).is_err());
    assert!(be.read_range(FileKind::Pack, &id(3), 0, 0).unwrap_err().is_not_found());
    assert!(be.read_tail(FileKind::Pack, &id(3), 4).unwrap_err().is_not_found());
}

pub fn remove_and_remove_of_a_missing_file(s: &Subject) {
    let be = &*s.backend;
    let (one, two) = (s.name(1, b"doomed"), s.name(2, b"kept"));
    be.create(FileKind::Pack, &one, b"doomed").unwrap();
    be.create(FileKind::Pack, &two, b"kept").unwrap();
    assert_eq!(be.read_range(FileKind::Pack, &one, 0, 6).unwrap(), b"doomed");
    be.remove(FileKind::Pack, &one).unwrap();
    assert_eq!(be.list(FileKind::Pack).unwrap(), vec![(two, 4)]);
    assert!(be.read(FileKind::Pack, &one).unwrap_err().is_not_found());
    assert!(be.read_range(FileKind::Pack, &one, 0, 6).unwrap_err().is_not_found(), "no stale open file");
    // Defined semantics: removing a missing file succeeds (a repeated
    // remove after a lost acknowledgement must not fail).
    be.remove(FileKind::Pack, &one).unwrap();
    be.remove(FileKind::Index, &id(9)).unwrap();
    // The name is free again.
    let reborn = s.other(b"doomed", b"reborn");
    be.create(FileKind::Pack, &one, reborn).unwrap();
    assert_eq!(be.read(FileKind::Pack, &one).unwrap(), reborn);
}

pub fn names_that_are_not_ids_are_not_listed(s: &Subject) {
    let be = &*s.backend;
    let real = s.name(1, b"real");
    be.create(FileKind::Key, &real, b"real").unwrap();
    be.create(FileKind::Pack, &real, b"real").unwrap();
    let upper = id(0xab).to_hex().to_uppercase();
    let short = &id(0xab).to_hex()[1..];
    let long = format!("{}0", id(0xab).to_hex());
    let not_hex = format!("{}g", &id(0xab).to_hex()[1..]);
    for kind in [FileKind::Key, FileKind::Pack] {
        for name in ["README", "config", upper.as_str(), short, long.as_str(), not_hex.as_str(), "ÿ-ünïcode"] {
            (s.plant)(kind, name, b"stray");
        }
        assert_eq!(be.list(kind).unwrap(), vec![(real, 4)], "{kind:?}");
    }
}

pub fn concurrent_creates_have_one_winner(s: &Subject) {
    const WRITERS: usize = 8;
    let barrier = Barrier::new(WRITERS);
    let contents: Vec<Vec<u8>> =
        (0..WRITERS).map(|i| if s.content_addressed { vec![5; 4096] } else { vec![i as u8; 4096 + i] }).collect();
    let five = s.name(5, &contents[0]);
    let outcomes: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = contents
            .iter()
            .map(|bytes| {
                let (barrier, be) = (&barrier, &s.backend);
                scope.spawn(move || {
                    barrier.wait();
                    match be.create(FileKind::Pack, &five, bytes) {
                        Ok(()) => true,
                        Err(e) if e.is_already_exists() => false,
                        Err(e) => panic!("a racing create failed otherwise: {e}"),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..WRITERS).filter(|i| outcomes[*i]).collect();
    assert_eq!(winners.len(), 1, "exactly one create wins: {outcomes:?}");
    let stored = s.backend.read(FileKind::Pack, &five).unwrap();
    assert_eq!(stored, contents[winners[0]], "the winner's bytes, whole");
    assert_eq!(s.backend.list(FileKind::Pack).unwrap(), vec![(five, stored.len() as u64)]);
    assert!(s.backend.list_temporaries().unwrap().is_empty());
}

pub fn create_from_spool(s: &Subject) {
    let be = &*s.backend;
    let one = s.name(1, b"streamed pack");
    let mut spool = be.create_spool(FileKind::Pack).unwrap();
    let spool_path = spool.path().to_path_buf();
    spool.file().write_all(b"streamed ").unwrap();
    spool.file().write_all(b"pack").unwrap();
    be.create_from_spool(FileKind::Pack, &one, spool).unwrap();
    assert_eq!(be.read(FileKind::Pack, &one).unwrap(), b"streamed pack");
    assert!(!spool_path.exists(), "the spool is gone once created");
    // A taken name refuses the spool, keeps the original, drops the spool.
    let mut spool = be.create_spool(FileKind::Pack).unwrap();
    let spool_path = spool.path().to_path_buf();
    spool.file().write_all(s.other(b"streamed pack", b"other")).unwrap();
    assert!(be.create_from_spool(FileKind::Pack, &one, spool).unwrap_err().is_already_exists());
    assert_eq!(be.read(FileKind::Pack, &one).unwrap(), b"streamed pack");
    assert!(!spool_path.exists());
    // A spool dropped unused leaves nothing behind.
    drop(be.create_spool(FileKind::Pack).unwrap());
    assert!(be.list_temporaries().unwrap().is_empty());
    assert_eq!(be.list(FileKind::Pack).unwrap(), vec![(one, 13)]);
}

/// `list_times` is `list` plus each file's storage time; the backends of
/// this suite all have times (the default of the trait has none).
pub fn list_times_lists_what_list_does_with_times(s: &Subject) {
    let be = &s.backend;
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
    let (one, two) = (s.name(1, b"one"), s.name(2, b"two!"));
    be.create(FileKind::Lock, &one, b"one").unwrap();
    be.create(FileKind::Lock, &two, b"two!").unwrap();
    (s.plant)(FileKind::Lock, "not-an-id", b"x");
    let timed = be.list_times(FileKind::Lock).unwrap();
    let sizes: Vec<(Id, u64)> = timed.iter().map(|(id, size, _)| (*id, *size)).collect();
    assert_eq!(sizes, be.list(FileKind::Lock).unwrap());
    assert_eq!(sizes, sorted(vec![(one, 3), (two, 4)]));
    for (_, _, time) in &timed {
        assert!(time.is_some_and(|t| t >= before), "a time from the storage's clock: {time:?}");
    }
    be.remove(FileKind::Lock, &one).unwrap();
    assert_eq!(be.list_times(FileKind::Lock).unwrap().len(), 1);
}

/// The upgrade's one replacement: refused without a config, whole after.
pub fn replace_config_replaces_only_an_existing_config(s: &Subject) {
    let be = &s.backend;
    assert!(be.replace_config(b"new").unwrap_err().is_not_found(), "nothing to replace");
    assert!(be.read_config().unwrap_err().is_not_found(), "and nothing created");
    be.create_config(b"old config").unwrap();
    be.replace_config(b"new").unwrap();
    assert_eq!(be.read_config().unwrap(), b"new");
    assert!(be.list_temporaries().unwrap().is_empty(), "no temporary left behind");
}

pub fn layout_refuses_a_used_location(s: &Subject) {
    let be = &*s.backend;
    let key = s.name(1, b"key");
    be.create(FileKind::Key, &key, b"key").unwrap();
    let err = be.create_layout().unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    assert_eq!(be.read(FileKind::Key, &key).unwrap(), b"key");
}

#[cfg(test)]
mod suites {
    use std::path::Path;
    use std::sync::Arc;

    use super::{Subject, plant_in_folder};
    use crate::backend::faults::FaultyBackend;
    use crate::backend::local::LocalBackend;
    use crate::backend::memory::MemoryBackend;
    use crate::backend::{Backend, FileKind};

    fn local() -> Subject {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let backend = Arc::new(LocalBackend::new(&root));
        backend.create_layout().unwrap();
        Subject { backend, plant: plant_in_folder(root), keep: vec![Box::new(dir)], content_addressed: false }
    }

    fn memory() -> Subject {
        let backend = Arc::new(MemoryBackend::new());
        backend.create_layout().unwrap();
        let planted = Arc::clone(&backend);
        let plant = move |kind: FileKind, name: &str, bytes: &[u8]| planted.put_raw(kind, name, bytes);
        Subject { backend, plant: Box::new(plant), keep: Vec::new(), content_addressed: false }
    }

    /// The fault wrapper with no faults planned must be invisible.
    fn faulty_local_without_faults() -> Subject {
        let inner = local();
        Subject {
            backend: Arc::new(FaultyBackend::new(inner.backend)),
            plant: inner.plant,
            keep: inner.keep,
            content_addressed: false,
        }
    }

    backend_conformance_suite!(local, super::local);
    backend_conformance_suite!(memory, super::memory);
    backend_conformance_suite!(faulty_local_without_faults, super::faulty_local_without_faults);

    /// The local backend also keeps temporaries out of every listing and
    /// reports them (check shows them as notes).
    #[test]
    fn local_temporaries_are_reported_not_listed() {
        let s = local();
        let root = Path::new(&s.backend.location()).to_path_buf();
        std::fs::write(root.join("data/00/.tmp-1"), b"half a pack").unwrap();
        std::fs::write(root.join("snapshots/.tmp-2"), b"half").unwrap();
        assert_eq!(s.backend.list(FileKind::Pack).unwrap(), vec![]);
        let temporaries = s.backend.list_temporaries().unwrap();
        assert_eq!(temporaries.len(), 2, "{temporaries:?}");
        assert!(temporaries[0].ends_with("data/00/.tmp-1"), "{temporaries:?}");
    }
}
