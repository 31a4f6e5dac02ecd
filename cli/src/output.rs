//! Terminal output helpers: the one-line error, sizes, times, tables.

use std::io::IsTerminal;

use cairn_core::format::Timestamp;

/// `println!` that returns the write error instead of panicking on it: a
/// closed pipe (`cairn diff latest | head`) goes up to `main`, which ends
/// quietly (see `is_broken_pipe`). Use it for everything on standard output.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;

/// True when `e` comes from writing into a pipe whose reader has gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Prints an error (with its causes) on one line, and what to do about it
/// in terms of this command line's flags and variables.
pub fn error_line(e: &anyhow::Error) {
    let mut line = format!("cairn: error: {e}");
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    if let Some(hint) = e.chain().find_map(|c| c.downcast_ref::<cairn_core::Error>()).and_then(hint) {
        line.push_str(hint);
    }
    eprintln!("{}", sanitize(&line.replace('\n', " ")));
}

/// A message made safe for the terminal: control and unprintable
/// characters escaped as names are (`cairn_core::names`), the rest as it
/// is. For messages that may carry a name printed raw (a core error, a
/// warning); names cairn prints itself go through `names::escape_path`,
/// which also escapes backslashes so the name can be typed back.
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    // The escaped form of one character, when it needs one.
    let escaped = |c: char| {
        let shown = cairn_core::names::escape(c.encode_utf8(&mut [0u8; 4]).as_bytes()).into_owned();
        (c != '\\' && shown.len() != c.len_utf8()).then_some(shown)
    };
    if text.chars().all(|c| escaped(c).is_none()) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars().map(|c| escaped(c).unwrap_or_else(|| c.to_string())).collect::<String>().into()
}

/// `fields` with the path in front: `path` as text (lossy when the name
/// is not UTF-8) and, only then, `path_bytes`, its exact bytes as an array
/// of numbers (every JSON reader takes them without a decoder; serde reads
/// them as a `Vec<u8>`).
pub fn json_path(path: &std::path::Path, fields: serde_json::Value) -> serde_json::Value {
    use std::os::unix::ffi::OsStrExt;
    let mut item = serde_json::Map::new();
    item.insert("path".into(), path.to_string_lossy().into());
    if let Some(bytes) = cairn_core::names::bytes_if_not_utf8(path.as_os_str().as_bytes()) {
        item.insert("path_bytes".into(), bytes.into());
    }
    if let serde_json::Value::Object(rest) = fields {
        item.extend(rest);
    }
    item.into()
}

/// The command-line advice for a core error that core states in its own terms.
fn hint(e: &cairn_core::Error) -> Option<&'static str> {
    use cairn_core::Error;
    match e {
        Error::NotARepository(_) => Some(" (run `cairn init` to create one, or check --repo / CAIRN_REPO)"),
        Error::UnexpectedlyUnencrypted(_) => Some(
            "; if it is meant to be unencrypted, unset CAIRN_PASSWORD (and the other password options) or pass --insecure-no-encryption",
        ),
        Error::EncryptionRemoved(_) => Some(
            "; if you made it unencrypted on purpose, pass --insecure-no-encryption (snapshots are then stored in clear)",
        ),
        Error::TargetNotEmpty(_) => Some("; pass --overwrite to restore into it anyway"),
        Error::SnapshotNotFound(_) => Some(" (a path that reads like a snapshot id is written ./NAME)"),
        _ => None,
    }
}

pub fn warning(text: impl std::fmt::Display) {
    eprintln!("warning: {}", sanitize(&text.to_string()));
}

/// Something the user may want to know that is not a problem.
pub fn note(text: impl std::fmt::Display) {
    eprintln!("note: {}", sanitize(&text.to_string()));
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// 1536 → "1.5 KiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

pub fn seconds(ms: u64) -> String {
    format!("{:.2}s", ms as f64 / 1000.0)
}

/// RFC 3339 in the offset the time was recorded with.
pub fn rfc3339(t: &Timestamp) -> String {
    cairn_core::snapshot::timefmt::rfc3339(t)
}

/// "2026-11-24 02:00:13" in the system's time zone.
pub fn local_time(t: &Timestamp) -> String {
    cairn_core::snapshot::timefmt::local(t)
}

/// Prints rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        outln!("{}", parts.join("  ").trim_end())
    };
    line(header.to_vec())?;
    outln!("{}", "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)))?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// The unified diff between two versions of a text file, or a line saying
/// why it is not shown. An absent or non-file side counts as empty.
pub fn text_diff(
    name: &str,
    old: cairn_core::browse::diff::Contents,
    new: cairn_core::browse::diff::Contents,
) -> String {
    use cairn_core::browse::diff::{CONTENT_LIMIT, Contents};
    let mut texts = Vec::with_capacity(2);
    for side in [old, new] {
        match side {
            Contents::Text(t) => texts.push(t),
            Contents::NotAFile => texts.push(String::new()),
            Contents::Binary => return "    (binary file: contents not shown)\n".to_string(),
            Contents::TooLarge => return format!("    (larger than {}: contents not shown)\n", bytes(CONTENT_LIMIT)),
        }
    }
    let diff = similar::TextDiff::from_lines(texts[0].as_str(), texts[1].as_str());
    diff.unified_diff().context_radius(3).header(&format!("a{name}"), &format!("b{name}")).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn sanitize_escapes_controls_and_leaves_backslashes() {
        assert!(matches!(super::sanitize("a\\b c"), std::borrow::Cow::Borrowed("a\\b c")));
        assert_eq!(super::sanitize("x\x1b[31m\u{9b}y\\"), "x\\x1b[31m\\u{9b}y\\");
    }
}
