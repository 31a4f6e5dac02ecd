//! FastCDC chunking throughput: `Chunker::cut` (slice in memory) and `Chunker::stream`
//! (from a reader, one owned Vec per chunk) over 16 MiB of random and of text-like data,
//! with the repository's default chunk sizes (64 KiB / 256 KiB / 1 MiB).

mod common;

use std::hint::black_box;
use std::time::Duration;

use cairn_core::format::RepoParams;
use cairn_core::format::chunker::Chunker;
use common::{MIB, pseudo_random, text_like};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

fn chunker(c: &mut Criterion) {
    let chunker = Chunker::new(&RepoParams::DEFAULT, 0x5eed_cafe_f00d_beef);
    let inputs = [("random", pseudo_random(16 * MIB, 1)), ("text", text_like(16 * MIB, 2))];
    let mut g = c.benchmark_group("chunker");
    g.sampling_mode(SamplingMode::Flat).sample_size(20).warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for (name, data) in &inputs {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("cut/{name}/16MiB"), |b| b.iter(|| chunker.cut(black_box(data)).len()));
        g.bench_function(format!("stream/{name}/16MiB"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for chunk in chunker.stream(black_box(&data[..])) {
                    n += chunk.expect("reading a slice cannot fail").len();
                }
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, chunker);
criterion_main!(benches);
