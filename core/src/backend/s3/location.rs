//! Parsing `s3:` repository locations (restic's syntax):
//!
//! - `s3:https://HOST[:PORT]/BUCKET[/PREFIX]`
//! - `s3:http://HOST[:PORT]/BUCKET[/PREFIX]` (a local test server)
//! - `s3:HOST[:PORT]/BUCKET[/PREFIX]` (https)
//!
//! Every piece is checked here so that nothing a user typed reaches a
//! request unescaped: the host holds what a DNS name, an IPv4 or a
//! bracketed IPv6 address may hold, the bucket follows S3's naming rules,
//! and the prefix's segments are URL-safe. Credentials never appear in the
//! location (they come from the AWS environment or profile files).

use std::fmt;

/// The prefix of every S3 location.
pub const SCHEME: &str = "s3:";

/// Whether `text` names an S3 repository (rather than a local folder).
pub fn is_s3(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// A parsed `s3:` location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// `http` or `https`.
    pub tls: bool,
    /// `HOST[:PORT]` as typed (IPv6 in brackets).
    pub host: String,
    pub bucket: String,
    /// The repository's key prefix inside the bucket: empty, or `A/B`
    /// (no leading or trailing slash).
    pub prefix: String,
}

/// Why an `s3:` location does not parse (said to the user as is).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid s3: location: {0} (expected s3:https://HOST[:PORT]/BUCKET[/PREFIX], s3:http://… or s3:HOST/BUCKET[/PREFIX])"
)]
pub struct LocationError(pub String);

fn bad(why: impl Into<String>) -> LocationError {
    LocationError(why.into())
}

impl S3Location {
    pub fn parse(text: &str) -> Result<S3Location, LocationError> {
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| bad("it does not start with s3:"))?;
        if rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("it holds a space or a control character"));
        }
        let (tls, after) = if let Some(a) = rest.strip_prefix("http://") {
            (false, a)
        } else if let Some(a) = rest.strip_prefix("https://") {
            (true, a)
        } else if rest.contains("://") {
            return Err(bad("the scheme after s3: must be http:// or https://"));
        } else {
            (true, rest)
        };
        if after.contains(['?', '#']) {
            return Err(bad("a query or fragment has no place in a repository location"));
        }
        let (host, path) = after.split_once('/').ok_or_else(|| bad("it names no bucket (s3:HOST/BUCKET)"))?;
        if host.contains('@') {
            return Err(bad(
                "credentials do not go in the location: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            ));
        }
        check_host(host)?;
        let path = path.trim_end_matches('/');
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        check_bucket(bucket)?;
        for segment in prefix.split('/').filter(|_| !prefix.is_empty()) {
            check_segment(segment)?;
        }
        Ok(S3Location { tls, host: host.to_string(), bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// `https://HOST[:PORT]`: the endpoint the client talks to.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.host)
    }

    /// Whether the host is AWS's own (virtual-host addressing by default).
    pub fn is_aws(&self) -> bool {
        let name = self.host.rsplit_once(':').map_or(self.host.as_str(), |(h, _)| h);
        name == "amazonaws.com" || name.ends_with(".amazonaws.com")
    }

    /// The key of `tail` (`config`, `data/<id>`) in the bucket.
    pub fn key(&self, tail: &str) -> String {
        if self.prefix.is_empty() { tail.to_string() } else { format!("{}/{tail}", self.prefix) }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.endpoint(), self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

fn check_host(host: &str) -> Result<(), LocationError> {
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let (addr, tail) = v6.split_once(']').ok_or_else(|| bad("an IPv6 address lacks its closing ]"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad(format!("{addr:?} is not an IPv6 address")));
        }
        match tail {
            "" => return Ok(()),
            t => ("", t.strip_prefix(':').ok_or_else(|| bad("junk after the IPv6 address"))?),
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, port),
            None => (host, ""),
        }
    };
    if host.starts_with('[') && name.is_empty() {
        // The IPv6 address was checked above.
    } else if name.is_empty() {
        return Err(bad("the host is empty"));
    } else if !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        || name.starts_with(['-', '.'])
        || name.len() > 253
    {
        return Err(bad(format!("{name:?} is not a host name")));
    }
    if host.contains(':') && !host.ends_with(']') {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && !port.starts_with('+') => {}
            _ => return Err(bad(format!("{port:?} is not a port"))),
        }
    }
    Ok(())
}

/// S3's bucket rules: 3–63 characters of lower-case letters, digits, `-`
/// and `.`, starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), LocationError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{bucket:?} is not a bucket name (3 to 63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
        )))
    }
}

/// A prefix segment: URL-safe characters, not `.` or `..`.
fn check_segment(segment: &str) -> Result<(), LocationError> {
    let ok = !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!("{segment:?} is not a valid prefix segment (letters, digits, '-', '_', '.', '~')")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_three_forms_parse() {
        let l = S3Location::parse("s3:https://s3.eu-west-1.amazonaws.com/my-bucket/a/b").unwrap();
        assert_eq!(
            (l.tls, l.host.as_str(), l.bucket.as_str(), l.prefix.as_str()),
            (true, "s3.eu-west-1.amazonaws.com", "my-bucket", "a/b")
        );
        assert!(l.is_aws());
        assert_eq!(l.key("config"), "a/b/config");
        let l = S3Location::parse("s3:http://127.0.0.1:9000/cairn-test-1").unwrap();
        assert_eq!((l.tls, l.endpoint().as_str(), l.prefix.as_str()), (false, "http://127.0.0.1:9000", ""));
        assert!(!l.is_aws());
        assert_eq!(l.key("data/x"), "data/x");
        let l = S3Location::parse("s3:minio.local/bucket/repo/").unwrap();
        assert_eq!((l.tls, l.prefix.as_str()), (true, "repo"));
        assert_eq!(l.to_string(), "s3:https://minio.local/bucket/repo");
        let l = S3Location::parse("s3:http://[::1]:9000/bucket").unwrap();
        assert_eq!(l.endpoint(), "http://[::1]:9000");
    }

    #[test]
    fn bad_locations_are_refused_with_a_reason() {
        for (text, why) in [
            ("s3:", "no bucket"),
            ("s3:host", "no bucket"),
            ("s3:ftp://host/bucket", "scheme"),
            ("s3:https://key:secret@host/bucket", "credentials"),
            ("s3:https://host/B", "bucket name"),
            ("s3:https://host/ab", "bucket name"),
            ("s3:https://host/bucket/a//b", "prefix segment"),
            ("s3:https://host/bucket/../x", "prefix segment"),
            ("s3:https://host:0/bucket", "port"),
            ("s3:https://host:99999/bucket", "port"),
            ("s3:https://host/bucket?x=1", "query"),
            ("s3:https://ho st/bucket", "space"),
            ("s3:https:///bucket", "empty"),
            ("s3:https://[zz]/bucket", "IPv6"),
        ] {
            let e = S3Location::parse(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    proptest! {
        /// Whatever is typed, parsing returns (no panic), and what parses
        /// shows as a location that parses to the same thing.
        #[test]
        fn parse_never_panics_and_round_trips(text in "s3:(https?://)?[a-z0-9.:\\[\\]@/?_~ -]{0,40}") {
            if let Ok(l) = S3Location::parse(&text) {
                prop_assert_eq!(S3Location::parse(&l.to_string()), Ok(l.clone()));
                prop_assert!(!l.key("config").starts_with('/'));
            }
        }
    }
}
