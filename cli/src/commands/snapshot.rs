//! `cairn snapshot PATH...`

use std::sync::Arc;

use anyhow::Result;
use cairn_core::Id;
use cairn_core::archiver::{self, DryRunOutcome, Note, ParentChoice, Progress, SnapshotOptions, Warning};
use cairn_core::backend::RequestCounts;
use cairn_core::fs::exclude::{ExcludeOptions, ExcludeRules};

use crate::{locations, own_files};

use crate::args::{Global, SnapshotArgs};
use crate::output::outln;
use crate::progress::{Mode, Ticker};
use crate::{EXIT_ALARM, EXIT_INCOMPLETE, output, password, timefmt};
use cairn_core::repo::rebuild::plural;

/// What a real or dry run produced, for printing.
struct Report {
    /// `None` for a dry run.
    id: Option<Id>,
    walked: DryRunOutcome,
}

/// A report reads as its walk (`report.snapshot`, `.warnings`…).
impl std::ops::Deref for Report {
    type Target = DryRunOutcome;
    fn deref(&self) -> &DryRunOutcome {
        &self.walked
    }
}

pub fn run(g: &Global, a: &SnapshotArgs) -> Result<u8> {
    // Paths and exclude rules are checked before the repository is touched
    // (or created).
    for p in &a.paths {
        if std::fs::symlink_metadata(p).is_err() {
            anyhow::bail!("{}: no such file or folder; nothing was stored", p.display());
        }
    }
    let exclude = ExcludeOptions {
        default_excludes: !a.no_default_excludes,
        patterns: a.excludes.clone(),
        pattern_files: a.exclude_files.clone(),
        if_present: a.exclude_if_present.clone(),
        git_ignore: a.git_ignore,
        one_file_system: a.one_file_system,
        larger_than: a.exclude_larger_than,
        report: a.verbose && !g.quiet,
        own_paths: own_files::own_paths(g),
        skip_pseudo_filesystems: !a.include_pseudo_fs,
    };
    ExcludeRules::new(&exclude)?;
    let time = a.time.as_deref().map(timefmt::parse).transpose()?;
    // A dry run writes nothing, a new repository included.
    let repo = if a.dry_run { password::open(g)? } else { password::open_or_create_default(g)? };
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
        follow_symlinks: true,
        read_stall_limit: a.read_stall_limit,
        alarm: (!a.no_alarm).then(|| a.alarm.clone().unwrap_or_default()),
    };
    let mode = match (g.json, a.verbose, g.quiet) {
        (true, true, _) => Mode::JsonLines,
        (false, _, false) => Mode::Bar,
        _ => Mode::Off,
    };
    crate::interrupt::say(crate::interrupt::snapshot_saying);
    let progress = Arc::new(Progress::default());
    let ticker = Ticker::start(progress.clone(), mode);
    let report = if a.dry_run {
        archiver::dry_run(&repo, &opts, &exclude, &progress).map(|walked| Report { id: None, walked })
    } else {
        archiver::snapshot_excluding(&repo, &opts, &exclude, &progress)
            .map(|o| Report { id: Some(o.id), walked: o.walked })
    };
    ticker.finish();
    let report = report?;
    for n in &report.notes {
        match n {
            Note::PseudoFilesystem { .. } => output::note(format_args!("{n} (--include-pseudo-fs to store it)")),
            Note::OwnFiles { .. } | Note::Restarted { .. } => output::note(n),
        }
    }
    for w in &report.warnings {
        match w {
            // A file deleted or replaced during the run is not a problem.
            Warning::Vanished { .. } => output::note(w),
            Warning::Stalled { .. } => output::warning(format_args!("{w} (--read-stall-limit sets the limit)")),
            _ => output::warning(w),
        }
    }
    // Judged after the warnings, so the alarm's summary is the last thing said.
    let alarm = match (&report.losses, &opts.alarm) {
        (Some(losses), Some(rules)) => {
            let paths: Vec<std::path::PathBuf> = report
                .snapshot
                .paths
                .iter()
                .map(|p| cairn_core::snapshot::tree::name_to_path(p).to_path_buf())
                .collect();
            Some(super::alarm::judge(g, &repo, (losses, rules), report.id, &paths, a.on_alert.as_deref()))
        }
        _ => None,
    };
    // Counted last: the alarm's pin is a request of this run too.
    let requests = repo.requests();
    if g.json {
        print_json(&report, a.verbose, alarm.as_ref().map(|j| &j.json), &requests)?;
    } else if !g.quiet {
        print_text(&report, a.verbose)?;
        if a.verbose {
            outln!("{}", requests.line())?;
        }
    }
    // Exit 4: saved, but the alarm was raised (it outranks 3). Exit 3:
    // saved, but some files were not. A dry run saves nothing.
    Ok(match alarm {
        _ if a.dry_run => 0,
        Some(j) if j.raised => EXIT_ALARM,
        _ if report.incomplete() => EXIT_INCOMPLETE,
        _ => 0,
    })
}

fn print_json(
    r: &Report,
    verbose: bool,
    alarm: Option<&serde_json::Value>,
    requests: &RequestCounts,
) -> std::io::Result<()> {
    if verbose {
        for (path, reason) in &r.excluded_paths {
            let line = serde_json::json!({
                "type": "excluded",
                "path": path.display().to_string(),
                "reason": reason.to_string(),
            });
            outln!("{line}")?;
        }
    }
    let mut v = serde_json::json!({
        "id": r.id.map(|id| id.to_hex()),
        "short_id": r.id.map(|id| id.short()),
        "dry_run": r.id.is_none(),
        "time": output::rfc3339(&r.snapshot.time),
        "parent": r.snapshot.parent.map(|p| p.to_hex()),
        "summary": r.snapshot.summary,
        "excluded": r.excluded,
        "warnings": r.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "notes": r.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "alarm": alarm,
        "requests": requests,
    });
    if verbose {
        v["type"] = "summary".into();
    }
    outln!("{v}")
}

fn print_text(r: &Report, verbose: bool) -> std::io::Result<()> {
    if verbose {
        for (path, reason) in &r.excluded_paths {
            outln!("excluded {} ({reason})", cairn_core::names::escape_path(path))?;
        }
    }
    let s = &r.snapshot.summary;
    let excluded = if r.excluded > 0 { format!(", {} excluded", r.excluded) } else { String::new() };
    let files = format!(
        "{} ({} new, {} changed, {} unchanged), {}{excluded}",
        plural(s.files_new + s.files_changed + s.files_unchanged, "file", "files"),
        s.files_new,
        s.files_changed,
        s.files_unchanged,
        plural(s.dirs, "folder", "folders"),
    );
    match r.id {
        Some(id) => outln!(
            "snapshot {} saved: {files}; read {}, added {} to the repository in {}",
            id.short(),
            output::bytes(s.bytes_read),
            output::bytes(s.bytes_added),
            output::seconds(s.duration_ms),
        ),
        // Blob counts are the repository's words: for --verbose only.
        None if verbose => outln!(
            "dry run, nothing stored: {files}; read {}; would add {} data and {} tree blobs, {} before compression, in {}",
            output::bytes(s.bytes_read),
            s.data_blobs_added,
            s.tree_blobs_added,
            output::bytes(s.bytes_added),
            output::seconds(s.duration_ms),
        ),
        None => outln!(
            "dry run, nothing stored: {files}; read {}; would add {} before compression, in {}",
            output::bytes(s.bytes_read),
            output::bytes(s.bytes_added),
            output::seconds(s.duration_ms),
        ),
    }
}
