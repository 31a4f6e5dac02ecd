//! cairn-core: everything that knows the repository.
//!
//! # The ladder
//!
//! Each folder (or file) of `src/` is one rung. A rung uses only the rungs
//! below it, never one above nor another on its own line; `tests/ladder.rs`
//! reads every `crate::` path of the library against this drawing, so keep
//! the block below as it is parsed (top rung first, names before the dash).
//! `ARCHITECTURE.md` tells what each rung owns and where data flows.
//!
//! ```text
//! maintenance copy     — check, forget, stats, prune · copy between repositories
//! browse restorer      — diff, ls, find, history · restore
//! archiver             — snapshot: walk, chunk, save, write the manifest
//! snapshot             — listing and selection, time forms, tree model
//! repo                 — open/init, keys, index, packs, blob saver, cache
//! fs                   — the live filesystem
//! backend              — storage: bytes by kind and name (local, rest, s3, memory, faults)
//! format               — on-disk structures, crypto, codec, chunker
//! testhook             — test-only fault points (empty without `testing`)
//! interrupt            — a snapshot is written whole or not at all when a signal stops the run
//! error                — typed errors
//! id                   — 32-byte ids and their hex form
//! names                — file names safe to print, and read back
//! ```
//!
//! Test-only modules (`fuzz_entry`, `spec_vectors`, `test_fixtures`, each
//! module's `tests`) may reach anywhere: they are not part of the ladder.

#![forbid(unsafe_code)]

pub mod archiver;
pub mod backend;
pub mod browse;
pub mod copy;
pub mod error;
pub mod format;
pub mod fs;
/// Fuzzing entry points: built for tests (the `testing` feature) and for
/// cargo-fuzz (`--cfg fuzzing`) only.
#[cfg(any(test, fuzzing, feature = "testing"))]
pub mod fuzz_entry;
pub mod id;
pub mod interrupt;
pub mod maintenance;
pub mod names;
pub mod repo;
pub mod restorer;
pub mod snapshot;
#[cfg(test)]
mod test_fixtures;
pub mod testhook;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;

/// The program version recorded in every snapshot.
pub const PROGRAM_VERSION: &str = env!("CARGO_PKG_VERSION");
