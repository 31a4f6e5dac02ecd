//! `cairn serve --maintain`: the thread that runs retention on the server's
//! side. It wakes every minute (or every `tick`), and for each repository
//! whose password the server has — `ROOT/.cairn-serve/passwords/NAME`, the
//! root repository's as `_root` — runs what is due
//! (`cairn_core::maintenance::server_side::run_due`) and writes the report
//! atomically to `ROOT/.cairn-serve/maintenance/NAME.json`, where the
//! server hands it to clients. A password file that another user could
//! read, or that is not the server's user's, is refused (and said in the
//! report): the password opens every snapshot.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_core::maintenance::server_side::{self, MAX_REPORT_LEN, Schedule, ServeReport};

use crate::handlers::report_path;
use crate::route::{RepoName, check_repo_name};

/// The folder of the server's own files under ROOT (never a repository:
/// names starting with `.` are not repository names).
pub const ADMIN_DIR: &str = ".cairn-serve";
/// The password file of the root repository (`ROOT` itself).
pub const ROOT_NAME: &str = "_root";
/// How long a stop waits for a round in progress.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// The longest password file read.
const MAX_PASSWORD_FILE: u64 = 4096;

/// What the maintenance thread does and how often it looks.
#[derive(Clone, Debug)]
pub struct MaintainOptions {
    pub schedule: Schedule,
    /// How often the thread wakes to see what is due.
    pub tick: Duration,
}

impl Default for MaintainOptions {
    fn default() -> Self {
        MaintainOptions { schedule: Schedule::default(), tick: Duration::from_secs(60) }
    }
}

/// The running maintenance thread; stopped (and joined) on drop.
pub struct Maintainer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Maintainer {
    pub fn stop(mut self) {
        self.halt();
    }

    /// Stops the thread between two rounds. A round in progress (a long
    /// prune) is waited for a few seconds only: the server's stop must stay
    /// bounded, and a maintenance cut short is one the next round redoes
    /// (prune and forget are safe to kill, format-spec §6).
    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let start = Instant::now();
            while !t.is_finished() && start.elapsed() < STOP_WAIT {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Maintainer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts the thread for the repositories under `root`. The first round
/// runs at once.
pub fn start(root: PathBuf, opts: MaintainOptions) -> std::io::Result<Maintainer> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new().name("cairn-maintain".into()).spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            let started = Instant::now();
            // A panic in one round (a bug) must not end maintenance for good.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| round(&root, &opts.schedule))).is_err() {
                eprintln!("cairn serve: a maintenance round failed unexpectedly; trying again next time");
            }
            // Parked until the next tick; `stop` unparks.
            while !flag.load(Ordering::SeqCst) && started.elapsed() < opts.tick {
                std::thread::park_timeout(opts.tick.saturating_sub(started.elapsed()));
            }
        }
    })?;
    Ok(Maintainer { stop, thread: Some(thread) })
}

/// One look at every repository that has a password file.
pub fn round(root: &Path, schedule: &Schedule) {
    let dir = root.join(ADMIN_DIR).join("passwords");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    for name in names {
        // Only names the server serves: `_root`, or a repository's name
        // (never `.`-first, never a path).
        let repo_name = if name == ROOT_NAME {
            RepoName::Root
        } else if check_repo_name(&name).is_ok() {
            RepoName::Named(name.clone())
        } else {
            continue;
        };
        let repo = match &repo_name {
            RepoName::Root => root.to_path_buf(),
            RepoName::Named(n) => root.join(n),
        };
        let report_file = report_path(root, &repo_name);
        let previous = read_report(&report_file);
        let report = match read_password(&dir.join(&name)) {
            Ok(password) => {
                server_side::run_due(&repo, password.as_bytes(), schedule, &previous, jiff::Timestamp::now())
            }
            Err(why) => ServeReport {
                version: server_side::REPORT_VERSION,
                checked_at: Some(jiff::Timestamp::now().to_string()),
                error: Some(why),
                ..previous
            },
        };
        let written =
            report_file.parent().map_or(Ok(()), std::fs::create_dir_all).map_err(|e| e.to_string()).and_then(|()| {
                cairn_core::backend::write_atomic(&report_file, &report.to_json()).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            eprintln!("cairn serve: could not write {}: {e}", report_file.display());
        }
    }
}

/// The previous report, or an empty one (none yet, or unreadable: then
/// every task is due, which is the safe side).
fn read_report(file: &Path) -> ServeReport {
    match std::fs::metadata(file) {
        Ok(m) if m.len() <= MAX_REPORT_LEN as u64 => {}
        _ => return ServeReport::default(),
    }
    std::fs::read(file).ok().and_then(|b| ServeReport::parse(&b).ok()).unwrap_or_default()
}

/// The first line of a password file that is the server's user's alone.
fn read_password(file: &Path) -> Result<String, String> {
    let shown = file.display();
    let meta = std::fs::symlink_metadata(file).map_err(|e| format!("cannot read the password file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the password file {shown} is not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the password file {shown} is readable by others (mode {:o}); make it 0600 (refused until then)",
            meta.mode() & 0o7777
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(format!("the password file {shown} belongs to another user than the server's; refused"));
    }
    if meta.len() > MAX_PASSWORD_FILE {
        return Err(format!("the password file {shown} is larger than a password"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read the password file {shown}: {e}"))?;
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(format!("the password file {shown} is empty"));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn password_files_others_can_read_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alice");
        std::fs::write(&file, "secret\nignored\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_password(&file).unwrap_err().contains("readable by others"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&file).unwrap(), "secret");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(read_password(&file).unwrap(), "secret");
        let link = dir.path().join("bob");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_password(&link).unwrap_err().contains("not a regular file"));
    }

    #[test]
    fn the_thread_runs_a_round_at_once_and_stops_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join(ADMIN_DIR).join("passwords");
        std::fs::create_dir_all(&pw).unwrap();
        std::fs::write(pw.join("alice"), "x\n").unwrap();
        std::fs::set_permissions(pw.join("alice"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let opts = MaintainOptions { tick: Duration::from_secs(3600), ..MaintainOptions::default() };
        let m = start(dir.path().to_path_buf(), opts).unwrap();
        let report = report_path(dir.path(), &RepoName::Named("alice".into()));
        let t = Instant::now();
        while !report.exists() {
            assert!(t.elapsed() < Duration::from_secs(30), "no first round");
            std::thread::sleep(Duration::from_millis(10));
        }
        // No repository there: said in the report, nothing run.
        assert!(read_report(&report).error.unwrap().contains("could not open"));
        // Parked for an hour, it still stops at once.
        m.stop();
    }

    #[test]
    fn a_round_reports_a_refused_password_file_and_skips_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join(ADMIN_DIR).join("passwords");
        std::fs::create_dir_all(&pw).unwrap();
        std::fs::write(pw.join("alice"), "x\n").unwrap();
        std::fs::set_permissions(pw.join("alice"), std::fs::Permissions::from_mode(0o640)).unwrap();
        round(dir.path(), &Schedule::default());
        let report = read_report(&report_path(dir.path(), &RepoName::Named("alice".into())));
        assert!(report.error.unwrap().contains("readable by others"));
        assert_eq!(report.forget, None);
    }
}
