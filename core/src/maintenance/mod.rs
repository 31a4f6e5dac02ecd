//! Keeping a repository healthy: `check` now; `forget`, `prune` and
//! `repack` will live here too.

pub mod check;
mod check_summary;
pub mod repair;
