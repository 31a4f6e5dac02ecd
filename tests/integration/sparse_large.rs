//! A sparse file larger than 4 GiB (offsets past 32 bits) round-trips and
//! is restored sparse. Its holes are neither read by the snapshot (it asks
//! the filesystem where the data is) nor written by the restore, so the
//! test takes seconds, not the minute plain reads of 4.5 GiB of zeros took.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::common::*;

const SIZE: u64 = (4 << 30) + (512 << 20);
/// Where the test writes data; the rest of the file is holes.
const DATA: [(u64, &[u8]); 3] =
    [(1000, b"near the start"), ((4 << 30) + 123, b"past the 32-bit boundary"), (SIZE - 5, b"tail!")];
/// Around each piece of data, a window compared byte for byte: wider than
/// the largest chunk (512 KiB), so any chunk holding data lies inside.
const WINDOW: u64 = 1 << 20;

fn window(path: &Path, at: u64) -> Vec<u8> {
    let mut f = fs::File::open(path).unwrap();
    let start = at.saturating_sub(WINDOW);
    f.seek(SeekFrom::Start(start)).unwrap();
    let mut buf = Vec::new();
    f.take(2 * WINDOW).read_to_end(&mut buf).unwrap();
    buf
}

#[test]
fn a_sparse_file_over_4_gib_round_trips_and_stays_sparse() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let image = src.join("disk.img");
    let mut f = fs::File::create(&image).unwrap();
    f.set_len(SIZE).unwrap();
    for (at, bytes) in DATA {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(bytes).unwrap();
    }
    drop(f);

    let v = env.snapshot_json(&[&src]);
    assert_eq!(v["summary"]["total_bytes"], SIZE, "{v}");
    assert_eq!(v["summary"]["bytes_read"], SIZE, "{v}");
    // Holes deduplicate to one all-zero chunk: little is stored.
    assert!(v["summary"]["bytes_added"].as_u64().unwrap() < 4 << 20, "{v}");
    let out = env.cairn().args(["diff", "latest"]).output().unwrap();
    assert!(stdout_of(&out).starts_with("0 added, 0 deleted, 0 modified"), "{}", stdout_of(&out));

    let target = env.path("out");
    env.cairn().args(["restore", "latest", "--target"]).arg(&target).assert().success();
    let back = restored(&target, &image);
    let md = fs::metadata(&back).unwrap();
    assert_eq!(md.len(), SIZE);
    for (at, bytes) in DATA {
        let got = window(&back, at);
        assert_eq!(got, window(&image, at), "around offset {at}");
        let i = (at - at.saturating_sub(WINDOW)) as usize;
        assert_eq!(&got[i..i + bytes.len()], bytes);
    }
    // Only the chunks holding data were written (each at most 512 KiB):
    // everything outside the windows compared above is holes, so zeros.
    let allocated = md.blocks() * 512;
    assert!(allocated <= 4 << 20, "restored sparse: {allocated} bytes allocated of {SIZE}");
}
