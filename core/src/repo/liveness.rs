//! Whether another run's marker is live (format-spec §6, "Liveness"):
//! on this machine and boot, while its process (the same pid with the same
//! start time) exists; otherwise while the file is younger than the stale
//! limit by the storage's clock (the writer's own `time` only where the
//! storage reports no times). Pure functions, so every rule is testable.

use std::time::{Duration, SystemTime};

use crate::format::marker::MarkerFile;

/// This process as a marker names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub host: String,
    pub user: String,
    pub pid: u32,
    pub boot_id: String,
    pub pid_start: u64,
}

impl Me {
    /// This process: the host name (or `CAIRN_TEST_MARKER_HOST` in test
    /// builds, which makes others skip the pid check), the user, the pid,
    /// the boot id and the process start time.
    pub fn current() -> Me {
        let pid = std::process::id();
        Me {
            host: host_name(),
            user: std::env::var("USER").unwrap_or_else(|_| rustix::process::getuid().as_raw().to_string()),
            pid,
            boot_id: boot_id(),
            pid_start: process_start(pid).unwrap_or(0),
        }
    }
}

fn host_name() -> String {
    #[cfg(feature = "testing")]
    if let Ok(host) = std::env::var("CAIRN_TEST_MARKER_HOST") {
        return host;
    }
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// The boot id, followed by `/` and this process's pid namespace
/// (`pid:[4026531836]`) when it can be read: two containers on one machine
/// share the boot id but not their pids, so a pid is only asked about
/// within the namespace that gave it. "" when the boot id is unknown.
fn boot_id() -> String {
    let Ok(boot) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else { return String::new() };
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(ns) => format!("{}/{}", boot.trim(), ns.to_string_lossy()),
        Err(_) => boot.trim().to_string(),
    }
}

/// Field 22 of `/proc/<pid>/stat` (start time since boot, in clock ticks);
/// `None` when there is no such process or no `/proc`.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start(&stat)
}

/// The start time in a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces and parentheses: the fields are
/// counted after the last `)`, where field 3 comes first.
fn parse_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Whether the process of a marker written on this very machine and boot
/// still runs: `Some(alive)`, or `None` when this cannot be told (another
/// host or boot, or no pid facts), and the time rule decides.
pub type PidCheck<'a> = &'a dyn Fn(u32, u64) -> Option<bool>;

/// The check of the running system: `/proc/<pid>/stat` start time.
pub fn system_pid_check(pid: u32, start: u64) -> Option<bool> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return None;
    }
    Some(process_start(pid) == Some(start))
}

/// What a reader knows of one file in `locks/`.
pub struct Seen<'a> {
    /// The decoded marker, `None` when the file could not be read or opened.
    pub marker: Option<&'a MarkerFile>,
    /// Its modification time by the storage's clock, if the storage has one.
    pub mtime: Option<SystemTime>,
}

/// Whether a marker (or an unreadable file in `locks/`) counts as live.
/// `storage_now` is the storage's current time (see `Registration`),
/// `local_now` this machine's, used only where the storage has no times.
pub fn is_live(
    seen: &Seen<'_>,
    me: &Me,
    storage_now: SystemTime,
    local_now: SystemTime,
    stale: Duration,
    pid_check: PidCheck<'_>,
) -> bool {
    // Only the same user: `/proc` mounted with `hidepid` hides other users'
    // processes, and a hidden process must not read as a dead one.
    if let Some(m) = seen.marker
        && m.host == me.host
        && m.user == me.user
        && !m.boot_id.is_empty()
        && m.boot_id == me.boot_id
        && m.pid_start != 0
        && let Some(alive) = pid_check(m.pid, m.pid_start)
    {
        // A killed run stops counting at once, however fresh its file.
        return alive;
    }
    match (seen.mtime, seen.marker) {
        // A time in the future (clock skew) is age zero: live.
        (Some(mtime), _) => storage_now.duration_since(mtime).unwrap_or_default() < stale,
        (None, Some(m)) => {
            let written = SystemTime::UNIX_EPOCH + Duration::from_secs(m.time.unix_seconds.max(0) as u64);
            local_now.duration_since(written).unwrap_or_default() < stale
        }
        // Neither a time nor a readable marker: nothing says it is dead.
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Timestamp;
    use crate::format::marker::{MARKER_VERSION, MarkerRole};
    use crate::id::Id;

    const STALE: Duration = Duration::from_secs(1800);

    fn me() -> Me {
        Me { host: "here".into(), user: "u".into(), pid: 10, boot_id: "boot-1".into(), pid_start: 5 }
    }

    fn marker(host: &str, boot_id: &str, time: i64) -> MarkerFile {
        MarkerFile {
            version: MARKER_VERSION,
            role: MarkerRole::Snapshot,
            run: Id([7; 32]),
            started: Timestamp { unix_seconds: time, ..Timestamp::default() },
            time: Timestamp { unix_seconds: time, ..Timestamp::default() },
            host: host.into(),
            user: "u".into(),
            pid: 42,
            boot_id: boot_id.into(),
            pid_start: 99,
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    const NOW: u64 = 1_000_000;

    fn live(m: Option<&MarkerFile>, mtime: Option<SystemTime>, pid: PidCheck<'_>) -> bool {
        is_live(&Seen { marker: m, mtime }, &me(), at(NOW), at(NOW), STALE, pid)
    }

    #[test]
    fn same_host_and_boot_is_decided_by_the_process() {
        let m = marker("here", "boot-1", NOW as i64);
        let fresh = Some(at(NOW));
        assert!(!live(Some(&m), fresh, &|_, _| Some(false)), "a dead pid: dead at once, however fresh");
        let old = Some(at(NOW - 10 * 3600));
        assert!(live(Some(&m), old, &|pid, start| Some(pid == 42 && start == 99)), "a live pid: live, however old");
        assert!(!live(Some(&m), fresh, &|pid, start| Some(pid == 42 && start == 1)), "pid reused by another process");
    }

    #[test]
    fn another_host_or_boot_is_decided_by_the_storage_clock() {
        let other_user = MarkerFile { user: "someone else".into(), ..marker("here", "boot-1", 0) };
        for m in [marker("elsewhere", "boot-1", 0), marker("here", "boot-2", 0), marker("here", "", 0), other_user] {
            let never: PidCheck<'_> = &|_, _| panic!("no pid check for another host or boot");
            assert!(live(Some(&m), Some(at(NOW - 60)), never), "fresh by storage time");
            assert!(!live(Some(&m), Some(at(NOW - 1800)), never), "older than STALE by storage time");
            assert!(live(Some(&m), Some(at(NOW + 600)), never), "a storage time ahead counts as fresh");
        }
    }

    #[test]
    fn without_storage_times_the_writers_time_decides_and_garbage_blocks() {
        let fresh = marker("elsewhere", "", NOW as i64 - 60);
        let old = marker("elsewhere", "", NOW as i64 - 3600);
        assert!(live(Some(&fresh), None, &|_, _| None));
        assert!(!live(Some(&old), None, &|_, _| None));
        assert!(live(None, None, &|_, _| None), "an unreadable file without a time never dies by itself");
    }

    #[test]
    fn an_unreadable_file_is_live_until_stale_by_storage_time() {
        assert!(live(None, Some(at(NOW - 60)), &|_, _| None));
        assert!(!live(None, Some(at(NOW - 1801)), &|_, _| None));
    }

    #[test]
    fn an_unknown_pid_fact_falls_back_to_the_time_rule() {
        let m = marker("here", "boot-1", 0);
        assert!(live(Some(&m), Some(at(NOW - 60)), &|_, _| None));
        assert!(!live(Some(&m), Some(at(NOW - 3600)), &|_, _| None));
    }

    #[test]
    fn the_start_time_is_field_22_even_with_parentheses_in_the_name() {
        let stat = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start(stat), Some(987654));
        assert_eq!(
            process_start(std::process::id()),
            parse_start(&std::fs::read_to_string("/proc/self/stat").unwrap())
        );
        assert!(system_pid_check(std::process::id(), process_start(std::process::id()).unwrap()).unwrap());
    }
}
