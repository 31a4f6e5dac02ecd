//! Request paths to what they name: pure parsing of untrusted input, with no
//! filesystem access, so it can be fuzzed (`fuzz/fuzz_targets/serve_path.rs`).
//!
//! A path is split on `/` first and each segment is percent-decoded exactly
//! once afterwards, so an encoded slash (`%2f`) or dot (`%2e%2e`) can never
//! form a new segment or `..`: the decoded segment must still be a valid
//! repository name, type or id, and none of those holds `/` or starts with `.`.

use cairn_core::backend::FileKind;
use cairn_core::id::Id;

/// Which repository a request is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoName {
    /// `/`: the served root folder itself.
    Root,
    /// `/NAME/`: the folder `ROOT/NAME`.
    Named(String),
}

/// The object types of the protocol: restic's five and cairn's two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Data,
    Keys,
    Locks,
    Snapshots,
    Index,
    Policy,
    Pins,
}

impl Kind {
    pub const ALL: [Kind; 7] =
        [Kind::Data, Kind::Keys, Kind::Locks, Kind::Snapshots, Kind::Index, Kind::Policy, Kind::Pins];

    pub fn name(self) -> &'static str {
        self.file_kind().folder()
    }

    pub fn file_kind(self) -> FileKind {
        match self {
            Kind::Data => FileKind::Pack,
            Kind::Keys => FileKind::Key,
            Kind::Locks => FileKind::Lock,
            Kind::Snapshots => FileKind::Snapshot,
            Kind::Index => FileKind::Index,
            Kind::Policy => FileKind::Policy,
            Kind::Pins => FileKind::Pin,
        }
    }

    fn parse(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == segment)
    }
}

/// What in a repository a request is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The repository itself (`POST P?create=true`).
    Repo,
    Config,
    /// `P T/`: the listing of one type.
    List(Kind),
    Object(Kind, Id),
    /// `P cairn/maintenance` (cairn extension): the server's maintenance report.
    Maintenance,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub repo: RepoName,
    pub resource: Resource,
}

/// Why a path names nothing; the message is the one line of the 400 answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("the path must start with '/'")]
    NotAbsolute,
    #[error("bad percent-encoding in the path")]
    BadEncoding,
    #[error(
        "'{0}' is not a repository name ([A-Za-z0-9_][A-Za-z0-9._-]{{0,63}}, not a type name, config, cairn or _root)"
    )]
    BadRepoName(String),
    #[error("'{0}' is not an object type (data, keys, locks, snapshots, index, policy, pins)")]
    BadType(String),
    #[error("'{0}' is not an object name (64 lower-case hex digits)")]
    BadId(String),
    #[error("no such resource: the path has too many or too few parts")]
    Shape,
}

/// The longest path looked at; longer ones are refused unparsed.
pub const MAX_PATH_LEN: usize = 512;

/// Parses the path of a request URI (without its query).
pub fn parse_path(path: &str) -> Result<Target, RouteError> {
    if path.len() > MAX_PATH_LEN {
        return Err(RouteError::Shape);
    }
    let rest = path.strip_prefix('/').ok_or(RouteError::NotAbsolute)?;
    let raw: Vec<&str> = rest.split('/').collect();
    if raw.len() > 4 {
        return Err(RouteError::Shape);
    }
    let mut segs = Vec::with_capacity(raw.len());
    for s in raw {
        segs.push(percent_decode(s)?);
    }
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // The root repository's resources first; a repository name may never be
    // one of their first words (`is_reserved`), so the two cannot overlap.
    if let Some(resource) = resource_of(&segs)? {
        return Ok(Target { repo: RepoName::Root, resource });
    }
    let (name, tail) = segs.split_first().ok_or(RouteError::Shape)?;
    check_repo_name(name)?;
    let resource = match tail {
        [] | [""] => Resource::Repo,
        _ => resource_of(tail)?.ok_or(RouteError::Shape)?,
    };
    Ok(Target { repo: RepoName::Named((*name).to_string()), resource })
}

/// The resource named by the segments after a repository's prefix; `None`
/// when the first segment is not one of the words a resource starts with.
fn resource_of(segs: &[&str]) -> Result<Option<Resource>, RouteError> {
    let resource = match segs {
        [""] => Resource::Repo,
        ["config"] => Resource::Config,
        ["cairn", "maintenance"] => Resource::Maintenance,
        ["cairn", ..] => return Err(RouteError::Shape),
        [t, rest @ ..] => {
            let Some(kind) = Kind::parse(t) else { return Ok(None) };
            match rest {
                [] | [""] => Resource::List(kind),
                [id] => Resource::Object(kind, parse_id(id)?),
                _ => return Err(RouteError::Shape),
            }
        }
        [] => return Err(RouteError::Shape),
    };
    Ok(Some(resource))
}

fn parse_id(s: &str) -> Result<Id, RouteError> {
    if cairn_core::backend::is_id_name(s) {
        Id::from_hex(s).map_err(|_| RouteError::BadId(printable(s)))
    } else {
        Err(RouteError::BadId(printable(s)))
    }
}

/// A repository name: one segment, `[A-Za-z0-9_][A-Za-z0-9._-]{0,63}`, and
/// not a word a resource of the root repository starts with.
pub fn check_repo_name(name: &str) -> Result<(), RouteError> {
    let bytes = name.as_bytes();
    let first_ok = bytes.first().is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    let rest_ok = bytes.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if first_ok && rest_ok && bytes.len() <= 64 && !is_reserved(name) {
        Ok(())
    } else {
        Err(RouteError::BadRepoName(printable(name)))
    }
}

/// Words a root repository's path starts with, and `_root`, the root
/// repository's name in `.cairn-serve/` (its maintenance report and password).
fn is_reserved(name: &str) -> bool {
    matches!(name, "config" | "cairn" | "_root") || Kind::parse(name).is_some()
}

/// Decodes `%XX` escapes once; the result must be UTF-8.
pub fn percent_decode(s: &str) -> Result<String, RouteError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(RouteError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| RouteError::BadEncoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| RouteError::BadEncoding)?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| RouteError::BadEncoding)
}

/// At most 80 characters, control characters escaped: for error lines.
fn printable(s: &str) -> String {
    s.chars().take(80).flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn named(n: &str, resource: Resource) -> Target {
        Target { repo: RepoName::Named(n.into()), resource }
    }

    #[test]
    fn the_root_repository_and_named_ones() {
        let root = |resource| Target { repo: RepoName::Root, resource };
        assert_eq!(parse_path("/").unwrap(), root(Resource::Repo));
        assert_eq!(parse_path("/config").unwrap(), root(Resource::Config));
        assert_eq!(parse_path("/data/").unwrap(), root(Resource::List(Kind::Data)));
        assert_eq!(parse_path("/locks").unwrap(), root(Resource::List(Kind::Locks)));
        let id = Id::from_hex(ID).unwrap();
        assert_eq!(parse_path(&format!("/keys/{ID}")).unwrap(), root(Resource::Object(Kind::Keys, id)));
        assert_eq!(parse_path("/cairn/maintenance").unwrap(), root(Resource::Maintenance));
        assert_eq!(parse_path("/alice/").unwrap(), named("alice", Resource::Repo));
        assert_eq!(parse_path("/alice").unwrap(), named("alice", Resource::Repo));
        assert_eq!(parse_path("/a.b-c_d/config").unwrap(), named("a.b-c_d", Resource::Config));
        assert_eq!(parse_path("/alice/pins/").unwrap(), named("alice", Resource::List(Kind::Pins)));
        assert_eq!(parse_path(&format!("/alice/data/{ID}")).unwrap(), named("alice", Resource::Object(Kind::Data, id)));
        assert_eq!(parse_path("/alice/cairn/maintenance").unwrap(), named("alice", Resource::Maintenance));
        // Encoded letters are letters.
        assert_eq!(parse_path("/%61lice/config").unwrap(), named("alice", Resource::Config));
    }

    #[test]
    fn traversal_encodings_and_non_ids_are_refused() {
        for bad in [
            "",
            "relative",
            "/..",
            "/../config",
            "/alice/../config",
            "/%2e%2e/config",
            "/%2E%2E/config",
            "/alice%2fbob/config",
            "/alice%2F..%2Fbob/",
            "/.cairn-serve/",
            "/.hidden/config",
            "/alice/data/..",
            "/alice/data/%2e%2e",
            "/alice/data/abc",
            "/alice/data/ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "/alice/nope/",
            "/alice/config/x",
            "/alice/data/x/y",
            "/a/b/c/d/e",
            "/%zz/",
            "/%4",
            "/%c3%28/",
            "/alice%00/config",
            "/cairn/other",
            "/data/",
            "/data/x",
            "//config",
            "/alice//config",
            "/x\u{0}y/",
        ] {
            let parsed = parse_path(bad);
            let ok_root_list = bad == "/data/";
            if ok_root_list {
                assert!(parsed.is_ok());
                continue;
            }
            assert!(parsed.is_err(), "{bad:?} parsed as {parsed:?}");
        }
        let long = format!("/{}/", "a".repeat(65));
        assert!(parse_path(&long).is_err());
        assert!(parse_path(&"/a".repeat(400)).is_err());
    }

    #[test]
    fn reserved_words_are_no_repository_names() {
        for word in ["config", "cairn", "_root", "data", "keys", "locks", "snapshots", "index", "policy", "pins"] {
            assert!(check_repo_name(word).is_err(), "{word}");
        }
        assert!(check_repo_name("_roots").is_ok());
        assert!(check_repo_name(&"a".repeat(64)).is_ok());
    }
}
