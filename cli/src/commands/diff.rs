//! `cairn diff A [B] [PATH...]`: what changed between two snapshots, or
//! between a snapshot and the live files.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, bail};
use cairn_core::Repository;
use cairn_core::browse::diff::{self, CONTENT_LIMIT, Change, ChangeKind, Contents, PathFilter};
use cairn_core::fs::patterns::PathPatterns;
use cairn_core::names;
use cairn_core::snapshot::resolve;
use cairn_core::snapshot::snapshots::{Filter, Selector, SnapshotEntry};

use crate::args::{DiffArgs, Global};
use crate::output::outln;
use crate::{output, password, select, timefmt};

pub fn run(g: &Global, a: &DiffArgs) -> Result<u8> {
    let repo = password::open(g)?;
    // The one reading of positional arguments (`snapshot::resolve`): up to
    // two snapshots (fewer when --from/--to name a side), then paths.
    let sides_by_time = usize::from(a.from.is_some()) + usize::from(a.to.is_some());
    let args = resolve::split_positionals(&a.args, 2)?;
    if let Some(extra) = args.snapshots.get(2 - sides_by_time) {
        // Each side is a snapshot or a time: a snapshot left over after
        // --from/--to would otherwise be dropped without a word.
        bail!("{extra:?} and --from/--to name the same side: give a snapshot or a time for each side, not both");
    }
    // A path typed through a symlink a snapshot followed names what it
    // stored under the link's target.
    let paths: Vec<PathBuf> = crate::given::as_stored(&repo, args.paths.clone(), g.quiet)?;
    let mut filter = PathFilter {
        paths: paths.clone(),
        include: PathPatterns::new(&a.include)?,
        exclude: PathPatterns::new(&a.exclude)?,
    };
    // Each side is the snapshot named, or the newest covering the paths.
    let snapshot_filter = Filter { paths, ..a.snapshot_filter() };
    let pick = |r: Option<&String>, t: Option<&String>| -> Result<Option<SnapshotEntry>> {
        let selector = match (r, t) {
            (Some(r), None) => Selector::Reference(r.clone()),
            (None, Some(t)) => Selector::At(timefmt::parse(t)?),
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => bail!("give a snapshot or a time for each side, not both"),
        };
        Ok(Some(select::pick(&repo, &selector, &snapshot_filter)?))
    };
    let mut refs = args.snapshots.into_iter();
    let old = pick(if a.from.is_some() { None } else { refs.next() }.as_ref(), a.from.as_ref())?;
    let new = pick(if a.to.is_some() { None } else { refs.next() }.as_ref(), a.to.as_ref())?;
    let Some(old) = old else { return Err(resolve::no_snapshot_named(&a.args, "--from").into()) };
    // A path given through a symlink that a snapshot followed names what
    // the snapshot stored under the link's target.
    for side in [Some(&old), new.as_ref()].into_iter().flatten() {
        filter.paths = filter.paths.iter().map(|p| side.snapshot.stored_path(p)).collect();
    }
    let changes = match &new {
        Some(new) => diff::diff_trees(&repo, &old.snapshot.tree, &new.snapshot.tree, &filter)?,
        None => {
            let roots: Vec<PathBuf> = old.snapshot.paths.iter().map(|p| PathBuf::from(bytes_to_os(p))).collect();
            let (rules, recorded) = diff::live_rules(&old.snapshot)?;
            if !recorded {
                output::note(format!(
                    "snapshot {} does not record its exclude rules (made by an older cairn); \
                     the live files are compared under the default excludes",
                    old.id.short()
                ));
            }
            diff::diff_live(&repo, &old.snapshot.tree, &roots, &rules, &filter)?
        }
    };
    // The totals of the text's last line, for the JSON too.
    let mut totals = [0u64; 5];
    let (mut added_bytes, mut removed_bytes) = (0u64, 0u64);
    for c in &changes {
        let (old_size, new_size) = (c.old.as_ref().map(diff::size_of), c.new.as_ref().map(diff::size_of));
        added_bytes += new_size.unwrap_or(0).saturating_sub(old_size.unwrap_or(0));
        removed_bytes += old_size.unwrap_or(0).saturating_sub(new_size.unwrap_or(0));
        totals[c.kind as usize] += 1;
    }
    if g.json {
        let items: Vec<_> = changes
            .iter()
            .map(|c| {
                output::json_path(
                    &c.path,
                    serde_json::json!({
                        "change": c.kind.letter().to_string(),
                        "type": c.new.as_ref().or(c.old.as_ref()).map(diff::type_name),
                        "old_size": c.old.as_ref().map(diff::size_of),
                        "new_size": c.new.as_ref().map(diff::size_of),
                    }),
                )
            })
            .collect();
        let totals = serde_json::json!({
            "added": totals[0], "deleted": totals[1], "modified": totals[2], "type_changed": totals[3],
            "metadata": totals[4], "bytes_added": added_bytes, "bytes_removed": removed_bytes,
        });
        outln!("{}", serde_json::json!({ "changes": items, "totals": totals }))?;
        return Ok(0);
    }
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for c in &changes {
        outln!("{}", line(c, a.stat, colour))?;
        if a.content {
            content(&repo, c, new.is_none())?;
        }
    }
    if !g.quiet {
        outln!(
            "{} added, {} deleted, {} modified, {} type changed, {} metadata only; +{} -{}",
            totals[0],
            totals[1],
            totals[2],
            totals[3],
            totals[4],
            output::bytes(added_bytes),
            output::bytes(removed_bytes)
        )?;
    }
    Ok(0)
}

fn bytes_to_os(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

fn line(c: &Change, stat: bool, colour: bool) -> String {
    let letter = c.kind.letter();
    let is_dir = c.new.as_ref().or(c.old.as_ref()).is_some_and(|n| diff::type_name(n) == "dir");
    let path = format!("{}{}", names::escape_path(&c.path), if is_dir { "/" } else { "" });
    let sizes = match (c.old.as_ref().map(diff::size_of), c.new.as_ref().map(diff::size_of), is_dir) {
        (_, _, true) => String::new(),
        (None, Some(n), _) => output::bytes(n),
        (Some(o), None, _) => output::bytes(o),
        (Some(o), Some(n), _) if o == n => output::bytes(n),
        (Some(o), Some(n), _) => format!("{} → {}", output::bytes(o), output::bytes(n)),
        _ => String::new(),
    };
    let stat_part = if stat && !is_dir {
        let (o, n) = (c.old.as_ref().map_or(0, diff::size_of) as i64, c.new.as_ref().map_or(0, diff::size_of) as i64);
        format!("  {:+} bytes", n - o)
    } else {
        String::new()
    };
    let code = match c.kind {
        ChangeKind::Added => "32",
        ChangeKind::Deleted => "31",
        ChangeKind::Modified => "33",
        ChangeKind::TypeChanged => "35",
        ChangeKind::Metadata => "36",
    };
    let head = if colour { format!("\x1b[{code}m{letter}\x1b[0m") } else { letter.to_string() };
    if sizes.is_empty() {
        format!("{head}  {path}{stat_part}")
    } else {
        format!("{head}  {path}  ({sizes}){stat_part}")
    }
}

/// Prints a unified diff of a changed text file.
fn content(repo: &Repository, c: &Change, live: bool) -> Result<()> {
    if !matches!(c.kind, ChangeKind::Added | ChangeKind::Deleted | ChangeKind::Modified) {
        return Ok(());
    }
    let empty = || Contents::Text(String::new());
    let old = match &c.old {
        Some(n) => diff::contents(repo, n, CONTENT_LIMIT)?,
        None => empty(),
    };
    let new = match &c.new {
        Some(_) if live => diff::live_contents(&c.path, CONTENT_LIMIT)?,
        Some(n) => diff::contents(repo, n, CONTENT_LIMIT)?,
        None => empty(),
    };
    use std::io::Write as _;
    write!(std::io::stdout().lock(), "{}", output::text_diff(&names::escape_path(&c.path), old, new))?;
    Ok(())
}
