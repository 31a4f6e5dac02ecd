//! Snapshots as a person names and picks them: the listing and its
//! selection grammar, moments in time as typed, and the tree model (paths a
//! snapshot records, entries found in its trees).

pub mod links;
pub mod pins;
pub mod policy_store;
pub mod resolve;
pub mod retention;
pub mod select;
pub mod snapshots;
pub mod timefmt;
pub mod tree;
