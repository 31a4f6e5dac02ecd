//! `cairn snapshots`

use std::os::unix::ffi::OsStrExt;

use anyhow::Result;
use cairn_core::snapshots;

use crate::args::{Global, SnapshotsArgs};
use crate::output::outln;
use crate::{output, password};

pub fn run(g: &Global, a: &SnapshotsArgs) -> Result<u8> {
    let repo = password::open(g)?;
    let (all, problems) = snapshots::list(&repo)?;
    for p in problems {
        output::warning(p);
    }
    let wanted_path = a.path.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let selected: Vec<_> = all
        .iter()
        .filter(|e| a.host.as_ref().is_none_or(|h| &e.snapshot.host == h))
        .filter(|e| a.tag.as_ref().is_none_or(|t| e.snapshot.tags.contains(t)))
        .filter(|e| {
            wanted_path
                .as_ref()
                .is_none_or(|p| e.snapshot.paths.iter().any(|sp| sp.as_slice() == p.as_os_str().as_bytes()))
        })
        .collect();
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
                    "summary": s.summary,
                    "program_version": s.program_version,
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
                s.paths.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(" "),
                output::bytes(s.summary.total_bytes),
            ]
        })
        .collect();
    output::table(&["ID", "Time", "Host", "Tags", "Paths", "Size"], &rows)?;
    if !g.quiet {
        outln!("{} snapshot{}", rows.len(), if rows.len() == 1 { "" } else { "s" })?;
    }
    Ok(0)
}
