//! Small repositories built by hand for the unit tests of the time-travel
//! modules (`ls`, `find`, `history`, `check`, the restorer): compiled into
//! unit tests only.

use std::path::Path;

use serde_bytes::ByteBuf;

use crate::backend::FileKind;
use crate::format::{BlobKind, FORMAT_VERSION, Node, NodeKind, RepoParams, Snapshot, Timestamp, Tree};
use crate::id::Id;
use crate::repo::{InitOptions, Repository};
use crate::snapshot::snapshots::SnapshotEntry;

/// Deterministic bytes that do not compress or repeat, different for each
/// seed (the one generator of test noise in core's unit tests).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new().update(&seed.to_le_bytes()).finalize_xof().fill(&mut out);
    out
}

/// An unencrypted repository in `dir/repo`.
pub fn repo(dir: &Path) -> Repository {
    Repository::init(&dir.join("repo"), &init_options(None)).unwrap()
}

/// An encrypted repository in `dir/repo`, its key derivation cheap.
pub fn encrypted_repo(dir: &Path, password: &[u8]) -> Repository {
    Repository::init(&dir.join("repo"), &init_options(Some(password))).unwrap()
}

pub fn init_options(password: Option<&[u8]>) -> InitOptions<'_> {
    InitOptions {
        password,
        kdf: crate::format::crypto::KdfParams::INSECURE_FOR_TESTS,
        params: RepoParams::DEFAULT,
        host: "h".into(),
        user: "u".into(),
    }
}

fn node(name: &str, kind: NodeKind) -> Node {
    Node::for_test(name.as_bytes(), kind, 0o644)
}

/// A file node holding `text`, its one chunk stored.
pub fn file(repo: &Repository, name: &str, text: &str) -> Node {
    let saver = repo.saver();
    let content = if text.is_empty() { Vec::new() } else { vec![saver.save(BlobKind::Data, text.as_bytes()).unwrap()] };
    saver.finish().unwrap();
    node(name, NodeKind::File { size: text.len() as u64, content })
}

/// Stores a tree of `nodes` (sorted here) and returns its id.
pub fn tree(repo: &Repository, mut nodes: Vec<Node>) -> Id {
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let saver = repo.saver();
    let id = saver.save_tree(&Tree { version: FORMAT_VERSION, nodes }).unwrap();
    saver.finish().unwrap();
    id
}

pub fn dir(repo: &Repository, name: &str, nodes: Vec<Node>) -> Node {
    node(name, NodeKind::Dir { subtree: tree(repo, nodes) })
}

/// A snapshot of `paths` at hour `hour` (host `h`, no tags), not stored.
pub fn snapshot(hour: i64, paths: &[&str], root: Id) -> Snapshot {
    Snapshot {
        version: FORMAT_VERSION,
        time: Timestamp { unix_seconds: 1_748_736_000 + hour * 3600, nanos: 0, offset_seconds: 0 },
        host: "h".into(),
        user: "u".into(),
        paths: paths.iter().map(|p| ByteBuf::from(p.as_bytes().to_vec())).collect(),
        tags: Vec::new(),
        tree: root,
        parent: None,
        summary: Default::default(),
        program_version: String::new(),
        original: None,
        recipe: None,
    }
}

/// A snapshot of `paths` at hour `hour`, with a made-up id.
pub fn entry(hour: i64, paths: &[&str], root: Id) -> SnapshotEntry {
    SnapshotEntry { id: Id([hour as u8 + 1; 32]), snapshot: snapshot(hour, paths, root) }
}

/// Stores `snapshot` in the repository and returns it with its id.
pub fn store(repo: &Repository, snapshot: Snapshot) -> SnapshotEntry {
    SnapshotEntry { id: repo.save_snapshot(&snapshot).unwrap(), snapshot }
}

/// The one file of `kind` in the repository (there must be exactly one).
pub fn only_file(repo: &Repository, kind: FileKind) -> Id {
    let files = repo.backend().list(kind).unwrap();
    assert_eq!(files.len(), 1, "{kind:?} files: {files:?}");
    files[0].0
}

/// Whether the filesystem of `dir` takes `user.` extended attributes;
/// when not, says so on stderr (the caller skips what needs them).
pub fn user_xattrs_supported(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    std::fs::write(&probe, b"").unwrap();
    let result = xattr::set(&probe, "user.probe", b"1");
    std::fs::remove_file(&probe).unwrap();
    match result {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTSUP.raw_os_error()) => {
            eprintln!("note: {} takes no user xattrs; skipping the xattr assertions", dir.display());
            false
        }
        Err(e) => panic!("setting an xattr in {}: {e}", dir.display()),
    }
}

/// Damages a file in place: flips the bits of the byte `from_end`
/// bytes before its end (0: the last byte).
pub fn flip_byte(path: &Path, from_end: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() - 1 - from_end;
    bytes[at] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// The password of [`encrypted_repo`]s that tests open again.
pub const PASSWORD: &[u8] = b"test password";

/// The same plaintext stored twice: two runs that each did not know of the
/// other's pack (concurrent, or the first killed before its index). `r` is
/// an [`encrypted_repo`] with [`PASSWORD`]: without encryption the two
/// packs would be the same bytes, so the same file.
pub fn stored_twice(r: &Repository, kind: BlobKind, raw: &[u8]) -> Id {
    let first = r.saver();
    let second_handle = Repository::open(r.path(), Some(PASSWORD)).unwrap();
    let second = second_handle.saver();
    let id = first.save(kind, raw).unwrap();
    assert_eq!(second.save(kind, raw).unwrap(), id);
    first.finish().unwrap();
    second.finish().unwrap();
    id
}

/// Flips a byte in the middle of the copy at `loc`, in its pack file.
pub fn damage_copy(r: &Repository, loc: &crate::repo::index::BlobLocation) {
    let path = r.backend().local_path(FileKind::Pack, &loc.pack).unwrap();
    let pack_len = std::fs::metadata(&path).unwrap().len() as usize;
    flip_byte(&path, pack_len - 1 - (loc.offset as usize + loc.length as usize / 2));
}
