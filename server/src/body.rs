//! Response bodies: a whole buffer, or a file range streamed from a blocking
//! reader thread through a small channel, so a 128 MiB pack is never held
//! in memory and a slow reader only holds a few chunks.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Chunks of a streamed file: large enough that a 4 MiB range (the rest
/// client's read-ahead window) is a few hops, not dozens.
const CHUNK: usize = 1024 * 1024;
/// Chunks read ahead of the client (with the one being sent, at most
/// 3 MiB per response in memory).
const AHEAD: usize = 2;

/// `len` bytes of `file` from `start`, read on the blocking pool. A read
/// error ends the body with that error (the client sees a short body and
/// hyper closes the connection, so it cannot be taken for the whole file).
pub fn file_range(mut file: File, start: u64, len: u64) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        while left > 0 {
            // Filled by `read_to_end`, which does not zero the buffer first.
            let want = CHUNK.min(left as usize);
            let mut buf = Vec::with_capacity(want);
            let chunk = match (&mut file).take(want as u64).read_to_end(&mut buf) {
                Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file became shorter while it was sent")),
                Ok(n) => {
                    left -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            // The client went away: stop reading.
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    ChannelBody { rx, left: len }.boxed()
}

struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    left: u64,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.left = self.left.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::other("the file reader stopped")))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
