//! `cairn find PATTERN [--host H] [--tag T] [--at TIME]`: the paths matching
//! a glob in any snapshot, each with its distinct versions over time.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use anyhow::Result;
use cairn_core::browse::find::{self, Pattern, Version};
use cairn_core::names;
use cairn_core::snapshot::{resolve, select};

use crate::args::{FindArgs, Global};
use crate::{output, password, timefmt};

pub fn run(g: &Global, a: &FindArgs) -> Result<u8> {
    super::ls::ignore_broken_pipe(find(g, a))
}

fn find(g: &Global, a: &FindArgs) -> Result<u8> {
    // Names are printed escaped; a pattern copied from the output is read back.
    let pattern = Pattern::new(&names::unescape_glob(&a.pattern))?;
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    let until = a.select.at.as_deref().map(timefmt::parse).transpose()?;
    let (snapshots, problems) = select::snapshots_matching(&repo, &a.select.filter(&[]), until.as_ref())?;
    for p in problems {
        output::warning(p);
    }
    // An absolute glob anchored in a folder no snapshot holds anything of
    // would find nothing, silently: say which snapshots lie near it.
    if let Some(anchor) = resolve::glob_anchor(&a.pattern)
        && !snapshots.is_empty()
        && !snapshots.iter().any(|e| resolve::may_hold_below(e, &anchor))
    {
        return Err(crate::select::with_closest(&repo, resolve::not_covered(&snapshots, &anchor)));
    }
    let result = find::find(&repo, &snapshots, &pattern)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if g.json {
        let items: Vec<JsonFound> = result
            .found
            .iter()
            .map(|f| JsonFound {
                path: f.path.to_string_lossy().into_owned(),
                path_bytes: names::bytes_if_not_utf8(f.path.as_os_str().as_bytes()),
                versions: f.versions.iter().map(json_version).collect(),
            })
            .collect();
        serde_json::to_writer(&mut out, &items)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(0);
    }
    for f in &result.found {
        writeln!(out, "{}", names::escape_path(&f.path))?;
        for v in &f.versions {
            writeln!(out, "  {}", version_line(v))?;
            if let Some((id, time)) = &v.gone_in {
                writeln!(out, "  gone in {} {}", id.short(), output::local_time(time))?;
            }
        }
    }
    if !g.quiet {
        let versions: usize = result.found.iter().map(|f| f.versions.len()).sum();
        let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        writeln!(
            out,
            "{}, {}, in {}",
            count(result.found.len(), "path", "paths"),
            count(versions, "version", "versions"),
            count(snapshots.len(), "snapshot", "snapshots"),
        )?;
    }
    out.flush()?;
    Ok(0)
}

/// `from 1a2b3c4d 2025-06-01 00:00:00 to 5e6f7a8b 2025-06-01 02:00:00 (3)  4.1 KiB`
fn version_line(v: &Version) -> String {
    let first = format!("{} {}", v.first_snapshot.short(), output::local_time(&v.first_time));
    let span = if v.snapshots == 1 {
        format!("in   {first}")
    } else {
        format!("from {first} to {} {} ({})", v.last_snapshot.short(), output::local_time(&v.last_time), v.snapshots)
    };
    let what = if v.kind == "file" { output::bytes(v.size) } else { v.kind.to_string() };
    format!("{span}  {what}")
}

/// `find --json` items (structs, so the fields keep this order).
#[derive(serde::Serialize)]
struct JsonFound {
    path: String,
    /// The exact bytes of a path that is not UTF-8 (see `output::json_path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<Vec<u8>>,
    versions: Vec<JsonVersion>,
}

#[derive(serde::Serialize)]
struct JsonVersion {
    first_snapshot: String,
    last_snapshot: String,
    first_time: String,
    last_time: String,
    /// How many snapshots the version spans.
    snapshots: usize,
    size: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    /// The first later snapshot covering the path without it.
    gone_in: Option<String>,
}

fn json_version(v: &Version) -> JsonVersion {
    JsonVersion {
        first_snapshot: v.first_snapshot.to_hex(),
        last_snapshot: v.last_snapshot.to_hex(),
        first_time: output::rfc3339(&v.first_time),
        last_time: output::rfc3339(&v.last_time),
        snapshots: v.snapshots,
        size: v.size,
        kind: v.kind,
        gone_in: v.gone_in.map(|(id, _)| id.to_hex()),
    }
}
