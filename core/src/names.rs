//! File names made safe to print, and read back.
//!
//! A file name is any bytes but `/` and NUL: an agent can create one holding
//! an escape sequence (`esc\e[31mred`), a newline, or bytes that are not
//! UTF-8. Printed raw, the first drives the user's terminal, the second
//! splits a line in two, the third turns into U+FFFD and can no longer be
//! named. Every text output of cairn shows names through [`escape`], and
//! every path or glob a user types goes through [`unescape`], so a name
//! copied from the output names the file again.
//!
//! The escaping (documented in the README), applied to each byte or
//! character of the name:
//!
//! | in the name                                   | printed as           |
//! |-----------------------------------------------|----------------------|
//! | backslash                                     | `\\`                 |
//! | newline, tab, carriage return                 | `\n`, `\t`, `\r`     |
//! | other ASCII control bytes and DEL             | `\xNN` (`\e` → `\x1b`) |
//! | a byte that is not part of valid UTF-8        | `\xNN`               |
//! | a character that is not printable: C1 controls, format characters such as the bidi overrides (U+202E), separators other than the space, unassigned, private use | `\u{NNNN}` |
//! | anything else (spaces and quotes included)     | itself               |
//!
//! Reading back, `\\`, `\n`, `\t`, `\r`, `\e`, `\xNN` (any byte) and
//! `\u{N…}` (a character) are decoded; a backslash before anything else is
//! kept as it is, so `unescape(escape(name)) == name` for every name.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `name` as it is printed: control characters, unprintable characters and
/// invalid UTF-8 escaped (see the module documentation). Borrowed when
/// nothing needed escaping, the common case.
pub fn escape(name: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(name)
        && text.chars().all(|c| c != '\\' && is_printable(c))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if !is_printable(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

/// A path as it is printed (see [`escape`]).
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    escape(path.as_os_str().as_bytes())
}

/// Whether `c` prints as itself. Rust's `escape_debug` knows which
/// characters are printable (it escapes controls, format characters,
/// separators but the space, surrogates, private use and unassigned ones);
/// asked about `c` after a letter, it leaves combining marks alone, and
/// quotes, which it escapes for Rust's sake, are printable here.
fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    let mut buf = [0u8; 8];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    let probe = std::str::from_utf8(&buf[..len]).unwrap_or("");
    probe.escape_debug().count() == probe.chars().count()
}

/// The bytes an escaped name stands for: the inverse of [`escape`]. A
/// backslash that starts no escape is kept, so a name typed as it is
/// (`notes\draft`) still names itself unless it holds one of the escapes.
pub fn unescape(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let (bytes, used) = match text[i] {
            b'\\' => decode_one(&text[i + 1..]),
            b => (Decoded::Byte(b), 0),
        };
        match bytes {
            Decoded::Byte(b) => out.push(b),
            Decoded::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            Decoded::Literal => out.push(b'\\'),
        }
        i += 1 + used;
    }
    Cow::Owned(out)
}

enum Decoded {
    Byte(u8),
    Char(char),
    /// A backslash that starts no escape: kept.
    Literal,
}

/// The escape after a backslash in `rest`, and how many bytes of `rest` it used.
fn decode_one(rest: &[u8]) -> (Decoded, usize) {
    let hex = |s: &[u8]| std::str::from_utf8(s).ok().and_then(|s| u32::from_str_radix(s, 16).ok());
    match rest.first() {
        Some(b'\\') => (Decoded::Byte(b'\\'), 1),
        Some(b'n') => (Decoded::Byte(b'\n'), 1),
        Some(b't') => (Decoded::Byte(b'\t'), 1),
        Some(b'r') => (Decoded::Byte(b'\r'), 1),
        Some(b'e') => (Decoded::Byte(0x1b), 1),
        Some(b'x') => match rest.get(1..3).filter(|h| h.iter().all(u8::is_ascii_hexdigit)).and_then(hex) {
            Some(b) => (Decoded::Byte(b as u8), 3),
            None => (Decoded::Literal, 0),
        },
        Some(b'u') if rest.get(1) == Some(&b'{') => {
            let close = rest.iter().take(10).position(|&b| b == b'}');
            match close.and_then(|end| hex(&rest[2..end]).and_then(char::from_u32).map(|c| (c, end))) {
                Some((c, end)) => (Decoded::Char(c), end + 1),
                None => (Decoded::Literal, 0),
            }
        }
        _ => (Decoded::Literal, 0),
    }
}

/// A path as the user typed it, escapes decoded.
pub fn unescape_path(typed: &OsStr) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&unescape(typed.as_bytes())))
}

/// A glob as the user typed it, for a glob matcher that reads `\` as
/// "the next character literally" (`\*`): the escapes of [`escape`] are
/// decoded, and a decoded backslash or glob character is kept escaped so
/// the matcher takes it literally. Any other backslash is left for the
/// matcher. Globs are text: a `\xNN` that is not part of UTF-8 cannot be
/// matched by one and becomes U+FFFD (name such a file by its path).
pub fn unescape_glob(typed: &str) -> String {
    let bytes = typed.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (decoded, used) = decode_one(&bytes[i + 1..]);
        match decoded {
            Decoded::Byte(b) if b"\\*?[]{}!".contains(&b) => out.extend_from_slice(&[b'\\', b]),
            Decoded::Byte(b) => out.push(b),
            Decoded::Char(c) if "\\*?[]{}!".contains(c) => {
                out.push(b'\\');
                out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
            }
            Decoded::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            // `\*`, `\?`…: the matcher's own escape.
            Decoded::Literal => out.push(b'\\'),
        }
        i += 1 + used;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The exact bytes of a name for JSON output, when its text form
/// (`to_string_lossy`) does not carry them: `None` for valid UTF-8.
pub fn bytes_if_not_utf8(name: &[u8]) -> Option<Vec<u8>> {
    std::str::from_utf8(name).is_err().then(|| name.to_vec())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn esc(b: &[u8]) -> String {
        escape(b).into_owned()
    }

    #[test]
    fn escapes_what_would_move_the_terminal_or_split_a_line() {
        assert_eq!(esc(b"plain name.txt"), "plain name.txt");
        assert!(matches!(escape(b"caf\xc3\xa9 'q' \"d\""), Cow::Borrowed("café 'q' \"d\"")));
        assert_eq!(esc(b"esc\x1b[31mred"), "esc\\x1b[31mred");
        assert_eq!(esc(b"two\nlines\tand\r"), "two\\nlines\\tand\\r");
        assert_eq!(esc(b"back\\slash"), "back\\\\slash");
        assert_eq!(esc(b"del\x7f bell\x07"), "del\\x7f bell\\x07");
        assert_eq!(esc(b"caf\xe9.txt"), "caf\\xe9.txt");
        // C1 CSI (a terminal may read it as ESC [) and a bidi override.
        assert_eq!(esc("a\u{9b}b".as_bytes()), "a\\u{9b}b");
        assert_eq!(esc("evil\u{202e}txt.exe".as_bytes()), "evil\\u{202e}txt.exe");
        assert_eq!(esc("line\u{2028}sep".as_bytes()), "line\\u{2028}sep");
        // Combining marks, other scripts and emoji print as themselves.
        for fine in ["e\u{301}", "\u{301}lead", "日本語", "Ελληνικά", "🦀.rs"] {
            assert_eq!(esc(fine.as_bytes()), fine);
        }
    }

    #[test]
    fn unescape_reads_every_escape_and_keeps_stray_backslashes() {
        let un = |s: &str| unescape(s.as_bytes()).into_owned();
        assert_eq!(un("esc\\x1b[31mred"), b"esc\x1b[31mred");
        assert_eq!(un("esc\\e[31mred"), b"esc\x1b[31mred");
        assert_eq!(un("a\\nb\\tc\\rd\\\\e"), b"a\nb\tc\rd\\e");
        assert_eq!(un("caf\\xe9.txt"), b"caf\xe9.txt");
        assert_eq!(un("caf\\xE9"), b"caf\xe9");
        assert_eq!(un("evil\\u{202e}x"), "evil\u{202e}x".as_bytes());
        for kept in ["notes\\draft", "end\\", "\\x", "\\xg1", "\\u{zz}", "\\u{110000}", "\\u{", "\\u1234"] {
            assert_eq!(un(kept), kept.as_bytes(), "{kept}");
        }
        assert_eq!(unescape_path(OsStr::new("/a/b\\nc")), PathBuf::from("/a/b\nc"));
    }

    #[test]
    fn globs_keep_decoded_glob_characters_literal() {
        assert_eq!(unescape_glob("*\\x1b[31m*"), "*\x1b[31m*");
        assert_eq!(unescape_glob("a\\\\b"), "a\\\\b", "an escaped backslash stays escaped for the matcher");
        assert_eq!(unescape_glob("a\\*b"), "a\\*b", "the matcher's own escape");
        assert_eq!(unescape_glob("x\\x2a"), "x\\*", "a decoded star is literal");
        assert_eq!(unescape_glob("line\\nbreak*"), "line\nbreak*");
    }

    #[test]
    fn json_bytes_only_for_names_that_are_not_utf8() {
        assert_eq!(bytes_if_not_utf8(b"ok"), None);
        assert_eq!(bytes_if_not_utf8(b"caf\xe9"), Some(b"caf\xe9".to_vec()));
    }

    proptest! {
        #[test]
        fn escape_round_trips_and_prints_no_control_character(name in proptest::collection::vec(any::<u8>(), 0..40)) {
            let shown = escape(&name);
            prop_assert_eq!(unescape(shown.as_bytes()).into_owned(), name.clone());
            prop_assert!(!shown.chars().any(char::is_control), "{:?}", shown);
        }

        #[test]
        fn text_round_trips(name in "\\PC*") {
            let shown = escape(name.as_bytes());
            prop_assert_eq!(unescape(shown.as_bytes()).into_owned(), name.as_bytes().to_vec());
        }
    }
}
