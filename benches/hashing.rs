//! Blob ids: keyed BLAKE3 (`Keys::blob_id` of an encrypted repository) for 4 KiB, 64 KiB
//! and 1 MiB blobs.

mod common;

use std::hint::black_box;
use std::time::Duration;

use cairn_core::format::crypto::Keys;
use common::{KIB, MIB, pseudo_random};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn hashing(c: &mut Criterion) {
    let keys = Keys::from_master(&[7; 32]);
    let mut g = c.benchmark_group("blob_id");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (label, len) in [("4KiB", 4 * KIB), ("64KiB", 64 * KIB), ("1MiB", MIB)] {
        let data = pseudo_random(len, len as u64);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("keyed_blake3", label), &data, |b, data| {
            b.iter(|| keys.blob_id(black_box(data)))
        });
    }
    g.finish();
}

criterion_group!(benches, hashing);
criterion_main!(benches);
