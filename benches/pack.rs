//! The in-memory pack writer: `PackBuilder::add` of 64 sealed 256 KiB blobs (16 MiB, one
//! default-size pack) and `finish` (pack header encoded, compressed and sealed), with the
//! blobs sealed beforehand; and the same including sealing each blob (zstd 3 + AEAD),
//! i.e. the CPU work of writing one pack of half text, half random data.

mod common;

use std::hint::black_box;
use std::time::Duration;

use cairn_core::Id;
use cairn_core::format::BlobKind;
use cairn_core::format::codec::{ObjectKind, seal_bytes};
use cairn_core::format::crypto::Keys;
use cairn_core::repo::pack::PackBuilder;
use common::{KIB, MIB, pseudo_random, text_like};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const BLOB: usize = 256 * KIB;
const PACK: usize = 16 * MIB;

fn pack(c: &mut Criterion) {
    let keys = Keys::from_master(&[5; 32]);
    let raw: Vec<Vec<u8>> = (0..PACK / BLOB)
        .map(|i| if i % 2 == 0 { text_like(BLOB, i as u64 + 1) } else { pseudo_random(BLOB, i as u64 + 1) })
        .collect();
    let ids: Vec<Id> = raw.iter().map(|r| keys.blob_id(r)).collect();
    let sealed: Vec<Vec<u8>> =
        raw.iter().map(|r| seal_bytes(&keys, ObjectKind::DataBlob, r, 3).expect("seal")).collect();

    let mut g = c.benchmark_group("pack");
    g.sampling_mode(SamplingMode::Flat).sample_size(20).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(PACK as u64));
    g.bench_function("add_finish/64x256KiB", |b| {
        b.iter(|| {
            let mut builder = PackBuilder::new(BlobKind::Data);
            for ((id, s), r) in ids.iter().zip(&sealed).zip(&raw) {
                builder.add(*id, black_box(s), r.len());
            }
            builder.finish(&keys).expect("finish").0.len()
        })
    });
    g.bench_function("seal_add_finish/64x256KiB", |b| {
        b.iter(|| {
            let mut builder = PackBuilder::new(BlobKind::Data);
            for (id, r) in ids.iter().zip(&raw) {
                let s = seal_bytes(&keys, ObjectKind::DataBlob, black_box(r), 3).expect("seal");
                builder.add(*id, &s, r.len());
            }
            builder.finish(&keys).expect("finish").0.len()
        })
    });
    g.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
