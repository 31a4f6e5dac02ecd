//! Integration tests: the real `cairn` binary on generated trees in
//! temporary folders.

mod archiver_races;
mod blob_identity;
mod cache;
mod common;
mod damage;
mod default_repo;
mod empty_password;
mod excludes;
mod faults;
mod full_repository;
mod hooks;
mod kill;
mod names;
mod passwords;
mod restore_metadata;
mod restore_safety;
mod retention;
mod roundtrip;
mod selection;
mod sparse_large;
mod timetravel_ls_find_history;
mod timetravel_restore_diff;
mod write_faults;
