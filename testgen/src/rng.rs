//! Deterministic randomness.
//!
//! Every random stream is a ChaCha8 generator whose key is derived from the corpus seed
//! plus a label and an index, so output never depends on thread scheduling, readdir
//! order or the platform. Distributions use only basic IEEE arithmetic (no `exp`/`ln`
//! from the platform libm), so they are bit-for-bit reproducible everywhere.

use rand::rngs::ChaCha8Rng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};

/// A seeded random stream with the handful of helpers the generators need.
pub(crate) struct Rng(ChaCha8Rng);

/// SplitMix64 finaliser: a cheap, well-mixing 64-bit hash step.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream named `label`/`index` of the corpus with seed `seed`.
    pub(crate) fn derive(seed: u64, label: &str, index: u64) -> Rng {
        let mut h = splitmix(seed);
        for &b in label.as_bytes() {
            h = splitmix(h ^ u64::from(b));
        }
        h = splitmix(h ^ splitmix(index));
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            h = splitmix(h);
            chunk.copy_from_slice(&h.to_le_bytes());
        }
        Rng(ChaCha8Rng::from_seed(key))
    }

    /// An independent child stream (consumes one value from this one).
    pub(crate) fn fork(&mut self, label: &str) -> Rng {
        let s = self.u64();
        Rng::derive(s, label, 0)
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0 or 1).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.0.random_range(0..n as u64) as usize }
    }

    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`).
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo { lo } else { lo + self.below(hi - lo + 1) }
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn f64(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// An index in `0..n` skewed toward 0 (density ~ -ln x): a few items dominate, like
    /// word frequencies in real text.
    pub(crate) fn skewed(&mut self, n: usize) -> usize {
        let x = self.f64() * self.f64();
        ((x * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Indexing panics only on an empty slice; callers pass non-empty tables.
        &items[self.below(items.len())]
    }

    /// A copy of one element of a non-empty slice.
    pub(crate) fn pick_copy<T: Copy>(&mut self, items: &[T]) -> T {
        *self.pick(items)
    }

    /// One element of a non-empty slice, skewed toward the front.
    pub(crate) fn pick_skewed<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // As in `pick`: callers pass non-empty tables.
        &items[self.skewed(items.len())]
    }

    /// `k` distinct indices of `0..n` (all of them, shuffled, when `k >= n`).
    pub(crate) fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }

    /// Roughly log-uniform in `lo..=hi`.
    pub(crate) fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo || lo == 0 {
            return self.range(lo, hi);
        }
        let span = log2(hi as f64 / lo as f64);
        let v = lo as f64 * exp2(self.f64() * span);
        (v as usize).clamp(lo, hi)
    }

    /// A positive weight with a log-normal-like spread (`sigma` in powers of two).
    pub(crate) fn spread(&mut self, sigma: f64) -> f64 {
        // Irwin-Hall: the sum of four uniforms, centred and scaled to unit variance.
        let n = (self.f64() + self.f64() + self.f64() + self.f64() - 2.0) * 1.732_050_8;
        exp2(sigma * n)
    }
}

/// 2^x with a piecewise-linear fraction: deterministic, accurate enough for sizes.
pub(crate) fn exp2(x: f64) -> f64 {
    let i = x.floor();
    let frac = x - i;
    (1.0 + frac) * 2f64.powi(i as i32)
}

/// Inverse of [`exp2`] for positive `x`.
fn log2(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut e = 0i32;
    let mut m = x;
    while m >= 2.0 {
        m /= 2.0;
        e += 1;
    }
    while m < 1.0 {
        m *= 2.0;
        e -= 1;
    }
    f64::from(e) + (m - 1.0)
}

/// Splits about `total` bytes over `count` files with a log-normal-like spread, each
/// size clamped to `lo..=hi`.
pub(crate) fn split_sizes(rng: &mut Rng, total: u64, count: usize, lo: usize, hi: usize, sigma: f64) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    let weights: Vec<f64> = (0..count).map(|_| rng.spread(sigma)).collect();
    let mut sizes: Vec<f64> = weights.clone();
    // Two passes: scale to the total, clamp, and rescale what is left unclamped.
    let mut scale = total as f64 / weights.iter().sum::<f64>();
    for _ in 0..2 {
        for (s, w) in sizes.iter_mut().zip(&weights) {
            *s = (w * scale).clamp(lo as f64, hi as f64);
        }
        let sum: f64 = sizes.iter().sum();
        if sum <= 0.0 {
            break;
        }
        scale *= total as f64 / sum;
    }
    sizes.into_iter().map(|s| s as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::derive(1, "x", 0).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::derive(1, "x", 0).u64(), Rng::derive(1, "x", 1).u64());
        assert_ne!(Rng::derive(1, "x", 0).u64(), Rng::derive(2, "x", 0).u64());
        assert_ne!(Rng::derive(1, "x", 0).u64(), Rng::derive(1, "y", 0).u64());
    }

    #[test]
    fn sizes_roughly_sum_to_total() {
        let mut r = Rng::derive(7, "sizes", 0);
        let s = split_sizes(&mut r, 1_000_000, 100, 100, 200_000, 1.0);
        let sum: usize = s.iter().sum();
        assert!((800_000..1_200_000).contains(&sum), "{sum}");
        assert!(s.iter().all(|&x| (100..=200_000).contains(&x)));
    }

    #[test]
    fn log_uniform_in_bounds() {
        let mut r = Rng::derive(3, "lu", 0);
        for _ in 0..1000 {
            let v = r.log_uniform(10_000, 256 * 1024);
            assert!((10_000..=256 * 1024).contains(&v));
        }
    }
}
