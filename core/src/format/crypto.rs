//! Keys and authenticated encryption: argon2id password → key-encryption key
//! → random master key; subkeys derived with BLAKE3 `derive_key`; sealing with
//! XChaCha20-Poly1305 and a random 24-byte nonce. Also the keyed blob ids.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
// zeroize: the RustCrypto crate the cipher already builds on; its volatile
// writes are not optimised away, so secrets are really wiped when dropped.
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::id::Id;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Bytes a sealed object adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const CONTEXT_SEAL: &str = "cairn 2026-11 v1 seal key";
const CONTEXT_BLOB_ID: &str = "cairn 2026-11 v1 blob id key";
const CONTEXT_CHUNKER: &str = "cairn 2026-11 v1 chunker seed";

/// Argon2id cost parameters, recorded in each key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// OWASP's minimum recommendation for argon2id (m = 19 MiB, t = 2, p = 1):
    /// about 50 ms on one core here, paid by every run that opens the repository.
    pub const DEFAULT: KdfParams = KdfParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };
    /// Deliberately weak parameters for tests only (never in a release build).
    #[cfg(any(test, feature = "testing"))]
    pub const INSECURE_FOR_TESTS: KdfParams = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };

    /// Derives the 32-byte key-encryption key from a password and salt.
    /// Returned in a wiping wrapper, not by value: a bare array would leave
    /// copies of the key on the stack of every caller.
    pub fn derive(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| Error::Kdf(e.to_string()))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 32]);
        argon.hash_password_into(password, salt, out.as_mut()).map_err(|e| Error::Kdf(e.to_string()))?;
        Ok(out)
    }
}

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| Error::Random(e.to_string()))?;
    Ok(out)
}

/// Seals `plaintext` under `key`: `nonce || ciphertext || tag`.
pub fn seal_with(cipher: &XChaCha20Poly1305, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce_bytes = next_nonce()?;
    let nonce = chacha20poly1305::XNonce::from(nonce_bytes);
    let ct = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        // Encryption fails only for messages longer than 256 GiB, far beyond
        // any object cairn builds (at most one pack header or one chunk).
        .map_err(|_| Error::Internal("an object too long to encrypt".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens `nonce || ciphertext || tag`; `None` when it does not authenticate.
pub fn open_with(cipher: &XChaCha20Poly1305, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let (nonce_bytes, ct) = sealed.split_at(NONCE_LEN);
    let nonce = chacha20poly1305::XNonce::try_from(nonce_bytes).ok()?;
    cipher.decrypt(&nonce, Payload { msg: ct, aad }).ok()
}

/// The plaintext of `nonce || ciphertext || tag` under `key` WITHOUT
/// checking the tag: what `open_with` would return for the right associated
/// data. Never trusted as such: its only use is as a candidate master key
/// that must then authenticate another object (the config's parameters),
/// which tells a damaged repository id (the key file's associated data)
/// apart from a wrong password.
pub fn decrypt_unverified(key: &[u8; 32], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let mut body = Zeroizing::new(rest[..rest.len() - (SEAL_OVERHEAD - NONCE_LEN)].to_vec());
    let nonce = chacha20::XNonce::try_from(nonce).ok()?;
    let mut cipher = chacha20::XChaCha20::new(&chacha20::Key::from(*key), &nonce);
    // As the AEAD does (RFC 8439 §2.8): block 0 keys the MAC, the message
    // starts at block 1.
    cipher.seek(64u64);
    cipher.apply_keystream(&mut body);
    Some(body)
}

/// A fresh nonce: always random, except in unit tests inside
/// [`fixed_nonces::during`], which the committed fuzz seeds are built in.
fn next_nonce() -> Result<[u8; NONCE_LEN]> {
    #[cfg(any(test, feature = "testing"))]
    if let Some(nonce) = fixed_nonces::next() {
        return Ok(nonce);
    }
    random_bytes()
}

/// Counter nonces for building test data that must come out byte for byte
/// the same on every run (the fuzz seeds in `fuzz/corpus/`, compared with
/// what the code builds now). Compiled into test builds only (the `testing`
/// feature), so the product's nonces stay random; off unless a test calls
/// [`fixed_nonces::during`]; and per thread, so other tests running
/// meanwhile keep random nonces too.
#[cfg(any(test, feature = "testing"))]
pub mod fixed_nonces {
    use std::cell::Cell;

    use super::NONCE_LEN;

    thread_local! {
        /// The next counter value while fixed nonces are on.
        static NEXT: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// Runs `build` with the nonces 0, 1, 2, … (little-endian, zero padded)
    /// for every seal on this thread, then restores what was there.
    pub fn during<R>(build: impl FnOnce() -> R) -> R {
        /// Restores the previous state even when `build` panics.
        struct Restore(Option<u64>);
        impl Drop for Restore {
            fn drop(&mut self) {
                NEXT.set(self.0);
            }
        }
        let _restore = Restore(NEXT.replace(Some(0)));
        build()
    }

    pub(super) fn next() -> Option<[u8; NONCE_LEN]> {
        let n = NEXT.get()?;
        NEXT.set(Some(n + 1));
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        Some(nonce)
    }
}

pub fn cipher_from(key: &[u8; 32]) -> XChaCha20Poly1305 {
    // A 32-byte key is always the right length for XChaCha20-Poly1305.
    XChaCha20Poly1305::new(&(*key).into())
}

/// The secrets of an opened repository. A repository without encryption has
/// no master key: blob ids are then plain BLAKE3 and objects are stored open.
/// Cloning shares the one copy of the secrets (an `Arc`), never duplicates it.
#[derive(Clone)]
pub enum Keys {
    Plain,
    Encrypted(std::sync::Arc<EncryptedKeys>),
}

/// The master key and its subkeys. Private, not `Clone`, and wiped on drop
/// (the cipher wipes its own key: chacha20poly1305's `zeroize` feature).
pub struct EncryptedKeys {
    master: [u8; 32],
    seal: XChaCha20Poly1305,
    blob_id_key: [u8; 32],
    chunker_seed: u64,
}

impl Zeroize for EncryptedKeys {
    fn zeroize(&mut self) {
        self.master.zeroize();
        self.blob_id_key.zeroize();
        self.chunker_seed.zeroize();
    }
}

impl Drop for EncryptedKeys {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl Keys {
    /// Derives the subkeys from a master key. Takes a reference so the
    /// caller keeps the one copy it will wipe.
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let seal_key = Zeroizing::new(blake3::derive_key(CONTEXT_SEAL, master));
        let blob_id_key = blake3::derive_key(CONTEXT_BLOB_ID, master);
        let seed_bytes = Zeroizing::new(blake3::derive_key(CONTEXT_CHUNKER, master));
        let mut seed = Zeroizing::new([0u8; 8]);
        seed.copy_from_slice(&seed_bytes[..8]);
        Keys::Encrypted(std::sync::Arc::new(EncryptedKeys {
            master: *master,
            seal: cipher_from(&seal_key),
            blob_id_key,
            chunker_seed: u64::from_le_bytes(*seed),
        }))
    }

    /// These keys with another repository's blob-id key and chunker seed
    /// (`RepoParams.adopted`, format-spec §3); the seal key stays this
    /// repository's own. Without encryption there is nothing to adopt.
    pub fn adopting(&self, adopted: &super::AdoptedIds) -> Keys {
        match self {
            Keys::Plain => Keys::Plain,
            Keys::Encrypted(k) => {
                let seal_key = Zeroizing::new(blake3::derive_key(CONTEXT_SEAL, &k.master));
                Keys::Encrypted(std::sync::Arc::new(EncryptedKeys {
                    master: k.master,
                    seal: cipher_from(&seal_key),
                    blob_id_key: adopted.blob_id_key,
                    chunker_seed: adopted.chunker_seed,
                }))
            }
        }
    }

    /// The blob-id key and chunker seed in force, for a repository that
    /// adopts them (`init --copy-chunker-params`); `None` without encryption.
    pub fn ids_to_adopt(&self) -> Option<super::AdoptedIds> {
        match self {
            Keys::Plain => None,
            Keys::Encrypted(k) => Some(super::AdoptedIds { blob_id_key: k.blob_id_key, chunker_seed: k.chunker_seed }),
        }
    }

    /// The master key, for tests only: nothing else needs it once the
    /// subkeys exist. `None` without encryption.
    #[cfg(test)]
    pub(crate) fn master(&self) -> Option<&[u8; 32]> {
        match self {
            Keys::Plain => None,
            Keys::Encrypted(k) => Some(&k.master),
        }
    }

    pub fn is_encrypted(&self) -> bool {
        matches!(self, Keys::Encrypted(_))
    }

    /// The id of a blob: keyed BLAKE3 of its plaintext (plain BLAKE3 without
    /// encryption), so stored ids do not confirm contents to outsiders.
    pub fn blob_id(&self, plaintext: &[u8]) -> Id {
        match self {
            Keys::Plain => Id(*blake3::hash(plaintext).as_bytes()),
            Keys::Encrypted(k) => Id(*blake3::keyed_hash(&k.blob_id_key, plaintext).as_bytes()),
        }
    }

    /// The FastCDC gear seed: secret per repository so chunk boundaries do
    /// not reveal file contents; 0 without encryption.
    pub fn chunker_seed(&self) -> u64 {
        match self {
            Keys::Plain => 0,
            Keys::Encrypted(k) => k.chunker_seed,
        }
    }

    /// Seals (or, without encryption, passes through) an encoded body.
    pub fn seal(&self, aad: &[u8], body: Vec<u8>) -> Result<Vec<u8>> {
        match self {
            Keys::Plain => Ok(body),
            Keys::Encrypted(k) => seal_with(&k.seal, aad, &body),
        }
    }

    /// Opens a sealed object; `None` when it does not authenticate.
    pub fn open(&self, aad: &[u8], stored: &[u8]) -> Option<Vec<u8>> {
        match self {
            Keys::Plain => Some(stored.to_vec()),
            Keys::Encrypted(k) => open_with(&k.seal, aad, stored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypt_unverified_gives_the_plaintext_whatever_the_associated_data() {
        let key = [3u8; 32];
        let sealed = seal_with(&cipher_from(&key), b"repository id", b"the master key").unwrap();
        assert_eq!(decrypt_unverified(&key, &sealed).unwrap().as_slice(), b"the master key");
        // With a wrong key it is noise, never an error or a panic.
        assert_ne!(decrypt_unverified(&[4u8; 32], &sealed).unwrap().as_slice(), b"the master key");
        assert!(decrypt_unverified(&key, &sealed[..SEAL_OVERHEAD - 1]).is_none());
    }

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let keys = Keys::from_master(&[7u8; 32]);
        let sealed = keys.seal(b"aad", b"hello".to_vec()).unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(keys.open(b"aad", &sealed).unwrap(), b"hello");
        assert!(keys.open(b"other", &sealed).is_none());
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert!(keys.open(b"aad", &bad).is_none());
        assert!(keys.open(b"aad", &sealed[..10]).is_none());
    }

    #[test]
    fn blob_ids_are_keyed() {
        let a = Keys::from_master(&[1u8; 32]);
        let b = Keys::from_master(&[2u8; 32]);
        assert_ne!(a.blob_id(b"x"), b.blob_id(b"x"));
        assert_eq!(Keys::Plain.blob_id(b"x").0, *blake3::hash(b"x").as_bytes());
    }

    #[test]
    fn nonces_are_random_unless_fixed_for_test_data() {
        let keys = Keys::from_master(&[7u8; 32]);
        let seal = || keys.seal(b"aad", b"hello".to_vec()).unwrap();
        assert_ne!(seal()[..NONCE_LEN], seal()[..NONCE_LEN], "the product's nonces are random");
        let fixed = || fixed_nonces::during(|| (seal(), seal()));
        let (first, second) = fixed();
        assert_ne!(first[..NONCE_LEN], second[..NONCE_LEN], "no nonce twice within one build");
        assert_eq!(fixed(), (first, second), "the same bytes on every build");
        assert_ne!(seal()[..NONCE_LEN], fixed().0[..NONCE_LEN], "random again afterwards");
    }

    #[test]
    fn wiping_clears_the_master_key_and_every_subkey() {
        let Keys::Encrypted(shared) = Keys::from_master(&[7u8; 32]) else { unreachable!() };
        let mut keys = std::sync::Arc::into_inner(shared).expect("the only reference");
        assert_ne!(keys.blob_id_key, [0; 32]);
        assert_ne!(keys.chunker_seed, 0);
        keys.zeroize(); // what Drop runs
        assert_eq!(keys.master, [0; 32]);
        assert_eq!(keys.blob_id_key, [0; 32]);
        assert_eq!(keys.chunker_seed, 0);
    }

    #[test]
    fn adopted_ids_replace_the_derived_ones_but_not_the_seal_key() {
        let source = Keys::from_master(&[1u8; 32]);
        let own = Keys::from_master(&[2u8; 32]);
        let adopted = own.adopting(&source.ids_to_adopt().unwrap());
        assert_eq!(adopted.blob_id(b"x"), source.blob_id(b"x"));
        assert_eq!(adopted.chunker_seed(), source.chunker_seed());
        let sealed = own.seal(b"aad", b"hello".to_vec()).unwrap();
        assert_eq!(adopted.open(b"aad", &sealed).unwrap(), b"hello", "still this repository's seal key");
        assert!(source.open(b"aad", &sealed).is_none());
        assert!(Keys::Plain.ids_to_adopt().is_none());
    }

    #[test]
    fn kdf_is_deterministic() {
        let p = KdfParams::INSECURE_FOR_TESTS;
        assert_eq!(*p.derive(b"pw", &[0u8; 16]).unwrap(), *p.derive(b"pw", &[0u8; 16]).unwrap());
        assert_ne!(*p.derive(b"pw", &[0u8; 16]).unwrap(), *p.derive(b"pw2", &[0u8; 16]).unwrap());
    }
}
