//! Faults at every write: a real snapshot is driven through the
//! fault-injecting backend, failing each of its writes in turn (every one,
//! counted from a clean run first, not a sample). After each failure the
//! snapshot returns an error, no file holds partial contents under a final
//! name nor any temporary, `check --read-data` finds no errors,
//! the earlier snapshot restores byte for byte, and the next snapshot
//! without faults succeeds and restores byte for byte too.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::archiver::{self, Progress, SnapshotOptions};
use cairn_core::backend::faults::{Fault, FaultyBackend};
use cairn_core::backend::{self, Backend, FileKind, Op};
use cairn_core::format::RepoParams;
use cairn_core::format::crypto::KdfParams;
use cairn_core::maintenance::check::{CheckOptions, check};
use cairn_core::repo::InitOptions;
use cairn_core::restorer::{self, Destination, RestoreOptions, Selection};
use cairn_core::{Error, Id, Repository};

/// Files of the source tree by path below it.
type Tree = BTreeMap<PathBuf, Vec<u8>>;

/// Bytes that do not compress or repeat (so every file is its own blob).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn write_tree(root: &Path, tree: &Tree) {
    for (path, bytes) in tree {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn read_tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The first tree and the changed one the faulty snapshot stores: a file
/// changed, one added, one kept.
fn trees() -> (Tree, Tree) {
    let first: Tree = [("a/one", noise(3000, 1)), ("a/two", noise(2000, 2)), ("b/three", noise(1500, 3))]
        .into_iter()
        .map(|(p, b)| (PathBuf::from(p), b))
        .collect();
    let mut second = first.clone();
    second.insert("a/two".into(), noise(2500, 4));
    second.insert("b/four".into(), noise(1800, 5));
    (first, second)
}

fn options() -> InitOptions<'static> {
    InitOptions {
        password: Some(b"pw"),
        kdf: KdfParams::INSECURE_FOR_TESTS,
        // The smallest pack target: every data blob closes its own pack,
        // so the number of writes does not depend on thread timing.
        params: RepoParams { pack_target: 1024, ..RepoParams::DEFAULT },
        host: "h".into(),
        user: "u".into(),
    }
}

fn take_snapshot(repo: &Repository, src: &Path) -> Result<Id, Error> {
    let opts = SnapshotOptions { paths: vec![src.to_path_buf()], host: "h".into(), ..Default::default() };
    archiver::snapshot(repo, &opts, &Progress::default()).map(|outcome| outcome.id)
}

/// Restores snapshot `id` and compares it with `expected`, byte for byte.
fn assert_restores(repo: &Repository, id: &Id, src: &Path, expected: &Tree, into: &Path) {
    let snapshot = repo.load_snapshot(id).unwrap();
    let opts = RestoreOptions {
        destination: Destination::Folder(into.to_path_buf()),
        selection: Selection::default(),
        overwrite: false,
        delete: false,
        dry_run: false,
        host: "h".into(),
        user: "u".into(),
    };
    restorer::restore(repo, &snapshot, &opts).unwrap();
    let restored = read_tree(&into.join(src.strip_prefix("/").unwrap()));
    assert!(restored == *expected, "snapshot {id} does not restore byte for byte");
}

/// A repository holding one snapshot of the first tree, as a folder to copy.
struct Setup {
    dir: tempfile::TempDir,
    base: PathBuf,
    src: PathBuf,
    first_id: Id,
    first: Tree,
    second: Tree,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (base, src) = (dir.path().join("base"), dir.path().join("src"));
    let (first, second) = trees();
    write_tree(&src, &first);
    let repo = Repository::init(&base, &options()).unwrap();
    let first_id = take_snapshot(&repo, &src).unwrap();
    // The faulty runs store the second tree.
    std::fs::remove_dir_all(&src).unwrap();
    write_tree(&src, &second);
    Setup { dir, base, src, first_id, first, second }
}

/// A fresh copy of the base repository, opened through a fault wrapper.
fn faulty_copy(s: &Setup, name: &str) -> (PathBuf, Arc<FaultyBackend>, Repository) {
    let path = s.dir.path().join(name);
    let status = std::process::Command::new("cp").arg("-a").arg(&s.base).arg(&path).status().unwrap();
    assert!(status.success());
    let faulty = Arc::new(FaultyBackend::new(backend::for_location(&path).unwrap()));
    let repo = Repository::open_with_backend(faulty.clone(), Some(b"pw"), None).unwrap();
    faulty.reset();
    (path, faulty, repo)
}

/// Every file under a final name holds the bytes its name promises.
fn assert_no_partial_files(repo: &Repository, what: &str) {
    for kind in FileKind::ALL {
        for (id, size) in repo.backend().list(kind).unwrap() {
            let bytes = repo.backend().read(kind, &id).unwrap();
            assert_eq!(bytes.len() as u64, size);
            assert_eq!(Id::of_file_bytes(&bytes), id, "{what}: {kind:?} file {id} is partial or damaged");
        }
    }
}

/// After a failed run at `path`: clean check, earlier snapshot intact, and
/// the next run without faults succeeds.
fn assert_recovers(s: &Setup, path: &Path, what: &str) {
    let repo = Repository::open(path, Some(b"pw")).unwrap();
    assert_no_partial_files(&repo, what);
    // A run that failed (rather than being killed) removed its temporaries.
    assert_eq!(repo.backend().list_temporaries().unwrap(), Vec::<String>::new(), "{what}");
    let report = check(&repo, CheckOptions { read_data: true, read_subset: None }).unwrap();
    assert!(report.errors.is_empty(), "{what}: check found errors: {:?}", report.errors);
    let restored = path.with_extension("restored-first");
    assert_restores(&repo, &s.first_id, &s.src, &s.first, &restored);
    let retry = take_snapshot(&repo, &s.src).unwrap_or_else(|e| panic!("{what}: the retry failed: {e}"));
    let restored = path.with_extension("restored-retry");
    assert_restores(&repo, &retry, &s.src, &s.second, &restored);
    let report = check(&repo, CheckOptions { read_data: true, read_subset: None }).unwrap();
    assert!(report.errors.is_empty(), "{what}: check after the retry found errors: {:?}", report.errors);
}

#[test]
fn a_snapshot_survives_a_failure_at_every_write() {
    let s = setup();

    // A clean run counts the writes a snapshot of the second tree makes.
    let (path, faulty, repo) = faulty_copy(&s, "clean");
    take_snapshot(&repo, &s.src).unwrap();
    let (spools, creates) = (faulty.count(Op::Spool), faulty.count(Op::Create));
    // Two new data blobs and one pack of trees (each from a spool), then
    // the index and the snapshot.
    assert_eq!((spools, creates), (3, 5), "the writes of a clean run");
    assert_eq!(faulty.count(Op::Remove), 0);
    drop(repo);
    assert_recovers(&s, &path, "clean run");

    let plans = [
        (Op::Spool, spools, Fault::Fail(ErrorKind::PermissionDenied)),
        (Op::Create, creates, Fault::Fail(ErrorKind::Other)),
        // The write happens but its acknowledgement is lost.
        (Op::Create, creates, Fault::FailAfter(ErrorKind::TimedOut)),
    ];
    for (op, count, fault) in plans {
        for n in 1..=count {
            let what = format!("{fault:?} at {op:?} {n} of {count}");
            let (path, faulty, repo) = faulty_copy(&s, &format!("{op:?}-{fault:?}-{n}"));
            faulty.fail_nth(op, n, fault);
            // Slow storage: a pack finisher still running after the failed
            // call returned would be caught writing (its spool still there).
            faulty.set_delay(Duration::from_millis(5));
            let err = take_snapshot(&repo, &s.src).expect_err(&what);
            assert!(err.to_string().contains("injected fault"), "{what}: the error is not the injected one: {err}");
            assert!(faulty.count(op) >= n, "{what}: the fault was never reached");
            drop(repo);
            assert_recovers(&s, &path, &what);
        }
    }
}

#[test]
fn a_full_disk_is_one_clear_error() {
    let s = setup();
    let (path, faulty, repo) = faulty_copy(&s, "full");
    faulty.fail_every(Op::Create, Fault::NoSpace);
    let err = take_snapshot(&repo, &s.src).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("No space left on device"), "{message}");
    assert!(message.contains("could not create"), "names the operation: {message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(matches!(&err, Error::Backend(e) if e.source.raw_os_error() == Some(28)), "{err:?}");
    drop(repo);
    assert_recovers(&s, &path, "no space");
}

/// The backend that `for_location` picks is the same local one the CLI
/// uses, so faults on it are faults of the real thing.
#[test]
fn the_fault_wrapper_wraps_the_location_backend() {
    let s = setup();
    let (path, faulty, _repo) = faulty_copy(&s, "where");
    assert_eq!(faulty.location(), path.display().to_string());
}
