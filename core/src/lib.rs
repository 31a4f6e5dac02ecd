//! cairn-core: everything that knows the repository.
//!
//! Layers, each depending only on those above it (see `format-spec.md`):
//! ids and errors → format (crypto, on-disk formats, codec, chunker) →
//! backend → fs → repo (pack, index, cache) → snapshot (listing, time forms,
//! tree model) → archiver → browse (diff, ls, find, history) · restorer →
//! maintenance (check).

pub mod archiver;
pub mod backend;
pub mod browse;
pub mod error;
pub mod format;
pub mod fs;
/// Fuzzing entry points: built for tests and for cargo-fuzz (`--cfg fuzzing`) only.
#[cfg(any(test, fuzzing))]
pub mod fuzz_entry;
pub mod id;
pub mod locations;
pub mod maintenance;
pub mod repo;
pub mod restorer;
pub mod snapshot;
#[cfg(test)]
mod spec_vectors;
pub mod testhook;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;

// The modules' former flat paths (`cairn_core::diff`, …), kept so that the
// CLI and the tests need not change with the layout.
pub use browse::{diff, find, history, listing, walk};
pub use format::{chunker, codec, crypto};
pub use fs::{exclude, fsmeta, sparse};
pub use maintenance::check;
pub use repo::{cache, index, pack};
pub use snapshot::{snapshots, timefmt, tree};

/// The program version recorded in every snapshot.
pub const PROGRAM_VERSION: &str = env!("CARGO_PKG_VERSION");
