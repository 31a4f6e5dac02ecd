//! Stopping on a signal without telling a lie about what was saved.
//!
//! The command line ends the process at once on SIGINT or SIGTERM (every
//! write is crash-safe, so stopping anywhere leaves at worst temporary files
//! that `check` notes as harmless). What it must get right is the one line
//! it prints: "nothing was saved" is true only if no snapshot manifest was
//! written. So the manifest is written inside [`commit`], and the signal
//! handler calls [`stop_commits`], which waits for a commit under way to end,
//! keeps any later one from starting, and says how many were made.

use std::sync::{Mutex, MutexGuard};

/// How many commits this process made; the lock is held while one is made.
static COMMITS: Mutex<u64> = Mutex::new(0);

fn lock() -> MutexGuard<'static, u64> {
    // Poisoned only by a panic during a commit; the count is still right.
    COMMITS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `write` (the write that makes a snapshot exist) unless the process
/// is stopping, in which case this never returns: the process ends first.
pub fn commit<T, E>(write: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let mut commits = lock();
    let result = write();
    if result.is_ok() {
        *commits += 1;
    }
    result
}

/// Held by a signal handler until the process exits: no commit runs meanwhile.
pub struct Stopped(MutexGuard<'static, u64>);

impl Stopped {
    /// How many snapshots this process wrote before it was stopped.
    pub fn commits(&self) -> u64 {
        *self.0
    }
}

/// Waits for a commit under way and keeps any other from starting for as
/// long as the result is held (see the module doc).
pub fn stop_commits() -> Stopped {
    Stopped(lock())
}

#[cfg(test)]
mod tests {
    #[test]
    fn commits_are_counted_and_failures_are_not() {
        let before = super::stop_commits().commits();
        assert_eq!(super::commit(|| Ok::<_, ()>(7)), Ok(7));
        assert_eq!(super::commit(|| Err::<(), _>("no")), Err("no"));
        // Other tests may commit meanwhile: at least this one counted.
        assert!(super::stop_commits().commits() > before);
    }
}
