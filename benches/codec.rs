//! The object codec on one 256 KiB data blob (the default average chunk): `seal_bytes`
//! (zstd 3 when it helps, then XChaCha20-Poly1305) and `open_bytes`, for compressible
//! text and incompressible random data, encrypted and plain. Throughput counts the
//! plaintext bytes.

mod common;

use std::hint::black_box;
use std::time::Duration;

use cairn_core::format::codec::{ObjectKind, open_bytes, seal_bytes};
use cairn_core::format::crypto::Keys;
use common::{KIB, pseudo_random, text_like};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LEVEL: i32 = 3;

fn codec(c: &mut Criterion) {
    let len = 256 * KIB;
    let inputs = [("text", text_like(len, 3)), ("random", pseudo_random(len, 4))];
    let keysets = [("encrypted", Keys::from_master(&[9; 32])), ("plain", Keys::Plain)];
    let mut g = c.benchmark_group("codec");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(len as u64));
    for (data_name, data) in &inputs {
        for (key_name, keys) in &keysets {
            let sealed = seal_bytes(keys, ObjectKind::DataBlob, data, LEVEL).expect("seal");
            assert_eq!(open_bytes(keys, ObjectKind::DataBlob, &sealed, len).expect("open"), *data);
            eprintln!("codec: {data_name}/{key_name}: {len} bytes seal to {} bytes", sealed.len());
            g.bench_function(format!("seal/{data_name}/{key_name}/256KiB"), |b| {
                b.iter(|| seal_bytes(keys, ObjectKind::DataBlob, black_box(data), LEVEL).expect("seal"))
            });
            g.bench_function(format!("open/{data_name}/{key_name}/256KiB"), |b| {
                b.iter(|| open_bytes(keys, ObjectKind::DataBlob, black_box(&sealed), len).expect("open"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
