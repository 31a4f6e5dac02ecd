//! `cairn check [--read-data]`

use anyhow::Result;
use cairn_core::maintenance::check::{self, CheckOptions};

use crate::args::{CheckArgs, Global};
use crate::output::outln;
use crate::{EXIT_ERROR, password};
use cairn_core::repo::rebuild::plural;

pub fn run(g: &Global, a: &CheckArgs) -> Result<u8> {
    let repo = password::open_uncached(g, cairn_core::format::marker::MarkerRole::Check)?;
    let mut report = check::check(&repo, CheckOptions { read_data: a.read_data })?;
    report.notes.extend(marker_notes(&repo));
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "errors": report.errors, "notes": report.notes, "snapshots": report.snapshots,
                "packs": report.packs, "blobs": report.blobs,
                "suggest_repair_index": report.suggest_repair_index,
            })
        )?;
    } else {
        for n in &report.notes {
            if !g.quiet {
                outln!("note: {n}")?;
            }
        }
        for e in &report.errors {
            outln!("error: {e}")?;
        }
        if report.errors.is_empty() {
            if !g.quiet {
                outln!(
                    "no errors: {}, {}, {}{}",
                    plural(report.snapshots, "snapshot", "snapshots"),
                    plural(report.packs, "pack", "packs"),
                    plural(report.blobs, "blob", "blobs"),
                    if a.read_data { ", all data read and verified" } else { "" }
                )?;
            }
        } else {
            eprintln!(
                "cairn: error: check found {} (listed above)",
                plural(report.errors.len(), "problem", "problems")
            );
        }
        if report.suggest_repair_index {
            eprintln!("hint: run `cairn repair index` to rebuild the index from the pack headers");
        }
    }
    Ok(if report.errors.is_empty() { 0 } else { EXIT_ERROR })
}

/// Notes on the other runs' markers in `locks/` (format-spec §6): those of
/// runs that ended without removing theirs (killed) are harmless leftovers
/// that the next prune removes; live ones are runs going on right now.
fn marker_notes(repo: &cairn_core::Repository) -> Vec<String> {
    match repo.markers_except_own() {
        Ok(markers) => markers
            .iter()
            .map(|m| {
                if m.live {
                    format!("running now: {} (locks/{})", m.describe(), m.file)
                } else {
                    format!(
                        "a marker left by a run that ended: {} (locks/{}); the next prune removes it",
                        m.describe(),
                        m.file
                    )
                }
            })
            .collect(),
        Err(e) => vec![format!("could not list the run markers in locks/: {e}")],
    }
}
