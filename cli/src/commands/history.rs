//! `cairn history PATH [--content] [--all]`: every version of one file or
//! folder across the snapshots that cover it, oldest first.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use cairn_core::Repository;
use cairn_core::browse::diff::{CONTENT_LIMIT, Contents};
use cairn_core::browse::history::{self, Event, Step};
use cairn_core::browse::{hints, listing};
use cairn_core::format::Node;
use cairn_core::names;
use cairn_core::snapshot::{resolve, select};

use crate::args::{Global, HistoryArgs};
use crate::{output, password, timefmt};

pub fn run(g: &Global, a: &HistoryArgs) -> Result<u8> {
    super::ls::ignore_broken_pipe(history(g, a))
}

fn history(g: &Global, a: &HistoryArgs) -> Result<u8> {
    let path = resolve::user_path(a.path.as_os_str())?;
    let repo = password::open(g)?;
    let path = crate::given::as_stored(&repo, vec![path], g.quiet)?.remove(0);
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    let until = a.select.at.as_deref().map(timefmt::parse).transpose()?;
    let filter = a.select.filter(std::slice::from_ref(&path));
    let (snapshots, problems) = select::snapshots_matching(&repo, &filter, until.as_ref())?;
    for p in problems {
        output::warning(p);
    }
    if snapshots.is_empty() {
        // The same error as `latest` gives: which snapshots lie near the path.
        let (others, _) = select::snapshots_matching(&repo, &a.select.filter(&[]), until.as_ref())?;
        return Err(crate::select::with_closest(&repo, resolve::not_covered(&others, &path)));
    }
    let steps = history::history(&repo, &snapshots, &path)?;
    if steps.iter().all(|s| s.node.is_none()) {
        let mut msg =
            format!("{} is in none of the {} snapshots that cover it", names::escape_path(&path), snapshots.len());
        if let Some(latest) = snapshots.last() {
            let close = hints::closest_paths(&repo, &latest.snapshot.tree, &path, 3);
            if !close.is_empty() {
                let shown: Vec<String> = close.iter().map(|p| names::escape_path(p).into_owned()).collect();
                msg.push_str(&format!("; closest paths in the latest: {}", shown.join(", ")));
            }
        }
        bail!(msg);
    }
    let shown: Vec<&Step> = steps.iter().filter(|s| a.all || s.event.is_change()).collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if g.json {
        let items: Vec<JsonStep> = shown.iter().map(|s| json_step(s)).collect();
        serde_json::to_writer(&mut out, &items)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(0);
    }
    if !g.quiet {
        let changes = steps.iter().filter(|s| s.event.is_change()).count();
        writeln!(out, "{}: {} changes in {} snapshots", names::escape_path(&path), changes, steps.len())?;
    }
    for s in shown {
        writeln!(out, "{}", step_line(s))?;
        if a.content && s.event.is_change() {
            content(&repo, &path, s, &mut out)?;
        }
    }
    out.flush()?;
    Ok(0)
}

fn size_text(s: &Step) -> String {
    match (&s.node, s.entries) {
        (Some(_), Some(1)) => "1 entry".to_string(),
        (Some(_), Some(n)) => format!("{n} entries"),
        (Some(n), None) if listing::type_name(n) == "file" => output::bytes(listing::size(n)),
        _ => "-".to_string(),
    }
}

/// `2025-06-01 01:00:00  1a2b3c4d  modified    4.1 KiB  file`
fn step_line(s: &Step) -> String {
    let kind = s.node.as_ref().map_or("-", listing::type_name);
    format!(
        "{}  {}  {:<9}  {:>11}  {}",
        output::local_time(&s.time),
        s.snapshot.short(),
        s.event.name(),
        size_text(s),
        kind
    )
}

/// One `history --json` row (a struct, so the fields keep this order).
#[derive(serde::Serialize)]
struct JsonStep {
    snapshot: String,
    time: String,
    /// What happened to the path in this snapshot (`created`, `modified`, …).
    change: &'static str,
    /// Bytes of a file (0 for other types); null when absent.
    size: Option<u64>,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    /// Entries of a folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<usize>,
}

fn json_step(s: &Step) -> JsonStep {
    JsonStep {
        snapshot: s.snapshot.to_hex(),
        time: output::rfc3339(&s.time),
        change: s.event.name(),
        size: s.node.as_ref().map(listing::size),
        kind: s.node.as_ref().map(listing::type_name),
        entries: s.entries,
    }
}

/// Prints the unified diff from the previous version to this one (an
/// absent side is empty), or says why it is not shown.
fn content(repo: &Repository, path: &Path, s: &Step, out: &mut impl Write) -> Result<()> {
    let is_file = |n: &Option<Node>| n.as_ref().is_some_and(|n| listing::type_name(n) == "file");
    if !is_file(&s.node) && !is_file(&s.previous) {
        return Ok(());
    }
    let text = |node: Option<&Node>| -> Result<Contents> {
        match node {
            None => Ok(Contents::Text(String::new())),
            Some(n) => Ok(cairn_core::browse::diff::contents(repo, n, CONTENT_LIMIT)?),
        }
    };
    // A creation compares with nothing; anything else with the last version.
    let old = if s.event == Event::Created { None } else { s.previous.as_ref() };
    write!(out, "{}", output::text_diff(&names::escape_path(path), text(old)?, text(s.node.as_ref())?))?;
    Ok(())
}
