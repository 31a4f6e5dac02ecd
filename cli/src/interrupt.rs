//! Ctrl-C, SIGTERM and SIGHUP: the process ends at once with exit code 130
//! and one line saying what that left behind, after clearing the progress
//! bar. Ending at once is safe because every write is crash-safe; the line
//! is true because core's `interrupt::stop_commits` waits out a snapshot
//! manifest being written and reports whether one was.

use std::sync::Mutex;

use indicatif::ProgressBar;

use crate::EXIT_INTERRUPTED;

/// What an interrupted command says, given how many snapshots it wrote.
type Saying = fn(u64) -> String;

static SAYING: Mutex<Saying> = Mutex::new(|_| String::from("interrupted"));
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the handler (once, at start): a thread waiting for the signals.
/// If that fails, the default action still ends the process, without the line.
pub fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if signals.forever().next().is_some() {
            on_signal();
        }
    });
}

/// What the running command says when interrupted.
pub fn say(saying: Saying) {
    *SAYING.lock().unwrap_or_else(|p| p.into_inner()) = saying;
}

/// The bar to clear when interrupted (`None`: it is gone).
pub fn show_bar(bar: Option<&ProgressBar>) {
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = bar.cloned();
}

/// The words of an interrupted snapshot.
pub fn snapshot_saying(commits: u64) -> String {
    if commits == 0 {
        String::from("interrupted; nothing was saved")
    } else {
        String::from("interrupted; the snapshot was saved")
    }
}

fn on_signal() {
    // Held until the process ends: no snapshot is written after this line.
    let stopped = cairn_core::interrupt::stop_commits();
    // The run's markers (format-spec §6) go now: exit skips destructors.
    cairn_core::repo::markers::remove_markers_at_exit();
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
    let saying = *SAYING.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!("cairn: {}", saying(stopped.commits()));
    std::process::exit(i32::from(EXIT_INTERRUPTED));
}
