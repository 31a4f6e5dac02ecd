//! The `Range` request header: one byte range (`bytes=a-b`, `bytes=a-`,
//! `bytes=-n`) against a file's size. Pure, and fuzzed.

/// What to send for a GET.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 and the whole file (no header, or one we do not understand, which
    /// RFC 9110 §14.2 lets a server ignore).
    Whole,
    /// 206 with bytes `start..start + len`.
    Partial { start: u64, len: u64 },
    /// 416: a well-formed range that lies outside the file.
    Unsatisfiable,
}

/// The longest header value looked at.
const MAX_HEADER_LEN: usize = 200;

pub fn parse_range(header: Option<&[u8]>, size: u64) -> RangeAnswer {
    let Some(h) = header else { return RangeAnswer::Whole };
    if h.len() > MAX_HEADER_LEN {
        return RangeAnswer::Whole;
    }
    let Ok(h) = std::str::from_utf8(h) else { return RangeAnswer::Whole };
    let Some(spec) = h.trim().strip_prefix("bytes=") else { return RangeAnswer::Whole };
    // Several ranges: we send one part or nothing, never multipart.
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeAnswer::Whole };
    let (a, b) = (a.trim(), b.trim());
    let num =
        |s: &str| if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    match (a.is_empty(), b.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match num(b) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if size == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => {
                let len = n.min(size);
                RangeAnswer::Partial { start: size - len, len }
            }
            None => RangeAnswer::Whole,
        },
        // bytes=a-: from a to the end.
        (false, true) => match num(a) {
            Some(start) if start < size => RangeAnswer::Partial { start, len: size - start },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (false, false) => match (num(a), num(b)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= size {
                    RangeAnswer::Unsatisfiable
                } else {
                    let end = end.min(size - 1);
                    RangeAnswer::Partial { start, len: end - start + 1 }
                }
            }
            _ => RangeAnswer::Whole,
        },
        (true, true) => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    fn p(h: &str, size: u64) -> RangeAnswer {
        parse_range(Some(h.as_bytes()), size)
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(p("bytes=0-9", 100), Partial { start: 0, len: 10 });
        assert_eq!(p("bytes=90-200", 100), Partial { start: 90, len: 10 });
        assert_eq!(p("bytes=10-", 100), Partial { start: 10, len: 90 });
        assert_eq!(p("bytes=-10", 100), Partial { start: 90, len: 10 });
        assert_eq!(p("bytes=-1000", 100), Partial { start: 0, len: 100 });
        assert_eq!(parse_range(None, 5), Whole);
    }

    #[test]
    fn unsatisfiable_and_malformed() {
        assert_eq!(p("bytes=100-", 100), Unsatisfiable);
        assert_eq!(p("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(p("bytes=-0", 100), Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Unsatisfiable);
        for bad in [
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=+1-2",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(p(bad, 100), Whole, "{bad}");
        }
        assert_eq!(p("bytes=18446744073709551615-18446744073709551615", 100), Unsatisfiable);
    }
}
