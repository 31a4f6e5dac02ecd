//! Command-line definitions (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::select::SelectArgs;

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version = crate::commands::man::version_text(),
    about = "Hourly, deduplicated, encrypted snapshots of your files, and time travel through them."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Repository folder, or a REST server: rest:http://HOST:PORT/NAME/, rest:unix:/SOCKET:/NAME/ [default: ~/.local/share/cairn/repo]
    #[arg(short = 'r', long, global = true, env = "CAIRN_REPO", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Read the password from this file (first line)
    #[arg(long, global = true, env = "CAIRN_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, global = true, env = "CAIRN_PASSWORD_COMMAND", value_name = "CMD")]
    pub password_command: Option<String>,
    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not use or update the local cache (~/.cache/cairn)
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Print nothing but warnings and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Use a repository without encryption even though it was encrypted when
    /// this machine last used it (its config was replaced and its keys
    /// removed), or a password was given
    #[arg(long, global = true)]
    pub insecure_no_encryption: bool,
    /// Use this profile of the profile file [default: `default`, when the file has it]
    #[arg(long, global = true, env = "CAIRN_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The profile file [default: ~/.config/cairn/config.toml]
    #[arg(long, global = true, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The global options given by environment variable rather than flag
    /// (clap's value source, kept for `config show`).
    #[arg(skip)]
    pub from_env: Vec<&'static str>,
    /// The profile in use, merged into the options above (`main::with_profile`).
    #[arg(skip)]
    pub active: Option<crate::config::Profile>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new repository (encrypted unless --no-encryption)
    Init(InitArgs),
    /// Take a snapshot of one or more paths
    Snapshot(SnapshotArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// Restore a snapshot (or some of its paths) into a folder
    Restore(RestoreArgs),
    /// Verify the repository's integrity
    Check(CheckArgs),
    /// Repair the repository (`repair index`: rebuild the index from pack headers)
    #[command(subcommand)]
    Repair(RepairCommand),
    /// Show what changed between two snapshots, or a snapshot and the live files
    Diff(DiffArgs),
    /// List a snapshot's files and folders at a path
    Ls(LsArgs),
    /// Find which snapshots hold files matching a glob, and their versions
    Find(FindArgs),
    /// Show every version of one file or folder across the snapshots
    History(HistoryArgs),
    /// Write one file of a snapshot to standard output
    Dump(DumpArgs),
    /// Manage the repository's keys (its password)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Remove snapshots by policy (--keep-*, or the repository's policy) or by id
    Forget(crate::commands::forget::ForgetArgs),
    /// Show or set the repository's forget policy
    Policy(crate::commands::policy::PolicyArgs),
    /// Pin snapshots: forget never removes them
    Pin(crate::commands::pin::PinArgs),
    /// Unpin snapshots
    Unpin(crate::commands::pin::PinArgs),
    /// Delete data no snapshot needs (repacking partly used packs) and consolidate the index
    Prune(crate::commands::prune::PruneArgs),
    /// Show repository sizes, deduplication and unused space
    Stats,
    /// Copy snapshots to (--to) or from (--from) another repository
    Copy(crate::commands::copy::CopyArgs),
    /// Install, show or remove the timer (systemd user timer or crontab line) that runs `cairn run`
    #[command(subcommand)]
    Schedule(crate::commands::schedule::ScheduleCommand),
    /// Print a repository object as JSON (for debugging): config, snapshot, tree, index, pack, keys, policy, pins
    Cat(crate::commands::cat::CatArgs),
    /// Print a shell completion script to standard output
    Completions(crate::commands::completions::CompletionsArgs),
    /// Write man pages: cairn's to standard output, or every command's into --out DIR
    Man(crate::commands::man::ManArgs),
    /// Run the profile's whole cycle: snapshot, forget, prune and check when due (what the schedule calls)
    Run(crate::commands::run::RunArgs),
    /// Show whether the backups are healthy: last snapshot, last run, next run, checks, alarms
    Status(crate::commands::status::StatusArgs),
    /// Show the effective settings and where each comes from
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCommand),
    /// Serve repositories over restic's REST protocol (Unix socket or TCP), optionally append-only
    Serve(crate::commands::serve::ServeCommand),
}

#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Snapshot id, unique prefix (4+ hex digits), `latest` or `latest~N` (or use --at; then only PATH is given)
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: String,
    /// The file (original path; relative to the current folder if not absolute)
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Change the password: a new key file replaces the old one, and the default password file is rewritten
    Passwd(PasswdArgs),
}

#[derive(Args, Debug)]
pub struct PasswdArgs {
    /// Read the new password from this file (first line)
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub new_password_file: Option<PathBuf>,
    /// Generate a new random password into the default password file (when the password came from it)
    #[arg(long)]
    pub generate: bool,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Store everything unencrypted (blob ids are still verified)
    #[arg(long)]
    pub no_encryption: bool,
    /// argon2id memory in KiB (tests use tiny values)
    #[arg(long, hide = true)]
    pub kdf_memory_kib: Option<u32>,
    /// argon2id iterations
    #[arg(long, hide = true)]
    pub kdf_iterations: Option<u32>,
    /// FastCDC minimum chunk size in bytes (for chunking experiments)
    #[arg(long, hide = true)]
    pub chunk_min: Option<u32>,
    /// FastCDC average chunk size in bytes
    #[arg(long, hide = true)]
    pub chunk_avg: Option<u32>,
    /// FastCDC maximum chunk size in bytes
    #[arg(long, hide = true)]
    pub chunk_max: Option<u32>,
    /// zstd level for everything the repository stores
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub zstd_level: Option<i32>,
    /// Also write a profile (`default`, or --profile's) that snapshots these paths
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// With --paths: replace a profile of that name
    #[arg(long, requires = "paths")]
    pub force: bool,
    /// s3: only. Sets the bucket's default retention: every object uploaded
    /// afterwards (by anyone) cannot be deleted for DAYS; the bucket must
    /// have been created with Object Lock enabled. Prune skips what is locked
    #[arg(long, value_name = "DAYS[d]")]
    pub object_lock: Option<String>,
    /// With --object-lock: governance (deletable with a special permission)
    /// or compliance (by nobody)
    #[arg(long, value_name = "MODE", requires = "object_lock", default_value = "governance")]
    pub object_lock_mode: String,
    /// Cut and name blobs as this repository does (its chunk sizes, blob-id key and chunker seed), so that
    /// `cairn copy` between the two copies only missing blobs and snapshots taken in either deduplicate
    #[arg(long, value_name = "REPO")]
    pub copy_chunker_params: Option<PathBuf>,
    /// The --copy-chunker-params repository's password file (first line)
    #[arg(long, env = "CAIRN_FROM_PASSWORD_FILE", value_name = "FILE")]
    pub from_password_file: Option<PathBuf>,
    /// A shell command printing the --copy-chunker-params repository's password
    #[arg(long, env = "CAIRN_FROM_PASSWORD_COMMAND", value_name = "CMD")]
    pub from_password_command: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    /// Files and folders to snapshot [default: the profile's `paths`]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Host name to record [default: this machine's]
    #[arg(long)]
    pub host: Option<String>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Record this time instead of now (RFC 3339, "YYYY-MM-DD HH:MM[:SS]" local, or @UNIX)
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// Compare against this snapshot instead of the newest with the same host and paths
    #[arg(long, value_name = "SNAPSHOT")]
    pub parent: Option<String>,
    /// Read every file, trusting no parent snapshot
    #[arg(long)]
    pub force: bool,
    /// Leave out paths matching this gitignore-style pattern (repeatable)
    #[arg(
        long = "exclude",
        value_name = "PATTERN",
        long_help = "Leave out paths matching this gitignore-style pattern (repeatable). Without a leading `/` a \
pattern matches at any depth, even with a `/` inside (`.claude/cache`); a leading `/` anchors it at the \
filesystem root (`/home/me/projects/big`). A trailing `/` matches folders only; `!PATTERN` re-includes what \
an earlier pattern, a default one included, left out."
    )]
    pub excludes: Vec<String>,
    /// Read --exclude patterns from this file, one a line, `#` comments (repeatable)
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_files: Vec<PathBuf>,
    /// Leave out folders holding a file of this name (repeatable; a CACHEDIR.TAG counts only with its signature)
    #[arg(long = "exclude-if-present", value_name = "NAME")]
    pub exclude_if_present: Vec<String>,
    /// Do not apply the default excludes (see --help for the list)
    #[arg(long, long_help = default_excludes_help())]
    pub no_default_excludes: bool,
    /// Honour the .gitignore files found in the tree (nested ones stack as in git)
    #[arg(long)]
    pub git_ignore: bool,
    /// Do not cross into other filesystems below each given path
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Leave out regular files larger than SIZE (e.g. 500K, 100M, 1G; units of 1024)
    #[arg(long, value_name = "SIZE", value_parser = cairn_core::fs::exclude::parse_size)]
    pub exclude_larger_than: Option<u64>,
    /// Also store the contents of pseudo filesystems (/proc, /sys, /dev…; see --help for the list)
    #[arg(long, long_help = pseudo_fs_help())]
    pub include_pseudo_fs: bool,
    /// On filesystems whose reads can hang (FUSE, NFS, SMB, /proc; not local disks): skip a file whose read makes no progress for this long (e.g. 60s, 2m, 500ms) [default: 60s]
    #[arg(long, env = "CAIRN_READ_STALL_LIMIT", value_name = "DURATION", value_parser = parse_stall_limit)]
    pub read_stall_limit: Option<std::time::Duration>,
    /// Walk and read as a real run, store nothing; report what would be added
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// List the excluded paths; with --json, print progress as JSON lines before the summary
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not raise the mass-deletion alarm (see README "The mass-deletion alarm")
    #[arg(long)]
    pub no_alarm: bool,
    /// The alarm's thresholds (a profile's `[P.alarm]`); None = the defaults.
    #[arg(skip)]
    pub alarm: Option<cairn_core::archiver::alarm::AlarmRules>,
    /// The command run (`sh -c`) when the alarm is raised (a profile's `on-alert`).
    #[arg(skip)]
    pub on_alert: Option<String>,
}

/// The help of --include-pseudo-fs, with the filesystems it lets in.
fn pseudo_fs_help() -> String {
    format!(
        "Also store the contents of pseudo filesystems. By default, where the walk meets the mount point of one \
of these, cairn stores the mount point as an empty folder (with one note) and never reads below it: {}. \
Their files are kernel interfaces, not anyone's data, and some block a reader forever (/proc/kmsg).",
        cairn_core::fs::pseudo::names().join(" ")
    )
}

/// A positive duration: `60` (seconds), `60s`, `2m`, `500ms`, `1m 30s`.
fn parse_stall_limit(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{text:?}: not a duration (e.g. 60s, 2m, 500ms)");
    let duration = match text.trim().parse::<u64>() {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(_) => {
            let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
            std::time::Duration::try_from(signed).map_err(|_| bad())?
        }
    };
    if duration.is_zero() {
        return Err(format!("{text:?}: the limit must be more than zero"));
    }
    Ok(duration)
}

/// The help of --no-default-excludes, with the list it switches off.
fn default_excludes_help() -> String {
    use cairn_core::fs::exclude::{CACHEDIR_TAG, CARGO_TARGET, DEFAULT_PATTERNS};
    format!(
        "Do not apply the default excludes. By default cairn leaves out what tools rebuild or download again and \
that is never anyone's source: {}; a `{CARGO_TARGET}/` folder next to a Cargo.toml (cargo's build folder; a \
`{CARGO_TARGET}` folder elsewhere is kept); and any folder holding a {CACHEDIR_TAG} that starts with the cache \
directory signature (https://bford.info/cachedir/; cargo, and many caches, write one). `dist/` and `build/` are \
kept: many projects keep sources there. Paths given on the command line are always stored.",
        DEFAULT_PATTERNS.join(" ")
    )
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    /// Only snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
    /// Only snapshots with this tag (repeatable: all must be present)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only snapshots that cover this path (it is, or lies inside, one of their paths)
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Only the N newest snapshots (of those the other options select)
    #[arg(long, value_name = "N")]
    pub latest: Option<usize>,
    /// Show only these snapshots (ids, unique prefixes, `latest`, `latest~N`)
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot id, unique prefix (4+ hex digits), `latest` or `latest~N` (or use --at)
    pub snapshot: Option<String>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Folder to restore into; each path is recreated at its full original path below it
    #[arg(long, value_name = "DIR", required_unless_present = "to_original", conflicts_with = "to_original")]
    pub target: Option<PathBuf>,
    /// Put the files back where they were: missing ones are recreated, identical ones left alone
    #[arg(long)]
    pub to_original: bool,
    /// Restore only this file, folder or glob (original path; repeatable)
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Restore only files matching this glob (repeatable; a glob without `/` matches names)
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Do not restore files matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Replace files that differ (with --to-original, after saving them in a snapshot); with --target, restore into a non-empty folder
    #[arg(long)]
    pub overwrite: bool,
    /// With --to-original: also remove files in the restored folders that the snapshot does not have (saved first)
    #[arg(long, requires = "to_original")]
    pub delete: bool,
    /// Show what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand, Debug)]
pub enum RepairCommand {
    /// Rebuild the index from the pack headers (after `check` reports a damaged index)
    Index(RepairIndexArgs),
}

#[derive(Args, Debug)]
pub struct RepairIndexArgs {
    /// Show what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also read, decrypt and re-hash every blob
    #[arg(long)]
    pub read_data: bool,
    /// Read only part of the packs: PCT% or SIZE (random packs), or N/M (the Nth of M fixed slices)
    #[arg(long, value_name = "PCT|N/M|SIZE", conflicts_with = "read_data")]
    pub read_data_subset: Option<String>,
    /// Restore drill: restore N random files of the latest snapshot and compare them with the unchanged live files
    #[arg(long, value_name = "N")]
    pub restore_sample: Option<usize>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Snapshot A, optionally snapshot B (without B: the live files), then paths to limit the diff to
    #[arg(value_name = "A [B] [PATH]")]
    pub args: Vec<std::ffi::OsString>,
    /// Use the newest snapshot at or before TIME as A
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Use the newest snapshot at or before TIME as B
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Show unified diffs of changed text files
    #[arg(long)]
    pub content: bool,
    /// Show the change in bytes of each file
    #[arg(long)]
    pub stat: bool,
    /// Report only paths matching this pattern, or inside a folder matching it (snapshot --exclude syntax; repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,
    /// Do not report paths matching this pattern, or inside a folder matching it (snapshot --exclude syntax; repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Only snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
    #[command(flatten)]
    pub select: DiffSelect,
}

/// Snapshot filters for diff (`--at` is replaced by --from/--to).
#[derive(Args, Debug, Default)]
pub struct DiffSelect {
    /// Only consider snapshots with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

impl DiffArgs {
    pub fn snapshot_filter(&self) -> cairn_core::snapshot::snapshots::Filter {
        cairn_core::snapshot::snapshots::Filter {
            host: self.host.clone(),
            paths: Vec::new(),
            tags: self.select.tags.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot (id, unique prefix of 4+ hex digits, `latest`, `latest~N`; or use --at), then the file or folder
    /// to list (original path; relative to the current folder if not absolute) [default: the snapshot's paths]
    #[arg(value_names = ["SNAPSHOT", "PATH"], num_args = 0..=2)]
    pub args: Vec<std::ffi::OsString>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// List the whole subtree, not just one level
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Show mode, size and modification time
    #[arg(short, long)]
    pub long: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "PATTERN is a glob: `*` and `?` stay within a name, `**` crosses folders. \
Without `/` it matches names anywhere (CLAUDE.md, '*.jsonl'); starting with `/` it matches whole paths; \
otherwise the end of paths ('.claude/*.md'). With --at, only snapshots taken at or before TIME count.")]
pub struct FindArgs {
    /// Glob over absolute paths (quote it so the shell leaves it alone)
    pub pattern: String,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "With --at, only snapshots taken at or before TIME count.")]
pub struct HistoryArgs {
    /// The file or folder (original path; relative to the current folder if not absolute)
    pub path: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Show the unified diff between successive versions of a text file
    #[arg(long)]
    pub content: bool,
    /// Show every snapshot, not only those where something changed
    #[arg(long)]
    pub all: bool,
}
