//! Corpus sizes: the [`Scale`] presets, the numbers behind each, and how the total is
//! shared among content categories.

use std::fmt;
use std::str::FromStr;

const KB: u64 = 1024;
const MB: u64 = 1024 * KB;
const GB: u64 = 1024 * MB;

/// How big a generated workspace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scale {
    /// ~5 MB / ~500 files, 2 projects: unit tests.
    Tiny,
    /// ~60 MB / ~6k files, 6 projects: CI.
    Small,
    /// ~1 GB / ~50k files, 24 projects.
    Medium,
    /// ~8 GB / ~300k files, 96 projects.
    Large,
}

/// The numbers behind a [`Scale`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// Target total bytes, node_modules and target included.
    pub bytes: u64,
    /// Target total file count, node_modules and target included.
    pub files: u64,
    pub projects: usize,
    /// Largest session transcript written by `init`.
    pub transcript_max: usize,
    /// Multiplier for the byte volumes of `tick` (medium = 1).
    pub volume: f64,
}

impl Scale {
    pub const ALL: [Scale; 4] = [Scale::Tiny, Scale::Small, Scale::Medium, Scale::Large];

    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        }
    }

    pub(crate) fn params(self) -> Params {
        let (bytes, files, projects, transcript_max, volume) = match self {
            Scale::Tiny => (5 * MB, 500, 2, 256 * KB, 0.02),
            Scale::Small => (60 * MB, 6_000, 6, 4 * MB, 0.1),
            Scale::Medium => (GB, 50_000, 24, 20 * MB, 1.0),
            Scale::Large => (8 * GB, 300_000, 96, 20 * MB, 1.0),
        };
        Params { bytes, files, projects, transcript_max: transcript_max as usize, volume }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown scale name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseScaleError(String);

impl fmt::Display for ParseScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scale {:?} (expected tiny, small, medium or large)", self.0)
    }
}

impl std::error::Error for ParseScaleError {}

impl FromStr for Scale {
    type Err = ParseScaleError;

    fn from_str(s: &str) -> Result<Scale, ParseScaleError> {
        Scale::ALL
            .into_iter()
            .find(|sc| sc.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseScaleError(s.to_string()))
    }
}

/// Share of the total bytes and of the total file count for each content category.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Share {
    pub bytes: f64,
    pub files: f64,
}

const fn share(bytes: f64, files: f64) -> Share {
    Share { bytes, files }
}

/// Session transcripts (the file count follows from their size distribution).
pub(crate) const TRANSCRIPTS: Share = share(0.25, 0.0);
/// Todos, shell snapshots, sqlite-like stores, settings.
pub(crate) const AGENT_MISC: Share = share(0.02, 0.03);
pub(crate) const SOURCE: Share = share(0.14, 0.31);
pub(crate) const DOCS: Share = share(0.05, 0.10);
pub(crate) const CONFIG: Share = share(0.02, 0.05);
pub(crate) const GIT: Share = share(0.16, 0.13);
pub(crate) const ASSETS: Share = share(0.08, 0.02);
pub(crate) const NODE_MODULES: Share = share(0.10, 0.29);
pub(crate) const TARGET: Share = share(0.18, 0.07);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in Scale::ALL {
            assert_eq!(s.to_string().parse::<Scale>(), Ok(s));
        }
        assert_eq!("Medium".parse::<Scale>(), Ok(Scale::Medium));
        assert!("huge".parse::<Scale>().is_err());
    }

    #[test]
    fn shares_add_up() {
        let all = [TRANSCRIPTS, AGENT_MISC, SOURCE, DOCS, CONFIG, GIT, ASSETS, NODE_MODULES, TARGET];
        let b: f64 = all.iter().map(|s| s.bytes).sum();
        let f: f64 = all.iter().map(|s| s.files).sum();
        assert!((b - 1.0).abs() < 1e-9 && (f - 1.0).abs() < 1e-9, "{b} {f}");
    }
}
