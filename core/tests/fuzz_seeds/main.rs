//! Tests of the fuzz entry points (`cairn_core::fuzz_entry`, built with the
//! `testing` feature): the committed corpus runs without panics, and the
//! seed corpus is exactly what the seed builders (`seeds.rs`) make.

mod seeds;

use std::collections::BTreeSet;
use std::path::Path;

use serde_bytes::ByteBuf;

use std::path::PathBuf;
use std::sync::LazyLock;

use cairn_core::format::codec::{self, MAX_OBJECT_LEN, ObjectKind};
use cairn_core::format::crypto::KdfParams;
use cairn_core::format::crypto::{self, Keys};
use cairn_core::format::{
    BlobKind, ConfigFile, IndexFile, KEY_MAGIC, KeyFile, PackEntry, PackHeader, RepoParams, Snapshot, Tree,
    check_version,
};
use cairn_core::format::{
    CONFIG_MAGIC, FORMAT_VERSION, FileTime, IndexedPack, Node, NodeKind, Summary, Timestamp, Xattr,
};
use cairn_core::fuzz_entry::*;
use cairn_core::id::Id;
use cairn_core::repo::pack;
use cairn_core::repo::pack::PackBuilder;

/// The keys the fuzz entry points open seeds with (as `fuzz_entry` builds them).
static PLAIN: Keys = Keys::Plain;
static ENCRYPTED: LazyLock<Keys> = LazyLock::new(|| Keys::from_master(&FUZZ_MASTER_KEY));

use seeds::build_seeds;

const WRITE_VAR: &str = "CAIRN_WRITE_FUZZ_SEEDS";
const MAX_SEED_LEN: usize = 20 * 1024;
const MAX_CORPUS_LEN: usize = 500 * 1024;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
}

fn entry(target: &str) -> Target {
    TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).unwrap()
}

#[test]
fn corpus_runs_without_panics() {
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus folder {} is missing: {e}", dir.display()));
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
        files.sort();
        assert!(!files.is_empty(), "corpus folder {} is empty", dir.display());
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&bytes)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn seed_corpus_is_current() {
    // Fixed nonces make the encrypted seeds come out the same on every
    // build, so the committed files can be compared byte for byte.
    let seeds = crypto::fixed_nonces::during(build_seeds);
    let mut names = BTreeSet::new();
    let mut total = 0;
    for (target, name, bytes) in &seeds {
        assert!(names.insert((*target, name.as_str())), "seed {target}/{name} is built twice");
        assert!(bytes.len() < MAX_SEED_LEN, "seed {target}/{name} has {} bytes", bytes.len());
        total += bytes.len();
        if name.starts_with("valid-") {
            assert_valid(target, name, bytes);
        }
        entry(target)(bytes);
    }
    assert!(total < MAX_CORPUS_LEN, "the seeds have {total} bytes");
    for (target, _) in TARGETS {
        assert!(seeds.iter().any(|(t, _, _)| *t == target), "no seed for {target}");
    }

    let write = std::env::var_os(WRITE_VAR).is_some_and(|v| v == "1");
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for (target, name, bytes) in &seeds {
        let path = corpus_dir(target).join(name);
        let wrong = match std::fs::read(&path) {
            Ok(committed) if committed == *bytes => continue,
            Ok(_) => &mut stale,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => &mut missing,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        if write {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(&path, bytes).unwrap();
        } else {
            wrong.push(format!("{target}/{name}"));
        }
    }
    assert!(
        missing.is_empty() && stale.is_empty(),
        "fuzz/corpus is not what the seed builders make (run `{WRITE_VAR}=1 cargo test -p cairn-core \
         fuzz_entry` and commit the files): missing {missing:#?}, different {stale:#?}"
    );
}

/// The keys a `valid-` seed was made with.
fn keys_named(name: &str) -> &'static Keys {
    if name.contains("encrypted") { &ENCRYPTED } else { &PLAIN }
}

/// Checks that a seed named `valid-…` parses, so the seeds keep
/// leading the fuzzer past the first checks.
fn assert_valid(target: &str, name: &str, bytes: &[u8]) {
    let keys = keys_named(name);
    match target {
        "config" => {
            let config: ConfigFile = codec::from_postcard(bytes, "config").unwrap();
            assert_eq!(config.magic, CONFIG_MAGIC);
            assert!((1..=cairn_core::format::REPO_VERSION).contains(&config.version), "{name}");
            assert_eq!(config.encrypted, keys.is_encrypted(), "{name}");
            let raw = codec::open_bytes(keys, ObjectKind::Config, &config.params, MAX_OBJECT_LEN).unwrap();
            let params = RepoParams::decode(&raw).unwrap();
            assert_eq!(params.version, config.version, "{name}");
            params.validate().unwrap();
        }
        "key_file" => {
            let key: KeyFile = codec::from_postcard(bytes, "key file").unwrap();
            assert_eq!(key.magic, KEY_MAGIC);
            let kek = key.kdf.derive(FUZZ_PASSWORD, &key.salt).unwrap();
            let master = crypto::open_with(&crypto::cipher_from(&kek), &FUZZ_REPO_ID.0, &key.sealed_master);
            assert_eq!(master.as_deref(), Some(&FUZZ_MASTER_KEY[..]), "{name}");
        }
        "sealed_object" => {
            let (&selector, stored) = bytes.split_first().unwrap();
            let kind = KINDS[usize::from(selector & 0x07) % KINDS.len()];
            let keys = if selector & SELECT_ENCRYPTED == 0 { &PLAIN } else { &*ENCRYPTED };
            assert_eq!(keys.is_encrypted(), name.contains("encrypted"), "{name}");
            let max_len = LIMITS[usize::from(selector >> 4) & 0x03];
            codec::open_bytes(keys, kind, stored, max_len).unwrap();
        }
        "pack" => {
            let entries = pack::parse_pack(keys, bytes).unwrap();
            for e in entries {
                let stored = &bytes[e.offset as usize..(e.offset + e.length) as usize];
                let kind = if e.kind == BlobKind::Data { ObjectKind::DataBlob } else { ObjectKind::TreeBlob };
                let raw = codec::open_bytes(keys, kind, stored, e.raw_length as usize).unwrap();
                assert_eq!(keys.blob_id(&raw), e.id, "{name}");
                if kind == ObjectKind::TreeBlob {
                    codec::from_postcard::<Tree>(&raw, "tree").unwrap();
                }
            }
        }
        "index" => {
            let file: IndexFile = if name.contains("bare-postcard") {
                codec::from_postcard(bytes, "index").unwrap()
            } else {
                codec::decode(keys, ObjectKind::Index, bytes).unwrap()
            };
            check_version("index", file.version).unwrap();
        }
        "snapshot" => {
            let snap: Snapshot = if name.contains("bare-postcard") {
                codec::from_postcard(bytes, "snapshot").unwrap()
            } else {
                codec::decode(keys, ObjectKind::Snapshot, bytes).unwrap()
            };
            cairn_core::format::check_snapshot_version(snap.version).unwrap();
        }
        "retention" => {
            use cairn_core::format::retention::{PinFile, PolicyFile};
            if name.ends_with("-pin") {
                let pin: PinFile = if name.contains("bare-postcard") {
                    codec::from_postcard(bytes, "pin").unwrap()
                } else {
                    codec::decode(keys, ObjectKind::Pin, bytes).unwrap()
                };
                check_version("pin", pin.version).unwrap();
            } else {
                let policy: PolicyFile = if name.contains("bare-postcard") {
                    codec::from_postcard(bytes, "policy").unwrap()
                } else {
                    codec::decode(keys, ObjectKind::Policy, bytes).unwrap()
                };
                check_version("policy", policy.version).unwrap();
            }
        }
        "marker_file" => {
            use cairn_core::format::marker::MarkerFile;
            let marker: MarkerFile = if name.contains("bare-postcard") {
                codec::from_postcard(bytes, "marker").unwrap()
            } else {
                codec::decode(keys, ObjectKind::Marker, bytes).unwrap()
            };
            check_version("marker", marker.version).unwrap();
        }
        "tree" => {
            let tree: Tree = codec::from_postcard(bytes, "tree").unwrap();
            check_version("tree", tree.version).unwrap();
        }
        "rest_location" => {
            let text = std::str::from_utf8(bytes).unwrap();
            cairn_core::backend::rest::RestLocation::parse(text).unwrap();
        }
        other => panic!("unknown target {other}"),
    }
}
