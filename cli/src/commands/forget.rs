//! `cairn forget`: remove snapshots by policy (the flags, or else the
//! repository's policy) or by id, printing per group what is kept and why.

use anyhow::{Result, bail};
use cairn_core::format::retention::{KeepRules, Span};
use cairn_core::maintenance::forget::{self, ForgetPlan, GroupBy, GroupKey};
use cairn_core::snapshot::policy_store::{self, PolicySource};
use cairn_core::snapshot::retention::{format_span, parse_span};
use cairn_core::snapshot::snapshots::{Filter, SnapshotEntry};
use clap::Args;

use crate::args::Global;
use crate::commands::prune::{PruneFlags, prune_repository};
use crate::output::outln;
use crate::{EXIT_ERROR, output, password};

fn span(text: &str) -> Result<Span, String> {
    parse_span(text)
        .ok_or_else(|| format!("cannot read the span {text:?}; write it as 1y6m, 14d or 36h (y, m = months, d, h)"))
}

/// The keep rules, shared by `forget` and `policy set`.
#[derive(Args, Debug, Default)]
pub struct KeepArgs {
    /// Keep the newest N snapshots
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours that have snapshots
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest snapshot of each of the last N days that have snapshots
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the last N ISO weeks that have snapshots
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the last N months that have snapshots
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest snapshot of each of the last N years that have snapshots
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Keep every snapshot within SPAN (1y6m, 14d, 36h) of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within: Option<Span>,
    /// Keep the newest snapshot of each hour within SPAN of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within_hourly: Option<Span>,
    /// Keep the newest snapshot of each day within SPAN of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within_daily: Option<Span>,
    /// Keep the newest snapshot of each ISO week within SPAN of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within_weekly: Option<Span>,
    /// Keep the newest snapshot of each month within SPAN of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within_monthly: Option<Span>,
    /// Keep the newest snapshot of each year within SPAN of the group's latest
    #[arg(long, value_name = "SPAN", value_parser = span)]
    pub keep_within_yearly: Option<Span>,
    /// Keep snapshots carrying all of these comma-separated tags (repeatable)
    #[arg(long, value_name = "TAGS")]
    pub keep_tag: Vec<String>,
}

impl KeepArgs {
    /// The rules, or `None` when no rule was given at all.
    pub fn rules(&self) -> Option<KeepRules> {
        let given =
            [self.keep_last, self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly, self.keep_yearly]
                .iter()
                .any(Option::is_some)
                || [
                    self.keep_within,
                    self.keep_within_hourly,
                    self.keep_within_daily,
                    self.keep_within_weekly,
                    self.keep_within_monthly,
                    self.keep_within_yearly,
                ]
                .iter()
                .any(Option::is_some)
                || !self.keep_tag.is_empty();
        given.then(|| KeepRules {
            last: self.keep_last.unwrap_or(0),
            hourly: self.keep_hourly.unwrap_or(0),
            daily: self.keep_daily.unwrap_or(0),
            weekly: self.keep_weekly.unwrap_or(0),
            monthly: self.keep_monthly.unwrap_or(0),
            yearly: self.keep_yearly.unwrap_or(0),
            within: self.keep_within,
            within_hourly: self.keep_within_hourly,
            within_daily: self.keep_within_daily,
            within_weekly: self.keep_within_weekly,
            within_monthly: self.keep_within_monthly,
            within_yearly: self.keep_within_yearly,
            tags: self
                .keep_tag
                .iter()
                .map(|l| l.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect())
                .collect(),
        })
    }
}

#[derive(Args, Debug)]
#[command(long_about = "Remove snapshots by policy or by id.

With no snapshot ids, applies the --keep-* rules given, or else the repository's policy \
(`cairn policy show`; by default 24 hourly, 30 daily, 12 weekly, 12 monthly). Rules are ORed: a snapshot \
is kept if any rule keeps it. Snapshots are grouped by host and paths (--group-by) and each group is \
judged on its own.

Hourly/daily/weekly/monthly/yearly buckets are calendar periods read in each snapshot's own recorded \
local time and UTC offset (as shown by `cairn snapshots --json`), not in this machine's time zone; weeks \
are ISO weeks. --keep-within* spans count back from the group's latest snapshot, not from now.

Never removed: pinned snapshots (`cairn pin`), the newest snapshot of each group, and snapshots dated \
more than an hour in the future (these are not counted in any bucket either, and are warned about). \
restore-preserve snapshots are kept for 30 days.

forget removes only snapshot files; the data they alone used stays in the repository until a prune \
(--prune, or `cairn prune` later) deletes it.")]
pub struct ForgetArgs {
    /// Snapshots to remove (ids, prefixes, latest~N) instead of applying a policy
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub keep: KeepArgs,
    /// Group snapshots by these fields (host,paths,tags) or `none`
    #[arg(long, value_name = "FIELDS", default_value = "host,paths")]
    pub group_by: String,
    /// Only consider snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
    /// Only consider snapshots with this tag (repeatable: all must be present)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Show what would be kept and removed, and why, without removing anything
    /// (with --prune: and the prune plan, without pruning)
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Then prune: delete the data no remaining snapshot needs (see `cairn prune`)
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub prune_flags: PruneFlags,
}

pub fn run(g: &Global, a: &ForgetArgs) -> Result<u8> {
    // With --prune, registered as a prune before the index is read.
    let repo = if a.prune { crate::commands::prune::open(g, a.dry_run)? } else { password::open(g)? };
    if !a.dry_run {
        repo.refuse_if_append_only()?;
    }
    if !a.snapshots.is_empty() {
        if a.keep.rules().is_some() {
            bail!("give either snapshot ids or --keep-* rules, not both");
        }
        let entries = forget::resolve_explicit(&repo, &a.snapshots)?;
        return finish(g, a, &repo, &entries.iter().map(|e| e.id).collect::<Vec<_>>(), explicit_json(&entries));
    }
    let group_by = GroupBy::parse(&a.group_by)?;
    let (rules, source) = match a.keep.rules() {
        Some(rules) => (rules, "command line"),
        None => match policy_store::load(&repo) {
            Ok((rules, PolicySource::Default)) => (rules, "default"),
            Ok((rules, PolicySource::Stored { .. })) => (rules, "repository"),
            Err(e) => bail!("{e}; give --keep-* rules, or replace the policy with `cairn policy set`"),
        },
    };
    let filter = Filter { host: a.host.clone(), paths: Vec::new(), tags: a.tags.clone() };
    let plan = forget::plan(&repo, &rules, group_by, &filter, &cairn_core::repo::now_timestamp())?;
    for p in &plan.problems {
        output::warning(p);
    }
    for e in &plan.future {
        output::warning(format!(
            "snapshot {} (host {}) is dated {}, more than an hour ahead of this machine's clock: it is kept and not \
             counted by the policy (check that machine's clock)",
            e.id.short(),
            e.snapshot.host,
            output::rfc3339(&e.snapshot.time)
        ));
    }
    if !g.json && !g.quiet {
        outln!("policy ({source}): {}", describe(&rules))?;
        print_plan(&plan)?;
    }
    let json = serde_json::json!({
        "policy": rules_json(&rules),
        "policy_source": source,
        "groups": plan.groups.iter().map(|grp| serde_json::json!({
            "key": key_json(&grp.key),
            "snapshots": grp.snapshots.iter().map(|(e, d)| serde_json::json!({
                "id": e.id.to_hex(),
                "short_id": e.id.short(),
                "time": output::rfc3339(&e.snapshot.time),
                "keep": d.keep(),
                "reasons": d.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "future": plan.future.iter().map(|e| e.id.to_hex()).collect::<Vec<_>>(),
        "problems": plan.problems,
    });
    finish(g, a, &repo, &plan.to_remove(), json)
}

/// Removes `ids` (unless a dry run) and prints the outcome.
fn finish(
    g: &Global,
    a: &ForgetArgs,
    repo: &cairn_core::Repository,
    ids: &[cairn_core::Id],
    mut json: serde_json::Value,
) -> Result<u8> {
    let hex = |ids: &[cairn_core::Id]| ids.iter().map(|i| i.to_hex()).collect::<Vec<_>>();
    if a.dry_run {
        json["dry_run"] = true.into();
        json["to_remove"] = hex(ids).into();
        if !g.json && !g.quiet {
            outln!("dry run: would remove {} snapshot{}", ids.len(), plural(ids.len()))?;
        }
        return then_prune(g, a, repo, ids, 0, json);
    }
    let outcome = forget::remove(repo, ids)?;
    json["dry_run"] = false.into();
    json["to_remove"] = hex(ids).into();
    json["removed"] = hex(&outcome.removed).into();
    json["pinned_meanwhile"] = hex(&outcome.pinned_meanwhile).into();
    json["failed"] = outcome
        .failed
        .iter()
        .map(|(id, e)| serde_json::json!({"id": id.to_hex(), "error": e}))
        .collect::<Vec<_>>()
        .into();
    json["locked"] = hex(&outcome.locked.files.iter().map(|(id, _, _)| *id).collect::<Vec<_>>()).into();
    for id in &outcome.pinned_meanwhile {
        output::warning(format!("snapshot {} was pinned meanwhile; kept", id.short()));
    }
    if !g.json && !g.quiet {
        outln!("removed {} snapshot{}", outcome.removed.len(), plural(outcome.removed.len()))?;
        if let Some(line) = outcome.locked.line("snapshot", "snapshots", "a later forget removes them") {
            outln!("{line}")?;
        }
    }
    if let Some((id, e)) = outcome.failed.first() {
        eprintln!(
            "cairn: error: could not remove {} snapshot{} (first: {}: {e}); run forget again",
            outcome.failed.len(),
            plural(outcome.failed.len()),
            id.short()
        );
        if g.json {
            outln!("{json}")?;
        }
        // No prune: the snapshots still there were meant to go.
        return Ok(EXIT_ERROR);
    }
    then_prune(g, a, repo, &[], 0, json)
}

/// With `--prune`, prunes (in a dry run, plans the prune as if `forgotten`
/// were gone) and adds its JSON under `prune`; then prints the JSON.
fn then_prune(
    g: &Global,
    a: &ForgetArgs,
    repo: &cairn_core::Repository,
    forgotten: &[cairn_core::Id],
    code: u8,
    mut json: serde_json::Value,
) -> Result<u8> {
    let mut code = code;
    if a.prune {
        if !g.json && !g.quiet {
            outln!()?;
        }
        let (prune_code, prune_json) = prune_repository(g, repo, &a.prune_flags, a.dry_run, forgotten)?;
        json["prune"] = prune_json;
        code = code.max(prune_code);
    }
    if g.json {
        outln!("{json}")?;
    }
    Ok(code)
}

fn explicit_json(entries: &[SnapshotEntry]) -> serde_json::Value {
    serde_json::json!({
        "snapshots": entries.iter().map(|e| serde_json::json!({
            "id": e.id.to_hex(), "short_id": e.id.short(), "time": output::rfc3339(&e.snapshot.time),
        })).collect::<Vec<_>>(),
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_plan(plan: &ForgetPlan) -> Result<()> {
    for grp in &plan.groups {
        outln!()?;
        outln!("{}", describe_key(&grp.key))?;
        let rows: Vec<Vec<String>> = grp
            .snapshots
            .iter()
            .map(|(e, d)| {
                vec![
                    String::from(if d.keep() { "keep" } else { "remove" }),
                    e.id.short(),
                    output::rfc3339(&e.snapshot.time),
                    e.snapshot.tags.join(","),
                    d.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                ]
            })
            .collect();
        output::table(&["Action", "ID", "Time (as recorded)", "Tags", "Kept by"], &rows)?;
        let kept = grp.snapshots.iter().filter(|(_, d)| d.keep()).count();
        outln!("{kept} kept, {} to remove", grp.snapshots.len() - kept)?;
    }
    if !plan.groups.is_empty() {
        outln!()?;
    }
    Ok(())
}

fn describe_key(key: &GroupKey) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &key.host {
        parts.push(format!("host {h}"));
    }
    if let Some(p) = &key.paths {
        parts.push(format!(
            "paths {}",
            p.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(" ")
        ));
    }
    if let Some(t) = &key.tags {
        parts.push(format!("tags [{}]", t.join(",")));
    }
    if parts.is_empty() { String::from("all snapshots") } else { parts.join(", ") }
}

fn key_json(key: &GroupKey) -> serde_json::Value {
    serde_json::json!({
        "host": key.host,
        "paths": key.paths.as_ref().map(|p| p.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>()),
        "tags": key.tags,
    })
}

/// "24 hourly, 30 daily, within 2d": the rules in words.
pub fn describe(r: &KeepRules) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (r.last, "last"),
        (r.hourly, "hourly"),
        (r.daily, "daily"),
        (r.weekly, "weekly"),
        (r.monthly, "monthly"),
        (r.yearly, "yearly"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    for (s, what) in spans(r) {
        if let Some(s) = s.filter(|s| !s.is_zero()) {
            parts.push(format!("{what} {}", format_span(&s)));
        }
    }
    for t in r.tags.iter().filter(|t| !t.is_empty()) {
        parts.push(format!("tag {}", t.join(",")));
    }
    if parts.is_empty() { String::from("nothing (empty)") } else { format!("keep {}", parts.join(", ")) }
}

fn spans(r: &KeepRules) -> [(Option<Span>, &'static str); 6] {
    [
        (r.within, "within"),
        (r.within_hourly, "within-hourly"),
        (r.within_daily, "within-daily"),
        (r.within_weekly, "within-weekly"),
        (r.within_monthly, "within-monthly"),
        (r.within_yearly, "within-yearly"),
    ]
}

/// The rules as JSON: counts as numbers, spans as `1y6m` strings.
pub fn rules_json(r: &KeepRules) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (n, what) in [
        (r.last, "last"),
        (r.hourly, "hourly"),
        (r.daily, "daily"),
        (r.weekly, "weekly"),
        (r.monthly, "monthly"),
        (r.yearly, "yearly"),
    ] {
        m.insert(what.to_string(), n.into());
    }
    for (s, what) in spans(r) {
        m.insert(what.replace('-', "_"), s.filter(|s| !s.is_zero()).map(|s| format_span(&s)).into());
    }
    m.insert(String::from("tags"), serde_json::json!(r.tags));
    serde_json::Value::Object(m)
}
