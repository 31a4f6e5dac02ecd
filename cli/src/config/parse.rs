//! Reading the profile file: `toml` with serde for the values, and the spans
//! `toml` and `toml_edit` keep so that every mistake is reported as
//! "FILE:LINE: ... key `k` in profile `p`: what is wrong", as a user editing
//! the file needs it. Unknown keys are errors (a misspelt `exlude` silently
//! ignored would back up what the user meant to leave out).

use cairn_core::maintenance::read_subset::ReadSubset;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use cairn_core::archiver::alarm::AlarmRules;
use serde::Deserialize;
use toml::Spanned;

use super::{Every, Keep, Profile};

/// One profile as written, every value with its place in the file.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawProfile {
    repository: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    password_command: Option<Spanned<String>>,
    paths: Option<Spanned<Vec<String>>>,
    exclude: Option<Spanned<Vec<String>>>,
    exclude_file: Option<Spanned<Vec<String>>>,
    exclude_if_present: Option<Spanned<Vec<String>>>,
    default_excludes: Option<Spanned<bool>>,
    git_ignore: Option<Spanned<bool>>,
    one_file_system: Option<Spanned<bool>>,
    exclude_larger_than: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    tags: Option<Spanned<Vec<String>>>,
    every: Option<Spanned<String>>,
    prune_every: Option<Spanned<String>>,
    check_every: Option<Spanned<String>>,
    check_read_data_subset: Option<Spanned<String>>,
    restore_sample: Option<Spanned<usize>>,
    on_alert: Option<Spanned<String>>,
    keep: Option<Spanned<RawKeep>>,
    alarm: Option<Spanned<AlarmRules>>,
    copy_to: Option<Spanned<String>>,
    copy_to_password_file: Option<Spanned<String>>,
    copy_to_password_command: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawKeep {
    last: Option<u32>,
    hourly: Option<u32>,
    daily: Option<u32>,
    weekly: Option<u32>,
    monthly: Option<u32>,
    yearly: Option<u32>,
    within: Option<Spanned<String>>,
    tags: Option<Vec<String>>,
}

/// Every profile of the file at `file`, by name.
pub fn parse_file(file: &Path, text: &str) -> Result<BTreeMap<String, Profile>> {
    let at = |span: Range<usize>, what: String| anyhow!("{}:{}: {what}", file.display(), line_of(text, span.start));
    let doc = match toml_edit::Document::parse(text.to_string()) {
        Ok(doc) => doc,
        Err(e) => {
            let what = e.message().trim().to_string();
            return Err(at(e.span().unwrap_or(0..0), what));
        }
    };
    // Every top-level key must be a table: a stray `repository = …` above
    // the first `[profile]` is the classic mistake.
    for (key, item) in doc.as_table().iter() {
        if !item.is_table_like() {
            let span = doc.as_table().key(key).and_then(|k| k.span()).unwrap_or(0..0);
            return Err(at(
                span,
                format!("`{key}` is outside any profile: every setting belongs in a table such as [default]"),
            ));
        }
    }
    let raw: BTreeMap<String, RawProfile> = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (profile, key) = locate(&doc, span.start);
        at(span.clone(), describe_serde(e.message(), profile.as_deref(), &key))
    })?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    raw.into_iter()
        .map(|(name, r)| {
            let p = convert(&name, r, dir, text, &|span, key, what| {
                at(span, format!("key `{key}` in profile `{name}`: {what}"))
            })?;
            Ok((name, Profile { source: Some(file.to_path_buf()), ..p }))
        })
        .collect()
}

/// The 1-based line of byte `offset`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// A serde message in the file's words.
fn describe_serde(message: &str, profile: Option<&str>, key: &[String]) -> String {
    let profile = profile.unwrap_or("?");
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, known) = rest.split_once('`').unwrap_or((rest, ""));
        let prefix = if key.len() > 1 { format!("{}.", key[..key.len() - 1].join(".")) } else { String::new() };
        let known = known.trim_start_matches(", expected ").replace("one of ", "");
        return format!("unknown key `{prefix}{field}` in profile `{profile}` (known keys: {known})");
    }
    let key = if key.is_empty() { "?".to_string() } else { key.join(".") };
    format!("key `{key}` in profile `{profile}`: {message}")
}

/// Which profile and key hold byte `at`: the profile's name and the key
/// path inside it (`keep.daily`).
fn locate(doc: &toml_edit::Document<String>, at: usize) -> (Option<String>, Vec<String>) {
    let mut path = Vec::new();
    walk(doc.as_table(), at, &mut path);
    let mut path = path.into_iter();
    (path.next(), path.collect())
}

fn walk(table: &dyn toml_edit::TableLike, at: usize, path: &mut Vec<String>) {
    for (name, item) in table.iter() {
        let key_span = table.key(name).and_then(|k| k.span());
        let Some(range) = extent(key_span, item) else { continue };
        if range.contains(&at) {
            path.push(name.to_string());
            if let Some(inner) = item.as_table_like() {
                walk(inner, at, path);
            }
            return;
        }
    }
}

/// The bytes a key and its value (all of it, nested tables included) cover.
fn extent(key: Option<Range<usize>>, item: &toml_edit::Item) -> Option<Range<usize>> {
    let mut spans: Vec<Range<usize>> = key.into_iter().chain(item.span()).collect();
    if let Some(t) = item.as_table_like() {
        for (name, inner) in t.iter() {
            spans.extend(extent(t.key(name).and_then(|k| k.span()), inner));
        }
    }
    if let Some(tables) = item.as_array_of_tables() {
        for t in tables.iter() {
            spans.extend(t.span());
        }
    }
    let start = spans.iter().map(|s| s.start).min()?;
    let end = spans.iter().map(|s| s.end).max()?;
    Some(start..end.max(start + 1))
}

type At<'a> = &'a dyn Fn(Range<usize>, &str, String) -> anyhow::Error;

fn convert(name: &str, r: RawProfile, dir: &Path, text: &str, at: At) -> Result<Profile> {
    if let (Some(_), Some(c)) = (&r.password_file, &r.password_command) {
        bail!(at(c.span(), "password-command", "give password-file or password-command, not both".into()));
    }
    if let (Some(_), Some(c)) = (&r.copy_to_password_file, &r.copy_to_password_command) {
        bail!(at(
            c.span(),
            "copy-to-password-command",
            "give copy-to-password-file or copy-to-password-command, not both".into()
        ));
    }
    if r.copy_to.is_none()
        && let Some(s) =
            r.copy_to_password_file.as_ref().map(|s| s.span()).or(r.copy_to_password_command.as_ref().map(|s| s.span()))
    {
        bail!(at(s, "copy-to", "a copy-to password without `copy-to`: name the repository to copy to".into()));
    }
    let mut lines = BTreeMap::new();
    macro_rules! take {
        ($field:ident, $key:literal) => {
            r.$field.map(|s| {
                lines.insert($key, line_of(text, s.span().start));
                s.into_inner()
            })
        };
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = |s: String| expand(&s, home.as_deref(), dir);
    let every = |s: Option<Spanned<String>>, key: &'static str, lines: &mut BTreeMap<&'static str, usize>| {
        s.map(|s| {
            lines.insert(key, line_of(text, s.span().start));
            Every::parse(s.get_ref()).map_err(|e| at(s.span(), key, e))
        })
        .transpose()
    };
    let exclude_larger_than = match r.exclude_larger_than {
        Some(s) => {
            lines.insert("exclude-larger-than", line_of(text, s.span().start));
            Some(cairn_core::fs::exclude::parse_size(s.get_ref()).map_err(|e| at(s.span(), "exclude-larger-than", e))?)
        }
        None => None,
    };
    let every_interval = match every(r.every, "every", &mut lines)? {
        Some(Every::After(d)) => Some(d),
        Some(Every::Never) => None,
        None => None,
    };
    let prune_every = every(r.prune_every, "prune-every", &mut lines)?;
    let check_every = every(r.check_every, "check-every", &mut lines)?;
    let subset = match r.check_read_data_subset {
        Some(s) => {
            lines.insert("check-read-data-subset", line_of(text, s.span().start));
            check_subset(s.get_ref()).map_err(|e| at(s.span(), "check-read-data-subset", e))?;
            Some(s.into_inner())
        }
        None => None,
    };
    let keep = match r.keep {
        Some(k) => {
            lines.insert("keep", line_of(text, k.span().start));
            let k = k.into_inner();
            let within = match k.within {
                Some(w) => Some(cairn_core::snapshot::retention::parse_span(w.get_ref()).ok_or_else(|| {
                    at(w.span(), "keep.within", format!("{:?} is not a span (write 1y6m, 14d or 36h)", w.get_ref()))
                })?),
                None => None,
            };
            Some(Keep {
                last: k.last,
                hourly: k.hourly,
                daily: k.daily,
                weekly: k.weekly,
                monthly: k.monthly,
                yearly: k.yearly,
                within,
                tags: k.tags.unwrap_or_default(),
            })
        }
        None => None,
    };
    let alarm = take!(alarm, "alarm").unwrap_or_default();
    let password_file = take!(password_file, "password-file").map(path);
    let password_command = take!(password_command, "password-command");
    // A `rest:` or `s3:` location is a URL, not a path relative to the file.
    let location = |r: String| {
        if cairn_core::backend::rest::is_rest(&r) || r.starts_with("s3:") { PathBuf::from(r) } else { path(r) }
    };
    let copy_to = take!(copy_to, "copy-to").map(location);
    let copy_to_password_file = take!(copy_to_password_file, "copy-to-password-file").map(path);
    let copy_to_password_command = take!(copy_to_password_command, "copy-to-password-command");
    Ok(Profile {
        name: name.to_string(),
        source: None,
        // A `rest:` location is a URL, not a path relative to the file.
        repository: take!(repository, "repository")
            .map(|r| if cairn_core::backend::rest::is_rest(&r) { PathBuf::from(r) } else { path(r) }),
        password_file,
        password_command,
        paths: take!(paths, "paths").unwrap_or_default().into_iter().map(path).collect(),
        exclude: take!(exclude, "exclude").unwrap_or_default(),
        exclude_file: take!(exclude_file, "exclude-file").unwrap_or_default().into_iter().map(path).collect(),
        exclude_if_present: take!(exclude_if_present, "exclude-if-present").unwrap_or_default(),
        default_excludes: take!(default_excludes, "default-excludes"),
        git_ignore: take!(git_ignore, "git-ignore"),
        one_file_system: take!(one_file_system, "one-file-system"),
        exclude_larger_than,
        host: take!(host, "host"),
        tags: take!(tags, "tags").unwrap_or_default(),
        every: every_interval,
        prune_every,
        check_every,
        check_read_data_subset: subset,
        restore_sample: take!(restore_sample, "restore-sample"),
        on_alert: take!(on_alert, "on-alert"),
        keep,
        alarm,
        copy_to,
        copy_to_password_file,
        copy_to_password_command,
        lines,
    })
}

/// `~` and `~/…` expanded; a relative path is relative to the profile
/// file's folder (as resticprofile reads it), not to wherever cron runs.
pub fn expand(text: &str, home: Option<&Path>, dir: &Path) -> PathBuf {
    let path = match (text.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(text),
    };
    if path.is_absolute() { path } else { dir.join(path) }
}

/// `N/M` (1 <= N <= M), `PCT%` or a size: what `check --read-data-subset`
/// takes. Checked here so that the mistake shows when the file is read,
/// not a week later when the first check is due.
fn check_subset(text: &str) -> std::result::Result<(), String> {
    text.parse::<ReadSubset>().map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BTreeMap<String, Profile>> {
        parse_file(Path::new("/c/config.toml"), text)
    }

    #[test]
    fn unknown_keys_and_bad_values_name_file_line_key_and_profile() {
        let e = parse("[default]\npaths = [\"/a\"]\n\n[work]\nexlude = [\"x\"]\n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:5: unknown key `exlude` in profile `work`"), "{e}");
        let e = parse("[default]\nrestore-sample = \"many\"\n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:2: key `restore-sample` in profile `default`:"), "{e}");
        let e = parse("[default]\n\n[default.keep]\ndaily = 3\nhorly = 2\n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:5: unknown key `keep.horly` in profile `default`"), "{e}");
        let e = parse("[a]\nevery = \"soon\"\n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:2: key `every` in profile `a`:"), "{e}");
        let e = parse("repository = \"/r\"\n[a]\n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:1: `repository` is outside any profile"), "{e}");
        let e = parse("[a]\nhost = \n").unwrap_err().to_string();
        assert!(e.starts_with("/c/config.toml:2: "), "{e}");
    }

    #[test]
    fn values_are_read_and_paths_expanded() {
        let all = parse(
            "[p]\nrepository = \"r\"\npaths = [\"/x\"]\nprune-every = \"never\"\ncheck-every = \"2d\"\n\
             exclude-larger-than = \"1K\"\n[p.keep]\ndaily = 3\nwithin = \"14d\"\n",
        )
        .unwrap();
        let p = &all["p"];
        assert_eq!(p.repository.as_deref(), Some(Path::new("/c/r")));
        let url = &parse("[p]\nrepository = \"rest:unix:/run/s.sock:/me/\"\npaths = [\"/x\"]\n").unwrap()["p"];
        assert_eq!(url.repository.as_deref(), Some(Path::new("rest:unix:/run/s.sock:/me/")), "a URL, not a path");
        assert_eq!(p.paths, [PathBuf::from("/x")]);
        assert_eq!(p.prune_every, Some(Every::Never));
        assert_eq!(p.check_every, Some(Every::After(std::time::Duration::from_secs(2 * 86400))));
        assert_eq!(p.exclude_larger_than, Some(1024));
        assert_eq!(p.keep.as_ref().unwrap().daily, Some(3));
        assert_eq!(expand("~/a", Some(Path::new("/h")), Path::new("/d")), PathBuf::from("/h/a"));
        assert_eq!(expand("~", Some(Path::new("/h")), Path::new("/d")), PathBuf::from("/h"));
    }
}
