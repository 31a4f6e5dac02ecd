//! Entry points for fuzzing: each takes arbitrary bytes and runs one on-disk
//! parser, which must return an error, never panic.
//!
//! The cargo-fuzz crate in `fuzz/` has one target per function here, named
//! alike. Its curated seeds (`fuzz/corpus/<target>/`) also run on stable Rust
//! as a plain regression test (`cargo test -p cairn-core --test fuzz_seeds`), and
//! the test `seed_corpus_is_current` checks that every seed it knows how to
//! build is there with exactly the bytes it builds now
//! (`CAIRN_WRITE_FUZZ_SEEDS=1` writes the missing and different ones).
//!
//! Encrypted variants use the fixed master key [`FUZZ_MASTER_KEY`], so that
//! seeds sealed with it open and the fuzzer reaches what lies behind the
//! authentication. With `Keys::Plain` a sealed object is just
//! `codec tag || payload`, and each target also hands its input straight to
//! postcard, so that mutations reach the structure decoders too.

use std::path::PathBuf;
use std::sync::LazyLock;

use crate::format::Timestamp;
use crate::format::chunker::Chunker;
use crate::format::codec::{self, MAX_OBJECT_LEN, ObjectKind};
use crate::format::crypto::{self, Keys};
use crate::format::retention::{PinFile, PolicyFile};
use crate::format::{
    BlobKind, ConfigFile, IndexFile, KEY_MAGIC, KeyFile, PackEntry, PackHeader, RepoParams, Snapshot, Tree,
    check_version,
};
use crate::id::Id;
use crate::repo::index::Index;
use crate::repo::pack;
use crate::snapshot::retention::{self, Candidate};
use crate::snapshot::tree::{PathTrie, name_to_path};

/// The master key of every encrypted variant.
pub const FUZZ_MASTER_KEY: [u8; 32] = [0x5a; 32];
/// The repository id key-file seeds seal the master key to.
pub const FUZZ_REPO_ID: Id = Id([0x17; 32]);
/// The password the key-file target tries.
pub const FUZZ_PASSWORD: &[u8] = b"fuzz";

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target: its name (the folder of its corpus and the name of its
/// cargo-fuzz binary) and its entry point.
pub const TARGETS: [(&str, Target); 10] = [
    ("config", config),
    ("key_file", key_file),
    ("sealed_object", sealed_object),
    ("pack", pack),
    ("index", index),
    ("snapshot", snapshot),
    ("tree", tree),
    ("retention", retention),
    ("marker_file", marker_file),
    ("rest_location", rest_location),
];

/// The object kinds `sealed_object` picks from (low three bits of its first byte, modulo 6).
pub const KINDS: [ObjectKind; 6] = [
    ObjectKind::DataBlob,
    ObjectKind::TreeBlob,
    ObjectKind::PackHeader,
    ObjectKind::Index,
    ObjectKind::Snapshot,
    ObjectKind::Config,
];

/// The plaintext limits `sealed_object` picks from (bits 4 and 5 of its first byte).
pub const LIMITS: [usize; 4] = [MAX_OBJECT_LEN, 1 << 16, 64, 0];

/// Bit 3 of `sealed_object`'s first byte: open with the encrypted keys.
pub const SELECT_ENCRYPTED: u8 = 0x08;

/// Key derivation costs the key-file target runs; a key file may ask for
/// far more, which costs time and memory but is not a parser bug.
const KDF_MAX_MEMORY_KIB: u32 = 256;
const KDF_MAX_ITERATIONS: u32 = 2;
const KDF_MAX_PARALLELISM: u32 = 8;

static PLAIN: Keys = Keys::Plain;
static ENCRYPTED: LazyLock<Keys> = LazyLock::new(|| Keys::from_master(&FUZZ_MASTER_KEY));

fn both_keys() -> [&'static Keys; 2] {
    [&PLAIN, &*ENCRYPTED]
}

/// `config`: the plain postcard file, then its sealed parameters (with the
/// keys its `encrypted` flag names, and with the other ones), their
/// validation, and the chunker built from parameters that pass it.
pub fn config(data: &[u8]) {
    let Ok(config) = codec::from_postcard::<ConfigFile>(data, "config") else {
        return;
    };
    let _ = check_version("repository", config.version);
    // As `open` reads them: the version first, then that version's fields.
    for keys in both_keys() {
        if let Ok(raw) = codec::open_bytes(keys, ObjectKind::Config, &config.params, MAX_OBJECT_LEN) {
            let _ = RepoParams::decode(&raw);
        }
    }
    let (stated, other) = if config.encrypted { (&*ENCRYPTED, &PLAIN) } else { (&PLAIN, &*ENCRYPTED) };
    for keys in [stated, other] {
        if let Ok(params) = codec::decode::<RepoParams>(keys, ObjectKind::Config, &config.params) {
            repo_params(keys, &params);
        }
    }
    if let Ok(params) = codec::from_postcard::<RepoParams>(&config.params, "config") {
        repo_params(&PLAIN, &params);
    }
}

fn repo_params(keys: &Keys, params: &RepoParams) {
    let known_version = (1..=crate::format::REPO_VERSION).contains(&params.version);
    if !known_version || params.check_features().is_err() || params.validate().is_err() {
        return;
    }
    // `validate` promises parameters the chunker can honour: build one as
    // the archiver does (the streaming chunker checks its limits when it is
    // made) and cut a small buffer.
    let chunker = Chunker::new(params, keys.chunker_seed());
    let _ = chunker.stream(std::io::empty()).next();
    let _ = chunker.cut(&[0x42; 2048]);
}

/// `keys/<id>`: the postcard key file, then, when its key derivation is
/// cheap enough to run here, unsealing the master key with `FUZZ_PASSWORD`.
pub fn key_file(data: &[u8]) {
    let Ok(key) = codec::from_postcard::<KeyFile>(data, "key file") else {
        return;
    };
    if key.magic != KEY_MAGIC || check_version("key file", key.version).is_err() {
        return;
    }
    let kdf = key.kdf;
    if kdf.memory_kib > KDF_MAX_MEMORY_KIB
        || kdf.iterations > KDF_MAX_ITERATIONS
        || kdf.parallelism > KDF_MAX_PARALLELISM
    {
        return;
    }
    let Ok(kek) = kdf.derive(FUZZ_PASSWORD, &key.salt) else {
        return;
    };
    if let Some(master) = crypto::open_with(&crypto::cipher_from(&kek), &FUZZ_REPO_ID.0, &key.sealed_master)
        && let Ok(master) = <&[u8; 32]>::try_from(master.as_slice())
    {
        let _ = Keys::from_master(master);
    }
}

/// Any sealed object. The first byte picks how to open the rest: bits 0–2
/// the kind (`KINDS`, modulo 6), bit 3 encrypted keys (`SELECT_ENCRYPTED`)
/// rather than plain, bits 4–5 the plaintext limit (`LIMITS`).
pub fn sealed_object(data: &[u8]) {
    let Some((&selector, stored)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(selector & 0x07) % KINDS.len()];
    let keys = if selector & SELECT_ENCRYPTED == 0 { &PLAIN } else { &*ENCRYPTED };
    let max_len = LIMITS[usize::from(selector >> 4) & 0x03];
    let _ = codec::open_bytes(keys, kind, stored, max_len);
}

/// `data/<xx>/<id>`: a whole pack file (trailer, sealed header, tiling of
/// the blob area), then each blob it lists, as `check --read-data` opens
/// them; also the input as a bare sealed header and as a postcard header.
pub fn pack(data: &[u8]) {
    let _ = pack::split_pack(data);
    for keys in both_keys() {
        if let Ok(entries) = pack::parse_pack(keys, data) {
            pack_blobs(keys, data, &entries);
        }
        let _ = pack::decode_header(keys, data, 0);
    }
    if let Ok(header) = codec::from_postcard::<PackHeader>(data, "pack header") {
        let _ = check_version("pack header", header.version);
    }
}

fn pack_blobs(keys: &Keys, data: &[u8], entries: &[PackEntry]) {
    for e in entries {
        let start = e.offset as usize;
        let Some(stored) = start.checked_add(e.length as usize).and_then(|end| data.get(start..end)) else {
            continue;
        };
        let kind = ObjectKind::from(e.kind);
        if let Ok(raw) = codec::open_bytes(keys, kind, stored, e.raw_length as usize)
            && e.kind == BlobKind::Tree
        {
            tree(&raw);
        }
    }
}

/// `index/<id>`: a sealed index file (plain and encrypted keys) and the
/// in-memory index built from it; also the input as bare postcard.
pub fn index(data: &[u8]) {
    for keys in both_keys() {
        if let Ok(file) = codec::decode::<IndexFile>(keys, ObjectKind::Index, data) {
            index_file(&file);
        }
    }
    if let Ok(file) = codec::from_postcard::<IndexFile>(data, "index") {
        index_file(&file);
    }
}

fn index_file(file: &IndexFile) {
    let _ = check_version("index", file.version);
    let mut index = Index::new();
    index.add_file(file);
    for p in &file.packs {
        for e in &p.entries {
            let _ = index.get(e.kind, &e.id);
        }
    }
}

/// `snapshots/<id>`: a sealed snapshot manifest (plain and encrypted keys);
/// also the input as bare postcard.
pub fn snapshot(data: &[u8]) {
    for keys in both_keys() {
        if let Ok(snap) = codec::decode::<Snapshot>(keys, ObjectKind::Snapshot, data) {
            snapshot_value(&snap);
        }
    }
    if let Ok(snap) = codec::from_postcard::<Snapshot>(data, "snapshot") {
        snapshot_value(&snap);
    }
}

fn snapshot_value(snap: &Snapshot) {
    let _ = crate::format::check_snapshot_version(snap.version);
    let _ = snap.stored_path(std::path::Path::new("/a/b"));
    let paths: Vec<PathBuf> = snap.paths.iter().map(|p| name_to_path(p).to_path_buf()).collect();
    let _ = PathTrie::from_paths(&paths);
}

/// A tree blob's plaintext (postcard), and looking up each of its names.
pub fn tree(data: &[u8]) {
    let Ok(tree) = codec::from_postcard::<Tree>(data, "tree") else {
        return;
    };
    let _ = check_version("tree", tree.version);
    for node in &tree.nodes {
        let _ = tree.find(&node.name);
    }
}

/// `policy/<id>` and `pins/<snapshot id>`: sealed policy and pin files
/// (plain and encrypted keys, and bare postcard). A policy's rules are
/// applied to snapshots around its own time, so that hostile counts, spans
/// and times reach the retention engine.
pub fn retention(data: &[u8]) {
    let mut policies = Vec::new();
    for keys in both_keys() {
        if let Ok(p) = codec::decode::<PolicyFile>(keys, ObjectKind::Policy, data) {
            policies.push(p);
        }
        if let Ok(pin) = codec::decode::<PinFile>(keys, ObjectKind::Pin, data) {
            let _ = check_version("pin", pin.version);
        }
    }
    if let Ok(p) = codec::from_postcard::<PolicyFile>(data, "policy") {
        policies.push(p);
    }
    let _ = codec::from_postcard::<PinFile>(data, "pin");
    for p in policies {
        let _ = check_version("policy", p.version);
        let now = p.time;
        let candidates: Vec<Candidate> = [-400 * 86400, -86400, -3600, 0, 1, 7200, i64::MIN, i64::MAX]
            .iter()
            .enumerate()
            .map(|(i, delta)| Candidate {
                id: Id([i as u8; 32]),
                time: Timestamp { unix_seconds: now.unix_seconds.saturating_add(*delta), ..now },
                tags: p.rules.tags.first().cloned().unwrap_or_default(),
                pinned: i == 0,
            })
            .collect();
        let _ = retention::apply(&candidates, &p.rules, &now);
    }
}

/// `locks/<id>`: a run marker (plain and encrypted keys, and bare
/// postcard), then the liveness rules applied to it as a prune would, with
/// its hostile times, pids and names against a fixed reader.
pub fn marker_file(data: &[u8]) {
    use crate::format::marker::MarkerFile;
    use crate::repo::liveness::{self, Me, Seen};
    use std::time::{Duration, SystemTime};
    let mut markers = Vec::new();
    for keys in both_keys() {
        if let Ok(m) = codec::decode::<MarkerFile>(keys, ObjectKind::Marker, data) {
            markers.push(m);
        }
    }
    if let Ok(m) = codec::from_postcard::<MarkerFile>(data, "marker") {
        markers.push(m);
    }
    let me = Me { host: "h".into(), user: "u".into(), pid: 1, boot_id: "b".into(), pid_start: 1 };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_779_200);
    let stale = Duration::from_secs(1800);
    for m in &markers {
        let _ = check_version("marker", m.version);
        for mtime in [None, Some(now), Some(SystemTime::UNIX_EPOCH)] {
            let seen = Seen { marker: Some(m), mtime };
            let _ = liveness::is_live(&seen, &me, now, now, stale, &|pid, start| Some(pid == start as u32));
        }
    }
}

/// `rest_location`: a repository location as a user (or a profile file)
/// gives it. Whatever parses names a prefix that cannot leave the server's
/// path space, and shows without its password in a form that parses again
/// to the same place.
pub fn rest_location(data: &[u8]) {
    use crate::backend::rest::RestLocation;
    let text = String::from_utf8_lossy(data);
    let Ok(location) = RestLocation::parse(&text) else {
        return;
    };
    assert!(location.prefix.starts_with('/') && location.prefix.ends_with('/'), "{location}");
    assert!(!location.prefix.split('/').any(|s| s == ".." || s == "."), "{location}");
    let shown = location.redacted();
    if let Some(password) = location.password.as_deref().filter(|p| p.len() >= 8) {
        assert!(!shown.contains(password), "the password shows in {shown}");
    }
    let again = RestLocation::parse(&shown.replace(":***@", "@")).expect("the shown location parses");
    assert_eq!((&again.transport, &again.prefix), (&location.transport, &location.prefix));
}
