//! Receiving an object: the request body streamed into a spool file in the
//! kind's folder (so the final rename stays on one filesystem), bounded in
//! size and in time between reads, and hashed on the way. Nothing reaches
//! the object's final name here: the caller renames a complete, checked
//! spool; on any failure the spool is dropped, which removes it.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use cairn_core::backend::Spool;
use cairn_core::id::Id;
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::handlers::Reject;

/// Which hash must name the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameCheck {
    /// cairn's file id: BLAKE3 of the bytes.
    Blake3,
    /// restic's: SHA-256 of the bytes.
    Sha256,
    /// Before a config says which repository this is: either.
    Either,
    /// Names that are not hashes of the contents (cairn's pins, config).
    None,
}

/// Streams `body` into `spool`; refuses more than `bound` bytes (413), a
/// pause longer than `read_timeout` (408), a body that breaks off (400) and
/// a body whose hash is not `name` (400). Returns the complete spool.
pub async fn receive(
    mut body: Incoming,
    spool: Spool,
    bound: u64,
    check: NameCheck,
    name: Id,
    read_timeout: Duration,
) -> Result<Spool, Reject> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(4);
    // The blocking side writes and hashes; it ends when the sender is dropped.
    let writer = tokio::task::spawn_blocking(move || {
        let mut spool = spool;
        let mut blake = (matches!(check, NameCheck::Blake3 | NameCheck::Either)).then(blake3::Hasher::new);
        let mut sha = (matches!(check, NameCheck::Sha256 | NameCheck::Either)).then(Sha256::new);
        while let Some(chunk) = rx.blocking_recv() {
            spool.file().write_all(&chunk)?;
            if let Some(h) = blake.as_mut() {
                h.update(&chunk);
            }
            if let Some(h) = sha.as_mut() {
                h.update(&chunk);
            }
        }
        let blake: Option<[u8; 32]> = blake.map(|h| *h.finalize().as_bytes());
        let sha: Option<[u8; 32]> = sha.map(|h| h.finalize().into());
        Ok::<_, std::io::Error>((spool, blake, sha))
    });
    let mut total: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(read_timeout, body.frame()).await {
            Err(_) => {
                return Err(Reject::new(StatusCode::REQUEST_TIMEOUT, "the upload paused too long; nothing was stored"));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Reject::new(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off ({e}); nothing was stored"),
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len() as u64);
        if total > bound {
            drain(&mut body, read_timeout).await;
            return Err(too_large(bound));
        }
        if tx.send(data).await.is_err() {
            break; // The writer failed; its error is reported below.
        }
    }
    drop(tx);
    let (spool, blake, sha) = writer
        .await
        .map_err(|e| Reject::internal(format!("the spool writer failed: {e}")))?
        .map_err(|e| Reject::internal(format!("cannot write the spool: {e}")))?;
    let matches = blake == Some(name.0) || sha == Some(name.0) || check == NameCheck::None;
    if !matches {
        let what = match check {
            NameCheck::Blake3 => "BLAKE3",
            NameCheck::Sha256 => "SHA-256",
            _ => "BLAKE3 or SHA-256",
        };
        return Err(Reject::new(
            StatusCode::BAD_REQUEST,
            format!("the body's {what} is not its name; nothing was stored"),
        ));
    }
    Ok(spool)
}

/// Reads and drops a little more of a refused body, so that a client
/// which sent a few bytes too many reads the answer instead of a reset
/// (a socket closed with unread data resets the connection).
async fn drain(body: &mut Incoming, read_timeout: Duration) {
    const DRAIN: usize = 256 * 1024;
    let mut drained = 0;
    while drained < DRAIN {
        match tokio::time::timeout(read_timeout, body.frame()).await {
            Ok(Some(Ok(frame))) => drained += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}

pub fn too_large(bound: u64) -> Reject {
    Reject::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {bound} bytes, the largest valid object of its type"),
    )
}

/// A small body (a config) read whole into memory, bounded like `receive`.
pub async fn receive_small(mut body: Incoming, bound: u64, read_timeout: Duration) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(read_timeout, body.frame()).await {
            Err(_) => {
                return Err(Reject::new(StatusCode::REQUEST_TIMEOUT, "the upload paused too long; nothing was stored"));
            }
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => {
                return Err(Reject::new(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off ({e}); nothing was stored"),
                ));
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() as u64 + data.len() as u64 > bound {
                        drain(&mut body, read_timeout).await;
                        return Err(too_large(bound));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}
