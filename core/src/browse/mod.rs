//! Reading snapshots without restoring them: `diff`, `ls`, `find`,
//! `history`, text contents, and the shared walking of a snapshot by path;
//! and `cat`, any repository object decoded for debugging.

pub mod cat;
pub mod diff;
pub mod dump;
pub mod find;
pub mod hints;
pub mod history;
pub mod listing;
pub mod walk;
