//! `cairn snapshot PATH...`

use std::sync::Arc;

use anyhow::Result;
use cairn_core::archiver::{self, ParentChoice, Progress, SnapshotOptions};
use cairn_core::locations;

use crate::args::{Global, SnapshotArgs};
use crate::{EXIT_INCOMPLETE, output, password, progress::Ticker, timefmt};

pub fn run(g: &Global, a: &SnapshotArgs) -> Result<u8> {
    // Paths are checked before the repository is touched (or created).
    for p in &a.paths {
        if std::fs::symlink_metadata(p).is_err() {
            anyhow::bail!("{}: no such file or folder; nothing was stored", p.display());
        }
    }
    let time = a.time.as_deref().map(timefmt::parse).transpose()?;
    let repo = password::open_or_create_default(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    let parent = match (&a.parent, a.force) {
        (_, true) => ParentChoice::None,
        (Some(id), false) => ParentChoice::Id(id.clone()),
        (None, false) => ParentChoice::Auto,
    };
    let opts = SnapshotOptions {
        paths: a.paths.clone(),
        host: a.host.clone().unwrap_or_else(locations::hostname),
        user: locations::username(),
        tags: a.tags.clone(),
        time,
        parent,
    };
    let progress = Arc::new(Progress::default());
    let ticker = Ticker::start(progress.clone(), !g.quiet && !g.json);
    let outcome = archiver::snapshot(&repo, &opts, &progress);
    ticker.finish();
    let outcome = outcome?;
    for w in &outcome.warnings {
        output::warning(w);
    }
    let s = &outcome.snapshot.summary;
    if g.json {
        let v = serde_json::json!({
            "id": outcome.id.to_hex(),
            "short_id": outcome.id.short(),
            "time": output::rfc3339(&outcome.snapshot.time),
            "parent": outcome.snapshot.parent.map(|p| p.to_hex()),
            "summary": s,
            "warnings": outcome.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else if !g.quiet {
        println!(
            "snapshot {} saved: {} files ({} new, {} changed, {} unchanged), {} folders; read {}, added {} to the repository in {}",
            outcome.id.short(),
            s.files_new + s.files_changed + s.files_unchanged,
            s.files_new,
            s.files_changed,
            s.files_unchanged,
            s.dirs,
            output::bytes(s.bytes_read),
            output::bytes(s.bytes_added),
            output::seconds(s.duration_ms),
        );
    }
    Ok(if outcome.incomplete() { EXIT_INCOMPLETE } else { 0 })
}
