//! cairn-core: everything that knows the repository.
//!
//! Layers, each depending only on those above it (see `format-spec.md`):
//! ids and errors → crypto → on-disk formats → codec → backend → chunker →
//! pack → index → repository → tree model → filesystem → archiver · restorer ·
//! check.

pub mod archiver;
pub mod backend;
pub mod cache;
pub mod check;
pub mod chunker;
pub mod codec;
pub mod crypto;
pub mod diff;
pub mod error;
pub mod exclude;
pub mod find;
pub mod format;
pub mod fsmeta;
/// Fuzzing entry points: built for tests and for cargo-fuzz (`--cfg fuzzing`) only.
#[cfg(any(test, fuzzing))]
pub mod fuzz_entry;
pub mod history;
pub mod id;
pub mod index;
pub mod listing;
pub mod pack;
pub mod repo;
pub mod restorer;
pub mod snapshots;
pub mod sparse;
#[cfg(test)]
mod spec_vectors;
pub mod testhook;
pub mod timefmt;
pub mod tree;
pub mod walk;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;

/// The program version recorded in every snapshot.
pub const PROGRAM_VERSION: &str = env!("CARGO_PKG_VERSION");
