//! `cairn check [--read-data]`

use anyhow::Result;
use cairn_core::maintenance::check::{self, CheckOptions};

use crate::args::{CheckArgs, Global};
use crate::output::outln;
use crate::{EXIT_ERROR, password};

pub fn run(g: &Global, a: &CheckArgs) -> Result<u8> {
    let repo = password::open_uncached(g)?;
    let report = check::check(&repo, CheckOptions { read_data: a.read_data })?;
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "errors": report.errors, "notes": report.notes, "snapshots": report.snapshots,
                "packs": report.packs, "blobs": report.blobs,
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
                    "no errors: {} snapshots, {} packs, {} blobs{}",
                    report.snapshots,
                    report.packs,
                    report.blobs,
                    if a.read_data { ", all data read and verified" } else { "" }
                )?;
            }
        } else {
            eprintln!("cairn: error: check found {} problems (listed above)", report.errors.len());
        }
    }
    Ok(if report.errors.is_empty() { 0 } else { EXIT_ERROR })
}
