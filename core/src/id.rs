//! 32-byte identifiers: blob ids (keyed BLAKE3 of plaintext) and file ids
//! (BLAKE3 of a repository file's stored bytes), with hex forms.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// The id of a repository file: plain BLAKE3 of its stored bytes, so that
    /// anyone can verify a file from its name without the key.
    pub fn of_file_bytes(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[(b >> 4) as usize]));
            s.push(char::from(HEX[(b & 15) as usize]));
        }
        s
    }

    /// The 8-digit form shown in tables.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_string()
    }

    pub fn from_hex(s: &str) -> Result<Id, NotAnId> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(NotAnId(format!("{s:?} is not a 64-digit hex id")));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]);
            let lo = hex_val(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => out[i] = (h << 4) | l,
                _ => return Err(NotAnId(format!("{s:?} is not a hex id"))),
            }
        }
        Ok(Id(out))
    }
}

/// A string that is not the hex form of an id. Its own type rather than
/// `crate::Error`, so that ids sit below errors on the ladder (errors name
/// ids; ids need no errors) and the two modules do not depend on each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAnId(String);

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// True when `s` is non-empty and only hex digits.
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| hex_val(c).is_some())
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let id = Id(bytes);
            prop_assert_eq!(Id::from_hex(&id.to_hex()).unwrap(), id);
        }
    }

    #[test]
    fn rejects_bad_hex() {
        assert!(Id::from_hex("zz").is_err());
        assert!(Id::from_hex(&"g".repeat(64)).is_err());
    }
}
