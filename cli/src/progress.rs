//! Progress of a snapshot, drawn from core's counters by a polling thread:
//! an indicatif bar on a terminal, JSON lines for `--json --verbose`, and
//! nothing otherwise (cron gets only warnings and the summary).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_core::archiver::Progress;
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// A bar (or a spinner without a parent to estimate from) on stderr.
    Bar,
    /// One `{"type":"progress",...}` line on stdout per second, and one at
    /// the end.
    JsonLines,
}

/// How often the bar is redrawn and the stop flag checked.
const TICK: Duration = Duration::from_millis(100);
/// How often a JSON progress line is printed.
const JSON_EVERY: Duration = Duration::from_secs(1);

pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts showing progress; `Bar` shows nothing unless stderr is a terminal.
    pub fn start(progress: Arc<Progress>, mode: Mode) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = match mode {
            Mode::Off => None,
            Mode::Bar if !output::stderr_is_terminal() => None,
            Mode::Bar => Some(std::thread::spawn(move || draw_bar(&progress, &flag))),
            Mode::JsonLines => Some(std::thread::spawn(move || print_json_lines(&progress, &flag))),
        };
        Ticker { stop, handle }
    }

    /// Stops the display; returns once its last output is written.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A snapshot of the counters.
struct Counts {
    files: u64,
    bytes_read: u64,
    bytes_done: u64,
    /// The parent's totals, when there is a parent.
    total_files: Option<u64>,
    total_bytes: Option<u64>,
    current: String,
}

impl Counts {
    fn read(p: &Progress) -> Counts {
        let known = |v: u64| (v > 0).then_some(v);
        Counts {
            files: p.files.load(Ordering::Relaxed),
            bytes_read: p.bytes.load(Ordering::Relaxed),
            bytes_done: p.bytes_done.load(Ordering::Relaxed),
            total_files: known(p.total_files.load(Ordering::Relaxed)),
            total_bytes: known(p.total_bytes.load(Ordering::Relaxed)),
            current: p.current.lock().map(|c| c.display().to_string()).unwrap_or_default(),
        }
    }
}

fn draw_bar(progress: &Progress, stop: &AtomicBool) {
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    crate::interrupt::show_bar(Some(&bar));
    set_template(&bar, SPINNER);
    // The parent's total size arrives once core has found the parent; from
    // then on the spinner is a bar with an ETA.
    let mut has_length = false;
    while !stop.load(Ordering::Relaxed) {
        let c = Counts::read(progress);
        if let Some(total) = c.total_bytes
            && !has_length
        {
            bar.set_length(total);
            set_template(&bar, BAR);
            has_length = true;
        }
        let rate = c.bytes_read as f64 / started.elapsed().as_secs_f64().max(0.001);
        let files = match c.total_files {
            Some(t) => format!("{}/{t}", c.files),
            None => c.files.to_string(),
        };
        bar.set_prefix(format!(
            "{files} files, {} read, {}/s",
            output::bytes(c.bytes_read),
            output::bytes(rate as u64)
        ));
        if has_length {
            // The tree may have grown since the parent.
            if c.bytes_done > bar.length().unwrap_or(0) {
                bar.set_length(c.bytes_done);
            }
            bar.set_position(c.bytes_done);
        }
        bar.set_message(c.current);
        bar.tick();
        std::thread::sleep(TICK);
    }
    crate::interrupt::show_bar(None);
    bar.finish_and_clear();
}

const SPINNER: &str = "{spinner} [{elapsed_precise}] {prefix}  {wide_msg}";
const BAR: &str = "{spinner} [{elapsed_precise}] [{bar:25}] {percent:>3}% ETA {eta}  {prefix}  {wide_msg}";

fn set_template(bar: &ProgressBar, template: &str) {
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
}

fn print_json_lines(progress: &Progress, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last = started;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping || last.elapsed() >= JSON_EVERY {
            last = Instant::now();
            let c = Counts::read(progress);
            let percent = c.total_bytes.map(|t| (c.bytes_done as f64 * 100.0 / t as f64).min(100.0));
            let line = serde_json::json!({
                "type": "progress",
                "elapsed_ms": started.elapsed().as_millis() as u64,
                "files": c.files,
                "bytes_read": c.bytes_read,
                "bytes_done": c.bytes_done,
                "total_files": c.total_files,
                "total_bytes": c.total_bytes,
                "percent": percent,
                "current": c.current,
            });
            let mut out = std::io::stdout().lock();
            // A closed stdout is not worth failing the snapshot for.
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        }
        if stopping {
            return;
        }
        std::thread::sleep(TICK);
    }
}
