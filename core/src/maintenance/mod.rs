//! Keeping a repository healthy: `check`, `forget` (removing snapshots by
//! policy or id), `stats`; `prune` and `repack` will live here too.

pub mod check;
mod check_summary;
pub mod forget;
mod read_data;
pub mod repair;
pub mod stats;
