//! The live filesystem, knowing nothing of repositories: a node's metadata
//! read from and applied to disk, exclude rules, and reading files while
//! skipping their holes.

pub mod exclude;
pub mod fsmeta;
pub mod open;
pub mod path;
pub mod patterns;
pub mod sparse;
