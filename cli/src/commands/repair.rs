//! `cairn repair index [--dry-run]`

use anyhow::Result;
use cairn_core::maintenance::repair;
use cairn_core::repo::rebuild::plural;

use crate::args::{Global, RepairIndexArgs};
use crate::output::outln;
use crate::{EXIT_ERROR, output, password};

pub fn index(g: &Global, a: &RepairIndexArgs) -> Result<u8> {
    let repo = password::open_uncached(g, Some(cairn_core::format::marker::MarkerRole::Repair))?;
    let report = repair::repair_index(&repo, a.dry_run)?;
    for (id, e) in &report.unreadable_indexes {
        output::warning(format!("index {id} could not be read and is left as it is: {e}"));
    }
    for (id, e) in &report.unreadable_packs {
        output::warning(format!("pack {id} is in no index and its header cannot be read; left as it is: {e}"));
    }
    let (would, done) = if a.dry_run { ("would ", "would be ") } else { ("", "") };
    if g.json {
        let damaged: Vec<String> = report.damaged_indexes.iter().map(|(id, _)| id.to_hex()).collect();
        let written: Vec<String> = report.written.iter().map(|id| id.to_hex()).collect();
        outln!(
            "{}",
            serde_json::json!({
                "dry_run": a.dry_run, "packs_indexed": report.packs_indexed, "blobs_indexed": report.blobs_indexed,
                "damaged_indexes_removed": damaged, "index_files_written": written,
                "unreadable_packs": report.unreadable_packs.len(),
            })
        )?;
    } else if !g.quiet {
        for (id, e) in &report.damaged_indexes {
            outln!("damaged index {id} {done}removed ({e})")?;
        }
        if report.packs_indexed == 0 && report.damaged_indexes.is_empty() {
            outln!("the index is whole: every pack is indexed")?;
        } else {
            outln!(
                "{would}index {} ({}) in {}; {would}remove {}",
                plural(report.packs_indexed, "pack", "packs"),
                plural(report.blobs_indexed, "blob", "blobs"),
                plural(report.index_files, "new index file", "new index files"),
                plural(report.damaged_indexes.len(), "damaged index file", "damaged index files"),
            )?;
        }
    }
    Ok(if report.unreadable_packs.is_empty() && report.unreadable_indexes.is_empty() { 0 } else { EXIT_ERROR })
}
