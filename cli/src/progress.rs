//! A progress line for terminals: polls core's counters from a thread.
//! Under cron (no terminal) it shows nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_core::archiver::Progress;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts a spinner when stderr is a terminal and output is not quiet.
    pub fn start(progress: Arc<Progress>, enabled: bool) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !output::stderr_is_terminal() {
            return Ticker { stop, handle: None };
        }
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
                bar.set_style(style);
            }
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let files = progress.files.load(Ordering::Relaxed);
                let bytes = progress.bytes.load(Ordering::Relaxed);
                let rate = bytes as f64 / started.elapsed().as_secs_f64().max(0.001);
                let current = progress.current.lock().map(|p| p.display().to_string()).unwrap_or_default();
                bar.set_message(format!(
                    "{files} files, {} read, {}/s  {current}",
                    output::bytes(bytes),
                    output::bytes(rate as u64)
                ));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Ticker { stop, handle: Some(handle) }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
