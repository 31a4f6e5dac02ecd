//! `cairn stats`: sizes, deduplication and what a prune could give back.

use anyhow::Result;
use cairn_core::maintenance::stats;

use crate::args::Global;
use crate::output::outln;
use crate::{output, password};

pub fn run(g: &Global) -> Result<u8> {
    let repo = password::open(g)?;
    let s = stats::stats(&repo)?;
    for p in &s.problems {
        output::warning(p);
    }
    if g.json {
        outln!("{}", serde_json::to_string(&s)?)?;
        return Ok(0);
    }
    let rows = [
        ("Snapshots", s.snapshots.to_string()),
        ("Restore size (all snapshots)", output::bytes(s.restore_size)),
        ("Restore size (latest)", output::bytes(s.latest_restore_size)),
        ("Stored size (packs)", output::bytes(s.stored_size)),
        ("Deduplication ratio", format!("{:.2}x", s.deduplication_ratio)),
        ("Packs", s.packs.to_string()),
        ("Blobs", s.blobs.to_string()),
        ("Unused (no snapshot needs it)", output::bytes(s.unused_size)),
        ("Index files", s.index_files.to_string()),
    ];
    for (what, value) in rows {
        outln!("{what:<31}{value}")?;
    }
    Ok(0)
}
