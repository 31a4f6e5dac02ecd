//! `cairn restore (SNAPSHOT | --at TIME) (--target DIR | --to-original) [--path P]...`

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::fs::path;
use cairn_core::restorer::plan;
use cairn_core::restorer::{self, Action, Destination, RestoreOptions, Selection};
use cairn_core::snapshot::tree;

use crate::locations;
use cairn_core::repo::rebuild::plural;

use crate::args::{Global, RestoreArgs};
use crate::output::outln;
use crate::{EXIT_ERROR, output, password};

pub fn run(g: &Global, a: &RestoreArgs) -> Result<u8> {
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    // As the shell means them: `..` goes up from the current folder.
    let paths: Vec<PathBuf> = a.paths.iter().map(|p| path::absolute(p)).collect::<cairn_core::error::Result<_>>()?;
    let entry = match &a.select.at {
        // With --at, only snapshots covering the literal paths count (globs
        // name no path). A path that looks like a glob (`app/[slug]`) is a
        // literal one when the snapshot chosen with it has it, as the
        // restorer takes it.
        Some(_) => {
            let maybe_glob: Vec<&PathBuf> = paths.iter().filter(|p| plan::is_glob(p)).collect();
            let all_literal = if maybe_glob.is_empty() {
                None
            } else {
                a.select.choose(&repo, a.snapshot.as_deref(), &paths).ok().filter(|e| {
                    maybe_glob.iter().all(|p| tree::lookup(&repo, &e.snapshot.tree, p).is_ok_and(|n| n.is_some()))
                })
            };
            match all_literal {
                Some(entry) => entry,
                None => {
                    let literal: Vec<PathBuf> = paths.iter().filter(|p| !plan::is_glob(p)).cloned().collect();
                    a.select.choose(&repo, a.snapshot.as_deref(), &literal)?
                }
            }
        }
        // A snapshot named explicitly is taken as named, so that a path it
        // lacks is reported with the closest ones it has.
        None => a.select.choose(&repo, a.snapshot.as_deref(), &[])?,
    };
    let destination = match &a.target {
        Some(dir) => Destination::Folder(dir.clone()),
        None => Destination::Original,
    };
    let started = std::time::Instant::now();
    let opts = RestoreOptions {
        destination,
        selection: Selection { paths, include: a.include.clone(), exclude: a.exclude.clone() },
        overwrite: a.overwrite,
        delete: a.delete,
        dry_run: a.dry_run,
        host: locations::hostname(),
        user: locations::username(),
    };
    let outcome = restorer::restore(&repo, &entry.snapshot, &opts)?;
    if let Some(note) = repo.header_scan_note() {
        output::note(note);
    }
    if a.dry_run && !g.json {
        for (path, action) in &outcome.actions {
            if *action != Action::Unchanged || !g.quiet {
                // "would unchanged" is not English; the JSON keeps the action's name.
                let verb = if *action == Action::Unchanged { "leave" } else { action.word() };
                outln!("would {verb:<9} {}", path.display())?;
            }
        }
    }
    for e in &outcome.errors {
        eprintln!("error: {e}");
    }
    let where_to = match &a.target {
        Some(dir) => dir.display().to_string(),
        None => "the original places".to_string(),
    };
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "snapshot": entry.id.to_hex(), "dry_run": a.dry_run,
                "created": outcome.created, "replaced": outcome.replaced, "unchanged": outcome.unchanged,
                "skipped": outcome.skipped, "deleted": outcome.deleted, "dirs": outcome.dirs, "bytes": outcome.bytes,
                "preserved_snapshot": outcome.preserved.map(|(id, _)| id.to_hex()),
                "preserved": outcome.preserved.map_or(0, |(_, n)| n),
                "actions": outcome.actions.iter().map(|(p, act)| serde_json::json!({"path": p.to_string_lossy(), "action": act.word()})).collect::<Vec<_>>(),
                "errors": outcome.errors,
            })
        )?;
    } else if !g.quiet {
        let preserved = match outcome.preserved {
            Some((id, n)) => format!(", {n} preserved in snapshot {}", id.short()),
            None => String::new(),
        };
        outln!(
            "{}snapshot {} ({}) to {where_to}: {} created, {} replaced, {} left alone, {} skipped, {} deleted, {} made{preserved}; {} written in {}",
            if a.dry_run { "dry run, nothing changed: " } else { "restored " },
            entry.id.short(),
            output::local_time(&entry.snapshot.time),
            outcome.created,
            outcome.replaced,
            outcome.unchanged,
            outcome.skipped,
            outcome.deleted,
            plural(outcome.dirs, "folder", "folders"),
            output::bytes(outcome.bytes),
            output::seconds(started.elapsed().as_millis() as u64)
        )?;
    }
    if !outcome.errors.is_empty() {
        let hint = match outcome.needs_overwrite {
            0 => String::new(),
            n => format!(
                "; pass --overwrite to replace the {n} that differ (their current versions are saved in a snapshot first)"
            ),
        };
        eprintln!(
            "cairn: error: {} not restored (listed above); the rest was{hint}",
            cairn_core::repo::rebuild::plural(outcome.errors.len(), "entry was", "entries were")
        );
        return Ok(EXIT_ERROR);
    }
    Ok(0)
}
