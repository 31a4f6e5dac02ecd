//! Checks the byte-level examples of format-spec.md against the code.
//!
//! Every hex string asserted here appears verbatim in `format-spec.md`
//! (section "Test vectors"). A failure means the code no longer writes the
//! bytes the specification promises: fix the code, or bump the format
//! version and change both together.

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use serde_bytes::ByteBuf;

use cairn_core::format::codec::{self, ObjectKind};
use cairn_core::format::crypto::{self, KdfParams, Keys};
use cairn_core::format::{
    BlobKind, CONFIG_MAGIC, ConfigFile, FileTime, KEY_MAGIC, KeyFile, Node, NodeKind, PackEntry, RepoParams, Snapshot,
    Summary, Timestamp, Tree, Xattr,
};
use cairn_core::id::Id;
use cairn_core::repo::Repository;
use cairn_core::repo::pack::{self, PackBuilder};

/// The context strings of `crypto.rs`, repeated here on purpose: the spec
/// names them, and the tests below prove `Keys` uses exactly these.
const CONTEXT_SEAL: &str = "cairn 2026-11 v1 seal key";
const CONTEXT_BLOB_ID: &str = "cairn 2026-11 v1 blob id key";
const CONTEXT_CHUNKER: &str = "cairn 2026-11 v1 chunker seed";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Master key of every encrypted vector: the bytes 0x00, 0x01, ..., 0x1f.
fn master() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Prints a value so that a changed vector is easy to inspect.
fn show(name: &str, bytes: &[u8]) {
    println!("{name} ({} bytes):", bytes.len());
    for line in hex(bytes).as_bytes().chunks(64) {
        println!("  {}", String::from_utf8_lossy(line));
    }
}

#[test]
fn a_subkeys() {
    let master = master();
    let seal = blake3::derive_key(CONTEXT_SEAL, &master);
    let blob_id_key = blake3::derive_key(CONTEXT_BLOB_ID, &master);
    let seed_bytes = blake3::derive_key(CONTEXT_CHUNKER, &master);
    show("master", &master);
    show("seal key", &seal);
    show("blob id key", &blob_id_key);
    show("chunker seed derive_key output", &seed_bytes);
    let seed = u64::from_le_bytes(seed_bytes[..8].try_into().unwrap());
    println!("chunker seed = {seed:#018x}");

    assert_eq!(hex(&seal), "21dab1a17a91fe3c84255e9731754da6c248655d997000ec988d76421ab62892");
    assert_eq!(hex(&blob_id_key), "83f3c5f48c2dbfb1d87ea80c816b79f375ac38f3ce15d9d0565fa68e4b27b0ae");
    assert_eq!(hex(&seed_bytes[..8]), "dd5ff5113d0dd635");
    assert_eq!(seed, 0x35d6_0d3d_11f5_5fdd);

    // `Keys` uses these very derivations.
    let keys = Keys::from_master(&master);
    assert_eq!(keys.chunker_seed(), seed);
    assert_eq!(keys.blob_id(b"x").0, *blake3::keyed_hash(&blob_id_key, b"x").as_bytes());
    // (The seal key is proven by `e_sealed_object`, which seals by hand with it.)
}

#[test]
fn b_blob_ids() {
    let encrypted = Keys::from_master(&master()).blob_id(b"hello cairn");
    let plain = Keys::Plain.blob_id(b"hello cairn");
    show("blob id, encrypted", &encrypted.0);
    show("blob id, plain", &plain.0);
    assert_eq!(encrypted.to_hex(), "93775d3318bdb764a88551093507fbceff573b75c3508b6d9fc0a9120f07a42c");
    assert_eq!(plain.to_hex(), "c40f5b94d3a027d956a40cdbfcb9554e8aab67dfcdc7a40cb4e5c5e49b83e4b3");
}

#[test]
fn c_argon2id() {
    let params = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };
    let kek = params.derive(b"password", &[0x01; 32]).unwrap();
    show("kek", &kek[..]);
    assert_eq!(hex(&kek[..]), "671d103cb3fc66a7da60ec82e900d833ef42e25d7ca0273fbd85c23eba9651e6");
}

fn file_time() -> FileTime {
    FileTime { seconds: 1_748_779_200, nanos: 500 }
}

/// Two nodes, sorted by name: a file with one chunk and an xattr, and a symlink.
fn example_tree() -> Tree {
    Tree {
        version: 1,
        nodes: vec![
            Node {
                name: ByteBuf::from(b"a.txt".to_vec()),
                kind: NodeKind::File { size: 11, content: vec![Keys::Plain.blob_id(b"hello cairn")] },
                mode: 0o644,
                uid: 1000,
                gid: 1000,
                mtime: file_time(),
                ctime: file_time(),
                inode: 2,
                device: 3,
                nlink: 1,
                xattrs: vec![Xattr { name: ByteBuf::from(b"user.k".to_vec()), value: ByteBuf::from(b"v".to_vec()) }],
            },
            Node {
                name: ByteBuf::from(b"link".to_vec()),
                kind: NodeKind::Symlink { target: ByteBuf::from(b"a.txt".to_vec()) },
                mode: 0o777,
                uid: 1000,
                gid: 1000,
                mtime: file_time(),
                ctime: file_time(),
                inode: 4,
                device: 3,
                nlink: 1,
                xattrs: Vec::new(),
            },
        ],
    }
}

fn example_snapshot() -> Snapshot {
    Snapshot {
        version: 1,
        time: Timestamp { unix_seconds: 1_748_779_200, nanos: 0, offset_seconds: 7200 },
        host: "h".into(),
        user: "u".into(),
        paths: vec![ByteBuf::from(b"/w".to_vec())],
        tags: vec!["t".into()],
        tree: Id([0x33; 32]),
        parent: Some(Id([0x44; 32])),
        summary: Summary {
            files_new: 1,
            files_changed: 2,
            files_unchanged: 3,
            dirs: 4,
            others: 5,
            files_read: 6,
            bytes_read: 7,
            total_bytes: 8,
            data_blobs_added: 9,
            tree_blobs_added: 10,
            bytes_added: 300,
            duration_ms: 12,
            warnings: 0,
        },
        program_version: "0.1.0".into(),
        original: None,
        recipe: None,
    }
}

#[test]
fn d_postcard() {
    let tree = codec::to_postcard(&example_tree()).unwrap();
    show("tree", &tree);
    assert_eq!(
        hex(&tree),
        concat!(
            "010205612e747874000b01c40f5b94d3a027d956a40cdbfcb9554e8aab67dfcd",
            "c7a40cb4e5c5e49b83e4b3a403e807e8078083e2830df4038083e2830df40302",
            "03010106757365722e6b0176046c696e6b0205612e747874ff03e807e8078083",
            "e2830df4038083e2830df40304030100",
        )
    );
    assert_eq!(codec::from_postcard::<Tree>(&tree, "tree").unwrap(), example_tree());

    let entry = PackEntry { kind: BlobKind::Tree, id: Id([0x22; 32]), offset: 300, length: 59, raw_length: 19 };
    let entry_bytes = codec::to_postcard(&entry).unwrap();
    show("pack entry", &entry_bytes);
    assert_eq!(
        hex(&entry_bytes),
        concat!("0122222222222222222222222222222222222222222222222222222222222222", "22ac023b13")
    );

    let params = codec::to_postcard(&VECTOR_PARAMS).unwrap();
    show("repo params", &params);
    assert_eq!(hex(&params), "018080048080108080408080800806");

    let snapshot = codec::to_postcard(&example_snapshot()).unwrap();
    show("snapshot", &snapshot);
    assert_eq!(
        hex(&snapshot),
        concat!(
            "018083e2830d00c0700168017501022f77010174333333333333333333333333",
            "3333333333333333333333333333333333333333014444444444444444444444",
            "4444444444444444444444444444444444444444440102030405060708090aac",
            "020c0005302e312e30",
        )
    );
    assert_eq!(codec::from_postcard::<Snapshot>(&snapshot, "snapshot").unwrap(), example_snapshot());
}

/// The repository parameters of the vectors (the first v1 defaults; the
/// current defaults differ only in chunk sizes).
pub(crate) const VECTOR_PARAMS: RepoParams = RepoParams {
    version: 1,
    chunk_min: 65536,
    chunk_avg: 262144,
    chunk_max: 1048576,
    features: 0,
    ..RepoParams::DEFAULT
};

/// `VECTOR_PARAMS` sealed as kind `Config` with the seal key of (a) and nonce 24 × 0x02.
const SEALED_PARAMS: &str = concat!(
    "020202020202020202020202020202020202020202020202d9607192ca3122b3",
    "af639d22c4edb119ffcb82614789a114a6512e166bf1aa8e",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn e_sealed_object() {
    let master = master();
    let seal_key = blake3::derive_key(CONTEXT_SEAL, &master);
    let mut body = vec![0u8]; // codec tag 0: stored as is
    body.extend_from_slice(&codec::to_postcard(&VECTOR_PARAMS).unwrap());
    let nonce = [0x02u8; 24];
    let aad = ObjectKind::Config.aad();
    assert_eq!(&aad, b"cairn1\x00\x06");
    let ct = crypto::cipher_from(&seal_key).encrypt(&XNonce::from(nonce), Payload { msg: &body, aad: &aad }).unwrap();
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ct);
    show("sealed config params", &sealed);
    assert_eq!(sealed.len(), body.len() + crypto::SEAL_OVERHEAD);
    assert_eq!(hex(&sealed), SEALED_PARAMS);

    let keys = Keys::from_master(&master);
    assert_eq!(codec::open_bytes(&keys, ObjectKind::Config, &sealed, 1024).unwrap(), body[1..]);
    assert_eq!(codec::decode::<RepoParams>(&keys, ObjectKind::Config, &sealed).unwrap(), VECTOR_PARAMS);
    // The kind byte is authenticated: the same bytes do not open as another kind.
    assert!(codec::open_bytes(&keys, ObjectKind::Index, &sealed, 1024).is_err());
}

#[test]
fn f_plain_pack() {
    let keys = Keys::Plain;
    let mut builder = PackBuilder::new(BlobKind::Data);
    for raw in [&b"hello"[..], &b"cairn!"[..]] {
        let sealed = codec::seal_bytes(&keys, ObjectKind::DataBlob, raw, 3).unwrap();
        // Too short to compress: tag 0, then the plaintext.
        assert_eq!(sealed[0], 0);
        builder.add(keys.blob_id(raw), &sealed, raw.len());
    }
    let (bytes, entries) = builder.finish(&keys).unwrap();
    show("plain pack", &bytes);
    let name = Id::of_file_bytes(&bytes);
    println!("plain pack name: {name}");
    assert_eq!(
        hex(&bytes),
        concat!(
            "0068656c6c6f00636169726e2100010200ea8f163db38682925e4491c5e58d4b",
            "b3506ef8c14eb78a86e908c5624a67200f0006050089bc82cd4294e9b29784df",
            "613eab449507e2b6ee19cacc18bc62640db6b95ed10607064b000000",
        )
    );
    assert_eq!(name.to_hex(), "fb48bb52fd49bc78889fee5ed0db149a64584aa69f28d9e0f77b4b9447ec7a5c");
    assert_eq!(pack::parse_pack(&keys, &bytes).unwrap(), entries);
}

/// The key file of (g): the master key of (a) sealed for repository 32 × 0x03.
const KEY_FILE: &str = concat!(
    "434149524e4b4559010801010101010101010101010101010101010101010101",
    "0101010101010101010101014804040404040404040404040404040404040404",
    "040404040426c8896cbea01e22eb2c920c4ea2a0d1f50526d7bb9c1be3f3886b",
    "23f08177f704ddcb7aab3e1da99daf2f0164230a0d8083e2830d000001680175",
);

#[test]
fn g_key_file() {
    // Key file sealing the master key of (a) under the kek of (c), for
    // repository id 32 × 0x03, with nonce 24 × 0x04.
    let kdf = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };
    let salt = [0x01u8; 32];
    let kek = kdf.derive(b"password", &salt).unwrap();
    let repo_id = Id([0x03; 32]);
    let nonce = [0x04u8; 24];
    let ct =
        crypto::cipher_from(&kek).encrypt(&XNonce::from(nonce), Payload { msg: &master(), aad: &repo_id.0 }).unwrap();
    let mut sealed_master = nonce.to_vec();
    sealed_master.extend_from_slice(&ct);
    let key_file = KeyFile {
        magic: KEY_MAGIC,
        version: 1,
        kdf,
        salt,
        sealed_master: ByteBuf::from(sealed_master.clone()),
        created: Timestamp { unix_seconds: 1_748_779_200, nanos: 0, offset_seconds: 0 },
        host: "h".into(),
        user: "u".into(),
    };
    let bytes = codec::to_postcard(&key_file).unwrap();
    show("key file", &bytes);
    let name = Id::of_file_bytes(&bytes);
    println!("key file name: {name}");
    assert_eq!(hex(&bytes), KEY_FILE);

    assert_eq!(name.to_hex(), "6a217890b8893822e2fe76ebf61241edd7a115a712a791cc74459ab7ad40d7b3");
    assert_eq!(codec::from_postcard::<KeyFile>(&bytes, "key file").unwrap(), key_file);

    let opened = crypto::open_with(&crypto::cipher_from(&kek), &repo_id.0, &sealed_master).unwrap();
    assert_eq!(opened, master());
    assert!(crypto::open_with(&crypto::cipher_from(&kek), &[0u8; 32], &sealed_master).is_none());
}

#[test]
fn h_config() {
    // The config of the repository whose key file is (g): id 32 × 0x03,
    // encrypted, parameters sealed as in (e).
    let config = ConfigFile {
        magic: CONFIG_MAGIC,
        version: 1,
        repo_id: Id([0x03; 32]),
        encrypted: true,
        params: ByteBuf::from(unhex(SEALED_PARAMS)),
    };
    let bytes = codec::to_postcard(&config).unwrap();
    show("config", &bytes);
    assert_eq!(
        hex(&bytes),
        concat!(
            "434149524e524550010303030303030303030303030303030303030303030303",
            "0303030303030303030138020202020202020202020202020202020202020202",
            "020202d9607192ca3122b3af639d22c4edb119ffcb82614789a114a6512e166b",
            "f1aa8e",
        )
    );
    assert_eq!(codec::from_postcard::<ConfigFile>(&bytes, "config").unwrap(), config);

    // (g) and (h) together are a complete, empty repository that opens with
    // the password "password" and yields the master key of (a).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    for folder in ["keys", "data", "index", "snapshots"] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
    }
    std::fs::write(root.join("config"), &bytes).unwrap();
    let key = unhex(KEY_FILE);
    std::fs::write(root.join("keys").join(Id::of_file_bytes(&key).to_hex()), &key).unwrap();
    let repo = Repository::open(&root, Some(b"password")).unwrap();
    assert_eq!(repo.id(), Id([0x03; 32]));
    assert_eq!(*repo.params(), VECTOR_PARAMS);
    assert_eq!(repo.keys().blob_id(b"hello cairn"), Keys::from_master(&master()).blob_id(b"hello cairn"));
    assert!(matches!(Repository::open(&root, Some(b"wrong")), Err(cairn_core::Error::WrongPassword(_))));
}

#[test]
fn i_chunker() {
    // 8192 bytes of BLAKE3 output (XOF) of "cairn chunker vector", cut with
    // min/avg/max = 256/1024/4096 and the chunker seed of (a).
    let mut data = vec![0u8; 8192];
    blake3::Hasher::new().update(b"cairn chunker vector").finalize_xof().fill(&mut data);
    let seed = Keys::from_master(&master()).chunker_seed();
    let chunker = cairn_core::format::chunker::Chunker { min: 256, avg: 1024, max: 4096, seed };
    let seeded = chunker.cut(&data);
    let unseeded = cairn_core::format::chunker::Chunker { seed: 0, ..chunker }.cut(&data);
    println!("seeded {seeded:?}, unseeded {unseeded:?}");
    assert_eq!(seeded, [1809, 1617, 1546, 1059, 750, 1411]);
    assert_eq!(unseeded, [347, 951, 2469, 2303, 1487, 635]);
    let streamed: Vec<usize> = chunker.stream(&data[..]).map(|c| c.unwrap().len()).collect();
    assert_eq!(streamed, seeded);
}

/// The cut rule exactly as format-spec.md words it (byte at a time), to show
/// that the prose describes what the `fastcdc` crate does.
fn spec_cut(data: &[u8], min: usize, avg: usize, max: usize, seed: u64) -> Vec<usize> {
    let (gear, _) = fastcdc::v2020::get_gear_with_seed(0);
    let table: Vec<u64> = gear.iter().map(|g| g ^ seed).collect();
    let bits = (avg as f64).log2().round() as usize;
    let (mask_s, mask_l) = (fastcdc::v2020::MASKS[bits + 1], fastcdc::v2020::MASKS[bits - 1]);
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let n = data.len() - start;
        let len = if n <= min {
            n
        } else {
            let r = n.min(max);
            let center = avg.min(r);
            let mut h = 0u64;
            let mut cut = r;
            for i in min..2 * (r / 2) {
                h = (h << 1).wrapping_add(table[data[start + i] as usize]);
                let mask = if i < center { mask_s } else { mask_l };
                if h & mask == 0 {
                    cut = i;
                    break;
                }
            }
            cut
        };
        out.push(len);
        start += len;
    }
    out
}

#[test]
fn i_chunker_matches_spec_wording() {
    let mut data = vec![0u8; 200_000];
    blake3::Hasher::new().update(b"spec wording").finalize_xof().fill(&mut data);
    // Low-entropy stretches too, where maximum-length and odd cuts happen.
    for (i, b) in data[100_000..140_000].iter_mut().enumerate() {
        *b = (i / 3000) as u8;
    }
    for (min, avg, max) in [(256, 1024, 4096), (64, 256, 1024), (2048, 8192, 16384)] {
        for seed in [0, 1, 0x35d6_0d3d_11f5_5fdd, u64::MAX] {
            for len in [0, 1, min, min + 1, 3 * max + 1, 99_999, data.len()] {
                let chunker = cairn_core::format::chunker::Chunker { min, avg, max, seed };
                assert_eq!(
                    chunker.cut(&data[..len]),
                    spec_cut(&data[..len], min, avg, max, seed),
                    "{min} {seed} {len}"
                );
            }
        }
    }
}

/// A version-3 snapshot and adopted blob ids (r), (s): `cairn copy`.
mod copy_vectors;
/// The chunker tables and the vectors (j) to (m), in their own file so that
/// neither file grows past about 600 lines.
mod more_vectors;
/// RepoParams version 2 and a run marker (p), (q).
mod protocol_vectors;
/// The retention objects (n) and (o).
mod retention_vectors;
mod snapshot_v2;
