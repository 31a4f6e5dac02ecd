//! Deterministic generator of realistic "AI coding agent workspace" trees and their
//! hourly churn, for cairn's integration tests and benchmarks.
//!
//! A workspace looks like the home directory of someone running coding agents:
//!
//! ```text
//! ROOT/.cairn-testgen            scale and seed (read by `tick`)
//! ROOT/.claude/                  settings.json, CLAUDE.md, todos/, shell-snapshots/,
//!                                sqlite-like stores, projects/<slug>/<uuid>.jsonl transcripts
//! ROOT/projects/pNN-<name>/      source (rs/py/ts/go/sh), docs, configs, .git/, images,
//!                                node_modules/ and target/ (what users exclude)
//! ```
//!
//! [`init()`] is a pure function of (scale, seed); [`tick()`] applies one simulated hour
//! of agent activity and reports exactly what changed; [`disaster`] deletes every
//! markdown file. All mtimes are synthetic: `init` dates files before [`T0`], and
//! `tick(hour)` stamps what it writes at `T0 + hour * 3600`.

mod binary;
mod deps;
mod fsutil;
mod init;
mod journal;
mod lang;
mod meta;
mod ops;
mod project;
mod rng;
mod scale;
mod structured;
mod text;
mod tick;
mod transcript;
mod vocab;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use fsutil::EXCLUDED_DIRS;
pub use journal::TickReport;
pub use meta::META_FILE;
pub use ops::Stats;
pub use scale::{ParseScaleError, Scale};

/// 2025-06-01T00:00:00Z: the synthetic "now" at the end of `init`.
pub const T0: u64 = 1_748_736_000;

/// What `init` wrote (the metadata file not included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub files: u64,
    pub bytes: u64,
}

/// Creates a fresh workspace under `root` (created if missing; it must be empty).
/// Pure function of (scale, seed): contents, names and mtimes (of files and
/// directories) are identical on every run and platform.
pub fn init(root: &Path, scale: Scale, seed: u64) -> io::Result<Generated> {
    init::run(root, scale, seed)
}

/// Applies hour `hour` (1, 2, 3, ... applied in order) of agent activity. Returns what
/// it did. Deterministic given (scale, seed, hour) and the tree state. Never changes
/// anything under `node_modules/` or `target/`.
pub fn tick(root: &Path, hour: u32) -> io::Result<TickReport> {
    tick::run(root, hour)
}

/// Deletes every `*.md` file (an agent gone wrong), excluded folders included.
/// Returns the deleted paths (relative, sorted as paths, component by component).
pub fn disaster(root: &Path) -> io::Result<Vec<PathBuf>> {
    ops::disaster(root)
}

/// File and byte totals of a workspace, with and without the excluded folders.
pub fn stats(root: &Path) -> io::Result<Stats> {
    ops::stats(root)
}
