//! Parsing `rest:` repository locations (restic's syntax, plus Unix sockets):
//!
//! - `rest:http://[user[:password]@]host[:port]/[NAME/…]`
//! - `rest:https://…` (the same, over TLS)
//! - `rest:unix:/absolute/path.sock[:/NAME/…]`
//!
//! The result names the transport, the repository's path prefix on the
//! server (always starting and ending with `/`) and the credentials. Every
//! piece is checked here, so that nothing a user typed reaches a request
//! line unescaped: the path segments are restricted to URL-safe characters
//! and the host to what a DNS name or an IP address may hold.

use std::fmt;
use std::path::PathBuf;

/// How to reach the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP, with TLS when `tls`. `host` is a DNS name, an IPv4 address or
    /// an IPv6 address without its brackets.
    Tcp { tls: bool, host: String, port: u16 },
    /// A Unix socket at an absolute path.
    Unix { socket: PathBuf },
}

/// A parsed `rest:` location.
#[derive(Clone, PartialEq, Eq)]
pub struct RestLocation {
    pub transport: Transport,
    /// The repository's path on the server: `/` or `/NAME/` (`/A/B/`…).
    pub prefix: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Why a `rest:` location does not parse (said to the user as is).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rest: location: {0} (expected rest:http://[user:password@]host:port/NAME/, rest:https://… or rest:unix:/path.sock:/NAME/)"
)]
pub struct LocationError(pub String);

fn bad(why: impl Into<String>) -> LocationError {
    LocationError(why.into())
}

/// The prefix of every REST location.
pub const SCHEME: &str = "rest:";

/// Whether `text` names a REST repository (rather than a local folder).
pub fn is_rest(text: &str) -> bool {
    text.starts_with(SCHEME)
}

impl RestLocation {
    pub fn parse(text: &str) -> Result<RestLocation, LocationError> {
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| bad("it does not start with rest:"))?;
        if rest.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad("it holds a space or a control character"));
        }
        if let Some(unix) = rest.strip_prefix("unix:") {
            return parse_unix(unix);
        }
        let (tls, after) = if let Some(a) = rest.strip_prefix("http://") {
            (false, a)
        } else if let Some(a) = rest.strip_prefix("https://") {
            (true, a)
        } else {
            return Err(bad("the scheme after rest: must be http://, https:// or unix:"));
        };
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, "/"),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment has no place in a repository location"));
        }
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = match info.find(':') {
                    Some(i) => (&info[..i], Some(&info[i + 1..])),
                    None => (info, None),
                };
                let user = decode(u).ok_or_else(|| bad("the user name is not valid percent-encoded UTF-8"))?;
                if user.is_empty() {
                    return Err(bad("the user name is empty"));
                }
                let password = match p {
                    Some(p) => Some(decode(p).ok_or_else(|| bad("the password is not valid percent-encoded UTF-8"))?),
                    None => None,
                };
                (Some(user), password)
            }
        };
        let (host, port) = parse_host_port(hostport, if tls { 443 } else { 80 })?;
        let prefix = parse_prefix(path)?;
        Ok(RestLocation { transport: Transport::Tcp { tls, host, port }, prefix, user, password })
    }

    /// The location as it may be shown: the password replaced by `***`.
    pub fn redacted(&self) -> String {
        match &self.transport {
            Transport::Unix { socket } => format!("{SCHEME}unix:{}:{}", socket.display(), self.prefix),
            Transport::Tcp { tls, host, port } => {
                let scheme = if *tls { "https" } else { "http" };
                let auth = match (&self.user, &self.password) {
                    (Some(u), Some(_)) => format!("{}:***@", encode(u)),
                    (Some(u), None) => format!("{}@", encode(u)),
                    _ => String::new(),
                };
                let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
                format!("{SCHEME}{scheme}://{auth}{host}:{port}{}", self.prefix)
            }
        }
    }

    /// The value of the `Host` header.
    pub fn host_header(&self) -> String {
        match &self.transport {
            Transport::Unix { .. } => "localhost".to_string(),
            Transport::Tcp { host, port, .. } if host.contains(':') => format!("[{host}]:{port}"),
            Transport::Tcp { host, port, .. } => format!("{host}:{port}"),
        }
    }
}

impl fmt::Debug for RestLocation {
    /// Never prints the password, not even in a debug dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for RestLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn parse_unix(text: &str) -> Result<RestLocation, LocationError> {
    // The socket path ends where the repository path starts: at the last
    // `:/`, if what follows it is a valid prefix; otherwise the whole text
    // is the socket (the root repository).
    let (socket, prefix) = match text.rfind(":/") {
        Some(i) => (&text[..i], parse_prefix(&text[i + 1..])?),
        None => (text, "/".to_string()),
    };
    if !socket.starts_with('/') {
        return Err(bad("the socket path after rest:unix: must be absolute"));
    }
    if socket.len() > 107 {
        // sun_path holds 108 bytes with its terminating zero.
        return Err(bad("the socket path is longer than a Unix socket address holds (107 bytes)"));
    }
    Ok(RestLocation {
        transport: Transport::Unix { socket: PathBuf::from(socket) },
        prefix,
        user: None,
        password: None,
    })
}

fn parse_host_port(text: &str, default_port: u16) -> Result<(String, u16), LocationError> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(|| bad("an IPv6 address lacks its closing ]"))?;
        let host = &v6[..end];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad(format!("{host:?} is not an IPv6 address")));
        }
        let after = &v6[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("text after the IPv6 address")),
        };
        (host.to_string(), port)
    } else {
        let (host, port) = match text.rfind(':') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if host.is_empty() || host.len() > 253 || !host.chars().all(valid) {
            return Err(bad(format!("{host:?} is not a host name or an address")));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad(format!("{p:?} is not a port number"))),
        },
    };
    Ok((host, port))
}

/// `/`, `/NAME`, `/NAME/` … as `/` or `/NAME/`: segments of URL-safe
/// characters, none of them `.` or `..`, no empty segment inside.
fn parse_prefix(path: &str) -> Result<String, LocationError> {
    let inner = path.strip_prefix('/').ok_or_else(|| bad("the repository path must start with /"))?;
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner.is_empty() {
        return Ok("/".to_string());
    }
    let mut prefix = String::from("/");
    for segment in inner.split('/') {
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if segment.is_empty() || segment == "." || segment == ".." || !segment.chars().all(safe) {
            return Err(bad(format!(
                "{segment:?} is not a repository name (letters, digits, '-', '.', '_', '~'; not . or ..)"
            )));
        }
        prefix.push_str(segment);
        prefix.push('/');
    }
    Ok(prefix)
}

/// Percent-decoding of a user name or password; `None` unless UTF-8.
fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|s| s.into_owned())
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(tls: bool, host: &str, port: u16) -> Transport {
        Transport::Tcp { tls, host: host.to_string(), port }
    }

    #[test]
    fn the_forms_restic_users_write() {
        let l = RestLocation::parse("rest:http://127.0.0.1:8000/").unwrap();
        assert_eq!((l.transport, l.prefix.as_str(), l.user), (tcp(false, "127.0.0.1", 8000), "/", None));
        let l = RestLocation::parse("rest:https://alice:s%3Acret@Backup.example.org/alice").unwrap();
        assert_eq!(l.transport, tcp(true, "backup.example.org", 443));
        assert_eq!(
            (l.prefix.as_str(), l.user.as_deref(), l.password.as_deref()),
            ("/alice/", Some("alice"), Some("s:cret"))
        );
        let l = RestLocation::parse("rest:http://[::1]:9/a/b/").unwrap();
        assert_eq!((l.transport, l.prefix.as_str()), (tcp(false, "::1", 9), "/a/b/"));
        let l = RestLocation::parse("rest:http://host").unwrap();
        assert_eq!((l.transport, l.prefix.as_str()), (tcp(false, "host", 80), "/"));
        let l = RestLocation::parse("rest:unix:/run/cairn/serve.sock:/alice/").unwrap();
        assert_eq!(l.transport, Transport::Unix { socket: "/run/cairn/serve.sock".into() });
        assert_eq!(l.prefix, "/alice/");
        let l = RestLocation::parse("rest:unix:/tmp/s.sock").unwrap();
        assert_eq!((l.transport, l.prefix.as_str()), (Transport::Unix { socket: "/tmp/s.sock".into() }, "/"));
    }

    #[test]
    fn the_password_is_never_shown() {
        let l = RestLocation::parse("rest:http://bob:hunter2@h:1/r/").unwrap();
        assert_eq!(l.redacted(), "rest:http://bob:***@h:1/r/");
        assert!(!format!("{l:?} {l}").contains("hunter2"));
        assert_eq!(RestLocation::parse("rest:http://bob@h:1/r").unwrap().redacted(), "rest:http://bob@h:1/r/");
        assert_eq!(RestLocation::parse("rest:unix:/s:/r").unwrap().redacted(), "rest:unix:/s:/r/");
    }

    #[test]
    fn what_is_refused() {
        for text in [
            "http://h/",
            "rest:ftp://h/",
            "rest:http://h/../x/",
            "rest:http://h/a//b/",
            "rest:http://h/./",
            "rest:http://h/a%2fb/",
            "rest:http://h/a?x=1",
            "rest:http://h:0/",
            "rest:http://h:99999/",
            "rest:http://h:+80/",
            "rest:http://h:/",
            "rest:http://:80/",
            "rest:http://h h/",
            "rest:http://h/\n",
            "rest:http://@h/",
            "rest:http://[::1/",
            "rest:http://[zz]:1/",
            "rest:http://a\"b/",
            "rest:unix:relative.sock:/r/",
            "rest:unix:/s:/../",
            "rest:unix:",
        ] {
            assert!(RestLocation::parse(text).is_err(), "{text:?} must be refused");
        }
        let long = format!("rest:unix:/{}:/r/", "s".repeat(200));
        assert!(RestLocation::parse(&long).is_err());
    }

    proptest::proptest! {
        /// Whatever is typed: no panic, and what parses redacts to a text
        /// that parses again to the same place (without the password).
        #[test]
        fn parsing_never_panics_and_redaction_round_trips(text in "rest:(https?://|unix:/)[ -~]{0,40}") {
            if let Ok(l) = RestLocation::parse(&text) {
                let again = RestLocation::parse(&l.redacted().replace(":***@", "@")).unwrap();
                proptest::prop_assert_eq!(&again.transport, &l.transport);
                proptest::prop_assert_eq!(&again.prefix, &l.prefix);
                proptest::prop_assert!(l.prefix.starts_with('/') && l.prefix.ends_with('/'));
                proptest::prop_assert!(!l.prefix.contains("/../") && !l.prefix.contains("//"));
            }
        }
    }
}
