//! `cairn copy`: copies snapshots between two repositories, either way
//! round: `cairn -r SRC copy --to DEST` or `cairn -r DEST copy --from SRC`.
//! The other repository's password comes from its own flags (or
//! `CAIRN_TO_PASSWORD_FILE` / `CAIRN_FROM_PASSWORD_FILE`), read the way
//! `--password-file` / `--password-command` are. The work is core's
//! (`cairn_core::copy`); this module opens both sides and prints.

use std::path::PathBuf;

use anyhow::{Result, bail};
use cairn_core::Repository;
use cairn_core::copy::{self, CopyEvent, CopyOptions, CopyReport};
use cairn_core::format::marker::MarkerRole;
use clap::Args;

use crate::args::Global;
use crate::output::{self, outln};
use crate::password;

#[derive(Args, Debug, Clone)]
#[command(long_about = "Copy snapshots from one repository into another (local folders, rest: or s3: \
locations, with different passwords and keys).

Only snapshots the destination does not have are copied: a copy records the id of the snapshot first \
taken, so copying again adds nothing. Only blobs the destination lacks are stored when both repositories \
name blobs alike (a destination made with `init --copy-chunker-params SRC`); otherwise every blob is \
re-identified under the destination's key. Everything is sealed again under the destination's keys. Each \
snapshot is written whole (its packs, then its index, then its manifest): a copy that is stopped leaves \
the destination consistent, and the next copy finishes the work.")]
pub struct CopyArgs {
    /// Snapshots to copy (ids, prefixes, `latest`) [default: all]
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Copy from the repository (-r) into this one
    #[arg(long, value_name = "REPO", conflicts_with = "from", required_unless_present = "from")]
    pub to: Option<PathBuf>,
    /// Copy from this repository into the repository (-r)
    #[arg(long, value_name = "REPO")]
    pub from: Option<PathBuf>,
    /// The --to repository's password file (first line)
    #[arg(long, env = "CAIRN_TO_PASSWORD_FILE", value_name = "FILE")]
    pub to_password_file: Option<PathBuf>,
    /// A shell command printing the --to repository's password
    #[arg(long, env = "CAIRN_TO_PASSWORD_COMMAND", value_name = "CMD")]
    pub to_password_command: Option<String>,
    /// The --from repository's password file (first line)
    #[arg(long, env = "CAIRN_FROM_PASSWORD_FILE", value_name = "FILE")]
    pub from_password_file: Option<PathBuf>,
    /// A shell command printing the --from repository's password
    #[arg(long, env = "CAIRN_FROM_PASSWORD_COMMAND", value_name = "CMD")]
    pub from_password_command: Option<String>,
    /// Show what would be copied; write nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// The global options naming the other repository (`--to` or `--from`)
/// with its own password sources in place of the main one's.
pub fn other_global(g: &Global, repo: &std::path::Path, file: Option<&PathBuf>, command: Option<&String>) -> Global {
    let mut other = g.clone();
    other.repo = Some(repo.to_path_buf());
    other.password_file = file.cloned();
    other.password_command = command.cloned();
    other
}

pub fn run(g: &Global, a: &CopyArgs) -> Result<u8> {
    let (src, dst) = match (&a.to, &a.from) {
        (Some(to), None) => {
            let dest = other_global(g, to, a.to_password_file.as_ref(), a.to_password_command.as_ref());
            (password::open(g)?, open_destination(&dest, a.dry_run)?)
        }
        (None, Some(from)) => {
            let source = other_global(g, from, a.from_password_file.as_ref(), a.from_password_command.as_ref());
            (password::open(&source)?, open_destination(g, a.dry_run)?)
        }
        _ => bail!("give exactly one of --to REPO and --from REPO"),
    };
    copy_between(g, &src, &dst, &a.snapshots, a.dry_run)?;
    Ok(0)
}

/// The destination, registered as a writer unless nothing is written.
pub fn open_destination(g: &Global, dry_run: bool) -> Result<Repository> {
    if dry_run { password::open(g) } else { password::open_registered(g, MarkerRole::Snapshot) }
}

/// Copies and prints (also `cairn run`'s `copy-to`).
pub fn copy_between(
    g: &Global,
    src: &Repository,
    dst: &Repository,
    snapshots: &[String],
    dry_run: bool,
) -> Result<CopyReport> {
    if src.id() == dst.id() {
        bail!("the source and the destination are the same repository ({})", src.id().short());
    }
    let opts = CopyOptions { snapshots: snapshots.to_vec(), dry_run };
    let verb = if dry_run { "would copy" } else { "copied" };
    let quiet = g.quiet || g.json;
    let mut progress = |event: CopyEvent<'_>| {
        if let CopyEvent::Copied(c) = event
            && !quiet
        {
            let into = c.copy.map(|id| format!(" as {}", id.short())).unwrap_or_default();
            let _ = outln!(
                "{verb} snapshot {}{into}: {} data blobs ({}), {} trees, {} added",
                c.source.short(),
                c.data_blobs,
                output::bytes(c.raw_bytes),
                c.tree_blobs,
                output::bytes(c.bytes_added)
            );
        }
    };
    let report = copy::copy(src, dst, &opts, &mut progress)?;
    for problem in &report.problems {
        eprintln!("warning: {problem}");
    }
    if g.json {
        outln!("{}", json(&report, dry_run))?;
    } else if !g.quiet {
        let how = if report.same_blob_ids { "same blob ids" } else { "blobs re-identified" };
        outln!(
            "{verb} {} snapshot(s) to {} ({how}); {} already there",
            report.copied.len(),
            cairn_core::backend::shown_location(dst.path()).display(),
            report.already_present.len()
        )?;
    }
    Ok(report)
}

fn json(report: &CopyReport, dry_run: bool) -> serde_json::Value {
    let copied: Vec<_> = report
        .copied
        .iter()
        .map(|c| {
            serde_json::json!({
                "source": c.source.to_hex(),
                "copy": c.copy.map(|id| id.to_hex()),
                "data_blobs": c.data_blobs,
                "tree_blobs": c.tree_blobs,
                "raw_bytes": c.raw_bytes,
                "bytes_added": c.bytes_added,
            })
        })
        .collect();
    serde_json::json!({
        "dry_run": dry_run,
        "same_blob_ids": report.same_blob_ids,
        "copied": copied,
        "already_present": report.already_present.iter().map(|id| id.to_hex()).collect::<Vec<_>>(),
        "data_blobs": report.copied.iter().map(|c| c.data_blobs).sum::<u64>(),
        "tree_blobs": report.copied.iter().map(|c| c.tree_blobs).sum::<u64>(),
        "bytes_added": report.copied.iter().map(|c| c.bytes_added).sum::<u64>(),
    })
}
