//! The live filesystem, knowing nothing of repositories: a node's metadata
//! read from and applied to disk, exclude rules, pseudo filesystems, and
//! reading files while skipping their holes and with a stall limit.

pub mod exclude;
pub mod fsmeta;
pub mod open;
pub mod path;
pub mod patterns;
pub mod pseudo;
pub mod sparse;
pub mod stall;
