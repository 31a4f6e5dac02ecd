//! Integration tests: the real `cairn` binary on generated trees in
//! temporary folders.

mod archiver_races;
mod blob_identity;
mod bounded_reads;
mod cache;
mod common;
mod copies_and_races;
mod damage;
mod default_record;
mod default_repo;
mod downgrade;
mod empty_password;
mod everyday;
mod excludes;
mod faults;
mod full_repository;
mod given_links;
mod hooks;
mod kill;
mod latest_covers;
mod names;
mod names_escape;
mod no_hang;
mod own_files;
mod passwords;
mod recorded_rules;
mod restore_metadata;
mod restore_safety;
mod roundtrip;
mod selection;
mod sparse_large;
mod timetravel_ls_find_history;
mod timetravel_restore_diff;
mod write_faults;
