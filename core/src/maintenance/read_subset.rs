//! `check --read-data-subset`: which packs to read, with restic's meanings.
//! `N/M` is a fixed slice chosen by pack id, so that running 1/M, 2/M … M/M
//! (one a week, say) reads every pack exactly once, and a pack always falls
//! in the same slice; `PCT%` and `SIZE` pick random packs each run, which
//! over many runs reaches every pack without any state to keep.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::id::Id;

/// The part of the packs whose data one check reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadSubset {
    /// The packs whose id, read as a number, is `n - 1` modulo `m` (1 ≤ n ≤ m).
    Slice { n: u64, m: u64 },
    /// This share (0 < pct ≤ 100) of the packs, rounded down but at least
    /// one, chosen at random.
    Percent(f64),
    /// Random packs until their sizes add up to this many bytes (the last
    /// one may go over; at least one pack).
    Size(u64),
}

impl FromStr for ReadSubset {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let s = text.trim();
        let bad = |why: &str| Error::InvalidArgument(format!("--read-data-subset {text:?}: {why}"));
        if let Some((n, m)) = s.split_once('/') {
            let (Ok(n), Ok(m)) = (n.trim().parse::<u64>(), m.trim().parse::<u64>()) else {
                return Err(bad("N/M takes two whole numbers, e.g. 1/4"));
            };
            if m == 0 || n == 0 || n > m {
                return Err(bad("N/M needs 1 ≤ N ≤ M"));
            }
            return Ok(ReadSubset::Slice { n, m });
        }
        if let Some(pct) = s.strip_suffix('%') {
            let pct: f64 = pct.trim().parse().map_err(|_| bad("not a percentage, e.g. 10% or 2.5%"))?;
            if !(pct > 0.0 && pct <= 100.0) {
                return Err(bad("the percentage must be more than 0 and at most 100"));
            }
            return Ok(ReadSubset::Percent(pct));
        }
        match crate::fs::exclude::parse_size(s) {
            Ok(0) => Err(bad("the size must be more than zero")),
            Ok(bytes) => Ok(ReadSubset::Size(bytes)),
            Err(_) => Err(bad("expected N/M (e.g. 1/4), a percentage (10%) or a size (500M, 2G)")),
        }
    }
}

impl fmt::Display for ReadSubset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadSubset::Slice { n, m } => write!(f, "{n}/{m}"),
            ReadSubset::Percent(p) => write!(f, "{p}%"),
            ReadSubset::Size(b) => write!(f, "{b} bytes"),
        }
    }
}

impl ReadSubset {
    /// The subset a check on a schedule reads this time, and the `next`
    /// to keep for the one after: an `N/M` subset rotates from slice `next`
    /// (`N` when `next` is not a slice of `M`), so that successive checks
    /// read every pack within M; other forms are the same every time.
    pub fn rotation(&self, next: u64) -> (ReadSubset, u64) {
        match *self {
            ReadSubset::Slice { n: first, m } => {
                let n = if (1..=m).contains(&next) { next } else { first };
                (ReadSubset::Slice { n, m }, n % m + 1)
            }
            other => (other, next),
        }
    }

    /// The packs of `packs` (id, size) to read.
    pub fn select(&self, packs: &[(Id, u64)]) -> Result<HashSet<Id>> {
        match *self {
            ReadSubset::Slice { n, m } => Ok(packs.iter().filter(|(id, _)| in_slice(id, n, m)).map(|p| p.0).collect()),
            ReadSubset::Percent(pct) => {
                let count = ((packs.len() as f64) * pct / 100.0).floor() as usize;
                let count = count.max(1).min(packs.len());
                Ok(shuffled(packs)?.into_iter().take(count).map(|p| p.0).collect())
            }
            ReadSubset::Size(limit) => {
                let mut total = 0u64;
                let mut chosen = HashSet::new();
                for (id, size) in shuffled(packs)? {
                    if total >= limit {
                        break;
                    }
                    total = total.saturating_add(size);
                    chosen.insert(id);
                }
                Ok(chosen)
            }
        }
    }
}

/// Whether `id` falls in slice `n` of `m`. The first eight bytes of a pack
/// id are uniformly distributed (it is a hash), so slices are even; restic
/// uses the first byte alone, which caps M at 256.
pub fn in_slice(id: &Id, n: u64, m: u64) -> bool {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id.0[..8]);
    u64::from_be_bytes(first) % m == n - 1
}

/// The packs in a random order: each gets a random key from the system's
/// generator and they are sorted by it (no extra crate for a shuffle).
fn shuffled(packs: &[(Id, u64)]) -> Result<Vec<(Id, u64)>> {
    let mut keys = vec![0u8; packs.len() * 8];
    getrandom::fill(&mut keys).map_err(|e| Error::Random(e.to_string()))?;
    let mut keyed: Vec<(u64, (Id, u64))> = packs
        .iter()
        .zip(keys.chunks_exact(8))
        .map(|(p, k)| (u64::from_le_bytes(k.try_into().unwrap_or_default()), *p))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    Ok(keyed.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packs(seeds: &[[u8; 32]]) -> Vec<(Id, u64)> {
        seeds.iter().map(|s| (Id(*s), 100)).collect()
    }

    proptest! {
        #[test]
        fn the_slices_1_to_m_partition_the_packs(seeds in proptest::collection::vec(any::<[u8; 32]>(), 0..200), m in 1u64..40) {
            let all = packs(&seeds);
            let mut seen: HashSet<Id> = HashSet::new();
            let mut total = 0;
            for n in 1..=m {
                let slice = ReadSubset::Slice { n, m }.select(&all).unwrap();
                total += slice.len();
                seen.extend(slice);
            }
            let distinct: HashSet<Id> = all.iter().map(|p| p.0).collect();
            prop_assert_eq!(total, distinct.len());
            prop_assert_eq!(seen, distinct);
        }
    }

    #[test]
    fn a_rotation_visits_every_slice_then_starts_again() {
        let s = ReadSubset::Slice { n: 2, m: 3 };
        let (first, next) = s.rotation(0);
        assert_eq!((first, next), (ReadSubset::Slice { n: 2, m: 3 }, 3));
        let (second, next) = s.rotation(next);
        assert_eq!((second, next), (ReadSubset::Slice { n: 3, m: 3 }, 1));
        assert_eq!(s.rotation(next), (ReadSubset::Slice { n: 1, m: 3 }, 2));
        assert_eq!(s.rotation(9), (ReadSubset::Slice { n: 2, m: 3 }, 3), "a next out of range starts at N");
        assert_eq!(ReadSubset::Percent(5.0).rotation(4), (ReadSubset::Percent(5.0), 4));
    }

    #[test]
    fn a_slice_is_the_same_every_time() {
        let all = packs(&[[1; 32], [2; 32], [3; 32], [200; 32], [7; 32]]);
        let a = ReadSubset::Slice { n: 2, m: 3 }.select(&all).unwrap();
        assert_eq!(a, ReadSubset::Slice { n: 2, m: 3 }.select(&all).unwrap());
    }

    #[test]
    fn percent_and_size_take_as_many_as_asked_and_at_least_one() {
        let all: Vec<(Id, u64)> = (0..20u8).map(|i| (Id([i; 32]), 10)).collect();
        assert_eq!(ReadSubset::Percent(25.0).select(&all).unwrap().len(), 5);
        assert_eq!(ReadSubset::Percent(0.1).select(&all).unwrap().len(), 1);
        assert_eq!(ReadSubset::Percent(100.0).select(&all).unwrap().len(), 20);
        assert_eq!(ReadSubset::Size(35).select(&all).unwrap().len(), 4);
        assert_eq!(ReadSubset::Size(1).select(&all).unwrap().len(), 1);
        assert_eq!(ReadSubset::Size(1 << 40).select(&all).unwrap().len(), 20);
        assert!(ReadSubset::Percent(50.0).select(&[]).unwrap().is_empty());
    }

    #[test]
    fn parses_restics_forms_and_refuses_others() {
        assert_eq!("1/4".parse::<ReadSubset>().unwrap(), ReadSubset::Slice { n: 1, m: 4 });
        assert_eq!("2.5%".parse::<ReadSubset>().unwrap(), ReadSubset::Percent(2.5));
        assert_eq!("500M".parse::<ReadSubset>().unwrap(), ReadSubset::Size(500 << 20));
        assert_eq!("1G".parse::<ReadSubset>().unwrap(), ReadSubset::Size(1 << 30));
        for bad in ["0/4", "5/4", "1/0", "x/2", "0%", "101%", "abc", "0", "-3%"] {
            assert!(bad.parse::<ReadSubset>().is_err(), "{bad}");
        }
    }
}
