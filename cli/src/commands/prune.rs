//! `cairn prune`: prints the plan (what is deleted, repacked and kept, the
//! unused space after), then carries it out unless `--dry-run`. Also run by
//! `cairn forget --prune` after the forget.

use anyhow::Result;
use cairn_core::format::marker::MarkerRole;
use cairn_core::maintenance::prune::{self, MaxUnused, PruneOptions, PrunePlan, PruneReport, SweepOutcome};
use cairn_core::{Id, Repository};
use clap::Args;

use crate::args::Global;
use crate::output::outln;
use crate::{EXIT_ERROR, output, password};

/// The limits of a prune, shared by `prune` and `forget --prune`.
#[derive(Args, Debug)]
pub struct PruneFlags {
    /// Unused space to leave in kept packs: a share of the repository (5%), a size (50M) or `unlimited`
    #[arg(long, value_name = "LIMIT", default_value = "5%")]
    pub max_unused: String,
    /// Repack at most this many bytes of packs (500M, 2G); no limit by default
    #[arg(long, value_name = "SIZE")]
    pub max_repack_size: Option<String>,
}

impl PruneFlags {
    pub fn options(&self, forgotten: &[Id]) -> Result<PruneOptions> {
        Ok(PruneOptions {
            max_unused: MaxUnused::parse(&self.max_unused)?,
            max_repack_size: self.max_repack_size.as_deref().map(prune::parse_size).transpose()?,
            forgotten: forgotten.to_vec(),
        })
    }
}

#[derive(Args, Debug)]
#[command(long_about = "Delete the data no snapshot needs any more, and consolidate the index files.

The plan comes from the index alone: packs nothing needs are deleted whole; packs partly needed are \
repacked (their needed blobs copied, after each is verified, into new packs) until the unused space \
left is at most --max-unused; packs wholly needed stay. The plan is always printed; --dry-run stops there.

prune never deletes a blob a snapshot needs: it refuses to delete anything while such a blob is missing \
or a snapshot or index file cannot be read, and a damaged blob keeps its pack whole. It is safe beside \
snapshots running on this or other machines, and a killed prune leaves a consistent repository that the \
next prune finishes.")]
pub struct PruneArgs {
    /// Print the plan without changing anything
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    #[command(flatten)]
    pub flags: PruneFlags,
}

pub fn run(g: &Global, a: &PruneArgs) -> Result<u8> {
    let repo = open(g, a.dry_run)?;
    let (code, json) = prune_repository(g, &repo, &a.flags, a.dry_run, &[])?;
    if g.json {
        outln!("{json}")?;
    }
    Ok(code)
}

/// Opens the repository for a prune: registered (format-spec §6) before
/// the index is read, and refused while another prune runs. A dry run
/// writes nothing, so it neither registers nor waits.
pub fn open(g: &Global, dry_run: bool) -> Result<Repository> {
    if dry_run {
        return password::open(g);
    }
    let repo = password::open_registered(g, MarkerRole::Prune)?;
    repo.refuse_if_append_only()?;
    repo.claim_prune()?;
    Ok(repo)
}

/// Plans, prints and (unless `dry_run`) carries out a prune; returns the
/// exit code and the JSON document (printed by the caller). `forgotten`:
/// snapshots to plan as if gone (`forget --prune --dry-run`).
pub fn prune_repository(
    g: &Global,
    repo: &Repository,
    flags: &PruneFlags,
    dry_run: bool,
    forgotten: &[Id],
) -> Result<(u8, serde_json::Value)> {
    let opts = flags.options(forgotten)?;
    let plan = prune::plan(repo, &opts)?;
    let text = !g.json && !g.quiet;
    let mut json = plan_json(&plan);
    json["dry_run"] = dry_run.into();
    if text {
        print_plan(&plan)?;
    }
    if dry_run {
        if text {
            outln!("dry run: nothing was changed")?;
        }
        return Ok((0, json));
    }
    if plan.is_empty() {
        // Only tidies the markers of ended runs.
        json["result"] = report_json(&prune::execute(repo, plan)?);
        if text {
            outln!("nothing to prune")?;
        }
        return Ok((0, json));
    }
    // Said at once (not with the summary): whatever happens next, the
    // repository is version 2 from here on.
    let upgraded = plan.would_upgrade && repo.upgrade_format()?;
    if upgraded && text {
        outln!("{UPGRADED}")?;
    } else if upgraded {
        output::note(UPGRADED);
    }
    let mut report = prune::execute(repo, plan)?;
    report.upgraded |= upgraded;
    for w in &report.warnings {
        output::warning(w);
    }
    json["result"] = report_json(&report);
    json["result"]["requests"] = serde_json::to_value(repo.requests())?;
    if text {
        print_report(&report)?;
    }
    let code = match &report.sweep.outcome {
        SweepOutcome::Done => 0,
        SweepOutcome::Blocked(runs) => {
            output::note(format!(
                "{} ({}) left for a later prune: another run is active ({})",
                count(report.sweep.waiting.len(), "pack", "packs"),
                output::bytes(report.sweep.waiting_bytes()),
                runs.join("; ")
            ));
            0
        }
        SweepOutcome::Missing(line) => {
            eprintln!("cairn: error: {}", output::sanitize(line));
            EXIT_ERROR
        }
    };
    Ok((code, json))
}

const UPGRADED: &str = "upgraded the repository format from 1 to 2 (prune may now delete data); cairn versions \
                        before this one can no longer open it";

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

fn print_plan(plan: &PrunePlan) -> Result<()> {
    let rows = [
        (
            "snapshots",
            format!(
                "{} ({} needed, {})",
                plan.snapshots,
                count(plan.used_blobs as usize, "blob", "blobs"),
                output::bytes(plan.used_bytes)
            ),
        ),
        ("packs to delete", format!("{} ({})", plan.delete.len(), output::bytes(plan.delete_bytes()))),
        (
            "packs to repack",
            format!(
                "{} ({}, of which {} kept)",
                plan.repack.len(),
                output::bytes(plan.repack_bytes()),
                output::bytes(plan.repack_kept_bytes())
            ),
        ),
        ("packs in no index", format!("{} ({})", plan.unindexed.len(), output::bytes(plan.unindexed_bytes()))),
        (
            "unused after prune",
            format!(
                "{} ({:.1}% of {})",
                output::bytes(plan.unused_after),
                percent(plan.unused_after, plan.size_after),
                output::bytes(plan.size_after)
            ),
        ),
        ("index files", format!("{} → {}", plan.index_files.len(), plan.index_files_after)),
    ];
    outln!("prune plan:")?;
    for (what, value) in rows {
        outln!("  {what:<20}{value}")?;
    }
    if !plan.reindexed.is_empty() {
        outln!(
            "  {} that no index lists hold blobs a snapshot needs: indexed again",
            count(plan.reindexed.len(), "pack", "packs")
        )?;
    }
    if plan.would_upgrade {
        outln!("  would upgrade the repository format 1 → 2 first (older cairn versions cannot open version 2)")?;
    }
    Ok(())
}

fn print_report(r: &PruneReport) -> Result<()> {
    if r.repacked_packs > 0 || r.new_packs > 0 {
        outln!(
            "repacked {} into {} ({})",
            count(r.repacked_packs, "pack", "packs"),
            count(r.new_packs, "new pack", "new packs"),
            output::bytes(r.new_pack_bytes)
        )?;
    }
    if r.index_files_written > 0 || r.index_files_removed > 0 {
        outln!(
            "wrote {}, removed {}",
            count(r.index_files_written, "index file", "index files"),
            count(r.index_files_removed, "old one", "old ones")
        )?;
    }
    if !r.sweep.recovered.is_empty() {
        outln!("indexed again {} holding blobs a snapshot needs", count(r.sweep.recovered.len(), "pack", "packs"))?;
    }
    outln!("deleted {} ({})", count(r.sweep.deleted.len(), "pack", "packs"), output::bytes(r.sweep.deleted_bytes()))?;
    if let Some(line) = r.sweep.locked.line("pack", "packs", "a later prune removes them") {
        outln!("{line}")?;
    }
    if let Some(line) = r.index_files_locked.line("old index file", "old index files", "a later prune removes them") {
        outln!("{line}")?;
    }
    let freed = r.freed_bytes();
    let freed = if freed >= 0 {
        output::bytes(freed as u64)
    } else {
        format!("-{}", output::bytes(freed.unsigned_abs() as u64))
    };
    outln!("freed {freed}; the packs now take {}", output::bytes(r.size_after))?;
    Ok(())
}

fn plan_json(plan: &PrunePlan) -> serde_json::Value {
    serde_json::json!({
        "snapshots": plan.snapshots,
        "used_blobs": plan.used_blobs,
        "used_bytes": plan.used_bytes,
        "packs": plan.packs,
        "stored_bytes": plan.stored_bytes,
        "delete": {"packs": plan.delete.len(), "bytes": plan.delete_bytes()},
        "repack": {"packs": plan.repack.len(), "bytes": plan.repack_bytes(), "kept_bytes": plan.repack_kept_bytes()},
        "unindexed": {"packs": plan.unindexed.len(), "bytes": plan.unindexed_bytes()},
        "reindexed_packs": plan.reindexed.len(),
        "unused_before": plan.unused_before,
        "unused_after": plan.unused_after,
        "unused_after_percent": percent(plan.unused_after, plan.size_after),
        "size_after": plan.size_after,
        "index_files_before": plan.index_files.len(),
        "index_files_after": plan.index_files_after,
        "would_upgrade": plan.would_upgrade,
    })
}

fn report_json(r: &PruneReport) -> serde_json::Value {
    let (blocked_by, missing) = match &r.sweep.outcome {
        SweepOutcome::Done => (Vec::new(), None),
        SweepOutcome::Blocked(runs) => (runs.clone(), None),
        SweepOutcome::Missing(line) => (Vec::new(), Some(line.clone())),
    };
    serde_json::json!({
        "upgraded": r.upgraded,
        "repacked_packs": r.repacked_packs,
        "new_packs": r.new_packs,
        "new_pack_bytes": r.new_pack_bytes,
        "index_files_written": r.index_files_written,
        "index_files_removed": r.index_files_removed,
        "deleted_packs": r.sweep.deleted.len(),
        "deleted_bytes": r.sweep.deleted_bytes(),
        "recovered_packs": r.sweep.recovered.len(),
        "dead_markers_removed": r.sweep.dead_markers_removed,
        "waiting_packs": r.sweep.waiting.len(),
        "waiting_bytes": r.sweep.waiting_bytes(),
        "locked_packs": r.sweep.locked.len(),
        "locked_index_files": r.index_files_locked.len(),
        "locked_until": r.sweep.locked.until().max(r.index_files_locked.until()).map(cairn_core::maintenance::locked::date),
        "blocked_by": blocked_by,
        "missing": missing,
        "freed_bytes": i64::try_from(r.freed_bytes()).unwrap_or(0),
        "size_after": r.size_after,
        "warnings": r.warnings,
    })
}
