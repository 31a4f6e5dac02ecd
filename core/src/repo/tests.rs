//! Tests of `repo`: creating and opening repositories (passwords, key
//! files, missing or damaged config), and saving and loading blobs, trees
//! and snapshots through packs and index files.

use super::*;
use crate::format::{ConfigFile, Node, NodeKind, REPO_VERSION};
use crate::test_fixtures::{encrypted_repo, flip_byte, init_options, only_file, repo, snapshot};

const PASSWORD: &[u8] = b"correct horse";

/// Incompressible bytes, different for each seed.
fn noise(len: usize, seed: u8) -> Vec<u8> {
    crate::test_fixtures::noise(len, u64::from(seed))
}

fn read_config_file(repo: &Repository) -> ConfigFile {
    codec::from_postcard(&std::fs::read(repo.path().join("config")).unwrap(), "config").unwrap()
}

fn write_config_file(repo: &Repository, config: &ConfigFile) {
    std::fs::write(repo.path().join("config"), codec::to_postcard(config).unwrap()).unwrap();
}

#[test]
fn an_unencrypted_repository_opens_without_a_password_only() {
    let tmp = tempfile::tempdir().unwrap();
    let made = repo(tmp.path());
    assert!(!made.is_encrypted());
    assert!(!Repository::is_encrypted_at(made.path()).unwrap());
    let opened = Repository::open(made.path(), None).unwrap();
    assert_eq!((opened.id(), opened.params()), (made.id(), &RepoParams::DEFAULT));
    assert!(opened.index_problems().is_empty());
    assert!(matches!(Repository::open(made.path(), Some(b"pw")), Err(Error::UnexpectedlyUnencrypted(_))));
}

#[test]
fn an_encrypted_repository_needs_the_right_password() {
    let tmp = tempfile::tempdir().unwrap();
    let made = encrypted_repo(tmp.path(), PASSWORD);
    assert!(made.is_encrypted() && Repository::is_encrypted_at(made.path()).unwrap());
    let opened = Repository::open(made.path(), Some(PASSWORD)).unwrap();
    assert_eq!(opened.id(), made.id());
    assert_eq!(opened.keys().blob_id(b"x"), made.keys().blob_id(b"x"), "the same master key");
    assert!(matches!(Repository::open(made.path(), Some(b"wrong")), Err(Error::WrongPassword(_))));
    assert!(matches!(Repository::open(made.path(), None), Err(Error::PasswordRequired)));
    // The key file holds the master key sealed, not in the clear.
    let master = made.keys().master().expect("encrypted");
    let key_file = made.backend().read(FileKind::Key, &only_file(&made, FileKind::Key)).unwrap();
    assert!(!key_file.windows(32).any(|w| w == master));
}

#[test]
fn an_empty_password_is_refused_at_init_and_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("never");
    assert!(matches!(Repository::init(&target, &init_options(Some(b""))), Err(Error::EmptyPassword)));
    assert!(!target.exists(), "nothing is created before the refusal");
    let made = encrypted_repo(tmp.path(), b"right");
    assert!(matches!(Repository::open(made.path(), Some(b"")), Err(Error::EmptyPassword)));
}

#[test]
fn any_key_file_opens_and_damaged_keys_are_not_wrong_passwords() {
    let tmp = tempfile::tempdir().unwrap();
    let made = encrypted_repo(tmp.path(), b"first");
    let first = only_file(&made, FileKind::Key);
    // A second copy of the master key, sealed with another password.
    let master = made.keys().master().expect("encrypted");
    let sealed = seal_master_key(master, b"second", &made.id(), &init_options(None)).unwrap();
    let second = made.backend().write(FileKind::Key, &codec::to_postcard(&sealed).unwrap()).unwrap();
    let open = |password: &[u8]| Repository::open(made.path(), Some(password));
    for password in [&b"first"[..], b"second"] {
        assert_eq!(open(password).unwrap().keys().blob_id(b"x"), made.keys().blob_id(b"x"));
    }
    assert!(matches!(open(b"third"), Err(Error::WrongPassword(_))));

    // One key damaged: the other still opens, and a password that opens
    // neither is still a wrong password.
    flip_byte(&made.backend().local_path(FileKind::Key, &first).unwrap(), 0);
    assert!(open(b"second").is_ok());
    assert!(matches!(open(b"first"), Err(Error::WrongPassword(_))));
    // Every key damaged: no password can help, and the error says why.
    flip_byte(&made.backend().local_path(FileKind::Key, &second).unwrap(), 0);
    match open(b"second") {
        Err(Error::Corrupt { what, detail }) => {
            assert_eq!(what, "keys");
            assert!(detail.contains(&first.to_hex()) && detail.contains(&second.to_hex()), "{detail}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    for id in [first, second] {
        std::fs::remove_file(made.backend().local_path(FileKind::Key, &id).unwrap()).unwrap();
    }
    assert!(matches!(open(b"second"), Err(Error::Corrupt { .. })), "no key file at all");
}

#[test]
fn a_missing_or_foreign_config_is_no_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for path in [empty.clone(), tmp.path().join("missing")] {
        assert!(matches!(Repository::open(&path, None), Err(Error::NotARepository(_))));
        assert!(matches!(Repository::is_encrypted_at(&path), Err(Error::NotARepository(_))));
    }
    // `init` takes an empty folder, but nothing else.
    let made = Repository::init(&empty, &init_options(None)).unwrap();
    assert!(matches!(Repository::init(&empty, &init_options(None)), Err(Error::RepositoryExists(_))));
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), b"mine").unwrap();
    assert!(matches!(Repository::init(&busy, &init_options(None)), Err(Error::RepositoryExists(_))));
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1, "nothing was written into it");

    // An unencrypted repository with a key file is damaged.
    let stray = made.backend().write(FileKind::Key, b"a key?").unwrap();
    match Repository::open(made.path(), None) {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("has keys"), "{detail}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    std::fs::remove_file(made.backend().local_path(FileKind::Key, &stray).unwrap()).unwrap();

    let good = read_config_file(&made);
    let opens = |config: &ConfigFile| {
        write_config_file(&made, config);
        Repository::open(made.path(), None).map(|_| ())
    };
    // Another magic is another tool's config; one byte off is damage.
    assert!(matches!(opens(&ConfigFile { magic: *b"RESTIC!!", ..good.clone() }), Err(Error::ForeignRepository(_))));
    assert!(matches!(opens(&ConfigFile { magic: *b"CAIRNRE?", ..good.clone() }), Err(Error::Corrupt { .. })));
    let future = ConfigFile { version: REPO_VERSION + 1, ..good.clone() };
    assert!(matches!(opens(&future), Err(Error::UnsupportedVersion { what: "repository config", .. })));
    let sealed_params = ConfigFile { encrypted: true, ..good.clone() };
    assert!(matches!(opens(&sealed_params), Err(Error::PasswordRequired)));
    opens(&good).unwrap();
    let bytes = std::fs::read(made.path().join("config")).unwrap();
    std::fs::write(made.path().join("config"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(Repository::open(made.path(), None), Err(Error::Corrupt { .. })), "truncated");
    std::fs::remove_file(made.path().join("config")).unwrap();
    assert!(matches!(Repository::open(made.path(), None), Err(Error::NotARepository(_))));

    // Parameters cairn cannot honour: refused, and no repository is left.
    let bad = InitOptions { params: RepoParams { chunk_min: 63, ..RepoParams::DEFAULT }, ..init_options(None) };
    let path = tmp.path().join("bad");
    assert!(Repository::init(&path, &bad).is_err());
    assert!(matches!(Repository::open(&path, None), Err(Error::NotARepository(_))));
}

#[test]
fn a_config_rewritten_as_unencrypted_does_not_open() {
    let tmp = tempfile::tempdir().unwrap();
    let made = encrypted_repo(tmp.path(), PASSWORD);
    write_config_file(&made, &ConfigFile { encrypted: false, ..read_config_file(&made) });
    // With its keys still there: damaged.
    assert!(matches!(Repository::open(made.path(), None), Err(Error::Corrupt { .. })));
    // With its keys deleted too: the password is refused rather than
    // ignored, and without one the sealed parameters do not decode.
    let key = only_file(&made, FileKind::Key);
    std::fs::remove_file(made.backend().local_path(FileKind::Key, &key).unwrap()).unwrap();
    assert!(matches!(Repository::open(made.path(), Some(PASSWORD)), Err(Error::UnexpectedlyUnencrypted(_))));
    assert!(matches!(Repository::open(made.path(), None), Err(Error::Corrupt { .. })));
}

#[test]
fn blobs_trees_and_snapshots_round_trip() {
    for encrypted in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (made, password) =
            if encrypted { (encrypted_repo(tmp.path(), PASSWORD), Some(PASSWORD)) } else { (repo(tmp.path()), None) };
        let saver = made.saver();
        let alpha = saver.save(BlobKind::Data, b"alpha").unwrap();
        assert_eq!(saver.save(BlobKind::Data, b"alpha").unwrap(), alpha);
        let empty = saver.save(BlobKind::Data, b"").unwrap();
        let node = Node::for_test(b"f", NodeKind::File { size: 5, content: vec![alpha] }, 0o644);
        let tree = Tree { version: FORMAT_VERSION, nodes: vec![node] };
        let tree_id = saver.save_tree(&tree).unwrap();
        let stats = saver.finish().unwrap();
        assert_eq!((stats.data_blobs, stats.tree_blobs), (2, 1), "the repeated blob is stored once");
        let packs = made.backend().list(FileKind::Pack).unwrap();
        assert_eq!(packs.len(), 2, "data and trees never share a pack");
        assert_eq!(stats.bytes_added, packs.iter().map(|(_, size)| size).sum::<u64>());
        only_file(&made, FileKind::Index);
        let snap = snapshot(0, &["/w"], tree_id);
        let snap_id = made.save_snapshot(&snap).unwrap();

        // Read back through a fresh handle: from the files, not from memory.
        let opened = Repository::open(made.path(), password).unwrap();
        assert_eq!(opened.load_blob(&alpha).unwrap(), b"alpha");
        assert_eq!(opened.load_blob(&empty).unwrap(), b"");
        assert_eq!(opened.load_tree(&tree_id).unwrap(), tree);
        assert_eq!(opened.load_snapshot(&snap_id).unwrap(), snap);
        let (data, trees) =
            (opened.locate(BlobKind::Data, &alpha).unwrap(), opened.locate(BlobKind::Tree, &tree_id).unwrap());
        assert_eq!((data.kind, data.raw_length, trees.kind), (BlobKind::Data, 5, BlobKind::Tree));
        assert_ne!(data.pack, trees.pack);
        // Ids are plain BLAKE3 only without encryption, and so are the bytes.
        assert_eq!(alpha == Id(*blake3::hash(b"alpha").as_bytes()), !encrypted);
        let pack = opened.backend().read(FileKind::Pack, &data.pack).unwrap();
        assert_eq!(pack.windows(5).any(|w| w == b"alpha"), !encrypted);

        assert!(matches!(opened.load_blob(&Id([7; 32])), Err(Error::BlobNotIndexed(_))));
        assert!(matches!(opened.load_tree(&alpha), Err(Error::Corrupt { .. })), "a data blob is no tree");
        // What the repository holds is not stored again.
        let again = opened.saver();
        again.save(BlobKind::Data, b"alpha").unwrap();
        again.save_tree(&tree).unwrap();
        let stats = again.finish().unwrap();
        assert_eq!((stats.data_blobs, stats.tree_blobs, stats.bytes_added), (0, 0, 0));
        assert_eq!(opened.backend().list(FileKind::Pack).unwrap().len(), 2);
        only_file(&opened, FileKind::Index);
    }
}

/// Blob identity is (kind, id): a data blob with a tree's bytes, stored
/// earlier or pending in the same run, does not make the tree count as stored.
#[test]
fn a_tree_is_stored_even_when_a_data_blob_has_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let made = repo(tmp.path());
    let tree = Tree { version: FORMAT_VERSION, nodes: Vec::new() };
    let bytes = codec::to_postcard(&tree).unwrap();
    // Pending in the same run: the file first, then the folder.
    let saver = made.saver();
    let data_id = saver.save(BlobKind::Data, &bytes).unwrap();
    let tree_id = saver.save_tree(&tree).unwrap();
    let stats = saver.finish().unwrap();
    assert_eq!(data_id, tree_id, "the kind is not part of the id");
    assert_eq!((stats.data_blobs, stats.tree_blobs), (1, 1));
    assert_eq!(made.locate(BlobKind::Tree, &tree_id).unwrap().kind, BlobKind::Tree);
    assert_eq!(made.locate(BlobKind::Data, &data_id).unwrap().kind, BlobKind::Data);
    assert_eq!(made.load_tree(&tree_id).unwrap(), tree);
    assert_eq!(made.load_blob(&data_id).unwrap(), bytes);

    // Already indexed as data only: a later run still stores the tree.
    let other = repo(&tmp.path().join("other"));
    let saver = other.saver();
    saver.save(BlobKind::Data, &bytes).unwrap();
    saver.finish().unwrap();
    let saver = other.saver();
    saver.save_tree(&tree).unwrap();
    assert_eq!(saver.finish().unwrap().tree_blobs, 1);
    assert!(other.is_indexed(BlobKind::Tree, &tree_id));
}

#[test]
fn full_packs_are_closed_and_indexed_together() {
    let tmp = tempfile::tempdir().unwrap();
    let params = RepoParams { pack_target: 1024, ..RepoParams::DEFAULT };
    let made = Repository::init(&tmp.path().join("repo"), &InitOptions { params, ..init_options(None) }).unwrap();
    let saver = made.saver();
    let ids: Vec<Id> = (0..10).map(|n| saver.save(BlobKind::Data, &noise(600, n)).unwrap()).collect();
    assert_eq!(saver.finish().unwrap().data_blobs, 10);
    // 601 stored bytes each: a pack closes at its second blob.
    assert_eq!(made.backend().list(FileKind::Pack).unwrap().len(), 5);
    only_file(&made, FileKind::Index);
    assert!(made.backend().list_temporaries().unwrap().is_empty());
    let opened = Repository::open(made.path(), None).unwrap();
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(opened.load_blob(id).unwrap(), noise(600, n as u8));
    }
}

#[test]
fn another_handle_sees_new_blobs_after_refreshing_its_index() {
    let tmp = tempfile::tempdir().unwrap();
    let made = repo(tmp.path());
    let other = Repository::open(made.path(), None).unwrap();
    let saver = made.saver();
    let id = saver.save(BlobKind::Data, b"late").unwrap();
    saver.finish().unwrap();
    assert!(made.is_indexed(BlobKind::Data, &id));
    assert!(!other.is_indexed(BlobKind::Data, &id));
    other.refresh_index().unwrap();
    assert_eq!(other.load_blob(&id).unwrap(), b"late");
}

#[test]
fn refreshing_the_index_reports_what_it_found_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let made = repo(tmp.path());
    let saver = made.saver();
    saver.save(BlobKind::Data, b"indexed").unwrap();
    saver.finish().unwrap();
    let opened = Repository::open(made.path(), None).unwrap();
    assert!(opened.index_problems().is_empty());
    // Damaged after opening: a refresh must see it (check refreshes first).
    let index = only_file(&made, FileKind::Index);
    let index_path = made.backend().local_path(FileKind::Index, &index).unwrap();
    let intact = std::fs::read(&index_path).unwrap();
    flip_byte(&index_path, 0);
    opened.refresh_index().unwrap();
    assert_eq!(opened.index_problems().len(), 1, "{:?}", opened.index_problems());
    assert!(opened.index_problems()[0].starts_with(&format!("index {index}")));
    // Mended: the next refresh clears it.
    std::fs::write(&index_path, intact).unwrap();
    opened.refresh_index().unwrap();
    assert!(opened.index_problems().is_empty());
}

#[test]
fn damaged_files_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let made = repo(tmp.path());
    let saver = made.saver();
    let blob = saver.save(BlobKind::Data, &noise(100, 1)).unwrap();
    saver.finish().unwrap();
    let snap = made.save_snapshot(&snapshot(0, &["/w"], blob)).unwrap();

    // A damaged index file is named when opening, not fatal.
    let index = only_file(&made, FileKind::Index);
    let index_path = made.backend().local_path(FileKind::Index, &index).unwrap();
    let intact = std::fs::read(&index_path).unwrap();
    flip_byte(&index_path, 0);
    let opened = Repository::open(made.path(), None).unwrap();
    assert_eq!(opened.index_problems().len(), 1);
    assert!(opened.index_problems()[0].starts_with(&format!("index {index}")), "{:?}", opened.index_problems());
    // What it listed is still read, from the intact pack's header (rebuild.rs).
    assert_eq!(opened.load_blob(&blob).unwrap(), noise(100, 1));
    std::fs::write(&index_path, intact).unwrap();

    // A damaged blob fails its check.
    let pack = made.locate(BlobKind::Data, &blob).unwrap().pack;
    let pack_path = made.backend().local_path(FileKind::Pack, &pack).unwrap();
    let intact = std::fs::read(&pack_path).unwrap();
    let mut bytes = intact.clone();
    bytes[10] ^= 1;
    std::fs::write(&pack_path, &bytes).unwrap();
    let opened = Repository::open(made.path(), None).unwrap();
    match opened.load_blob(&blob) {
        Err(Error::Corrupt { what, .. }) => assert!(what.contains(&pack.to_hex()), "{what}"),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&pack_path).unwrap();
    // (`made` has not read the pack yet, so it holds no open handle to it.)
    assert!(matches!(made.load_blob(&blob), Err(Error::Backend(e)) if e.is_not_found()), "a missing pack");

    // A snapshot file whose bytes no longer match its name.
    flip_byte(&made.backend().local_path(FileKind::Snapshot, &snap).unwrap(), 3);
    match made.load_snapshot(&snap) {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("do not match its name"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

/// An encrypted repository whose one key file's id starts with a high
/// digit, so that key files with lower ids can be planted before it.
fn repo_with_a_late_key(tmp: &Path) -> (Repository, Id) {
    for attempt in 0.. {
        let made = encrypted_repo(&tmp.join(attempt.to_string()), PASSWORD);
        let key = only_file(&made, FileKind::Key);
        if key.0[0] >= 0x80 {
            return (made, key);
        }
    }
    unreachable!()
}

/// Plants valid key files (of another password) whose ids sort before `before`.
fn plant_keys_before(made: &Repository, before: &Id, count: usize) {
    let opts = init_options(Some(b"another password"));
    let mut planted = 0;
    while planted < count {
        let key = keyfiles::seal_master_key(&[9; 32], b"another password", &made.id(), &opts).unwrap();
        let bytes = codec::to_postcard(&key).unwrap();
        if Id::of_file_bytes(&bytes) < *before {
            made.backend().write(FileKind::Key, &bytes).unwrap();
            planted += 1;
        }
    }
}

#[test]
fn key_files_tried_are_capped_and_the_last_one_that_worked_goes_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (made, key) = repo_with_a_late_key(tmp.path());
    let state = tmp.path().join("state");
    made.remember_in(&state);
    plant_keys_before(&made, &key, crate::format::MAX_KEY_FILES_TRIED);
    // A machine that never opened it tries the first 16 by id, and says so.
    match Repository::open(made.path(), Some(PASSWORD)) {
        Err(Error::Corrupt { detail, .. }) => assert!(detail.contains("1 more were not tried"), "{detail}"),
        other => panic!("{:?}", other.map(|r| r.id())),
    }
    // This one remembers the key that worked: one key derivation.
    let opts = OpenOptions { password: Some(PASSWORD), state_root: Some(&state), ..OpenOptions::default() };
    assert_eq!(Repository::open_with_options(made.path(), &opts).unwrap().id(), made.id());
    assert_eq!(keys_to_try(&[(Id([1; 32]), 1), (key, 2)], Some(&key)), [(key, 2), (Id([1; 32]), 1)]);
}

#[test]
fn a_repository_remembered_as_encrypted_is_refused_unencrypted() {
    let tmp = tempfile::tempdir().unwrap();
    let made = encrypted_repo(tmp.path(), PASSWORD);
    let state = tmp.path().join("state");
    let opts = OpenOptions { password: Some(PASSWORD), state_root: Some(&state), ..OpenOptions::default() };
    Repository::open_with_options(made.path(), &opts).unwrap();
    let mut config = read_config_file(&made);
    config.encrypted = false;
    config.params =
        serde_bytes::ByteBuf::from(codec::encode(&Keys::Plain, ObjectKind::Config, &RepoParams::DEFAULT, 3).unwrap());
    write_config_file(&made, &config);
    std::fs::remove_file(made.path().join("keys").join(only_file(&made, FileKind::Key).to_hex())).unwrap();
    let no_password = OpenOptions { password: None, ..opts };
    assert!(matches!(Repository::open_with_options(made.path(), &no_password), Err(Error::EncryptionRemoved(_))));
    // Without the memory (another machine) it opens: the protection is local.
    assert!(Repository::open(made.path(), None).is_ok());
    let on_purpose = OpenOptions { allow_unencrypted: true, ..no_password };
    assert!(!Repository::open_with_options(made.path(), &on_purpose).unwrap().is_encrypted());
    assert!(matches!(Repository::open_with_options(made.path(), &no_password), Err(Error::EncryptionRemoved(_))));
}
