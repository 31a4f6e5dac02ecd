//! More of format-spec.md checked against the code: the chunker tables of
//! §7.4 (read out of the document itself), and the vectors (j) to (m) of §13
//! (a zstd-coded object, an index file, an encrypted pack, a tree with a
//! folder, special files and devices). As in the parent module, every hex
//! string here appears verbatim in the specification.

use serde_bytes::ByteBuf;

use super::{hex, master, show, unhex};
use cairn_core::format::codec::{self, ObjectKind};
use cairn_core::format::crypto::Keys;
use cairn_core::format::{BlobKind, FileTime, IndexFile, IndexedPack, Node, NodeKind, PackEntry, RepoParams, Tree};
use cairn_core::id::Id;
use cairn_core::repo::pack::{self, PackBuilder};

/// The specification itself, so that the tables it prints can be checked.
const SPEC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../format-spec.md"));

/// The lines of the first fenced block after the line `heading_start` begins.
fn fenced_block_after(heading_start: &str) -> Vec<&'static str> {
    let mut lines = SPEC.lines().skip_while(|l| !l.starts_with(heading_start)).skip(1);
    lines.by_ref().find(|l| l.starts_with("```")).expect("a fenced block after the heading");
    lines.take_while(|l| !l.starts_with("```")).collect()
}

fn parse_u64_hex(token: &str) -> u64 {
    let digits = token.trim_matches('`').strip_prefix("0x").unwrap_or_else(|| panic!("not 0x hex: {token}"));
    assert_eq!(digits.len(), 16, "a u64 written with 16 digits: {token}");
    u64::from_str_radix(digits, 16).unwrap()
}

/// §7.4's GEAR table and mask rows, and §7.3's worked value, are the ones the
/// chunker uses, so a reader needs nothing but the document.
#[test]
fn spec_tables_match_the_chunker() {
    use fastcdc::v2020::{Normalization, get_gear_with_seed, select_masks};

    // GEAR: each line is `<index of its first value>  v v v v`.
    let mut gear = Vec::new();
    for line in fenced_block_after("**`GEAR`**") {
        let mut tokens = line.split_whitespace();
        let first: usize = tokens.next().unwrap().parse().unwrap();
        assert_eq!(first, gear.len(), "GEAR line {line:?} starts at the wrong index");
        gear.extend(tokens.map(parse_u64_hex));
    }
    assert_eq!(gear.len(), 256);
    assert_eq!(gear[..], get_gear_with_seed(0).0[..], "the spec's GEAR table differs from the chunker's");

    // Mask rows: | k | lo … hi | `mask_s` | `mask_l` |, one for every k that
    // an accepted chunk_avg (even, 256 … 4 MiB) rounds to.
    let k_of = |avg: usize| (avg as f64).log2().round() as usize;
    let rows: Vec<Vec<&str>> = SPEC
        .lines()
        .skip_while(|l| !l.starts_with("| k | `chunk_avg`"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let ks: Vec<usize> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ks, (8..=22).collect::<Vec<_>>());
    let mut next_avg = 256;
    for row in &rows {
        let k: usize = row[0].parse().unwrap();
        let (lo, hi) = row[1].split_once(" … ").unwrap();
        let (lo, hi): (usize, usize) = (lo.parse().unwrap(), hi.parse().unwrap());
        assert_eq!(lo, next_avg, "the ranges of k = {k} and the row before must meet");
        next_avg = hi + 2;
        let masks = (parse_u64_hex(row[2]), parse_u64_hex(row[3]));
        for avg in [lo, hi, 1 << k] {
            if (lo..=hi).contains(&avg) {
                assert_eq!(k_of(avg), k, "avg {avg}");
                assert_eq!(select_masks(avg, Normalization::Level1), masks, "masks for avg {avg} (k = {k})");
            }
        }
        if hi < 4 * 1024 * 1024 {
            assert_ne!(k_of(hi + 2), k, "the range of k = {k} ends at {hi}");
        }
    }
    assert_eq!(next_avg, 4 * 1024 * 1024 + 2, "the rows cover every accepted chunk_avg");

    // §7.3's worked values: today's default average, and that of the vectors.
    let prose = SPEC.split_whitespace().collect::<Vec<_>>().join(" ");
    for avg in [RepoParams::DEFAULT.chunk_avg, super::VECTOR_PARAMS.chunk_avg] {
        let k = k_of(avg as usize);
        let (mask_s, mask_l) = select_masks(avg as usize, Normalization::Level1);
        let worked = format!(
            "`k = {k}`, `mask_s = MASKS[{}] = {mask_s:#018x}` and `mask_l = MASKS[{}] = {mask_l:#018x}`",
            k + 1,
            k - 1
        );
        assert!(prose.contains(&worked), "§7.3 should state the masks of chunk_avg {avg} as {worked:?}");
    }
}

/// Asserts `bytes` equal the hex of a vector (lines of 64 digits, concatenated),
/// and that §13 shows exactly these lines as one fenced block.
pub(super) fn assert_vector(name: &str, bytes: &[u8], lines: &[&str]) {
    show(name, bytes);
    assert_eq!(hex(bytes), lines.concat(), "{name} is no longer what format-spec.md §13 shows");
    let block = format!("```\n{}\n```", lines.join("\n"));
    assert!(SPEC.contains(&block), "format-spec.md §13 does not show {name} as\n{block}");
}

/// Every line of §13 that is nothing but hex digits is a vector's value, and
/// appears in one of the two test files: the document cannot change a byte
/// that no test asserts.
#[test]
fn every_hex_line_of_the_vectors_is_asserted() {
    let sources = [
        include_str!("main.rs"),
        include_str!("more_vectors.rs"),
        include_str!("snapshot_v2.rs"),
        include_str!("retention_vectors.rs"),
        include_str!("protocol_vectors.rs"),
        include_str!("copy_vectors.rs"),
    ];
    let section = SPEC.split("\n## 13. Test vectors").nth(1).unwrap().split("\n## 14.").next().unwrap();
    let hex_lines: Vec<&str> = section
        .lines()
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .collect();
    assert!(hex_lines.len() > 40, "found only {} hex lines in §13", hex_lines.len());
    for line in hex_lines {
        let quoted = format!("\"{line}\"");
        assert!(sources.iter().any(|s| s.contains(&quoted)), "§13 shows {line} but no test asserts it");
    }
}

/// The plaintext of (j): compressible, so it is stored with codec tag 0x01.
const REPEATED: &[u8] =
    b"cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn cairn ";

#[test]
fn j_zstd_object() {
    // Every reader must open the vector's frame, whatever zstd it links.
    let vector = unhex("0128b52ffd20606d000030636169726e20010097a91401");
    assert_eq!(codec::open_bytes(&Keys::Plain, ObjectKind::DataBlob, &vector, REPEATED.len()).unwrap(), REPEATED);
    // And cairn's writer (the bundled zstd at level 3) produces exactly it.
    let sealed = codec::seal_bytes(&Keys::Plain, ObjectKind::DataBlob, REPEATED, 3).unwrap();
    assert_eq!(sealed[0], 0x01, "compressible plaintext is stored as a zstd frame");
    assert_vector("zstd object", &sealed, &["0128b52ffd20606d000030636169726e20010097a91401"]);
    assert_eq!(codec::open_bytes(&Keys::Plain, ObjectKind::DataBlob, &sealed, REPEATED.len()).unwrap(), REPEATED);

    // §4: what cairn accepts after tag 0x01 besides the one frame it writes.
    let open = |payload: &[u8]| {
        let body = [&[0x01][..], payload].concat();
        codec::open_bytes(&Keys::Plain, ObjectKind::DataBlob, &body, 1000)
    };
    let frame = &sealed[1..];
    assert_eq!(open(&[frame, frame].concat()).unwrap(), REPEATED.repeat(2), "frames are concatenated");
    let skippable = [0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9];
    assert_eq!(open(&[frame, &skippable].concat()).unwrap(), REPEATED, "skippable frames add nothing");
    assert_eq!(open(&[]).unwrap(), b"", "no frame at all is an empty plaintext");
    assert!(open(&[frame, &[0]].concat()).is_err(), "bytes that are no frame are rejected");
    assert!(open(&frame[..frame.len() - 1]).is_err(), "a cut frame is rejected");
}

/// The two entries of the pack of (f), as its header lists them.
fn plain_pack_entries() -> Vec<PackEntry> {
    [(&b"hello"[..], 0), (&b"cairn!"[..], 6)]
        .iter()
        .map(|(raw, offset)| PackEntry {
            kind: BlobKind::Data,
            id: Keys::Plain.blob_id(raw),
            offset: *offset,
            length: raw.len() as u32 + 1,
            raw_length: raw.len() as u32,
        })
        .collect()
}

#[test]
fn k_index_file() {
    // An index listing the pack of (f) (postcard), then sealed as index/<id>
    // of an encrypted repository with the keys of (a) and nonce 24 × 0x00.
    let pack = Id(unhex("fb48bb52fd49bc78889fee5ed0db149a64584aa69f28d9e0f77b4b9447ec7a5c").try_into().unwrap());
    let index = IndexFile { version: 1, packs: vec![IndexedPack { pack, entries: plain_pack_entries() }] };
    let raw = codec::to_postcard(&index).unwrap();
    assert_vector(
        "index file postcard",
        &raw,
        &[
            "0101fb48bb52fd49bc78889fee5ed0db149a64584aa69f28d9e0f77b4b9447ec",
            "7a5c0200ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c562",
            "4a67200f0006050089bc82cd4294e9b29784df613eab449507e2b6ee19cacc18",
            "bc62640db6b95ed1060706",
        ],
    );
    assert_eq!(codec::from_postcard::<IndexFile>(&raw, "index").unwrap(), index);

    let keys = Keys::from_master(&master());
    let sealed =
        cairn_core::format::crypto::fixed_nonces::during(|| codec::encode(&keys, ObjectKind::Index, &index, 3))
            .unwrap();
    assert_vector(
        "sealed index file",
        &sealed,
        &[
            "000000000000000000000000000000000000000000000000fb17443fca6e78d1",
            "b828cc272b9b75afbcaea6f349cf03ce649b1877d382f3ad85ff093dd8811f7c",
            "54fcdb81a06e05e13bac6913782d79004abf6fc946b298cdd28e8c2addd1a0f1",
            "6caaf6e722f3d4e4226adbaf31cbc312e030562331d61103332784d627e44ac5",
            "d114682451a2a8d7c58a11778e579e14eaa18fc2",
        ],
    );
    let name = Id::of_file_bytes(&sealed);
    assert_eq!(name.to_hex(), "86115f6cf6b2096c81c9afa7e8736a64da56765d1175188cfa99d7f4b12bc92c");
    assert_eq!(codec::decode::<IndexFile>(&keys, ObjectKind::Index, &sealed).unwrap(), index);
    assert!(codec::decode::<IndexFile>(&keys, ObjectKind::Snapshot, &sealed).is_err());
}

#[test]
fn l_encrypted_pack() {
    // The blobs of (f) in an encrypted repository with the keys of (a),
    // sealed with the nonces 0, 1 (the blobs) and 2 (the header), each
    // written as a u64le padded with zeros to 24 bytes.
    let keys = Keys::from_master(&master());
    let (bytes, entries) = cairn_core::format::crypto::fixed_nonces::during(|| {
        let mut builder = PackBuilder::new(BlobKind::Data);
        for raw in [&b"hello"[..], &b"cairn!"[..]] {
            let sealed = codec::seal_bytes(&keys, ObjectKind::DataBlob, raw, 3).unwrap();
            builder.add(keys.blob_id(raw), &sealed, raw.len());
        }
        builder.finish(&keys)
    })
    .unwrap();
    assert_vector(
        "encrypted pack",
        &bytes,
        &[
            "000000000000000000000000000000000000000000000000fb7e20a8eeba20cf",
            "0fa8807a1d18c9a8ef0a155ca78d010000000000000000000000000000000000",
            "000000000000c6d0fd3c1fdc8f7c65e43f316d4335ab619f24f2b03987020000",
            "000000000000000000000000000000000000000000ee9c64173c35b8eae44af8",
            "62e1cc4ffffa383f7595e82e6dc8171d2251cbcc5c2d3d908c2f0f70b2ae8696",
            "6bb8f9d7b2075396266a8611d0f457ab5a9c43b8e648bbd4d8831a7773515363",
            "f20cccb82a346b1b25c7d57ffd0f117773000000",
        ],
    );
    assert_eq!(Id::of_file_bytes(&bytes).to_hex(), "c3bd3a2ebc3aa58ae78998d5b0fac608cd4929b59bbdece4b19e5d24095d287b");
    assert_eq!(pack::parse_pack(&keys, &bytes).unwrap(), entries);
    // The header's plaintext, and each blob opened as the index places it.
    let (blobs_end, sealed_header) = pack::split_pack(&bytes).unwrap();
    assert_eq!(blobs_end, 93);
    let header = codec::open_bytes(&keys, ObjectKind::PackHeader, sealed_header, 1024).unwrap();
    assert_vector(
        "encrypted pack header plaintext",
        &header,
        &[
            "0102005567aec45a770531592dbaefd7e057f7f10f10f16ed5301fee39a981dd",
            "849e18002e050045af6a98c988f4f17a036cf173e9168d9cfeed41f940f8411c",
            "d3982282d4bc7b2e2f06",
        ],
    );
    for (entry, raw) in entries.iter().zip([&b"hello"[..], &b"cairn!"[..]]) {
        let stored = &bytes[entry.offset as usize..(entry.offset + entry.length) as usize];
        assert_eq!(codec::open_bytes(&keys, ObjectKind::DataBlob, stored, entry.raw_length as usize).unwrap(), raw);
        assert!(codec::open_bytes(&keys, ObjectKind::TreeBlob, stored, 1024).is_err());
    }
}

/// One node of (m): owner root, times 1748779200 s, device 3, no xattrs.
fn special_node(name: &str, kind: NodeKind, mode: u32, inode: u64, nlink: u64) -> Node {
    let time = FileTime { seconds: 1_748_779_200, nanos: 0 };
    Node {
        name: ByteBuf::from(name.as_bytes().to_vec()),
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime: time,
        ctime: time,
        inode,
        device: 3,
        nlink,
        xattrs: Vec::new(),
    }
}

#[test]
fn m_tree_with_special_nodes() {
    let tree = Tree {
        version: 1,
        nodes: vec![
            special_node("d", NodeKind::Dir { subtree: Id([0x55; 32]) }, 0o755, 10, 2),
            special_node("null", NodeKind::CharDevice { rdev: 0x103 }, 0o666, 11, 1),
            special_node("p", NodeKind::Fifo, 0o600, 12, 1),
            special_node("s", NodeKind::Socket, 0o755, 13, 1),
            special_node("sda", NodeKind::BlockDevice { rdev: 0x800 }, 0o660, 14, 1),
        ],
    };
    tree.validate_names().unwrap();
    let bytes = codec::to_postcard(&tree).unwrap();
    assert_vector(
        "tree with special nodes",
        &bytes,
        &[
            "0105016401555555555555555555555555555555555555555555555555555555",
            "5555555555ed0300008083e2830d008083e2830d000a030200046e756c6c0583",
            "02b60300008083e2830d008083e2830d000b030100017003800300008083e283",
            "0d008083e2830d000c030100017304ed0300008083e2830d008083e2830d000d",
            "03010003736461068010b00300008083e2830d008083e2830d000e030100",
        ],
    );
    assert_eq!(codec::from_postcard::<Tree>(&bytes, "tree").unwrap(), tree);
    assert_eq!(
        Keys::Plain.blob_id(&bytes).to_hex(),
        "8d40038e62ca93028b8aa42aab7a6ba44272952bf23be057476a1562fbc289fd"
    );
}

/// §3.1's KDF bounds, at each edge: inclusive, and `m ≥ 8 · p`.
#[test]
fn kdf_bounds_are_the_ones_the_spec_states() {
    use cairn_core::format::crypto::KdfParams;
    let valid =
        |memory_kib, iterations, parallelism| KdfParams { memory_kib, iterations, parallelism }.validate().is_ok();
    assert!(valid(8, 1, 1), "the smallest valid parameters (those of the vectors)");
    assert!(valid(4_194_304, 64, 64), "the largest valid parameters");
    assert!(!valid(7, 1, 1) && !valid(4_194_305, 1, 1), "m outside 8 … 4194304");
    assert!(!valid(8, 0, 1) && !valid(8, 65, 1), "t outside 1 … 64");
    assert!(!valid(8, 1, 0) && !valid(4_194_304, 1, 65), "p outside 1 … 64");
    assert!(valid(16, 1, 2) && !valid(15, 1, 2), "m ≥ 8 · p");
}

/// §7.1: an enum's variant index is a u32 varint, so an over-long encoding
/// still reads, and an index past the last variant does not.
#[test]
fn enum_index_is_a_varint() {
    let entry = PackEntry { kind: BlobKind::Tree, id: Id([0x22; 32]), offset: 300, length: 59, raw_length: 19 };
    let bytes = codec::to_postcard(&entry).unwrap();
    assert_eq!(bytes[0], 0x01, "written as one byte");
    let over_long = [&[0x81, 0x00][..], &bytes[1..]].concat();
    assert_eq!(codec::from_postcard::<PackEntry>(&over_long, "pack entry").unwrap(), entry);
    let past_the_end = [&[0x02][..], &bytes[1..]].concat();
    assert!(codec::from_postcard::<PackEntry>(&past_the_end, "pack entry").is_err());
}
