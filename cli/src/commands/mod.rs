//! One module per subcommand; each turns arguments into a core call and
//! prints the result.

pub mod alarm;
pub mod cat;
pub mod check;
pub mod completions;
pub mod config;
pub mod copy;
pub mod diff;
pub mod dump;
pub mod find;
pub mod forget;
pub mod history;
pub mod init;
pub mod key;
pub mod ls;
pub mod man;
pub mod pin;
pub mod policy;
pub mod prune;
pub mod repair;
pub mod restore;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod snapshot;
pub mod snapshots;
pub mod stats;
pub mod status;
