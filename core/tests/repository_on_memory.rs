//! The repository runs on any backend: a whole round trip (init, snapshot,
//! check, restore, reopen) on the in-memory backend, with no folder behind
//! it, and damage done through the backend seen by `check`.

use std::path::Path;
use std::sync::Arc;

use cairn_core::archiver::{self, Progress, SnapshotOptions};
use cairn_core::backend::memory::MemoryBackend;
use cairn_core::backend::{Backend, FileKind};
use cairn_core::format::RepoParams;
use cairn_core::format::crypto::KdfParams;
use cairn_core::maintenance::check::{CheckOptions, check};
use cairn_core::repo::InitOptions;
use cairn_core::restorer::{self, Destination, RestoreOptions, Selection};
use cairn_core::{Error, Repository};

fn options() -> InitOptions<'static> {
    InitOptions {
        password: Some(b"pw"),
        kdf: KdfParams::INSECURE_FOR_TESTS,
        params: RepoParams::DEFAULT,
        host: "h".into(),
        user: "u".into(),
    }
}

#[test]
fn a_repository_in_memory_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/file"), b"kept in memory").unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let repo = Repository::init_with_backend(backend.clone(), &options()).unwrap();
    let opts = SnapshotOptions { paths: vec![src.clone()], host: "h".into(), ..Default::default() };
    let id = archiver::snapshot(&repo, &opts, &Progress::default()).unwrap().id;
    assert_eq!(backend.list(FileKind::Snapshot).unwrap().len(), 1);
    assert_eq!(backend.list(FileKind::Key).unwrap().len(), 1);
    drop(repo);

    assert!(matches!(
        Repository::open_with_backend(backend.clone(), Some(b"wrong"), None),
        Err(Error::WrongPassword(_))
    ));
    assert!(matches!(Repository::init_with_backend(backend.clone(), &options()), Err(Error::RepositoryExists(_))));
    let repo = Repository::open_with_backend(backend.clone(), Some(b"pw"), None).unwrap();
    for read_data in [false, true] {
        assert!(
            check(&repo, CheckOptions { read_data, read_subset: None }).unwrap().errors.is_empty(),
            "read_data {read_data}"
        );
    }
    let into = tmp.path().join("restored");
    let restore = RestoreOptions {
        destination: Destination::Folder(into.clone()),
        selection: Selection::default(),
        overwrite: false,
        delete: false,
        dry_run: false,
        host: "h".into(),
        user: "u".into(),
    };
    restorer::restore(&repo, &repo.load_snapshot(&id).unwrap(), &restore).unwrap();
    let restored = into.join(src.strip_prefix("/").unwrap()).join("sub/file");
    assert_eq!(std::fs::read(restored).unwrap(), b"kept in memory");

    // A pack replaced by other bytes under its name is found by check.
    let (pack, _) = backend.list(FileKind::Pack).unwrap()[0];
    let mut bytes = backend.read(FileKind::Pack, &pack).unwrap();
    bytes[0] ^= 1;
    backend.remove(FileKind::Pack, &pack).unwrap();
    backend.create(FileKind::Pack, &pack, &bytes).unwrap();
    let report = check(&repo, CheckOptions { read_data: true, read_subset: None }).unwrap();
    assert!(report.errors.iter().any(|e| e.contains(&pack.to_hex())), "{:?}", report.errors);
}

#[test]
fn no_repository_in_an_empty_backend() {
    let backend = Arc::new(MemoryBackend::new());
    assert!(matches!(Repository::open_with_backend(backend, None, None), Err(Error::NotARepository(_))));
}

#[test]
fn exists_at_a_location() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repo");
    assert!(!Repository::exists_at(&path).unwrap(), "missing folder");
    std::fs::create_dir(&path).unwrap();
    assert!(!Repository::exists_at(&path).unwrap(), "empty folder");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(!Repository::exists_at(&file).unwrap(), "a file is no repository");
    std::fs::remove_dir(&path).unwrap();
    Repository::init(&path, &options()).unwrap();
    assert!(Repository::exists_at(Path::new(&path)).unwrap());
}
