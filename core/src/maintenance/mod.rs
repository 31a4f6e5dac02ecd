//! Keeping a repository healthy: `check`, `forget` (removing snapshots by
//! policy or id), `stats`, `prune` (repacking and deleting what no
//! snapshot needs).

pub mod check;
mod check_summary;
pub mod drill;
pub mod forget;
pub mod locked;
pub mod prune;
mod read_data;
pub mod read_subset;
pub mod repair;
pub mod server_side;
pub mod stats;
