//! Deterministic inputs shared by the criterion benchmarks (no I/O, no randomness source).
//! Each bench binary includes this module and uses only part of it.
#![allow(dead_code)]

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// Incompressible bytes from a xorshift64 generator.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Source-code- and prose-like text: words from a small vocabulary, indentation and
/// line breaks, chosen by a xorshift generator. Compresses about 3-4x with zstd 3, like
/// the text files an agent edits.
pub fn text_like(len: usize, seed: u64) -> Vec<u8> {
    const VOCABULARY: &str = "fn let mut self return match impl struct pub use the agent file snapshot repository \
        chunk index pack tree error result value config session tool call read write path bytes hash key = { } ( ); \
        -> & // 0 1 42 Vec<u8> String Option Some(x) None Ok(()) if else for in while true false";
    let words: Vec<&str> = VOCABULARY.split_whitespace().collect();
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(len + 64);
    let mut col = 0usize;
    while out.len() < len {
        let r = next();
        if col == 0 {
            let indent = (r % 4) as usize * 4;
            out.extend(std::iter::repeat_n(b' ', indent));
            col = indent;
        }
        let word = words[(r >> 8) as usize % words.len()];
        out.extend_from_slice(word.as_bytes());
        col += word.len();
        if col > 60 + (r >> 40) as usize % 40 {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(b' ');
            col += 1;
        }
    }
    out.truncate(len);
    out
}
