//! `cairn check [--read-data | --read-data-subset PCT|N/M|SIZE] [--restore-sample N]`

use anyhow::Result;
use cairn_core::format::marker::MarkerRole;
use cairn_core::maintenance::check::{self, CheckOptions, ReadSubset};
use cairn_core::maintenance::drill::{self, DrillOptions, DrillReport};

use crate::args::{CheckArgs, Global};
use crate::output::outln;
use crate::{EXIT_ERROR, password};
use cairn_core::repo::rebuild::plural;

pub fn run(g: &Global, a: &CheckArgs) -> Result<u8> {
    // A bad subset is refused before the repository is opened.
    let read_subset = a.read_data_subset.as_deref().map(str::parse::<ReadSubset>).transpose()?;
    let repo = match password::open_uncached(g, Some(MarkerRole::Check)) {
        // A repository this user may only read (a read-only mount, another
        // user's backup) is still checked, without a marker.
        Err(e) if cannot_write(&e) => {
            if !g.quiet {
                crate::output::note(
                    "this check could not register in locks/ (the repository is read-only here); \
                     a prune running elsewhere meanwhile could make packs look missing",
                );
            }
            password::open_uncached(g, None)?
        }
        other => other?,
    };
    let mut report = check::check(&repo, CheckOptions { read_data: a.read_data, read_subset })?;
    report.notes.extend(marker_notes(&repo));
    let drilled = match a.restore_sample {
        Some(n) if n > 0 => {
            let opts = DrillOptions { sample: n, host: Some(crate::locations::hostname()), temp_parent: None };
            let d = drill::drill(&repo, &opts)?;
            report.errors.extend(d.errors.iter().cloned());
            Some(d)
        }
        _ => None,
    };
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "errors": report.errors, "notes": report.notes, "snapshots": report.snapshots,
                "packs": report.packs, "blobs": report.blobs,
                "suggest_repair_index": report.suggest_repair_index,
                "read_data_subset": a.read_data_subset,
                "packs_read": report.packs_read.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
                "bytes_read": report.bytes_read,
                "restore_drill": drilled.as_ref().map(|d| serde_json::json!({
                    "snapshot": d.snapshot.map(|s| s.to_hex()), "compared": d.compared,
                    "skipped_changed": d.skipped_changed, "mismatches": d.mismatches,
                })),
                "requests": repo.requests(),
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
        if !g.quiet {
            if let (Some(subset), Some(_)) = (&a.read_data_subset, read_subset) {
                outln!(
                    "read-data subset {subset}: read {} of {} ({})",
                    report.packs_read.len(),
                    plural(report.packs, "pack", "packs"),
                    crate::output::bytes(report.bytes_read)
                )?;
            }
            if let Some(d) = &drilled {
                outln!("{}", drill_line(d))?;
            }
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

/// The drill's one line: what was compared, skipped and found.
fn drill_line(d: &DrillReport) -> String {
    match d.snapshot {
        None => "restore drill: no snapshot to restore from".to_string(),
        Some(id) => format!(
            "restore drill (snapshot {}): {} restored and compared, {} skipped (changed since), {}",
            id.short(),
            plural(d.compared, "file", "files"),
            d.skipped_changed,
            plural(d.mismatches, "mismatch", "mismatches"),
        ),
    }
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

/// Whether opening failed only because the marker could not be written:
/// permission denied or a read-only filesystem, when creating a file.
fn cannot_write(e: &anyhow::Error) -> bool {
    use cairn_core::backend::Op;
    use std::io::ErrorKind;
    matches!(
        e.downcast_ref::<cairn_core::Error>(),
        Some(cairn_core::Error::Backend(b))
            if matches!(b.op, Op::Create | Op::Spool)
                && matches!(b.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem)
    )
}
