//! Helpers for the integration tests: a temporary repository, the real
//! `cairn` binary with a clean environment, and a tree comparison that
//! checks bytes, modes, mtimes, link targets and hard links.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Env {
    pub dir: TempDir,
    pub repo: PathBuf,
}

impl Env {
    /// A fresh folder with an encrypted repository (weak KDF: tests only).
    pub fn new() -> Env {
        let env = Env::empty();
        env.cairn().args(["init", "--kdf-memory-kib", "8", "--kdf-iterations", "1"]).assert().success();
        env
    }

    /// A fresh folder, no repository yet.
    pub fn empty() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        Env { dir, repo }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `cairn` with this repository and password and a private HOME.
    pub fn cairn(&self) -> Command {
        Command::from_std(self.std_cairn())
    }

    /// The same, as a plain `std::process::Command` (to spawn or kill).
    pub fn std_cairn(&self) -> std::process::Command {
        let mut cmd = bare_std_cairn(self.dir.path());
        cmd.env("CAIRN_REPO", &self.repo).env("CAIRN_PASSWORD", PASSWORD);
        cmd
    }

    /// Runs a snapshot with --json of everything (no default excludes, so
    /// that restores compare equal to the source) and returns the summary.
    pub fn snapshot_json(&self, paths: &[&Path]) -> serde_json::Value {
        let out =
            self.cairn().args(["snapshot", "--json", "--no-default-excludes"]).args(paths).output().expect("run cairn");
        assert!(out.status.success(), "snapshot failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("snapshot --json prints JSON")
    }

    /// Every file under the repository with its size, for before/after checks.
    pub fn repo_listing(&self) -> Vec<(PathBuf, u64)> {
        listing(&self.repo)
    }
}

/// `cairn` with no repository or password in its environment.
pub fn bare_cairn(home: &Path) -> Command {
    Command::from_std(bare_std_cairn(home))
}

pub fn bare_std_cairn(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TZ", "UTC")
        .env("USER", "tester");
    cmd
}

pub fn listing(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("read_dir") {
            let e = e.expect("entry");
            // A file removed between read_dir and stat (a server's spool
            // while uploads run) is not there: left out.
            let md = match e.metadata() {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                other => other.expect("metadata"),
            };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), md.len()));
            }
        }
    }
    out.sort();
    out
}

/// Copies a tree with `cp -a` (modes, mtimes, symlinks, hard links kept):
/// an expectation that does not go through cairn.
pub fn copy_tree(from: &Path, to: &Path) {
    let out = std::process::Command::new("cp").arg("-a").arg(from).arg(to).output().expect("run cp");
    assert!(out.status.success(), "cp -a {} {}: {}", from.display(), to.display(), stderr_of(&out));
}

/// Files under `dir` (recursively) whose names differ from `before`.
pub fn new_files(before: &[(PathBuf, u64)], after: &[(PathBuf, u64)]) -> Vec<PathBuf> {
    after.iter().filter(|a| !before.iter().any(|b| b.0 == a.0)).map(|a| a.0.clone()).collect()
}

/// Where `original` lands under a restore target.
pub fn restored(target: &Path, original: &Path) -> PathBuf {
    let canon = fs::canonicalize(original).expect("canonicalize");
    target.join(canon.strip_prefix("/").expect("absolute"))
}

/// Asserts that two trees hold the same entries: type, bytes, mode, mtime,
/// xattrs, owner (when root), symlink targets, and the same hard-link groups.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let mut links_a: HashMap<u64, PathBuf> = HashMap::new();
    let mut links_b: HashMap<u64, PathBuf> = HashMap::new();
    compare(expected, actual, Path::new(""), &mut links_a, &mut links_b);
}

fn compare(
    a_root: &Path,
    b_root: &Path,
    rel: &Path,
    links_a: &mut HashMap<u64, PathBuf>,
    links_b: &mut HashMap<u64, PathBuf>,
) {
    let a = a_root.join(rel);
    let b = b_root.join(rel);
    let ma = fs::symlink_metadata(&a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let mb = fs::symlink_metadata(&b).unwrap_or_else(|e| panic!("missing in restore: {}: {e}", b.display()));
    let what = rel.display();
    assert_eq!(ma.file_type().is_dir(), mb.file_type().is_dir(), "{what}: type");
    assert_eq!(ma.file_type().is_symlink(), mb.file_type().is_symlink(), "{what}: type");
    assert_eq!(ma.file_type().is_file(), mb.file_type().is_file(), "{what}: type");
    assert_eq!(ma.file_type().is_fifo(), mb.file_type().is_fifo(), "{what}: type");
    if ma.file_type().is_symlink() {
        assert_eq!(fs::read_link(&a).unwrap(), fs::read_link(&b).unwrap(), "{what}: link target");
    } else {
        assert_eq!(ma.mode() & 0o7777, mb.mode() & 0o7777, "{what}: mode");
    }
    if !rel.as_os_str().is_empty() {
        // The roots themselves are just where the trees were put.
        assert_eq!((ma.mtime(), ma.mtime_nsec()), (mb.mtime(), mb.mtime_nsec()), "{what}: mtime");
        assert_eq!(xattrs_of(&a), xattrs_of(&b), "{what}: xattrs");
        if is_root() {
            // Only root can give files away, so only then must owners match.
            assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()), "{what}: owner");
        }
    }
    if ma.file_type().is_file() {
        assert_eq!(ma.len(), mb.len(), "{what}: size");
        assert!(same_bytes(&a, &b), "{what}: contents differ");
        if ma.nlink() > 1 {
            // Same hard-link groups: the first path of each inode on one side
            // must pair with the first path of its inode on the other.
            let first_a = links_a.entry(ma.ino()).or_insert_with(|| rel.to_path_buf()).clone();
            let first_b = links_b.entry(mb.ino()).or_insert_with(|| rel.to_path_buf()).clone();
            assert_eq!(first_a, first_b, "{what}: hard link group");
        }
    }
    if ma.is_dir() {
        let mut names: Vec<_> = fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name()).collect();
        let mut names_b: Vec<_> = fs::read_dir(&b).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names_b.sort();
        assert_eq!(names, names_b, "{what}: entries");
        for n in names {
            compare(a_root, b_root, &rel.join(n), links_a, links_b);
        }
    }
}

/// An entry's xattrs (not following a symlink), sorted by name.
fn xattrs_of(path: &Path) -> Vec<(std::ffi::OsString, Option<Vec<u8>>)> {
    let mut out: Vec<_> = xattr::list(path)
        .map(|names| names.map(|n| (n.clone(), xattr::get(path, &n).ok().flatten())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (fs::File::open(a).unwrap(), fs::File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
    fn read_full(f: &mut fs::File, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]).unwrap() {
                0 => break,
                k => n += k,
            }
        }
        n
    }
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until files written so far are older than the next snapshot's
/// start by more than the racy-file window (1 s): files changed within it
/// are read again by the following snapshot, whatever their stat says.
pub fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// Whether the tests run as root, as CI does: then every capability a test
/// needs (mounting, chown, xattrs) must be there, and a missing one fails
/// the test instead of skipping part of it.
pub fn is_root() -> bool {
    // /proc/self belongs to the effective user of the process reading it.
    fs::metadata("/proc/self").expect("/proc/self").uid() == 0
}

/// Mounts a small tmpfs at `dir`. As root it must work (a failure panics);
/// otherwise `None`, with a note on stderr, and the caller skips only what
/// needs the mount. Unmounted when dropped, even if a test fails.
pub fn small_mount(dir: &Path, options: &str) -> Option<Mount> {
    fs::create_dir_all(dir).unwrap();
    let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", options, "cairn-test"]).arg(dir).output();
    match out {
        Ok(o) if o.status.success() => Some(Mount(dir.to_path_buf())),
        _ if is_root() => panic!("running as root, yet cannot mount a tmpfs at {}: {out:?}", dir.display()),
        _ => {
            eprintln!("note: not root: cannot mount a tmpfs at {}; that part is not exercised", dir.display());
            None
        }
    }
}

/// Sets a user xattr for a test. As root (CI) it must work: a failure
/// panics. Otherwise `false`, with a note on stderr, and the caller skips
/// only the assertions that need the xattr.
pub fn set_test_xattr(path: &Path, name: &str, value: &[u8]) -> bool {
    match xattr::set(path, name, value) {
        Ok(()) => true,
        Err(e) if is_root() => panic!("running as root, yet cannot set {name} on {}: {e}", path.display()),
        Err(e) => {
            eprintln!("note: no user xattrs at {} ({e}); the xattr assertions are skipped", path.display());
            false
        }
    }
}

pub struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Flips one byte in the largest pack written since `before` (a listing
/// from `Env::repo_listing`), so that exactly the data added since is damaged.
pub fn damage_newest_pack(env: &Env, before: &[(PathBuf, u64)]) -> PathBuf {
    let pack = new_files(before, &env.repo_listing())
        .into_iter()
        .filter(|p| p.strip_prefix(&env.repo).unwrap().starts_with("data"))
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .expect("a pack was written");
    let mut bytes = fs::read(&pack).unwrap();
    bytes[1000] ^= 1;
    fs::write(&pack, bytes).unwrap();
    pack
}

/// `len` incompressible bytes that no other seed shares (xorshift from
/// `seed`, which must not be 0): data that needs its full size in a pack.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// A small seeded random source (splitmix64) for tests that pick kill
/// points at random: the seed is printed, so a failure can be replayed.
pub struct TestRng(u64);

impl TestRng {
    /// Seeded from `CAIRN_TEST_SEED` when set, else from the clock; prints
    /// the seed (shown by `cargo test` when the test fails).
    pub fn from_env(test: &str) -> TestRng {
        let seed = std::env::var("CAIRN_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        });
        eprintln!("{test}: seed {seed} (replay with CAIRN_TEST_SEED={seed})");
        TestRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Per top-level folder of a repository: how many files (named by id, not
/// temporaries) and their total size. Compares what two runs left behind.
pub fn folder_totals(repo: &Path) -> std::collections::BTreeMap<String, (usize, u64)> {
    let mut out = std::collections::BTreeMap::new();
    for (path, size) in listing(repo) {
        let rel = path.strip_prefix(repo).unwrap();
        if path.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let entry = out.entry(top).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += size;
    }
    out
}
