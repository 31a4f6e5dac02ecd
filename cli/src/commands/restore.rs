//! `cairn restore (SNAPSHOT | --at TIME) (--target DIR | --to-original) [--path P]...`

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::names;
use cairn_core::restorer::plan;
use cairn_core::restorer::{self, Action, Destination, RestoreOptions, Selection};
use cairn_core::snapshot::{resolve, tree};

use crate::locations;
use cairn_core::repo::rebuild::plural;

use crate::args::{Global, RestoreArgs};
use crate::output::outln;
use crate::{EXIT_INCOMPLETE, output, password};

pub fn run(g: &Global, a: &RestoreArgs) -> Result<u8> {
    // To the original places, what is about to be replaced is first saved
    // in a snapshot: that run writes, so it registers (format-spec §6).
    let repo = if a.to_original {
        password::open_registered(g, cairn_core::format::marker::MarkerRole::Snapshot)?
    } else {
        password::open(g)?
    };
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    // As the shell means them (`..` goes up from the current folder), the
    // escapes names are printed with decoded.
    let paths: Vec<PathBuf> =
        a.paths.iter().map(|p| resolve::user_path(p.as_os_str())).collect::<cairn_core::error::Result<_>>()?;
    // A path typed through a symlink a snapshot followed: its target.
    let paths: Vec<PathBuf> = crate::given::as_stored(&repo, paths, g.quiet)?;
    // `latest` and --at choose the newest snapshot covering the literal
    // paths (globs name no path); a snapshot named by id must cover them.
    // A path that looks like a glob (`app/[slug]`) is a literal one when
    // the snapshot chosen with it has it, as the restorer takes it.
    let reference = a.snapshot.as_deref();
    let maybe_glob: Vec<&PathBuf> = paths.iter().filter(|p| plan::is_glob(p)).collect();
    let all_literal = if maybe_glob.is_empty() {
        None
    } else {
        a.select
            .choose(&repo, reference, &paths)
            .ok()
            .filter(|e| maybe_glob.iter().all(|p| tree::lookup(&repo, &e.snapshot.tree, p).is_ok_and(|n| n.is_some())))
    };
    let entry = match all_literal {
        Some(entry) => entry,
        None => {
            let literal: Vec<PathBuf> = paths.iter().filter(|p| !plan::is_glob(p)).cloned().collect();
            a.select.choose(&repo, reference, &literal)?
        }
    };
    let destination = match &a.target {
        Some(dir) => Destination::Folder(dir.clone()),
        None => Destination::Original,
    };
    let started = std::time::Instant::now();
    let opts = RestoreOptions {
        destination,
        selection: Selection {
            paths,
            include: a.include.iter().map(|g| names::unescape_glob(g)).collect(),
            exclude: a.exclude.iter().map(|g| names::unescape_glob(g)).collect(),
        },
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
                outln!("would {verb:<9} {}", names::escape_path(path))?;
            }
        }
    }
    for e in &outcome.errors {
        eprintln!("error: {}", output::sanitize(e));
    }
    let where_to = match &a.target {
        Some(dir) => names::escape_path(dir).into_owned(),
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
                "actions": outcome.actions.iter().map(|(p, act)| output::json_path(p, serde_json::json!({"action": act.word()}))).collect::<Vec<_>>(),
                "errors": outcome.errors,
                "requests": repo.requests(),
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
        // Finished, but incomplete: what could be restored was.
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}
