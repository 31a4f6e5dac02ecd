//! Which entries a snapshot leaves out. This module owns every exclude rule
//! of `cairn snapshot`: the default set for agent workspaces, gitignore-style
//! patterns (`--exclude`, `--exclude-file`), marker files
//! (`--exclude-if-present`, `CACHEDIR.TAG` with its signature), `.gitignore`
//! files found in the tree (`--git-ignore`), `--one-file-system` and
//! `--exclude-larger-than`, and the two the CLI adds by itself: cairn's own
//! files (repository, cache, password file) and pseudo filesystems
//! (`fs::pseudo`, whose mount points the archiver keeps as empty folders).
//!
//! The archiver asks [`ExcludeRules::check_entry`] about each entry it has
//! stat-ed and [`ExcludeRules::check_listing`] about each folder it has
//! listed, before reading or descending into it, so nothing below an
//! excluded folder is stat-ed or read. Paths named on the command line are
//! never excluded (the archiver does not ask about them).
//!
//! Pattern matching is the `ignore` crate's gitignore implementation (the
//! one ripgrep uses): negation, folder-only patterns, `**`, anchoring and
//! escapes behave as in git, and checking a name costs a few hash lookups
//! on the path the archiver already holds, without allocating.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::{Error, IoContext, Result};
use crate::format::recipe::ExcludeRecord;

/// The default exclude patterns (gitignore syntax; each matches a name at
/// any depth). Only things that are rebuilt or re-downloaded by a tool and
/// are never anyone's source: dependency folders, virtual environments,
/// bytecode, tool caches and framework build caches. `dist/` and `build/`
/// are not here: many projects keep sources there.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "node_modules/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "*.pyc",
    ".cache/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".next/",
    ".nuxt/",
    ".svelte-kit/",
    ".turbo/",
    ".parcel-cache/",
];

/// The default set also drops a folder named `target` that sits next to a
/// `Cargo.toml` (cargo's build folder). A `target` folder elsewhere is kept.
pub const CARGO_TARGET: &str = "target";
const CARGO_MANIFEST: &[u8] = b"Cargo.toml";

/// The marker file of the Cache Directory Tagging Specification
/// (<https://bford.info/cachedir/>); part of the default set.
pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
/// A `CACHEDIR.TAG` counts only when the file starts with this.
pub const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

const GITIGNORE: &[u8] = b".gitignore";

/// What to exclude, as given by the user. `Default` excludes nothing; the
/// CLI turns `default_excludes` on unless `--no-default-excludes`.
#[derive(Clone, Debug, Default)]
pub struct ExcludeOptions {
    /// [`DEFAULT_PATTERNS`], the cargo `target` rule and `CACHEDIR.TAG`.
    pub default_excludes: bool,
    /// Gitignore-style patterns (`--exclude`). Without a leading `/` a
    /// pattern matches at any depth, even when it holds a `/`; with one it
    /// is anchored at the filesystem root (`/home/me/big`). A `!pattern`
    /// re-includes what an earlier pattern (the defaults included) excluded.
    pub patterns: Vec<String>,
    /// Files of such patterns, one a line, `#` comments (`--exclude-file`).
    pub pattern_files: Vec<PathBuf>,
    /// Marker file names: a folder holding one is excluded
    /// (`--exclude-if-present`). `CACHEDIR.TAG` must carry its signature.
    pub if_present: Vec<String>,
    /// Honour `.gitignore` files found in the tree, nested ones stacking.
    pub git_ignore: bool,
    /// Do not cross into other filesystems below each given path.
    pub one_file_system: bool,
    /// Exclude regular files larger than this many bytes.
    pub larger_than: Option<u64>,
    /// Report each excluded path and why (`SnapshotOutcome::excluded_paths`).
    pub report: bool,
    /// cairn's own files, left out wherever the walk meets them: its local
    /// repository, its cache and its password file (absolute paths; the
    /// CLI gives each as written and with symlinks resolved).
    pub own_paths: Vec<PathBuf>,
    /// Keep only the mount point (an empty folder) of each pseudo
    /// filesystem (`fs::pseudo`: proc, sysfs, devtmpfs…) met, never its
    /// contents. The CLI sets it unless `--include-pseudo-fs`.
    pub skip_pseudo_filesystems: bool,
}

/// Why an entry was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A default pattern or one from `--exclude` / `--exclude-file`.
    Pattern(String),
    /// A `target` folder next to a `Cargo.toml`.
    CargoTarget,
    /// The folder holds this marker file.
    Marker(String),
    /// A pattern of a `.gitignore` file.
    GitIgnore { file: PathBuf, pattern: String },
    /// On another filesystem than the given path (`--one-file-system`).
    OtherFilesystem,
    /// A regular file over `--exclude-larger-than`.
    TooLarge { size: u64, limit: u64 },
    /// cairn's own repository, cache or password file.
    OwnFile,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Pattern(p) => write!(f, "pattern {p}"),
            Reason::CargoTarget => write!(f, "cargo build folder (next to Cargo.toml)"),
            Reason::Marker(name) => write!(f, "holds {name}"),
            Reason::GitIgnore { file, pattern } => write!(f, "{pattern} in {}", file.display()),
            Reason::OtherFilesystem => write!(f, "other filesystem"),
            Reason::TooLarge { size, limit } => write!(f, "{size} bytes, over {limit}"),
            Reason::OwnFile => write!(f, "cairn's own repository, cache or password file"),
        }
    }
}

/// A marker file name and whether it must carry the CACHEDIR.TAG signature.
#[derive(Clone, Debug)]
struct Marker {
    name: Vec<u8>,
    signed: bool,
}

/// The compiled rules. Cheap to consult from many threads at once.
#[derive(Clone, Debug)]
pub struct ExcludeRules {
    /// Default and user patterns, rooted at `/`; `None` when there are none.
    patterns: Option<Gitignore>,
    cargo_target: bool,
    markers: Vec<Marker>,
    git_ignore: bool,
    one_file_system: bool,
    larger_than: Option<u64>,
    /// The same rules as the snapshot manifest records them.
    record: ExcludeRecord,
    /// cairn's own files (repository, cache, password file): exact paths
    /// left out wherever the walk meets them; recorded as `self_excluded`.
    own_paths: Vec<PathBuf>,
    skip_pseudo_filesystems: bool,
}

/// The rules in force inside one folder: the device of the given path it
/// belongs to and the stack of `.gitignore` files above it. Passed down the
/// walk by reference; a folder with its own `.gitignore` gets a new scope
/// that points at its parent's (an `Arc` chain, nothing copied).
#[derive(Clone, Debug)]
pub struct Scope {
    device: u64,
    git: Option<Arc<GitLevel>>,
}

#[derive(Debug)]
struct GitLevel {
    file: PathBuf,
    matcher: Gitignore,
    up: Option<Arc<GitLevel>>,
}

impl Scope {
    /// The scope of a path given on the command line, from its own stat.
    pub fn root(md: &Metadata) -> Scope {
        Scope { device: md.dev(), git: None }
    }
}

impl ExcludeRules {
    /// Compiles the options; fails on a bad pattern or an unreadable
    /// exclude file, before anything is stored.
    pub fn new(opts: &ExcludeOptions) -> Result<ExcludeRules> {
        let mut builder = GitignoreBuilder::new("/");
        let mut count = 0usize;
        // Every pattern line as applied, for the manifest (blank lines and
        // comments match nothing and are not kept).
        let mut recorded: Vec<String> = Vec::new();
        let mut add = |builder: &mut GitignoreBuilder, from: Option<PathBuf>, line: &str, source: &str| {
            add_pattern(builder, from, line, source)?;
            count += 1;
            let trimmed = line.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                recorded.push(line.to_string());
            }
            Ok::<(), Error>(())
        };
        if opts.default_excludes {
            for p in DEFAULT_PATTERNS {
                add(&mut builder, None, p, "default exclude")?;
            }
        }
        for p in &opts.patterns {
            add(&mut builder, None, &unanchored(p), "exclude pattern")?;
        }
        for file in &opts.pattern_files {
            let text = std::fs::read_to_string(file).at(file)?;
            for line in text.lines() {
                let line = line.strip_suffix('\r').unwrap_or(line);
                add(&mut builder, Some(file.clone()), &unanchored(line), &file.display().to_string())?;
            }
        }
        let patterns = if count == 0 {
            None
        } else {
            let built = builder.build().map_err(|e| Error::InvalidArgument(format!("exclude patterns: {e}")))?;
            (!built.is_empty()).then_some(built)
        };
        let mut markers: Vec<Marker> = Vec::new();
        let defaults = opts.default_excludes.then_some(CACHEDIR_TAG);
        for name in defaults.into_iter().chain(opts.if_present.iter().map(String::as_str)) {
            if name.is_empty() || name.contains('/') {
                return Err(Error::InvalidArgument(format!(
                    "exclude-if-present marker {name:?}: give a file name, not a path"
                )));
            }
            if !markers.iter().any(|m| m.name == name.as_bytes()) {
                markers.push(Marker { name: name.as_bytes().to_vec(), signed: name == CACHEDIR_TAG });
            }
        }
        let record = ExcludeRecord {
            patterns: recorded,
            cargo_target: opts.default_excludes,
            markers: markers.iter().map(|m| String::from_utf8_lossy(&m.name).into_owned()).collect(),
            git_ignore: opts.git_ignore,
            one_file_system: opts.one_file_system,
            larger_than: opts.larger_than,
            skip_pseudo_filesystems: opts.skip_pseudo_filesystems,
            self_excluded: opts.own_paths.iter().map(|p| p.as_os_str().as_bytes().to_vec().into()).collect(),
        };
        Ok(ExcludeRules {
            patterns,
            cargo_target: opts.default_excludes,
            markers,
            git_ignore: opts.git_ignore,
            one_file_system: opts.one_file_system,
            larger_than: opts.larger_than,
            record,
            own_paths: opts.own_paths.clone(),
            skip_pseudo_filesystems: opts.skip_pseudo_filesystems,
        })
    }

    /// The rules a snapshot recorded, compiled again: the same patterns in
    /// the same order (as recorded, not rewritten again), markers and
    /// switches.
    pub fn from_record(record: &ExcludeRecord) -> Result<ExcludeRules> {
        let opts = ExcludeOptions {
            if_present: record.markers.clone(),
            git_ignore: record.git_ignore,
            one_file_system: record.one_file_system,
            larger_than: record.larger_than,
            ..ExcludeOptions::default()
        };
        let mut rules = ExcludeRules::new(&opts)?;
        if !record.patterns.is_empty() {
            let mut builder = GitignoreBuilder::new("/");
            for line in &record.patterns {
                add_pattern(&mut builder, None, line, "recorded exclude pattern")?;
            }
            let built = builder.build().map_err(|e| Error::InvalidArgument(format!("recorded patterns: {e}")))?;
            rules.patterns = (!built.is_empty()).then_some(built);
        }
        rules.cargo_target = record.cargo_target;
        rules.own_paths = record.self_excluded.iter().map(|p| PathBuf::from(OsStr::from_bytes(p))).collect();
        rules.skip_pseudo_filesystems = record.skip_pseudo_filesystems;
        rules.record = record.clone();
        Ok(rules)
    }

    /// These rules as a snapshot manifest records them.
    pub fn record(&self) -> &ExcludeRecord {
        &self.record
    }

    /// True when no rule can exclude anything.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_none()
            && !self.cargo_target
            && self.markers.is_empty()
            && !self.git_ignore
            && !self.one_file_system
            && self.larger_than.is_none()
            && self.own_paths.is_empty()
            && !self.skip_pseudo_filesystems
    }

    /// Whether the mount points of pseudo filesystems are kept empty.
    pub fn skips_pseudo_filesystems(&self) -> bool {
        self.skip_pseudo_filesystems
    }

    /// Decides for one entry of a folder, from its stat. `path` is the
    /// entry's absolute path, `name` its last component, `siblings` the
    /// sorted names of its folder.
    pub fn check_entry(
        &self,
        path: &Path,
        name: &[u8],
        md: &Metadata,
        scope: &Scope,
        siblings: &[Vec<u8>],
    ) -> Option<Reason> {
        // First, so that no `!pattern` can take them back in.
        if self.own_paths.iter().any(|own| own.file_name().map(OsStrExt::as_bytes) == Some(name) && own == path) {
            return Some(Reason::OwnFile);
        }
        if self.one_file_system && md.dev() != scope.device {
            return Some(Reason::OtherFilesystem);
        }
        let is_dir = md.is_dir();
        if let Some(limit) = self.larger_than
            && md.is_file()
            && md.len() > limit
        {
            return Some(Reason::TooLarge { size: md.len(), limit });
        }
        if self.cargo_target && is_dir && name == CARGO_TARGET.as_bytes() && contains(siblings, CARGO_MANIFEST) {
            return Some(Reason::CargoTarget);
        }
        if let Some(patterns) = &self.patterns
            && let Match::Ignore(glob) = patterns.matched(path, is_dir)
        {
            return Some(Reason::Pattern(glob.original().to_string()));
        }
        let mut level = scope.git.as_deref();
        while let Some(l) = level {
            match l.matcher.matched(path, is_dir) {
                Match::Ignore(glob) => {
                    return Some(Reason::GitIgnore { file: l.file.clone(), pattern: glob.original().to_string() });
                }
                Match::Whitelist(_) => return None,
                Match::None => level = l.up.as_deref(),
            }
        }
        None
    }

    /// Decides for a folder from its listing (`names` sorted): excluded when
    /// it holds a marker file (a `CACHEDIR.TAG` only with its signature).
    pub fn check_listing(&self, dir: &Path, names: &[Vec<u8>]) -> Option<Reason> {
        for m in &self.markers {
            if !contains(names, &m.name) {
                continue;
            }
            if !m.signed || has_cachedir_signature(&dir.join(OsStr::from_bytes(&m.name))) {
                return Some(Reason::Marker(String::from_utf8_lossy(&m.name).into_owned()));
            }
        }
        None
    }

    /// The scope for the entries of `dir` (listing `names`, sorted): `None`
    /// when it is `scope` itself, else a new one with `dir/.gitignore` on top
    /// of the stack. A `.gitignore` that cannot be read or has bad lines
    /// yields a warning text; its good lines still apply.
    pub fn enter(&self, dir: &Path, names: &[Vec<u8>], scope: &Scope) -> (Option<Scope>, Option<String>) {
        if !self.git_ignore || !contains(names, GITIGNORE) {
            return (None, None);
        }
        let file = dir.join(OsStr::from_bytes(GITIGNORE));
        let mut builder = GitignoreBuilder::new(dir);
        let mut problem = builder.add(&file).map(|e| e.to_string());
        let matcher = match builder.build() {
            Ok(m) => m,
            Err(e) => {
                problem.get_or_insert_with(|| e.to_string());
                return (None, problem);
            }
        };
        if matcher.is_empty() {
            return (None, problem);
        }
        let level = GitLevel { file, matcher, up: scope.git.clone() };
        (Some(Scope { device: scope.device, git: Some(Arc::new(level)) }), problem)
    }
}

fn add_pattern(builder: &mut GitignoreBuilder, from: Option<PathBuf>, line: &str, source: &str) -> Result<()> {
    builder.add_line(from, line).map_err(|e| Error::InvalidArgument(format!("{source}: {line:?}: {e}")))?;
    Ok(())
}

/// A command-line pattern without a leading `/` matches at any depth, even
/// when it holds a `/` (`.claude/cache` excludes every `.claude/cache`): in
/// a `.gitignore` a middle slash anchors the pattern at the file's folder,
/// but `--exclude` has no such folder. Adds the `**/` that says so.
pub(crate) fn unanchored(line: &str) -> String {
    let trimmed = line.trim_end();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return line.to_string();
    }
    let (bang, body) = match line.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", line),
    };
    let inner = body.trim_end().trim_end_matches('/');
    if body.starts_with('/') || body.starts_with("**/") || !inner.contains('/') {
        return line.to_string();
    }
    format!("{bang}**/{body}")
}

/// Whether sorted `names` holds `name`.
fn contains(names: &[Vec<u8>], name: &[u8]) -> bool {
    names.binary_search_by(|n| n.as_slice().cmp(name)).is_ok()
}

fn has_cachedir_signature(path: &Path) -> bool {
    let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == CACHEDIR_SIGNATURE
}

/// Parses a size such as `500K`, `100M`, `1.5G`, `2GiB` or `1048576`
/// (bytes). Units are powers of 1024, as restic's.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let s = text.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("{text:?}: unknown unit (use K, M, G or T)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("{text:?}: not a size (e.g. 500K, 100M, 1G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?}: out of range"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
#[path = "exclude_tests.rs"]
mod tests;
