//! `locks/<id>`: a run's marker (format-spec §6, "The deletion protocol").
//! Every run that writes, and `check`, keeps one while it runs, so that a
//! prune deletes packs only when no run that may still use them is alive.
//! Sealed as kind `Marker` (0x0A), content-addressed like the other files.

use serde::{Deserialize, Serialize};

use crate::format::Timestamp;
use crate::format::codec::ObjectKind;
use crate::id::Id;

/// The version of `MarkerFile` this cairn writes, and the newest it reads.
pub const MARKER_VERSION: u32 = 1;

/// The largest valid `locks/<id>` file: 64 KiB of plaintext, sealed.
pub const MAX_MARKER_FILE_LEN: u64 = ObjectKind::Marker.max_stored();

/// What the run that keeps a marker is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MarkerRole {
    Snapshot,
    Prune,
    Check,
    Repair,
}

impl MarkerRole {
    pub fn name(self) -> &'static str {
        match self {
            MarkerRole::Snapshot => "snapshot",
            MarkerRole::Prune => "prune",
            MarkerRole::Check => "check",
            MarkerRole::Repair => "repair",
        }
    }
}

/// One marker file. A run refreshes its marker by writing a new file (same
/// `run`, new `time`) and then removing the previous one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerFile {
    pub version: u32,
    pub role: MarkerRole,
    /// Random, the same across the refreshes of one run.
    pub run: Id,
    /// When the run first registered (the writer's clock).
    pub started: Timestamp,
    /// When this file was written (the writer's clock; used only when the
    /// storage has no file times).
    pub time: Timestamp,
    pub host: String,
    pub user: String,
    pub pid: u32,
    /// `/proc/sys/kernel/random/boot_id` of the writer, then `/` and its
    /// pid namespace (the target of `/proc/self/ns/pid`) when known; ""
    /// if unknown. Equal boot ids mean the pid can be asked about here.
    pub boot_id: String,
    /// Field 22 of the writer's `/proc/self/stat` (its start time in clock
    /// ticks since boot), 0 if unknown: tells a pid reused after the run
    /// ended from the run itself.
    pub pid_start: u64,
}
