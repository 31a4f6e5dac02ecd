//! Integration tests: the real `cairn` binary on generated trees in
//! temporary folders.

mod cache;
mod common;
mod default_repo;
mod faults;
mod kill;
mod roundtrip;
