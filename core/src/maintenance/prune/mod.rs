//! `prune`: gives back the space of blobs no snapshot needs, and keeps the
//! number of index files small (format-spec.md §6, "Prune").
//!
//! - [`plan`] decides from the index alone (no data-pack reads; trees are
//!   read to learn what the snapshots need) which packs go whole, which are
//!   worth repacking (`--max-unused`, `--max-repack-size`) and which stay.
//! - [`execute`] carries the plan out in the order the spec makes a MUST:
//!   new packs durable, then the consolidated index durable, then the old
//!   index files removed, then the sweep (`sweep.rs`), which deletes packs
//!   no current index lists — only when no other run could still need them.
//!
//! A prune killed at any step leaves a consistent repository; the next
//! prune finishes the job.

mod execute;
mod index_files;
mod plan;
mod recover;
mod repack;
mod sweep;
mod walk;

pub use execute::{PruneReport, execute};
pub use plan::{PrunePlan, RepackPack, plan};
pub use sweep::{SweepOutcome, SweepReport};

use crate::error::{Error, Result};

/// How much unused space may stay in packs that are kept (`--max-unused`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxUnused {
    /// At most this share (0 ≤ p < 100) of the repository after prune.
    Percent(f64),
    /// At most this many bytes.
    Bytes(u64),
    /// Any amount: no pack is repacked for its unused bytes.
    Unlimited,
}

impl Default for MaxUnused {
    fn default() -> Self {
        MaxUnused::Percent(5.0)
    }
}

impl MaxUnused {
    /// `5%`, `50M` (a size, see [`parse_size`]) or `unlimited`.
    pub fn parse(text: &str) -> Result<MaxUnused> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(MaxUnused::Unlimited);
        }
        if let Some(number) = text.strip_suffix('%') {
            return match number.trim().parse::<f64>() {
                Ok(p) if (0.0..100.0).contains(&p) => Ok(MaxUnused::Percent(p)),
                _ => Err(Error::InvalidArgument(format!(
                    "--max-unused {text:?}: a percentage must be at least 0% and below 100%"
                ))),
            };
        }
        parse_size(text).map(MaxUnused::Bytes).map_err(|_| {
            Error::InvalidArgument(format!(
                "cannot read --max-unused {text:?}; give a percentage (5%), a size (50M, 2G) or `unlimited`"
            ))
        })
    }

    /// The unused bytes allowed beside `used` bytes: `p %` of the whole
    /// (used + unused) is `unused ≤ p / (100 − p) × used`.
    pub fn limit(&self, used: u64) -> u64 {
        match *self {
            MaxUnused::Percent(p) => (used as f64 * p / (100.0 - p)).floor() as u64,
            MaxUnused::Bytes(n) => n,
            MaxUnused::Unlimited => u64::MAX,
        }
    }
}

/// A size: a number of bytes, optionally followed by `K`, `M`, `G` or `T`
/// (powers of 1024; `KiB`, `MB` and friends read the same).
pub fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let bad = || Error::InvalidArgument(format!("cannot read the size {text:?}; write it as 500K, 50M, 2G or 1T"));
    let number: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    number.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// What prune may do: the limits of the plan.
#[derive(Clone, Debug, Default)]
pub struct PruneOptions {
    pub max_unused: MaxUnused,
    /// At most this many bytes of packs are repacked (`None`: no limit).
    pub max_repack_size: Option<u64>,
    /// Snapshots to plan as if they were gone (the plan of
    /// `forget --prune --dry-run`); a plan made so is only printed.
    pub forgotten: Vec<crate::id::Id>,
}

#[cfg(test)]
mod tests;
