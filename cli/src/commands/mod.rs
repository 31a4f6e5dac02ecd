//! One module per subcommand; each turns arguments into a core call and
//! prints the result.

pub mod alarm;
pub mod check;
pub mod diff;
pub mod dump;
pub mod find;
pub mod forget;
pub mod history;
pub mod init;
pub mod key;
pub mod ls;
pub mod pin;
pub mod policy;
pub mod prune;
pub mod repair;
pub mod restore;
pub mod snapshot;
pub mod snapshots;
pub mod stats;
