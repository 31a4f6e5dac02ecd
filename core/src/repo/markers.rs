//! The run markers of the deletion protocol (format-spec §6): a run that
//! writes (and `check`) registers a marker in `locks/` before it reads the
//! index, refreshes it while it runs and removes it when done; prune
//! deletes packs only when no marker but its own is live (`liveness`).
//!
//! A [`Registration`] owns the refresh thread. A run whose refreshes were
//! further apart than the lapse limit (the machine slept, the process was
//! stopped) may have been judged dead by a prune on another machine: it is
//! *lapsed* and must not commit ([`Repository::ensure_not_lapsed`]); it
//! may start over once from a new marker and a fresh index
//! ([`Repository::restart_run`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::liveness::{self, Me, Seen};
use super::{Repository, now_timestamp, read_verified_from};
use crate::backend::{Backend, FileKind};
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::crypto::{self, Keys};
use crate::format::marker::{MARKER_VERSION, MarkerFile, MarkerRole};
use crate::format::{Timestamp, check_version};
use crate::id::Id;

/// The protocol's times: a marker older than `stale` (by the storage's
/// clock) is dead; a run refreshes every `refresh`; a run whose refreshes
/// were more than `lapse` apart is lapsed. `lapse` < `stale`, so that a run
/// that is not lapsed has a marker no prune judges dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    pub stale: Duration,
    pub refresh: Duration,
    pub lapse: Duration,
}

impl Tuning {
    pub const DEFAULT: Tuning = Tuning {
        stale: Duration::from_secs(30 * 60),
        refresh: Duration::from_secs(5 * 60),
        lapse: Duration::from_secs(15 * 60),
    };

    /// The stale limit `stale`, with refresh = stale/6 and lapse = stale/2.
    pub fn scaled(stale: Duration) -> Tuning {
        Tuning { stale, refresh: stale / 6, lapse: stale / 2 }
    }

    /// The default, or in test builds `CAIRN_TEST_MARKER_STALE_SECS` scaled.
    pub fn current() -> Tuning {
        #[cfg(feature = "testing")]
        if let Some(secs) = std::env::var("CAIRN_TEST_MARKER_STALE_SECS").ok().and_then(|s| s.parse::<f64>().ok()) {
            return Tuning::scaled(Duration::from_secs_f64(secs));
        }
        Tuning::DEFAULT
    }
}

/// A clock that counts time asleep (CLOCK_BOOTTIME), as time since boot.
pub type BootClock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The system's CLOCK_BOOTTIME.
pub fn boot_clock() -> BootClock {
    Arc::new(|| {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
    })
}

/// One file in `locks/` as a reader sees it (for decisions and messages).
#[derive(Clone, Debug)]
pub struct MarkerInfo {
    pub file: Id,
    /// `None`: the file could not be read or opened (`problem` says why).
    pub marker: Option<MarkerFile>,
    pub problem: Option<String>,
    pub mtime: Option<SystemTime>,
    pub live: bool,
}

impl MarkerInfo {
    /// "snapshot on HOST (pid N) since TIME", or what is wrong with the file.
    pub fn describe(&self) -> String {
        match &self.marker {
            Some(m) => format!("{} on {} (pid {}) since {}", m.role.name(), m.host, m.pid, format_time(&m.started)),
            None => format!(
                "unreadable marker locks/{} ({})",
                self.file,
                self.problem.as_deref().unwrap_or("could not be read")
            ),
        }
    }
}

fn format_time(t: &Timestamp) -> String {
    jiff::Timestamp::from_second(t.unix_seconds)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| t.unix_seconds.to_string())
}

/// The registrations of this process, so that an interrupted command can
/// remove its markers before it exits (`remove_markers_at_exit`).
static ACTIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Removes the markers of every run of this process, for a command that
/// ends at once (a signal) without dropping its repository: other machines
/// then need not wait 30 minutes to see it gone. Refreshes stop first.
pub fn remove_markers_at_exit() {
    let active: Vec<Arc<Shared>> =
        ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for shared in active {
        *shared.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        if let Some(file) = shared.lock().file.take() {
            let _ = shared.backend.remove(FileKind::Lock, &file);
        }
    }
}

/// What the refresh thread and the run share.
struct Shared {
    backend: Arc<dyn Backend>,
    keys: Keys,
    role: MarkerRole,
    me: Me,
    tuning: Tuning,
    clock: BootClock,
    state: Mutex<RunState>,
    stopped: Mutex<bool>,
    wake: Condvar,
}

struct RunState {
    run: Id,
    started: Timestamp,
    /// The current marker file (`None` after a failed restart).
    file: Option<Id>,
    /// Boot-clock time taken just before the current file was written.
    refreshed_at: Duration,
    /// Two refreshes were further apart than the lapse limit.
    lapsed: bool,
}

/// A registered run: its marker exists while this lives. Dropping it stops
/// the refresh thread and removes the marker.
pub struct Registration {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Registration {
    /// Writes the first marker and starts refreshing it.
    pub fn start(backend: Arc<dyn Backend>, keys: Keys, role: MarkerRole) -> Result<Registration> {
        Self::start_with(backend, keys, role, Tuning::current(), boot_clock(), Me::current())
    }

    /// [`Self::start`] with chosen times, clock and identity (tests).
    pub fn start_with(
        backend: Arc<dyn Backend>,
        keys: Keys,
        role: MarkerRole,
        tuning: Tuning,
        clock: BootClock,
        me: Me,
    ) -> Result<Registration> {
        let started = now_timestamp();
        let state =
            RunState { run: Id(crypto::random_bytes()?), started, file: None, refreshed_at: clock(), lapsed: false };
        let shared = Arc::new(Shared {
            backend,
            keys,
            role,
            me,
            tuning,
            clock,
            state: Mutex::new(state),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        {
            let mut state = shared.lock();
            let at = (shared.clock)();
            let file = shared.write_marker(&state)?;
            state.file = Some(file);
            state.refreshed_at = at;
        }
        {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            active.retain(|w| w.strong_count() > 0);
            active.push(Arc::downgrade(&shared));
        }
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-marker".into())
            .spawn(move || for_thread.refresh_loop())
            .map_err(|e| Error::Internal(format!("could not start the marker thread: {e}")))?;
        Ok(Registration { shared, thread: Some(thread) })
    }

    pub fn run(&self) -> Id {
        self.shared.lock().run
    }

    pub fn role(&self) -> MarkerRole {
        self.shared.role
    }

    /// The current marker file.
    pub fn file(&self) -> Option<Id> {
        self.shared.lock().file
    }

    pub fn tuning(&self) -> Tuning {
        self.shared.tuning
    }

    pub fn me(&self) -> &Me {
        &self.shared.me
    }

    /// Refreshes now (the thread does this every `refresh`).
    pub fn refresh(&self) {
        self.shared.refresh();
    }

    /// `Err(RunLapsed)` when the run may have been judged dead: its last
    /// refresh is older than the lapse limit, or two refreshes were.
    pub fn ensure_not_lapsed(&self) -> Result<()> {
        let state = self.shared.lock();
        let since = (self.shared.clock)().saturating_sub(state.refreshed_at);
        if state.lapsed || since > self.shared.tuning.lapse {
            return Err(Error::RunLapsed { limit_secs: self.shared.tuning.lapse.as_secs() });
        }
        Ok(())
    }

    /// Starts over as a new run: a new marker (new run id and start), then
    /// the old file removed; the lapse is forgotten.
    pub fn restart(&self) -> Result<()> {
        let mut state = self.shared.lock();
        let old = state.file.take();
        state.run = Id(crypto::random_bytes()?);
        state.started = now_timestamp();
        let at = (self.shared.clock)();
        let file = self.shared.write_marker(&state)?;
        state.file = Some(file);
        state.refreshed_at = at;
        state.lapsed = false;
        if let Some(old) = old {
            let _ = self.shared.backend.remove(FileKind::Lock, &old);
        }
        Ok(())
    }

    /// The storage's current time, estimated from this run's own marker:
    /// its modification time as listed plus the boot-clock time since it
    /// was written (the storage's clock, not this machine's). `None` when
    /// the listing does not show it or the storage has no times.
    fn storage_now(&self, listed: &[(Id, u64, Option<SystemTime>)]) -> Option<SystemTime> {
        let state = self.shared.lock();
        let file = state.file?;
        let mtime = listed.iter().find(|(id, _, _)| *id == file)?.2?;
        Some(mtime + (self.shared.clock)().saturating_sub(state.refreshed_at))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        *self.shared.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(file) = self.shared.lock().file.take() {
            // Best effort: a marker left behind is dead once this process is.
            let _ = self.shared.backend.remove(FileKind::Lock, &file);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_marker(&self, state: &RunState) -> Result<Id> {
        let marker = MarkerFile {
            version: MARKER_VERSION,
            role: self.role,
            run: state.run,
            started: state.started,
            time: now_timestamp(),
            host: self.me.host.clone(),
            user: self.me.user.clone(),
            pid: self.me.pid,
            boot_id: self.me.boot_id.clone(),
            pid_start: self.me.pid_start,
        };
        let bytes = codec::encode(&self.keys, ObjectKind::Marker, &marker, 3)?;
        Ok(self.backend.write(FileKind::Lock, &bytes)?)
    }

    fn refresh_loop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            // `_while`: a stop asked before this thread first waited counts.
            let (guard, _) = self
                .wake
                .wait_timeout_while(stopped, self.tuning.refresh, |stopped| !*stopped)
                .unwrap_or_else(|p| p.into_inner());
            stopped = guard;
            if *stopped {
                return;
            }
            drop(stopped);
            self.refresh();
            stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Writes a new marker file for the run, then removes the previous one.
    /// A failed write keeps the old file (and its time): the run lapses if
    /// the storage stays unwritable past the lapse limit.
    fn refresh(&self) {
        let mut state = self.lock();
        if state.file.is_none() {
            // Removed at exit (or a restart failed): nothing to refresh.
            return;
        }
        let at = (self.clock)();
        if at.saturating_sub(state.refreshed_at) > self.tuning.lapse {
            state.lapsed = true;
        }
        if let Ok(file) = self.write_marker(&state) {
            if let Some(old) = state.file.replace(file) {
                let _ = self.backend.remove(FileKind::Lock, &old);
            }
            state.refreshed_at = at;
        }
    }
}

impl Repository {
    /// The registration of this run, if it opened with `OpenOptions.register`.
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    /// `Err(RunLapsed)` when this run must not commit (see the module).
    /// A run that did not register never lapses.
    pub fn ensure_not_lapsed(&self) -> Result<()> {
        self.registration.as_ref().map_or(Ok(()), Registration::ensure_not_lapsed)
    }

    /// Starts this run over after a lapse: a new marker, then the index
    /// read again (what the lapsed run knew may have been pruned since).
    pub fn restart_run(&self) -> Result<()> {
        if let Some(registration) = &self.registration {
            registration.restart()?;
        }
        self.refresh_index()
    }

    /// Every file in `locks/`, decoded where possible, with whether it is
    /// live; this run's own markers are left out.
    pub fn markers_except_own(&self) -> Result<Vec<MarkerInfo>> {
        let listed = self.backend.list_times(FileKind::Lock)?;
        let own = self.registration.as_ref().map(Registration::run);
        let local_now = SystemTime::now();
        let storage_now = self.registration.as_ref().and_then(|r| r.storage_now(&listed)).unwrap_or(local_now);
        let me = self.registration.as_ref().map_or_else(Me::current, |r| r.me().clone());
        let stale = self.registration.as_ref().map_or_else(Tuning::current, Registration::tuning).stale;
        let mut out = Vec::new();
        for (file, size, mtime) in listed {
            let (marker, problem) = match self.read_marker(&file, size) {
                Ok(m) => (Some(m), None),
                // Removed since the listing: a refresh or an ended run.
                Err(e) if e.is_not_found() => continue,
                Err(e) => (None, Some(e.to_string())),
            };
            if marker.as_ref().is_some_and(|m| Some(m.run) == own) {
                continue;
            }
            let seen = Seen { marker: marker.as_ref(), mtime };
            let live = liveness::is_live(&seen, &me, storage_now, local_now, stale, &liveness::system_pid_check);
            out.push(MarkerInfo { file, marker, problem, mtime, live });
        }
        Ok(out)
    }

    /// The live markers of other runs (prune deletes nothing while any exists).
    pub fn live_markers_except_own(&self) -> Result<Vec<MarkerInfo>> {
        Ok(self.markers_except_own()?.into_iter().filter(|m| m.live).collect())
    }

    /// Removes the dead markers of other runs; returns how many.
    pub fn remove_dead_markers(&self) -> Result<usize> {
        let mut removed = 0;
        for dead in self.markers_except_own()?.into_iter().filter(|m| !m.live) {
            self.backend.remove(FileKind::Lock, &dead.file)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// For a prune: refuses (`PruneRunning`, naming the other) when another
    /// live prune marker comes first in the `(started, run)` order. Call
    /// after registering with `MarkerRole::Prune`. Of two prunes that see
    /// each other, the later one backs off; one that did not see the other
    /// proceeds, and the sweep's own rule (no live marker but its own)
    /// still keeps both from deleting while the other runs.
    pub fn claim_prune(&self) -> Result<()> {
        let Some(registration) = &self.registration else {
            return Err(Error::Internal("claim_prune without a registration".into()));
        };
        let mine = {
            let state = registration.shared.lock();
            (state.started, state.run)
        };
        for other in self.live_markers_except_own()? {
            let Some(m) = &other.marker else { continue };
            if m.role == MarkerRole::Prune && (m.started, m.run) < mine {
                return Err(Error::PruneRunning { host: m.host.clone(), pid: m.pid, since: format_time(&m.started) });
            }
        }
        Ok(())
    }

    fn read_marker(&self, file: &Id, size: u64) -> Result<MarkerFile> {
        let bytes = read_verified_from(&*self.backend, FileKind::Lock, file, Some(size))?;
        let marker: MarkerFile = codec::decode(&self.keys, ObjectKind::Marker, &bytes)?;
        check_version("marker", marker.version)?;
        Ok(marker)
    }
}

#[cfg(test)]
#[path = "markers_tests.rs"]
mod tests;
