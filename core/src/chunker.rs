//! Content-defined chunking with FastCDC (2020), seeded per repository.
//! Two entry points that cut identically: one over a slice already in
//! memory (small files), one streaming from a reader (large files, memory
//! bounded by the maximum chunk size).

use std::io::Read;

use fastcdc::v2020::{FastCDC, Normalization, StreamCDC};

use crate::format::RepoParams;

#[derive(Clone, Copy, Debug)]
pub struct Chunker {
    pub min: usize,
    pub avg: usize,
    pub max: usize,
    pub seed: u64,
}

const LEVEL: Normalization = Normalization::Level1;

impl Chunker {
    pub fn new(params: &RepoParams, seed: u64) -> Self {
        Chunker { min: params.chunk_min as usize, avg: params.chunk_avg as usize, max: params.chunk_max as usize, seed }
    }

    /// Chunk lengths of a buffer held in memory.
    pub fn cut(&self, data: &[u8]) -> Vec<usize> {
        if data.len() <= self.min {
            // FastCDC would return the whole input as one chunk anyway.
            return if data.is_empty() { Vec::new() } else { vec![data.len()] };
        }
        FastCDC::with_level_and_seed(data, self.min, self.avg, self.max, LEVEL, self.seed).map(|c| c.length).collect()
    }

    /// Streams chunks from a reader; each item owns its bytes.
    pub fn stream<R: Read>(&self, reader: R) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
        StreamCDC::with_level_and_seed(reader, self.min, self.avg, self.max, LEVEL, self.seed)
            .map(|r| r.map(|c| c.data).map_err(std::io::Error::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Chunker {
        Chunker { min: 256, avg: 1024, max: 4096, seed: 42 }
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
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

    proptest! {
        #[test]
        fn slice_and_stream_cut_alike(len in 0usize..40_000, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            let c = small();
            let from_slice = c.cut(&data);
            let from_stream: Vec<usize> = c.stream(&data[..]).map(|r| r.unwrap().len()).collect();
            prop_assert_eq!(&from_slice, &from_stream);
            prop_assert_eq!(from_slice.iter().sum::<usize>(), len);
            for (i, l) in from_slice.iter().enumerate() {
                prop_assert!(*l <= c.max);
                if i + 1 < from_slice.len() { prop_assert!(*l >= c.min); }
            }
        }
    }

    #[test]
    fn insertion_only_changes_nearby_chunks() {
        let c = small();
        let data = pseudo_random(100_000, 9);
        let mut edited = data.clone();
        edited.splice(50_000..50_000, b"inserted text".iter().copied());
        let a = c.cut(&data);
        let b = c.cut(&edited);
        let chunks = |d: &[u8], lens: &[usize]| -> std::collections::HashSet<Vec<u8>> {
            let mut off = 0;
            lens.iter()
                .map(|l| {
                    let s = d[off..off + l].to_vec();
                    off += l;
                    s
                })
                .collect()
        };
        let shared = chunks(&data, &a).intersection(&chunks(&edited, &b)).count();
        assert!(shared + 3 >= a.len(), "shared {shared} of {}", a.len());
    }

    #[test]
    fn seed_changes_boundaries() {
        let data = pseudo_random(100_000, 5);
        let a = small().cut(&data);
        let b = Chunker { seed: 43, ..small() }.cut(&data);
        assert_ne!(a, b);
    }
}
