//! Content-defined chunking with FastCDC (2020), seeded per repository.
//! Two entry points that cut identically: one over a slice already in
//! memory (small files), one streaming from a reader (large files, memory
//! bounded by the maximum chunk size). `for_each_chunk` picks between them
//! and is the one routine the archiver and `archiver::content_ids` share, so
//! that the ids a file would get and the ids it got never drift apart.

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

    /// Cuts everything `reader` yields into chunks and hands each to `f`, in
    /// order; returns the number of bytes read. A reader whose `size_hint`
    /// fits in one maximum chunk is read whole (at most `max + 1` bytes); if
    /// it turns out longer than that, the bytes already read and the rest
    /// are streamed. Larger ones stream. Either way memory stays bounded by
    /// about two maximum chunks, and the cut is the same (slice and stream
    /// cut alike).
    pub fn for_each_chunk<R: Read, E>(
        &self,
        reader: &mut R,
        size_hint: u64,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, ChunkError<E>> {
        let max = self.max as u64;
        if size_hint > max {
            return self.stream_each(reader, &mut f);
        }
        // `size_hint <= max`, so the capacity is bounded.
        let mut buf = Vec::with_capacity(size_hint as usize + 1);
        reader.take(max + 1).read_to_end(&mut buf).map_err(ChunkError::Read)?;
        if buf.len() as u64 > max {
            // Grew since the stat: stream what was read, then the rest.
            return self.stream_each(&mut (&buf[..]).chain(reader), &mut f);
        }
        let mut offset = 0;
        for len in self.cut(&buf) {
            f(&buf[offset..offset + len]).map_err(ChunkError::Sink)?;
            offset += len;
        }
        Ok(buf.len() as u64)
    }

    fn stream_each<R: Read, E>(
        &self,
        reader: &mut R,
        f: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, ChunkError<E>> {
        let mut total = 0u64;
        for chunk in self.stream(reader) {
            let chunk = chunk.map_err(ChunkError::Read)?;
            total += chunk.len() as u64;
            f(&chunk).map_err(ChunkError::Sink)?;
        }
        Ok(total)
    }
}

/// Why `Chunker::for_each_chunk` stopped: reading failed, or the callback
/// returned an error.
#[derive(Debug)]
pub enum ChunkError<E> {
    Read(std::io::Error),
    Sink(E),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Chunker {
        Chunker { min: 256, avg: 1024, max: 4096, seed: 42 }
    }

    use crate::test_fixtures::noise as pseudo_random;

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

    fn chunks_of(c: &Chunker, data: &[u8], hint: u64) -> (Vec<Vec<u8>>, u64) {
        let mut out = Vec::new();
        let n = c
            .for_each_chunk(&mut &data[..], hint, |d| -> Result<(), ()> {
                out.push(d.to_vec());
                Ok(())
            })
            .unwrap();
        (out, n)
    }

    proptest! {
        /// Whatever the size hint (right, too small, too large), the chunks
        /// are those of cutting the whole input.
        #[test]
        fn for_each_chunk_cuts_as_the_slice(len in 0usize..20_000, seed in any::<u64>(), hint in 0u64..20_000) {
            let data = pseudo_random(len, seed);
            let c = small();
            let expected: Vec<Vec<u8>> = {
                let mut off = 0;
                c.cut(&data).into_iter().map(|l| { off += l; data[off - l..off].to_vec() }).collect()
            };
            for h in [hint, len as u64] {
                let (got, n) = chunks_of(&c, &data, h);
                prop_assert_eq!(n, len as u64);
                prop_assert_eq!(&got, &expected);
            }
        }
    }

    #[test]
    fn for_each_chunk_reads_a_grown_small_file_without_loading_it_whole() {
        // A reader that claims size 10 but never ends: a file swapped for
        // `/dev/zero`. The callback stops it after a few chunks; had the
        // small-file branch read to the end, this would never return.
        let c = small();
        let mut seen = 0usize;
        let r = c.for_each_chunk(&mut std::io::repeat(7), 10, |d| {
            assert!(d.len() <= c.max);
            seen += 1;
            if seen == 5 { Err("enough") } else { Ok(()) }
        });
        assert!(matches!(r, Err(ChunkError::Sink("enough"))));
        assert_eq!(seen, 5);
    }

    #[test]
    fn for_each_chunk_passes_read_errors_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        for hint in [0, 1 << 20] {
            let r = small().for_each_chunk(&mut Failing, hint, |_| -> Result<(), ()> { Ok(()) });
            assert!(matches!(r, Err(ChunkError::Read(e)) if e.to_string() == "disk on fire"), "hint {hint}");
        }
    }

    /// The archiver and `archiver::content_ids` (what restore uses to call a
    /// file identical) give a file the same chunk ids, at every size around
    /// the switch from reading whole to streaming.
    #[test]
    fn chunker_ids_of_archiver_and_content_ids_agree() {
        use crate::archiver::{ParentChoice, Progress, SnapshotOptions, snapshot};
        use crate::format::NodeKind;

        let dir = tempfile::tempdir().unwrap();
        let repo = crate::test_fixtures::repo(dir.path());
        let max = repo.chunker().max;
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let sizes = [0, 1, 100, max - 1, max, max + 1, 3 * max + 17];
        for (i, size) in sizes.iter().enumerate() {
            std::fs::write(src.join(format!("f{i}")), pseudo_random(*size, i as u64 + 1)).unwrap();
        }
        let opts = SnapshotOptions {
            paths: vec![src.clone()],
            host: "h".into(),
            user: "u".into(),
            parent: ParentChoice::None,
            ..SnapshotOptions::default()
        };
        let out = snapshot(&repo, &opts, &Progress::default()).unwrap();
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        // Down from `/` to the folder holding the files.
        let mut tree = repo.load_tree(&out.snapshot.tree).unwrap();
        for part in src.strip_prefix("/").unwrap().components() {
            let name = part.as_os_str().as_encoded_bytes();
            let Some(NodeKind::Dir { subtree }) = tree.find(name).map(|n| &n.kind) else { panic!("no {part:?}") };
            tree = repo.load_tree(subtree).unwrap();
        }
        for (i, size) in sizes.iter().enumerate() {
            let name = format!("f{i}");
            let node = tree.find(name.as_bytes()).unwrap();
            let NodeKind::File { content, size: stored } = &node.kind else { panic!("{name} not a file") };
            assert_eq!(*stored, *size as u64);
            assert_eq!(&crate::archiver::content_ids(&repo, &src.join(&name)).unwrap(), content, "{name}");
            if *size > max {
                assert!(content.len() > 1);
            }
        }
    }

    #[test]
    fn seed_changes_boundaries() {
        let data = pseudo_random(100_000, 5);
        let a = small().cut(&data);
        let b = Chunker { seed: 43, ..small() }.cut(&data);
        assert_ne!(a, b);
    }
}
