//! The htpasswd file: `user:hash` lines, bcrypt (`$2a$`, `$2b$`, `$2y$`, as
//! `htpasswd -B` writes) or argon2id PHC strings (as `cairn serve htpasswd`
//! writes). Any other hash is refused when the file is loaded, naming the
//! line, rather than silently never matching. Parsing is pure and fuzzed.

use std::collections::HashMap;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// One user's stored hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredHash {
    Bcrypt(String),
    Argon2id(String),
}

impl StoredHash {
    /// Whether `password` matches; slow by design (bcrypt or argon2).
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            StoredHash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            StoredHash::Argon2id(h) => argon2::Argon2::default().verify_password(password, h.as_str()).is_ok(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct HtpasswdError {
    pub line: usize,
    pub what: String,
}

/// The longest user name accepted (in the file and in a request).
pub const MAX_USER_LEN: usize = 128;
/// The largest htpasswd file read.
pub const MAX_FILE_LEN: u64 = 1 << 20;

/// Parses a whole file: blank lines and `#` comments are skipped; a user
/// given twice is an error (which of the two would count?).
pub fn parse(text: &str) -> Result<HashMap<String, StoredHash>, HtpasswdError> {
    let mut users = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err = |what: &str| HtpasswdError { line, what: what.to_string() };
        let (user, hash) = l.split_once(':').ok_or_else(|| err("expected user:hash"))?;
        check_user(user).map_err(err)?;
        let stored = if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            // 60 characters: $2b$, cost, $, 22 of salt and 31 of hash.
            if hash.len() != 60 {
                return Err(err("a bcrypt hash is 60 characters"));
            }
            StoredHash::Bcrypt(hash.to_string())
        } else if hash.starts_with("$argon2id$") {
            argon2::password_hash::phc::PasswordHash::new(hash).map_err(|e| err(&format!("bad argon2id hash: {e}")))?;
            StoredHash::Argon2id(hash.to_string())
        } else {
            return Err(err("unsupported hash (use bcrypt, htpasswd -B, or argon2id, cairn serve htpasswd)"));
        };
        if users.insert(user.to_string(), stored).is_some() {
            return Err(err(&format!("user '{user}' is listed twice")));
        }
    }
    Ok(users)
}

/// A user name: printable ASCII without `:`, at most [`MAX_USER_LEN`].
pub fn check_user(user: &str) -> Result<(), &'static str> {
    if user.is_empty() || user.len() > MAX_USER_LEN || !user.bytes().all(|c| c.is_ascii_graphic() && c != b':') {
        Err("a user name is 1 to 128 printable ASCII characters without ':'")
    } else {
        Ok(())
    }
}

/// A new argon2id hash of `password` (argon2's default parameters).
pub fn hash_argon2id(password: &[u8]) -> Result<String, String> {
    let salt: [u8; 16] = cairn_core::format::crypto::random_bytes().map_err(|e| e.to_string())?;
    let hash = argon2::Argon2::default().hash_password_with_salt(password, &salt).map_err(|e| e.to_string())?;
    Ok(hash.to_string())
}

/// `text` with `user`'s line replaced (or added) by `user:hash`, the other
/// lines kept as they were.
pub fn with_user(text: &str, user: &str, hash: &str) -> String {
    let mut out = String::new();
    let mut replaced = false;
    for l in text.lines() {
        if l.trim().split_once(':').is_some_and(|(u, _)| u == user) {
            if !replaced {
                out.push_str(&format!("{user}:{hash}\n"));
                replaced = true;
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !replaced {
        out.push_str(&format!("{user}:{hash}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // A line shaped like bcrypt (60 characters), for parsing only.
    const ALICE_BCRYPT: &str = "$2y$04$bbbbbbbbbbbbbbbbbbbbbeVh5e2yt2H7Ny3qQnDZb6a7dxe5Jtf0m";

    #[test]
    fn bcrypt_and_argon2id_lines_verify() {
        let alice = bcrypt::hash_with_salt(b"secret", 4, [7; 16]).unwrap().format_for_version(bcrypt::Version::TwoY);
        let bob = hash_argon2id(b"hunter2").unwrap();
        let text = format!("# users\n\nalice:{alice}\nbob:{bob}\n");
        let users = parse(&text).unwrap();
        assert!(users["alice"].verify(b"secret"));
        assert!(!users["alice"].verify(b"Secret"));
        assert!(users["bob"].verify(b"hunter2"));
        assert!(!users["bob"].verify(b"hunter3"));
        assert_eq!(users.len(), 2);
    }

    /// Hashes made by another implementation (libxcrypt's `crypt(3)`, as
    /// `htpasswd -B` and `mkpasswd -m bcrypt` use), password `secret`.
    #[test]
    fn bcrypt_hashes_of_other_tools_verify() {
        let text = "a:$2b$04$TsZSwne1.BZa3/YyxbKb5OjuQylA3b3wypR4En0t9xXO9LU.WILTi\n\
                    y:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a\n\
                    old:$2a$04$ABCDEFGHIJKLMNOPQRSTUux/yVoHLb2P5.QxxfIdIyVUJvRQqUe5S\n";
        let users = parse(text).unwrap();
        for user in ["a", "y", "old"] {
            assert!(users[user].verify(b"secret"), "{user}");
            assert!(!users[user].verify(b"secreT"), "{user}");
        }
    }

    #[test]
    fn other_hashes_and_bad_lines_name_their_line() {
        for (text, line) in [
            ("alice:{SHA}abc\n", 1),
            ("# c\nalice:$apr1$x$y\n", 2),
            ("\nnocolon\n", 2),
            (":$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA\n", 1),
            ("alice:$2y$05$short\n", 1),
            ("alice:$argon2id$garbage\n", 1),
        ] {
            assert_eq!(parse(text).unwrap_err().line, line, "{text}");
        }
        let twice = format!("alice:{ALICE_BCRYPT}\nalice:{ALICE_BCRYPT}\n");
        assert_eq!(parse(&twice).unwrap_err().line, 2);
    }

    #[test]
    fn adding_a_user_replaces_only_their_line() {
        let text = "# keep\nalice:old\nbob:b\n";
        assert_eq!(with_user(text, "alice", "new"), "# keep\nalice:new\nbob:b\n");
        assert_eq!(with_user(text, "carol", "c"), "# keep\nalice:old\nbob:b\ncarol:c\n");
    }
}
