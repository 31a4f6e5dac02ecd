//! Keeping a repository healthy: `check` now; `forget`, `prune` and
//! `repack` will live here too.

pub mod check;
mod check_summary;
mod read_data;
pub mod repair;
