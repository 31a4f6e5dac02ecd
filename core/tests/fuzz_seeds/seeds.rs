//! The seed builders: every seed of `fuzz/corpus/` the tests know how to
//! make, valid ones (named `valid-…`) and damaged ones, built with fixed
//! nonces so that they come out byte for byte the same on every run.

use super::*;

pub type Seed = (&'static str, String, Vec<u8>);

/// Repository parameters as cairn 1 wrote them (the older seeds keep their
/// bytes); the version-2 seeds use `RepoParams::DEFAULT`.
const PARAMS_V1: RepoParams = RepoParams { version: 1, features: 0, ..RepoParams::DEFAULT };

struct Seeds(Vec<Seed>);

impl Seeds {
    fn add(&mut self, target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((target, name.into(), bytes.into()));
    }
}

fn truncated(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

/// Flips one bit, `at` bytes from the end.
fn bitflip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = out.len() - 1 - at.min(out.len() - 1);
    out[i] ^= 0x10;
    out
}

/// Replaces the first occurrence of `from` (which must be there).
fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

fn raw_body(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(raw);
    out
}

fn zstd_body(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&zstd::bulk::compress(raw, 3).unwrap());
    out
}

fn postcard<T: serde::Serialize>(value: &T) -> Vec<u8> {
    codec::to_postcard(value).unwrap()
}

fn encrypted() -> &'static Keys {
    &ENCRYPTED
}

fn time(n: i64) -> FileTime {
    FileTime { seconds: 1_700_000_000 + n, nanos: 123_456_789 }
}

fn node(name: &[u8], kind: NodeKind) -> Node {
    Node {
        name: ByteBuf::from(name),
        kind,
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        mtime: time(1),
        ctime: time(2),
        inode: 42,
        device: 2049,
        nlink: 1,
        xattrs: Vec::new(),
    }
}

fn node_kinds() -> Vec<(&'static str, Node)> {
    let mut dir = node(b"dir", NodeKind::Dir { subtree: Id([0xd1; 32]) });
    dir.mode = 0o755;
    let mut file = node(b"file", NodeKind::File { size: 300_000, content: vec![Id([0xc1; 32]), Id([0xc2; 32])] });
    file.nlink = 2;
    file.xattrs = vec![Xattr { name: ByteBuf::from(&b"user.note"[..]), value: ByteBuf::from(&b"\x00\xffv"[..]) }];
    vec![
        ("block-device", node(b"block", NodeKind::BlockDevice { rdev: 0x0801 })),
        ("char-device", node(b"char", NodeKind::CharDevice { rdev: 0x0103 })),
        ("dir", dir),
        ("fifo", node(b"fifo", NodeKind::Fifo)),
        ("file", file),
        ("socket", node(b"socket", NodeKind::Socket)),
        ("symlink", node(b"symlink", NodeKind::Symlink { target: ByteBuf::from(&b"../elsewhere"[..]) })),
    ]
}

fn all_kinds_tree() -> Tree {
    Tree { version: FORMAT_VERSION, nodes: node_kinds().into_iter().map(|(_, n)| n).collect() }
}

fn sample_index() -> IndexFile {
    let entry = |kind, n: u8, offset, length| PackEntry { kind, id: Id([n; 32]), offset, length, raw_length: 1000 };
    IndexFile {
        version: FORMAT_VERSION,
        packs: vec![
            IndexedPack {
                pack: Id([0xa1; 32]),
                entries: vec![
                    entry(BlobKind::Data, 1, 0, 500),
                    entry(BlobKind::Data, 2, 500, 700),
                    entry(BlobKind::Data, 3, 1200, 40),
                ],
            },
            IndexedPack {
                pack: Id([0xa2; 32]),
                entries: vec![entry(BlobKind::Tree, 4, 0, 300), entry(BlobKind::Tree, 5, 300, 90)],
            },
        ],
    }
}

fn sample_snapshot() -> Snapshot {
    Snapshot {
        version: FORMAT_VERSION,
        time: Timestamp { unix_seconds: 1_732_400_000, nanos: 5, offset_seconds: 3600 },
        host: "fuzzhost".into(),
        user: "fuzzuser".into(),
        paths: vec![ByteBuf::from(&b"/home/fuzz"[..]), ByteBuf::from(&b"/etc/\xffbytes"[..])],
        tags: vec!["daily".into(), "τag".into()],
        tree: Id([0xb1; 32]),
        parent: None,
        summary: Summary {
            files_new: 3,
            files_changed: 1,
            files_unchanged: 10,
            dirs: 4,
            others: 2,
            files_read: 4,
            bytes_read: 123_456,
            total_bytes: 1 << 33,
            data_blobs_added: 5,
            tree_blobs_added: 4,
            bytes_added: 99_999,
            duration_ms: 1500,
            warnings: 1,
        },
        program_version: "0.1.0".into(),
        original: None,
        recipe: None,
    }
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn config_seeds(s: &mut Seeds) {
    let config = |encrypted: bool, params: Vec<u8>| ConfigFile {
        magic: CONFIG_MAGIC,
        version: FORMAT_VERSION,
        repo_id: FUZZ_REPO_ID,
        encrypted,
        params: ByteBuf::from(params),
    };
    let params = postcard(&PARAMS_V1);
    let sealed = codec::encode(encrypted(), ObjectKind::Config, &PARAMS_V1, 3).unwrap();
    let valid_encrypted = postcard(&config(true, sealed.clone()));
    let valid_plain = postcard(&config(false, raw_body(&params)));
    s.add("config", "valid-encrypted-config", valid_encrypted.clone());
    s.add("config", "valid-plain-config", valid_plain.clone());
    s.add("config", "valid-plain-config-zstd-params", postcard(&config(false, zstd_body(&params))));
    s.add("config", "truncated-encrypted-config", truncated(&valid_encrypted));
    s.add("config", "truncated-plain-config", truncated(&valid_plain));
    s.add("config", "bitflip-encrypted-config-params", bitflip(&valid_encrypted, 3));
    s.add("config", "bitflip-plain-config-params", bitflip(&valid_plain, 1));
    s.add("config", "encrypted-flag-on-plain-params", postcard(&config(true, raw_body(&params))));
    s.add("config", "plain-flag-on-encrypted-params", postcard(&config(false, sealed)));
    let invalid = RepoParams { chunk_min: 63, ..PARAMS_V1 };
    s.add("config", "invalid-params-plain-config", postcard(&config(false, raw_body(&postcard(&invalid)))));
    let future = RepoParams { version: 3, ..PARAMS_V1 };
    s.add("config", "future-version-params-plain-config", postcard(&config(false, raw_body(&postcard(&future)))));
    let mut future_file = config(false, raw_body(&params));
    future_file.version = 3;
    s.add("config", "future-version-plain-config", postcard(&future_file));
    s.add("config", "wrong-magic-plain-config", patched(&valid_plain, b"CAIRNREP", b"CAIRNKEY"));
    s.add("config", "unknown-codec-tag-plain-config", postcard(&config(false, [&[7][..], &params].concat())));
    s.add("config", "empty", Vec::new());
    // Format version 2: `features` after the six fields of version 1.
    let v2_config = |params: &RepoParams| ConfigFile { version: 2, ..config(false, raw_body(&postcard(params))) };
    s.add("config", "valid-plain-config-v2", postcard(&v2_config(&RepoParams::DEFAULT)));
    let unknown_feature = RepoParams { features: 1 | 1 << 9, ..RepoParams::DEFAULT };
    s.add("config", "unknown-feature-v2-plain-config", postcard(&v2_config(&unknown_feature)));
    // Feature bit 1: an adopted blob-id key and chunker seed follow `features`
    // (an unencrypted repository with them is refused as damaged).
    let adopted = cairn_core::format::AdoptedIds { blob_id_key: [0x08; 32], chunker_seed: 42 };
    let adopting = RepoParams::DEFAULT.adopting(adopted);
    s.add("config", "adopted-ids-v2-plain-config", postcard(&v2_config(&adopting)));
    s.add(
        "config",
        "version-mismatch-plain-config",
        postcard(&config(false, raw_body(&postcard(&RepoParams::DEFAULT)))),
    );
}

fn key_file_seeds(s: &mut Seeds) {
    let key = |kdf: KdfParams, password: &[u8]| {
        let salt = [0x33; 32];
        let kek = KdfParams::INSECURE_FOR_TESTS.derive(password, &salt).unwrap();
        let sealed = crypto::seal_with(&crypto::cipher_from(&kek), &FUZZ_REPO_ID.0, &FUZZ_MASTER_KEY).unwrap();
        KeyFile {
            magic: KEY_MAGIC,
            version: FORMAT_VERSION,
            kdf,
            salt,
            sealed_master: ByteBuf::from(sealed),
            created: Timestamp { unix_seconds: 1_732_400_000, nanos: 0, offset_seconds: -18_000 },
            host: "fuzzhost".into(),
            user: "fuzzuser".into(),
        }
    };
    let valid = postcard(&key(KdfParams::INSECURE_FOR_TESTS, FUZZ_PASSWORD));
    s.add("key_file", "valid-key-file", valid.clone());
    s.add("key_file", "other-password-key-file", postcard(&key(KdfParams::INSECURE_FOR_TESTS, b"other")));
    let expensive = KdfParams { memory_kib: u32::MAX, iterations: u32::MAX, parallelism: u32::MAX };
    s.add("key_file", "expensive-kdf-key-file", postcard(&key(expensive, FUZZ_PASSWORD)));
    let zero = KdfParams { memory_kib: 8, iterations: 1, parallelism: 0 };
    s.add("key_file", "zero-parallelism-key-file", postcard(&key(zero, FUZZ_PASSWORD)));
    let small = KdfParams { memory_kib: 8, iterations: 1, parallelism: 2 };
    s.add("key_file", "too-little-memory-key-file", postcard(&key(small, FUZZ_PASSWORD)));
    let mut future = key(KdfParams::INSECURE_FOR_TESTS, FUZZ_PASSWORD);
    future.version = FORMAT_VERSION + 1;
    s.add("key_file", "future-version-key-file", postcard(&future));
    let mut short = key(KdfParams::INSECURE_FOR_TESTS, FUZZ_PASSWORD);
    short.sealed_master.truncate(30);
    s.add("key_file", "short-sealed-master-key-file", postcard(&short));
    s.add("key_file", "truncated-key-file", truncated(&valid));
    // Inside the sealed master key (followed by the timestamp, host and user).
    s.add("key_file", "bitflip-key-file", bitflip(&valid, 40));
    s.add("key_file", "wrong-magic-key-file", patched(&valid, b"CAIRNKEY", b"CAIRNREP"));
    s.add("key_file", "invalid-utf8-host-key-file", patched(&valid, b"fuzzhost", b"fuzz\xffost"));
    s.add("key_file", "empty", Vec::new());
}

fn selector(kind: ObjectKind, encrypted: bool, limit: usize) -> u8 {
    let k = KINDS.iter().position(|&x| x == kind).unwrap() as u8;
    let l = LIMITS.iter().position(|&x| x == limit).unwrap() as u8;
    k | if encrypted { SELECT_ENCRYPTED } else { 0 } | (l << 4)
}

fn sealed_object_seeds(s: &mut Seeds) {
    let object = |kind: ObjectKind, enc: bool, limit: usize, stored: &[u8]| -> Vec<u8> {
        [&[selector(kind, enc, limit)][..], stored].concat()
    };
    let raw_of = |kind: ObjectKind| -> Vec<u8> {
        match kind {
            ObjectKind::DataBlob => noise(300, 1),
            ObjectKind::TreeBlob => postcard(&all_kinds_tree()),
            ObjectKind::PackHeader => {
                postcard(&PackHeader { version: FORMAT_VERSION, entries: sample_index().packs[0].entries.clone() })
            }
            ObjectKind::Index => postcard(&sample_index()),
            ObjectKind::Snapshot => postcard(&sample_snapshot()),
            ObjectKind::Config | ObjectKind::Cache | ObjectKind::Policy | ObjectKind::Pin | ObjectKind::Marker => {
                postcard(&PARAMS_V1)
            }
        }
    };
    for kind in KINDS {
        let raw = raw_of(kind);
        let slug = format!("{kind:?}").to_lowercase();
        for (enc, keys) in [(false, &PLAIN), (true, encrypted())] {
            let sealed = codec::seal_bytes(keys, kind, &raw, 3).unwrap();
            let label = if enc { "encrypted" } else { "plain" };
            s.add("sealed_object", format!("valid-{label}-{slug}"), object(kind, enc, MAX_OBJECT_LEN, &sealed));
        }
    }
    let text = b"the same line again and again\n".repeat(200);
    let zstd_text = zstd_body(&text);
    s.add("sealed_object", "valid-plain-zstd-datablob", object(ObjectKind::DataBlob, false, 1 << 16, &zstd_text));
    let enc_text = codec::seal_bytes(encrypted(), ObjectKind::DataBlob, &text, 3).unwrap();
    s.add("sealed_object", "valid-encrypted-zstd-datablob", object(ObjectKind::DataBlob, true, 1 << 16, &enc_text));
    s.add("sealed_object", "over-limit-plain-zstd-datablob", object(ObjectKind::DataBlob, false, 64, &zstd_text));
    let raw100 = raw_body(&noise(100, 2));
    s.add("sealed_object", "over-limit-plain-raw-datablob", object(ObjectKind::DataBlob, false, 64, &raw100));
    s.add("sealed_object", "zero-limit-plain-raw-datablob", object(ObjectKind::DataBlob, false, 0, &raw100));
    let zeros = zstd_body(&vec![0; 1 << 20]);
    s.add("sealed_object", "bomb-plain-zstd-datablob", object(ObjectKind::DataBlob, false, 1 << 16, &zeros));
    s.add(
        "sealed_object",
        "truncated-plain-zstd-datablob",
        object(ObjectKind::DataBlob, false, 1 << 16, &truncated(&zstd_text)),
    );
    let mut bad_frame = zstd_text.clone();
    bad_frame[1] ^= 0xff;
    s.add("sealed_object", "bad-zstd-magic-plain-datablob", object(ObjectKind::DataBlob, false, 1 << 16, &bad_frame));
    s.add("sealed_object", "unknown-tag-plain-index", object(ObjectKind::Index, false, MAX_OBJECT_LEN, &[7, 1, 0]));
    s.add("sealed_object", "empty-body-plain-index", object(ObjectKind::Index, false, MAX_OBJECT_LEN, &[]));
    let enc_index = codec::seal_bytes(encrypted(), ObjectKind::Index, &raw_of(ObjectKind::Index), 3).unwrap();
    s.add(
        "sealed_object",
        "wrong-kind-encrypted-index",
        object(ObjectKind::Snapshot, true, MAX_OBJECT_LEN, &enc_index),
    );
    s.add(
        "sealed_object",
        "truncated-encrypted-index",
        object(ObjectKind::Index, true, MAX_OBJECT_LEN, &truncated(&enc_index)),
    );
    s.add(
        "sealed_object",
        "bitflip-encrypted-index",
        object(ObjectKind::Index, true, MAX_OBJECT_LEN, &bitflip(&enc_index, 20)),
    );
    s.add(
        "sealed_object",
        "shorter-than-overhead-encrypted",
        object(ObjectKind::Index, true, MAX_OBJECT_LEN, &[0; 39]),
    );
    s.add("sealed_object", "empty", Vec::new());
}

fn build_pack(keys: &Keys, kind: BlobKind, blobs: &[Vec<u8>]) -> Vec<u8> {
    let object = if kind == BlobKind::Data { ObjectKind::DataBlob } else { ObjectKind::TreeBlob };
    let mut b = PackBuilder::new(kind);
    for raw in blobs {
        let sealed = codec::seal_bytes(keys, object, raw, 3).unwrap();
        b.add(keys.blob_id(raw), &sealed, raw.len());
    }
    b.finish(keys).unwrap().0
}

/// A plain pack with a hand-made header.
fn plain_pack(blob_area: &[u8], entries: Vec<PackEntry>) -> Vec<u8> {
    let header = raw_body(&postcard(&PackHeader { version: FORMAT_VERSION, entries }));
    let mut out = blob_area.to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out
}

fn pack_seeds(s: &mut Seeds) {
    let data_blobs = vec![noise(700, 3), b"compressible text ".repeat(100), Vec::new(), vec![0xee; 5]];
    let tree_blobs: Vec<Vec<u8>> = std::iter::once(postcard(&all_kinds_tree()))
        .chain(node_kinds().into_iter().map(|(_, n)| postcard(&Tree { version: FORMAT_VERSION, nodes: vec![n] })))
        .collect();
    let valid_encrypted = build_pack(encrypted(), BlobKind::Data, &data_blobs);
    let valid_plain = build_pack(&PLAIN, BlobKind::Data, &data_blobs);
    s.add("pack", "valid-encrypted-data-pack", valid_encrypted.clone());
    s.add("pack", "valid-encrypted-tree-pack", build_pack(encrypted(), BlobKind::Tree, &tree_blobs));
    s.add("pack", "valid-plain-data-pack", valid_plain.clone());
    s.add("pack", "valid-plain-tree-pack", build_pack(&PLAIN, BlobKind::Tree, &tree_blobs));
    s.add("pack", "valid-plain-empty-pack", build_pack(&PLAIN, BlobKind::Data, &[]));
    s.add("pack", "valid-encrypted-empty-pack", build_pack(encrypted(), BlobKind::Data, &[]));
    s.add("pack", "truncated-front-plain-pack", valid_plain[1..].to_vec());
    s.add("pack", "truncated-front-encrypted-pack", valid_encrypted[1..].to_vec());
    s.add("pack", "truncated-end-plain-pack", valid_plain[..valid_plain.len() - 2].to_vec());
    s.add("pack", "truncated-half-encrypted-pack", truncated(&valid_encrypted));
    s.add("pack", "bitflip-plain-pack-header", bitflip(&valid_plain, 10));
    s.add("pack", "bitflip-plain-pack-blob", bitflip(&valid_plain, valid_plain.len() - 3));
    s.add("pack", "bitflip-encrypted-pack-trailer", bitflip(&valid_encrypted, 0));
    let entry =
        |offset, length, raw_length| PackEntry { kind: BlobKind::Data, id: Id([9; 32]), offset, length, raw_length };
    let area = raw_body(&noise(99, 4));
    s.add("pack", "gap-plain-pack", plain_pack(&area, vec![entry(1, 99, 99)]));
    s.add("pack", "overlap-plain-pack", plain_pack(&area, vec![entry(0, 100, 99), entry(50, 0, 0)]));
    s.add("pack", "short-plain-pack", plain_pack(&area, vec![entry(0, 60, 59)]));
    s.add("pack", "overflowing-plain-pack", plain_pack(&area, vec![entry(0, u32::MAX, 99), entry(u32::MAX, 2, 1)]));
    s.add("pack", "wrong-blob-id-plain-pack", plain_pack(&area, vec![entry(0, 100, 99)]));
    s.add("pack", "raw-length-too-small-plain-pack", plain_pack(&area, vec![entry(0, 100, 10)]));
    let mut tree_entry = entry(0, 100, 99);
    tree_entry.kind = BlobKind::Tree;
    s.add("pack", "garbage-tree-blob-plain-pack", plain_pack(&area, vec![tree_entry]));
    s.add("pack", "huge-trailer-pack", [&[0u8; 8][..], &u32::MAX.to_le_bytes()].concat());
    s.add("pack", "trailer-longer-than-file-pack", [&[0u8; 8][..], &9u32.to_le_bytes()].concat());
    let future = raw_body(&postcard(&PackHeader { version: FORMAT_VERSION + 1, entries: Vec::new() }));
    s.add("pack", "future-version-plain-pack", [&future[..], &(future.len() as u32).to_le_bytes()].concat());
    s.add("pack", "bare-plain-pack-header", future);
    s.add("pack", "short", vec![1, 2, 3]);
    s.add("pack", "empty", Vec::new());
}

fn index_seeds(s: &mut Seeds) {
    let raw = postcard(&sample_index());
    let valid_encrypted = codec::encode(encrypted(), ObjectKind::Index, &sample_index(), 3).unwrap();
    let valid_plain = raw_body(&raw);
    s.add("index", "valid-encrypted-index", valid_encrypted.clone());
    s.add("index", "valid-plain-index", valid_plain.clone());
    s.add("index", "valid-plain-zstd-index", zstd_body(&raw));
    s.add("index", "valid-bare-postcard-index", raw.clone());
    let empty = IndexFile { version: FORMAT_VERSION, packs: Vec::new() };
    s.add("index", "valid-plain-empty-index", raw_body(&postcard(&empty)));
    let mut dup = sample_index();
    let first = dup.packs[0].entries[0];
    dup.packs[1].entries.push(first);
    s.add("index", "valid-plain-duplicate-blob-index", raw_body(&postcard(&dup)));
    let future = IndexFile { version: FORMAT_VERSION + 1, ..sample_index() };
    s.add("index", "future-version-plain-index", raw_body(&postcard(&future)));
    s.add("index", "truncated-encrypted-index", truncated(&valid_encrypted));
    s.add("index", "truncated-plain-index", truncated(&valid_plain));
    s.add("index", "truncated-plain-zstd-index", truncated(&zstd_body(&raw)));
    s.add("index", "bitflip-plain-index", bitflip(&valid_plain, 7));
    s.add("index", "bitflip-encrypted-index", bitflip(&valid_encrypted, 7));
    s.add("index", "trailing-bytes-plain-index", [&valid_plain[..], &[0]].concat());
    s.add("index", "empty", Vec::new());
}

fn snapshot_seeds(s: &mut Seeds) {
    let snap = sample_snapshot();
    let raw = postcard(&snap);
    let valid_encrypted = codec::encode(encrypted(), ObjectKind::Snapshot, &snap, 3).unwrap();
    let valid_plain = raw_body(&raw);
    s.add("snapshot", "valid-encrypted-snapshot", valid_encrypted.clone());
    s.add("snapshot", "valid-plain-snapshot", valid_plain.clone());
    s.add("snapshot", "valid-plain-zstd-snapshot", zstd_body(&raw));
    s.add("snapshot", "valid-bare-postcard-snapshot", raw.clone());
    let child = Snapshot { parent: Some(Id([0xb2; 32])), paths: Vec::new(), tags: Vec::new(), ..snap.clone() };
    s.add("snapshot", "valid-plain-snapshot-with-parent", raw_body(&postcard(&child)));
    let v2 = Snapshot {
        version: cairn_core::format::TAKEN_SNAPSHOT_VERSION,
        recipe: Some(cairn_core::format::recipe::Recipe {
            links: vec![cairn_core::format::recipe::GivenLink {
                given: ByteBuf::from(b"/home/u/linked".to_vec()),
                target: ByteBuf::from(b"/data/p".to_vec()),
            }],
            ..Default::default()
        }),
        ..snap.clone()
    };
    s.add("snapshot", "valid-plain-snapshot-v2", raw_body(&postcard(&v2)));
    let v3 = Snapshot { version: 3, original: Some(Id([0xb3; 32])), ..v2.clone() };
    s.add("snapshot", "valid-plain-snapshot-v3", raw_body(&postcard(&v3)));
    let v3_of_v1 = Snapshot { version: 3, recipe: None, original: Some(Id([0xb3; 32])), ..snap.clone() };
    s.add("snapshot", "valid-plain-snapshot-v3-without-recipe", raw_body(&postcard(&v3_of_v1)));
    let future = Snapshot { version: cairn_core::format::SNAPSHOT_VERSION + 1, ..snap.clone() };
    s.add("snapshot", "future-version-plain-snapshot", raw_body(&postcard(&future)));
    let zero = Snapshot { version: 0, ..snap.clone() };
    s.add("snapshot", "zero-version-plain-snapshot", raw_body(&postcard(&zero)));
    s.add("snapshot", "invalid-utf8-host-plain-snapshot", patched(&valid_plain, b"fuzzhost", b"fuzz\xc3ost"));
    s.add("snapshot", "truncated-encrypted-snapshot", truncated(&valid_encrypted));
    s.add("snapshot", "truncated-plain-snapshot", truncated(&valid_plain));
    s.add("snapshot", "bitflip-plain-snapshot", bitflip(&valid_plain, 30));
    s.add("snapshot", "bitflip-encrypted-snapshot", bitflip(&valid_encrypted, 30));
    s.add("snapshot", "empty", Vec::new());
}

fn tree_seeds(s: &mut Seeds) {
    let all = postcard(&all_kinds_tree());
    s.add("tree", "valid-all-node-kinds-tree", all.clone());
    for (label, n) in node_kinds() {
        s.add("tree", format!("valid-{label}-tree"), postcard(&Tree { version: FORMAT_VERSION, nodes: vec![n] }));
    }
    s.add("tree", "valid-empty-tree", postcard(&Tree { version: FORMAT_VERSION, nodes: Vec::new() }));
    let mut unsorted = all_kinds_tree();
    unsorted.nodes.reverse();
    s.add("tree", "valid-unsorted-tree", postcard(&unsorted));
    let future = Tree { version: FORMAT_VERSION + 1, ..all_kinds_tree() };
    s.add("tree", "future-version-tree", postcard(&future));
    // The node kind follows the name: variant 3 (Fifo) becomes 9.
    s.add("tree", "unknown-node-kind-tree", patched(&all, b"\x04fifo\x03", b"\x04fifo\x09"));
    s.add("tree", "truncated-tree", truncated(&all));
    s.add("tree", "bitflip-tree", bitflip(&all, 25));
    s.add("tree", "trailing-bytes-tree", [&all[..], &[0]].concat());
    s.add("tree", "empty", Vec::new());
}

pub fn build_seeds() -> Vec<Seed> {
    let mut s = Seeds(Vec::new());
    config_seeds(&mut s);
    key_file_seeds(&mut s);
    sealed_object_seeds(&mut s);
    pack_seeds(&mut s);
    index_seeds(&mut s);
    snapshot_seeds(&mut s);
    tree_seeds(&mut s);
    retention_seeds(&mut s);
    marker_seeds(&mut s);
    rest_location_seeds(&mut s);
    s.0
}

fn marker_seeds(s: &mut Seeds) {
    use cairn_core::format::marker::{MarkerFile, MarkerRole};
    let time = Timestamp { unix_seconds: 1_748_779_200, nanos: 5, offset_seconds: 7200 };
    let marker = MarkerFile {
        version: 1,
        role: MarkerRole::Snapshot,
        run: Id([6; 32]),
        started: time,
        time,
        host: "fuzzhost".into(),
        user: "fuzz".into(),
        pid: 4242,
        boot_id: "b".into(),
        pid_start: 1,
    };
    let raw = postcard(&marker);
    let sealed = codec::encode(encrypted(), ObjectKind::Marker, &marker, 3).unwrap();
    s.add("marker_file", "valid-encrypted-marker", sealed.clone());
    s.add("marker_file", "valid-plain-marker", raw_body(&raw));
    s.add("marker_file", "valid-bare-postcard-marker", raw.clone());
    let far = Timestamp { unix_seconds: i64::MIN, nanos: u32::MAX, offset_seconds: i32::MAX };
    let hostile = MarkerFile {
        role: MarkerRole::Prune,
        started: far,
        time: Timestamp { unix_seconds: i64::MAX, ..far },
        host: "h".into(),
        boot_id: "b".into(),
        pid: u32::MAX,
        pid_start: u64::MAX,
        ..marker.clone()
    };
    s.add("marker_file", "valid-bare-postcard-hostile-marker", postcard(&hostile));
    s.add("marker_file", "unknown-role-bare-postcard-marker", patched(&raw, &[1, 0, 6, 6], &[1, 9, 6, 6]));
    s.add("marker_file", "future-version-bare-postcard-marker", [&[2][..], &raw[1..]].concat());
    s.add("marker_file", "truncated-encrypted-marker", truncated(&sealed));
    s.add("marker_file", "bitflip-encrypted-marker", bitflip(&sealed, 30));
    s.add("marker_file", "empty", Vec::new());
}

fn retention_seeds(s: &mut Seeds) {
    use cairn_core::format::retention::{KeepRules, PinFile, PolicyFile, Span};
    let time = Timestamp { unix_seconds: 1_748_779_200, nanos: 5, offset_seconds: 7200 };
    let rules = KeepRules {
        last: 2,
        within: Some(Span { years: 0, months: 1, days: 2, hours: 3 }),
        within_daily: Some(Span { years: 1, months: 0, days: 0, hours: 0 }),
        tags: vec![vec![String::from("keep")]],
        ..KeepRules::repository_default()
    };
    let policy = PolicyFile { version: FORMAT_VERSION, time, host: "fuzzhost".into(), user: "fuzz".into(), rules };
    let raw = postcard(&policy);
    s.add("retention", "valid-encrypted-policy", codec::encode(encrypted(), ObjectKind::Policy, &policy, 3).unwrap());
    s.add("retention", "valid-plain-policy", raw_body(&raw));
    s.add("retention", "valid-bare-postcard-policy", raw.clone());
    let huge = KeepRules {
        last: u32::MAX,
        hourly: u32::MAX,
        within: Some(Span { years: u32::MAX, months: u32::MAX, days: u32::MAX, hours: u32::MAX }),
        within_yearly: Some(Span { years: u32::MAX, months: 0, days: 0, hours: 0 }),
        ..KeepRules::default()
    };
    let far = Timestamp { unix_seconds: i64::MAX, nanos: u32::MAX, offset_seconds: i32::MIN };
    let hostile = PolicyFile { time: far, rules: huge, ..policy.clone() };
    s.add("retention", "valid-plain-hostile-policy", raw_body(&postcard(&hostile)));
    s.add("retention", "bitflip-plain-policy", bitflip(&raw_body(&raw), 12));
    s.add(
        "retention",
        "truncated-encrypted-policy",
        truncated(&codec::encode(encrypted(), ObjectKind::Policy, &policy, 3).unwrap()),
    );
    let pin =
        PinFile { version: FORMAT_VERSION, snapshot: Id([5; 32]), time, host: "fuzzhost".into(), user: "fuzz".into() };
    s.add("retention", "valid-encrypted-pin", codec::encode(encrypted(), ObjectKind::Pin, &pin, 3).unwrap());
    s.add("retention", "valid-bare-postcard-pin", postcard(&pin));
    s.add("retention", "empty", Vec::new());
}

fn rest_location_seeds(s: &mut Seeds) {
    for (name, text) in [
        ("valid-http-root", "rest:http://127.0.0.1:8000/"),
        ("valid-https-user-password", "rest:https://alice:s%3Acret%40x@backup.example.org:8443/alice/"),
        ("valid-ipv6", "rest:http://[::1]:8000/repo/"),
        ("valid-unix", "rest:unix:/run/cairn/serve.sock:/alice/"),
        ("valid-unix-root", "rest:unix:/tmp/serve.sock"),
        ("traversal", "rest:http://h:1/../etc/"),
        ("encoded-slash", "rest:http://h:1/a%2f..%2fb/"),
        ("relative-socket", "rest:unix:run.sock:/a/"),
        ("bad-port", "rest:http://h:65536/"),
        ("empty", ""),
    ] {
        s.add("rest_location", name, text.as_bytes());
    }
}
