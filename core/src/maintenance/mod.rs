//! Keeping a repository healthy: `check`, `forget` (removing snapshots by
//! policy or id), `stats`; `prune` and `repack` will live here too.

pub mod check;
pub mod forget;
pub mod stats;
