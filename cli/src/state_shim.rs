//! Stand-in for part A's `state` module (profile state), holding only what
//! the alarm needs: `record_alarm` and `AlarmRecord`, with A's signature and
//! fields. The merge keeps A's `cli/src/state.rs` and drops this file. Until
//! then the record is written nowhere: without A there are no profiles.

use anyhow::Result;

/// An alarm as the profile's state keeps it (A's fields).
#[derive(Clone, Debug)]
#[allow(dead_code, reason = "read by part A's state module, which replaces this shim")]
pub struct AlarmRecord {
    pub time: String,
    /// The snapshot that saw the deletion.
    pub snapshot: String,
    /// The parent, pinned so that no retention removes the last good state.
    pub pinned_parent: Option<String>,
    pub vanished: u64,
    pub truncated: u64,
    /// Of those, files under protected globs.
    pub protected: u64,
    pub acknowledged: bool,
}

/// The active profile's name; A's `Global::profile` / `active_profile` replace it.
pub fn active_profile_name() -> Option<String> {
    std::env::var("CAIRN_PROFILE").ok().filter(|p| !p.is_empty())
}

pub fn record_alarm(_profile_name: &str, _alarm: &AlarmRecord) -> Result<()> {
    Ok(())
}
