//! The mass-deletion alarm: a snapshot compares what it saw with its parent
//! and counts the parent's files that vanished or were truncated. Too many of
//! them (or any under a protected glob) raise the alarm; the caller then pins
//! the parent, tells the user and exits with its own code. The rules are
//! plain data so that a profile file (`[profile.alarm]`) can set them.

use serde::Deserialize;

/// When a snapshot raises the alarm. A file is a regular file or a symlink
/// of the parent snapshot; "gone" counts those that vanished plus those
/// truncated (see `Alarm`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct AlarmRules {
    /// Share (0..=1) of the parent's files that must be gone…
    pub vanished_share: f64,
    /// …and at least this many of them (so that a tiny tree losing two
    /// scratch files does not cry wolf).
    pub min_files: u64,
    /// Globs (`~` expanded to $HOME) whose files are counted apart.
    pub protected: Vec<String>,
    /// This many protected files gone raise the alarm alone, whatever the share.
    pub protected_min: u64,
}

impl Default for AlarmRules {
    fn default() -> Self {
        AlarmRules {
            vanished_share: 0.10,
            min_files: 50,
            protected: vec!["**/*.md".into(), "**/CLAUDE.md".into(), "~/.claude/**".into()],
            protected_min: 5,
        }
    }
}
