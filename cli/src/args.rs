//! Command-line definitions (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::select::SelectArgs;

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "Hourly, deduplicated, encrypted snapshots of your files, and time travel through them."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug)]
pub struct Global {
    /// Repository folder [default: ~/.local/share/cairn/repo]
    #[arg(long, global = true, env = "CAIRN_REPO", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Read the password from this file (first line)
    #[arg(long, global = true, env = "CAIRN_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, global = true, value_name = "CMD")]
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
    /// Show what changed between two snapshots, or a snapshot and the live files
    Diff(DiffArgs),
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
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// Files and folders to snapshot
    #[arg(required = true, value_name = "PATH")]
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
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    /// Only snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
    /// Only snapshots with this tag
    #[arg(long)]
    pub tag: Option<String>,
    /// Only snapshots that include this path
    #[arg(long)]
    pub path: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot id, unique prefix (4+ hex digits), `latest` or `latest~N` (or use --at)
    pub snapshot: Option<String>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Folder to restore into; each path is recreated at its full original path below it
    #[arg(long, value_name = "DIR")]
    pub target: PathBuf,
    /// Restore only this file or folder (original absolute path; repeatable)
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Restore into a non-empty target, replacing files in the way
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also read, decrypt and re-hash every blob
    #[arg(long)]
    pub read_data: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Snapshot A, optionally snapshot B (without B: the live files), then paths to limit the diff to
    #[arg(value_name = "A [B] [PATH]")]
    pub args: Vec<String>,
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
    pub fn snapshot_filter(&self) -> cairn_core::snapshots::Filter {
        cairn_core::snapshots::Filter { host: self.host.clone(), paths: Vec::new(), tags: self.select.tags.clone() }
    }
}
