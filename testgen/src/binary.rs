//! Binary content: incompressible files (git packs, loose objects, images) and partly
//! compressible ones (sqlite-like stores, build outputs, large artifacts).

use crate::rng::Rng;

/// `size` random bytes.
pub(crate) fn random(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    rng.fill(&mut v);
    v
}

/// `magic` followed by random bytes, `size` in total.
fn with_header(rng: &mut Rng, magic: &[u8], size: usize) -> Vec<u8> {
    let mut v = random(rng, size.max(magic.len()));
    v[..magic.len()].copy_from_slice(magic);
    v
}

/// A PNG-looking file: signature, an IHDR chunk, then incompressible "pixel" data.
pub(crate) fn png(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(41);
    head.extend_from_slice(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR");
    let w = 64 + rng.below(1920) as u32;
    let h = 64 + rng.below(1080) as u32;
    head.extend_from_slice(&w.to_be_bytes());
    head.extend_from_slice(&h.to_be_bytes());
    head.extend_from_slice(&[8, 6, 0, 0, 0]);
    head.extend_from_slice(&(rng.u64() as u32).to_be_bytes()); // "CRC"
    head.extend_from_slice(b"\0\0\0\0IDAT");
    let mut v = with_header(rng, &head, size);
    if v.len() >= head.len() + 12 {
        let n = v.len();
        v[n - 12..].copy_from_slice(b"\0\0\0\0IEND\xae\x42\x60\x82");
    }
    v
}

pub(crate) fn jpeg(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = with_header(rng, b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01", size);
    if v.len() > 16 {
        let n = v.len();
        v[n - 2..].copy_from_slice(b"\xff\xd9");
    }
    v
}

pub(crate) fn woff2(rng: &mut Rng, size: usize) -> Vec<u8> {
    with_header(rng, b"wOF2\0\x01\0\0", size)
}

/// A git pack: `PACK`, version 2, an object count, then compressed (random) data.
pub(crate) fn git_pack(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut head = b"PACK\0\0\0\x02".to_vec();
    head.extend_from_slice(&((size / 900).max(1) as u32).to_be_bytes());
    with_header(rng, &head, size)
}

pub(crate) fn git_idx(rng: &mut Rng, size: usize) -> Vec<u8> {
    with_header(rng, b"\xfftOc\0\0\0\x02", size)
}

/// A loose git object: a zlib header and deflated (random-looking) content.
pub(crate) fn git_loose(rng: &mut Rng, size: usize) -> Vec<u8> {
    with_header(rng, b"\x78\x01", size)
}

/// Binary that is partly random and partly slices of `text` (symbol tables, strings,
/// embedded docs), in 4 KiB segments. `random_frac` is the share of random segments.
pub(crate) fn mixed(rng: &mut Rng, text: &[u8], size: usize, random_frac: f64) -> Vec<u8> {
    const SEG: usize = 4096;
    let mut v = vec![0u8; size];
    for seg in v.chunks_mut(SEG) {
        let r = rng.f64();
        if r < random_frac || text.len() < SEG {
            rng.fill(seg);
        } else if r < random_frac + (1.0 - random_frac) * 0.3 {
            // Structured records: small headers and zero padding.
            for (i, rec) in seg.chunks_mut(64).enumerate() {
                rec[0] = (i & 0xff) as u8;
                let n = rec.len().min(9);
                let x = rng.u64().to_le_bytes();
                rec[1..n].copy_from_slice(&x[..n - 1]);
            }
        } else {
            let at = rng.below(text.len() - seg.len());
            seg.copy_from_slice(&text[at..at + seg.len()]);
        }
    }
    v
}

/// A sqlite-like database: a 100-byte header, then 4 KiB pages of records that hold
/// text and ids, with a few random (overflow/blob) pages.
pub(crate) fn sqlite_like(rng: &mut Rng, text: &[u8], size: usize) -> Vec<u8> {
    const PAGE: usize = 4096;
    let size = size.div_ceil(PAGE).max(2) * PAGE;
    let mut v = mixed(rng, text, size, 0.15);
    let mut head = [0u8; 100];
    head[..16].copy_from_slice(b"SQLite format 3\0");
    head[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    head[18] = 1;
    head[19] = 1;
    head[28..32].copy_from_slice(&((size / PAGE) as u32).to_be_bytes());
    v[..100].copy_from_slice(&head);
    for (i, page) in v.chunks_mut(PAGE).enumerate().skip(1) {
        page[0] = if i % 7 == 0 { 0x05 } else { 0x0d };
        page[1..3].copy_from_slice(&[0, 0]);
        page[3..5].copy_from_slice(&((i % 60) as u16).to_be_bytes());
    }
    v
}

/// A large build artifact or dataset: 1 MiB segments, mostly random, some repeating
/// earlier segments (dedupable within the file) and some text.
pub(crate) fn artifact(rng: &mut Rng, text: &[u8], size: usize) -> Vec<u8> {
    const SEG: usize = 1 << 20;
    let mut v = vec![0u8; size];
    let mut done = 0usize;
    while done < size {
        let n = SEG.min(size - done);
        let r = rng.f64();
        if r < 0.2 && done >= SEG {
            let from = rng.below(done / SEG) * SEG;
            v.copy_within(from..from + n, done);
        } else if r < 0.3 {
            let part = &mut v[done..done + n];
            for chunk in part.chunks_mut(text.len().max(1)) {
                let at = rng.below(text.len().saturating_sub(chunk.len()) + 1);
                if text.len() >= chunk.len() {
                    chunk.copy_from_slice(&text[at..at + chunk.len()]);
                } else {
                    rng.fill(chunk);
                }
            }
        } else {
            rng.fill(&mut v[done..done + n]);
        }
        done += n;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_headers() {
        let mut r = Rng::derive(1, "bin", 0);
        let text = vec![b'a'; 1 << 20];
        assert_eq!(png(&mut r, 5000).len(), 5000);
        assert!(png(&mut r, 5000).starts_with(b"\x89PNG"));
        assert_eq!(git_pack(&mut r, 10).len(), 12);
        assert_eq!(mixed(&mut r, &text, 10_000, 0.5).len(), 10_000);
        let db = sqlite_like(&mut r, &text, 10_000);
        assert!(db.starts_with(b"SQLite format 3\0") && db.len() % 4096 == 0);
        assert_eq!(artifact(&mut r, &text, 3 << 20 | 5).len(), 3 << 20 | 5);
    }
}
