//! Test-only fault points in the snapshot write path (and two in the read
//! path, for listing races), so that integration
//! tests can kill or pause the real binary at an exact step instead of
//! guessing with wall-clock sleeps.
//!
//! Compiled in only with the `testing` cargo feature of `cairn-core`.
//! `cairn-cli` enables it through its dev-dependency on `cairn-core`, so a
//! `cairn` built for `cargo test` (of any profile, release included) has the
//! hooks, while `cargo build` / `cargo install` builds never do: without
//! the feature, [`reached`] is an empty inline function and the variables
//! below are never read.
//!
//! With the feature, the environment is read once per process (a
//! `OnceLock`); a run without the variable pays one atomic load per point.
//!
//! # `CAIRN_TEST_HOOK=<point>:<action>[:<folder>]`
//!
//! - `<point>` is one of the [`Point`] names: `pack-durable`, `packs-done`,
//!   `index-written`, `file-stat`, `file-read`, `key-added`,
//!   `password-file-rewritten`, `index-loaded`, `snapshots-listed`,
//!   `read-block`, and prune's `prune-repacked`, `prune-index-written`,
//!   `prune-old-index-removed`, `prune-pack-deleted`.
//! - `abort`: at the first hit, write the marker `<folder>/<point>.1.reached`
//!   (when a folder is given), then kill the process with SIGKILL, as a
//!   power cut or the OOM killer would: no destructor, no flush.
//! - `pause`: at every hit `N` (counted from 1), write the marker
//!   `<folder>/<point>.N.reached`, then wait until `<folder>/<point>.N.go`
//!   or `<folder>/release` exists. If `<folder>` disappears (the test that
//!   owns it ended), the process kills itself rather than wait forever.
//!
//! # `CAIRN_TEST_HOOK_FILE=<path>`
//!
//! For the per-file points (`file-stat`, `file-read`, `read-block`): only hits for this
//! exact path count; other files pass without stopping.

use std::path::Path;

/// A named step of the snapshot write sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A pack was renamed to its final name and its folder synced (fires once
    /// per pack, in the finisher thread; hit 1 is "after the first pack").
    PackDurable,
    /// Every pack of the run is durable; the index is not written yet.
    PacksDone,
    /// The index of the run's packs is durable; the snapshot is not written yet.
    IndexWritten,
    /// A file was stat-ed by the walk and is about to be opened (fires before
    /// each read attempt).
    FileStat,
    /// A file's contents were read and stored; the check that it held still
    /// (its stat after the read) comes next.
    FileRead,
    /// `key passwd`: the new key file is durable; the password file is not
    /// rewritten yet and the old key file is still there.
    KeyAdded,
    /// `key passwd`: the default password file holds the new password; the
    /// old key file is still there.
    PasswordFileRewritten,
    /// Opening a repository read its index files (any command).
    IndexLoaded,
    /// The snapshot files were listed; none of them is read yet.
    SnapshotsListed,
    /// A block of a file's contents is about to be read, on the helper
    /// thread that does the reading (`fs::stall`); the first hit comes right
    /// after the open. A pause here is a read that makes no progress, as a
    /// hung network or FUSE filesystem gives.
    ReadBlock,
    /// `prune`: the new packs of the repacked blobs are durable; the
    /// consolidated index is not written yet.
    PruneRepacked,
    /// `prune`: the consolidated index is durable; the old index files are
    /// all still there.
    PruneIndexWritten,
    /// `prune`: the old index files are removed; the sweep comes next.
    PruneOldIndexRemoved,
    /// `prune`: the sweep deleted a pack (fires once per pack; hit N is
    /// "after the Nth deletion").
    PrunePackDeleted,
}

impl Point {
    /// The name used in `CAIRN_TEST_HOOK` and in marker files.
    pub fn name(self) -> &'static str {
        match self {
            Point::PackDurable => "pack-durable",
            Point::PacksDone => "packs-done",
            Point::IndexWritten => "index-written",
            Point::FileStat => "file-stat",
            Point::FileRead => "file-read",
            Point::KeyAdded => "key-added",
            Point::PasswordFileRewritten => "password-file-rewritten",
            Point::IndexLoaded => "index-loaded",
            Point::SnapshotsListed => "snapshots-listed",
            Point::ReadBlock => "read-block",
            Point::PruneRepacked => "prune-repacked",
            Point::PruneIndexWritten => "prune-index-written",
            Point::PruneOldIndexRemoved => "prune-old-index-removed",
            Point::PrunePackDeleted => "prune-pack-deleted",
        }
    }
}

/// Called at each point; `file` names the file for the per-file points.
/// Does nothing unless `CAIRN_TEST_HOOK` names this point.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn reached(_point: Point, _file: Option<&Path>) {}

/// Called at each point; `file` names the file for the per-file points.
/// Does nothing unless `CAIRN_TEST_HOOK` names this point.
#[cfg(feature = "testing")]
pub fn reached(point: Point, file: Option<&Path>) {
    enabled::reached(point, file);
}

/// Whether `CAIRN_TEST_HOOK` names `point` (always false in a release
/// build): lets a test reach a point that a fast path would skip.
#[cfg(not(feature = "testing"))]
#[inline(always)]
pub fn armed(_point: Point) -> bool {
    false
}

/// Whether `CAIRN_TEST_HOOK` names `point` (always false in a release
/// build): lets a test reach a point that a fast path would skip.
#[cfg(feature = "testing")]
pub fn armed(point: Point) -> bool {
    enabled::armed(point)
}

#[cfg(feature = "testing")]
mod enabled {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::Point;

    enum Action {
        Abort,
        Pause,
    }

    struct Hook {
        point: &'static str,
        action: Action,
        folder: Option<PathBuf>,
        only_file: Option<PathBuf>,
        hits: AtomicU64,
    }

    /// The hook asked for by the environment, parsed once.
    fn hook() -> Option<&'static Hook> {
        static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
        HOOK.get_or_init(|| {
            let spec = std::env::var("CAIRN_TEST_HOOK").ok()?;
            let mut parts = spec.splitn(3, ':');
            let name = parts.next()?;
            let point = [
                Point::PackDurable,
                Point::PacksDone,
                Point::IndexWritten,
                Point::FileStat,
                Point::FileRead,
                Point::KeyAdded,
                Point::PasswordFileRewritten,
                Point::IndexLoaded,
                Point::SnapshotsListed,
                Point::ReadBlock,
                Point::PruneRepacked,
                Point::PruneIndexWritten,
                Point::PruneOldIndexRemoved,
                Point::PrunePackDeleted,
            ]
            .into_iter()
            .find(|p| p.name() == name)
            .unwrap_or_else(|| panic!("CAIRN_TEST_HOOK: unknown point {name:?}"));
            let action = match parts.next() {
                Some("abort") => Action::Abort,
                Some("pause") => Action::Pause,
                other => panic!("CAIRN_TEST_HOOK: unknown action {other:?}"),
            };
            let folder = parts.next().map(PathBuf::from);
            if matches!(action, Action::Pause) && folder.is_none() {
                panic!("CAIRN_TEST_HOOK: pause needs a folder");
            }
            let only_file = std::env::var_os("CAIRN_TEST_HOOK_FILE").map(PathBuf::from);
            Some(Hook { point: point.name(), action, folder, only_file, hits: AtomicU64::new(0) })
        })
        .as_ref()
    }

    pub(super) fn armed(point: Point) -> bool {
        hook().is_some_and(|hook| hook.point == point.name())
    }

    pub(super) fn reached(point: Point, file: Option<&Path>) {
        let Some(hook) = hook() else { return };
        if hook.point != point.name() || hook.only_file.as_deref().is_some_and(|only| file != Some(only)) {
            return;
        }
        let hit = hook.hits.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(folder) = &hook.folder {
            let marker = folder.join(format!("{}.{hit}.reached", hook.point));
            // Written whole under another name, then renamed: a test never
            // sees a marker half written.
            let temp = folder.join(format!(".{}.{hit}.tmp", hook.point));
            let text = file.map(|f| f.display().to_string()).unwrap_or_default();
            if std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &marker)).is_err() {
                kill_self();
            }
        }
        match hook.action {
            Action::Abort => kill_self(),
            Action::Pause => {
                let folder = hook.folder.as_deref().expect("checked when parsed");
                let go = folder.join(format!("{}.{hit}.go", hook.point));
                let release = folder.join("release");
                // Polls a file the test creates: the test decides when this
                // continues; the interval only bounds how late it notices.
                while !go.exists() && !release.exists() {
                    if !folder.exists() {
                        kill_self();
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// SIGKILL to this process: nothing after this point runs.
    fn kill_self() -> ! {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // Not reached; abort in case the signal could not be sent.
        std::process::abort()
    }
}
