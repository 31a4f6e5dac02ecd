//! Who is asking: the principal of a request, from the Unix socket's peer
//! uid, from HTTP Basic auth checked against the htpasswd file, or nobody
//! (`--no-auth`); and whether that principal may use a repository.

pub mod htpasswd;
pub mod peer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use self::htpasswd::StoredHash;
use crate::route::RepoName;

/// The identity a request acts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// `--no-auth` on TCP.
    Anonymous,
    /// A Unix-socket peer: its uid and user name (the uid's number when it has none).
    Uid(u32, String),
    /// A user of the htpasswd file.
    User(String),
}

impl Principal {
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Uid(_, name) | Principal::User(name) => Some(name),
        }
    }

    /// Whether this principal may use `repo`: with `--private-repos`, only
    /// the repository named as its user name (never the root one).
    pub fn may_use(&self, repo: &RepoName, private_repos: bool) -> bool {
        if !private_repos {
            return true;
        }
        match (repo, self.user_name()) {
            (RepoName::Named(name), Some(user)) => name == user,
            _ => false,
        }
    }
}

/// `Authorization: Basic base64(user:password)`; `None` when absent or
/// malformed. Pure, and fuzzed.
pub fn parse_basic(header: &[u8]) -> Option<(String, Vec<u8>)> {
    if header.len() > 4096 {
        return None;
    }
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, b64) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let colon = raw.iter().position(|&c| c == b':')?;
    let user = String::from_utf8(raw[..colon].to_vec()).ok()?;
    htpasswd::check_user(&user).ok()?;
    Some((user, raw[colon + 1..].to_vec()))
}

/// The htpasswd users, reloaded when the file changes, and the successful
/// checks remembered (as a SHA-256 of the password) so that bcrypt or argon2
/// is paid once per user and password, not once per request.
#[derive(Debug)]
pub struct Htpasswd {
    path: PathBuf,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    modified: Option<SystemTime>,
    users: HashMap<String, StoredHash>,
    verified: HashMap<String, [u8; 32]>,
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Htpasswd, String> {
        let (modified, users) = read(path)?;
        Ok(Htpasswd {
            path: path.to_path_buf(),
            state: Mutex::new(Loaded { modified, users, verified: HashMap::new() }),
        })
    }

    /// Whether `user`'s password was checked before and the file did not
    /// change since: no slow hash. `None` when it must be checked.
    pub fn check_cached(&self, user: &str, password: &[u8]) -> Option<bool> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_if_changed(&mut st);
        if st.verified.get(user) == Some(&digest(user, password)) {
            return Some(true);
        }
        // An unknown user is refused at once (no hash to pay for).
        if !st.users.contains_key(user) {
            return Some(false);
        }
        None
    }

    /// Checks `user`'s password (blocking: runs bcrypt or argon2, each
    /// milliseconds and argon2 19 MiB of memory; the caller bounds how many
    /// run at once) and remembers a success.
    pub fn check(&self, user: &str, password: &[u8]) -> bool {
        if let Some(known) = self.check_cached(user, password) {
            return known;
        }
        let stored = match self.state.lock().unwrap_or_else(|p| p.into_inner()).users.get(user) {
            Some(h) => h.clone(),
            None => return false,
        };
        let ok = stored.verify(password);
        if ok {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            // Only if the file did not change the user's hash meanwhile.
            if st.users.get(user) == Some(&stored) {
                st.verified.insert(user.to_string(), digest(user, password));
            }
        }
        ok
    }

    /// A changed file is read again (as rest-server does), and forgets the
    /// remembered checks; a file that became invalid keeps the old users and
    /// is reported on stderr.
    fn reload_if_changed(&self, st: &mut Loaded) {
        let now = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if now == st.modified {
            return;
        }
        match read(&self.path) {
            Ok((modified, users)) => {
                *st = Loaded { modified, users, verified: HashMap::new() };
            }
            Err(e) => {
                eprintln!("cairn serve: keeping the previous users: {e}");
                st.modified = now;
            }
        }
    }
}

fn digest(user: &str, password: &[u8]) -> [u8; 32] {
    Sha256::digest([user.as_bytes(), b":", password].concat()).into()
}

fn read(path: &Path) -> Result<(Option<SystemTime>, HashMap<String, StoredHash>), String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the htpasswd file {shown}: {e}"))?;
    let modified = file.metadata().and_then(|m| m.modified()).ok();
    let mut text = String::new();
    file.take(htpasswd::MAX_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the htpasswd file {shown}: {e}"))?;
    if text.len() as u64 > htpasswd::MAX_FILE_LEN {
        return Err(format!("the htpasswd file {shown} is larger than 1 MiB"));
    }
    let users = htpasswd::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
    Ok((modified, users))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        let enc = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(
            parse_basic(enc("alice:pw:with:colons").as_bytes()),
            Some(("alice".into(), b"pw:with:colons".to_vec()))
        );
        assert_eq!(parse_basic(enc("bob:").as_bytes()), Some(("bob".into(), Vec::new())));
        assert_eq!(parse_basic(b"basic Ym9iOng="), Some(("bob".into(), b"x".to_vec())));
        for bad in [enc("nocolon"), enc(":pw"), "Bearer abc".into(), "Basic !!!".into(), "Basic".into(), String::new()]
        {
            assert_eq!(parse_basic(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn private_repositories() {
        let alice = Principal::User("alice".into());
        assert!(alice.may_use(&RepoName::Named("alice".into()), true));
        assert!(!alice.may_use(&RepoName::Named("bob".into()), true));
        assert!(!alice.may_use(&RepoName::Root, true));
        assert!(!Principal::Anonymous.may_use(&RepoName::Named("alice".into()), true));
        assert!(Principal::Anonymous.may_use(&RepoName::Root, false));
    }

    #[test]
    fn a_checked_password_is_remembered_and_a_changed_file_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("alice:{}\n", htpasswd::hash_argon2id(b"pw1").unwrap())).unwrap();
        let h = Htpasswd::load(&path).unwrap();
        assert!(h.check("alice", b"pw1"));
        assert!(h.check("alice", b"pw1"));
        assert!(!h.check("alice", b"pw2"));
        assert!(!h.check("bob", b"pw1"));
        std::fs::write(&path, format!("alice:{}\n", htpasswd::hash_argon2id(b"pw2").unwrap())).unwrap();
        // Make the change visible whatever the file system's time resolution.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
        assert!(!h.check("alice", b"pw1"), "the remembered check is forgotten with the old file");
        assert!(h.check("alice", b"pw2"));
    }
}
