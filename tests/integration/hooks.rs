//! Driving the binary's test-only fault points (`core/src/testhook.rs`,
//! compiled in because cairn-cli's dev-dependency enables the `testing`
//! feature): run `cairn` so that it dies or waits at a named point of the
//! snapshot write sequence, and wait for it to get there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A folder where a hooked `cairn` leaves its markers and waits for ours.
pub struct Hook {
    pub dir: PathBuf,
    pub point: &'static str,
}

impl Hook {
    /// A hook at `point`, its markers in the fresh folder `dir`.
    pub fn new(dir: PathBuf, point: &'static str) -> Hook {
        fs::create_dir_all(&dir).unwrap();
        Hook { dir, point }
    }

    /// `cmd` set to die (SIGKILL) at the first hit of the point.
    pub fn abort(&self, cmd: &mut Command) {
        cmd.env("CAIRN_TEST_HOOK", format!("{}:abort:{}", self.point, self.dir.display()));
    }

    /// `cmd` set to stop at every hit of the point until released; only
    /// hits for `file`, when given.
    pub fn pause(&self, cmd: &mut Command, file: Option<&Path>) {
        cmd.env("CAIRN_TEST_HOOK", format!("{}:pause:{}", self.point, self.dir.display()));
        if let Some(f) = file {
            cmd.env("CAIRN_TEST_HOOK_FILE", f);
        }
    }

    /// Whether hit `n` (from 1) was reached.
    pub fn was_reached(&self, n: u32) -> bool {
        self.marker(n).exists()
    }

    /// Waits until `child` reaches hit `n`; returns what the marker says
    /// (the file, for per-file points). Fails the test if `child` ends first.
    pub fn wait(&self, child: &mut Child, n: u32) -> String {
        let marker = self.marker(n);
        loop {
            if let Ok(text) = fs::read_to_string(&marker) {
                return text;
            }
            if let Some(status) = child.try_wait().unwrap() {
                // The marker may have been written just before it ended.
                if let Ok(text) = fs::read_to_string(&marker) {
                    return text;
                }
                panic!("cairn ended ({status}) before reaching {} hit {n}", self.point);
            }
            // Polls for a file the child writes; the interval only sets how
            // late we notice, never what happens.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets hit `n` continue.
    pub fn release(&self, n: u32) {
        fs::write(self.dir.join(format!("{}.{n}.go", self.point)), b"").unwrap();
    }

    /// Lets every hit continue, now and later.
    pub fn release_all(&self) {
        fs::write(self.dir.join("release"), b"").unwrap();
    }

    fn marker(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}.{n}.reached", self.point))
    }
}

/// Spawns `cmd` with its output captured (small: a summary and warnings).
pub fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}
