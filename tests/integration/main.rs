//! Integration tests: the real `cairn` binary on generated trees in
//! temporary folders.

mod common;
mod default_repo;
mod faults;
mod kill;
mod roundtrip;
