//! `cairn snapshots`

use anyhow::Result;
use cairn_core::snapshot::{pins, snapshots};

use crate::args::{Global, SnapshotsArgs};
use crate::output::outln;
use crate::{output, password};

pub fn run(g: &Global, a: &SnapshotsArgs) -> Result<u8> {
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    let (all, problems) = snapshots::list(&repo)?;
    for p in problems {
        output::warning(p);
    }
    // `--path` means what it means everywhere: the snapshot covers it.
    let paths = match &a.path {
        Some(p) => vec![cairn_core::snapshot::resolve::user_path(p.as_os_str())?],
        None => Vec::new(),
    };
    let filter = snapshots::Filter { host: a.host.clone(), paths, tags: a.tags.clone() };
    // Snapshots named on the command line: each must exist (an unknown id
    // is an error, not an empty table); the other options narrow further.
    let mut named = Vec::new();
    for reference in &a.ids {
        named.push(snapshots::resolve_filtered(&repo, reference, &filter)?.id);
    }
    let mut selected: Vec<_> = all
        .iter()
        .filter(|e| a.ids.is_empty() || named.contains(&e.id))
        .filter(|e| filter.matches_listing(&e.snapshot))
        .collect();
    // `list` is oldest first: keep the newest N, still oldest first.
    if let Some(n) = a.latest {
        selected.drain(..selected.len().saturating_sub(n));
    }
    let (pinned, pin_problems) = pins::list(&repo)?;
    for p in pin_problems {
        output::warning(p);
    }
    if g.json {
        let items: Vec<_> = selected
            .iter()
            .map(|e| {
                let s = &e.snapshot;
                serde_json::json!({
                    "id": e.id.to_hex(),
                    "short_id": e.id.short(),
                    "time": output::rfc3339(&s.time),
                    "host": s.host,
                    "user": s.user,
                    "paths": s.paths.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>(),
                    "tags": s.tags,
                    "tree": s.tree.to_hex(),
                    "parent": s.parent.map(|p| p.to_hex()),
                    "original": s.original.map(|o| o.to_hex()),
                    "summary": s.summary,
                    "program_version": s.program_version,
                    "pinned": pinned.contains_key(&e.id),
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(items))?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = selected
        .iter()
        .map(|e| {
            let s = &e.snapshot;
            vec![
                e.id.short(),
                output::local_time(&s.time),
                s.host.clone(),
                s.tags.join(","),
                s.paths.iter().map(|p| cairn_core::names::escape(p).into_owned()).collect::<Vec<_>>().join(" "),
                output::bytes(s.summary.total_bytes),
                String::from(if pinned.contains_key(&e.id) { "pinned" } else { "" }),
            ]
        })
        .collect();
    output::table(&["ID", "Time", "Host", "Tags", "Paths", "Size", "Pin"], &rows)?;
    if !g.quiet {
        outln!("{} snapshot{}", rows.len(), if rows.len() == 1 { "" } else { "s" })?;
    }
    Ok(0)
}
