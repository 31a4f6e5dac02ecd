//! The HTTP/1.1 client under the REST backend: hyper over TCP, TLS
//! (rustls, ring) or a Unix socket, with a pool of keep-alive connections,
//! connect and read timeouts, and a bound on every answer's size.
//!
//! The backend's trait is synchronous and called from many threads (the
//! pack finisher, the restorer's readers), so the client owns a small tokio
//! runtime and each call blocks on its one request there; the runtime's
//! two threads drive the connections. One attempt per call: retrying is the
//! backend's decision (it knows which requests are idempotent).

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::location::{RestLocation, Transport};

/// Connecting (TCP, then TLS) must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The answer's headers must come within this once the request is sent
/// (the server fsyncs a whole pack before it answers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
/// Each piece of an answer's body must come within this.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A pooled connection idle longer than this is closed, not reused: the
/// server may have closed it meanwhile.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// How many idle connections are kept.
const POOL_SIZE: usize = 32;
/// The longest body of an error answer read (it is one line of text).
const ERROR_BODY_MAX: u64 = 64 * 1024;
/// Bytes of a spool sent per frame.
const SPOOL_CHUNK: usize = 512 * 1024;
/// The largest buffer allocated up front for an answer, whatever its
/// Content-Length claims (the rest grows as bytes actually arrive).
const PRESIZE_MAX: usize = 16 * 1024 * 1024;

/// A request's body: nothing, bytes in memory, or a local file streamed.
pub enum ReqBody {
    Empty,
    Bytes(Option<Bytes>),
    File { file: tokio::fs::File, remaining: u64 },
}

impl ReqBody {
    pub fn bytes(bytes: &[u8]) -> ReqBody {
        ReqBody::Bytes(Some(Bytes::copy_from_slice(bytes)))
    }

    /// The whole of a local file (opened anew for each attempt).
    pub fn file(path: &Path) -> io::Result<(ReqBody, u64)> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok((ReqBody::File { file: tokio::fs::File::from_std(file), remaining: len }, len))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> u64 {
        match self {
            ReqBody::Empty => 0,
            ReqBody::Bytes(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            ReqBody::File { remaining, .. } => *remaining,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::File { file, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let mut buf = vec![0u8; (*remaining).min(SPOOL_CHUNK as u64) as usize];
                let mut read = ReadBuf::new(&mut buf);
                match Pin::new(file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        if n == 0 {
                            // The Content-Length sent is now a lie: fail the
                            // request rather than send a short body.
                            return Poll::Ready(Some(Err(io::Error::new(
                                ErrorKind::UnexpectedEof,
                                "the spool file shrank while it was sent",
                            ))));
                        }
                        buf.truncate(n);
                        *remaining -= n as u64;
                        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

/// The server's answer, its body read whole (within the caller's bound).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

enum Target {
    Unix(PathBuf),
    Tcp { host: String, port: u16, tls: Option<(tokio_rustls::TlsConnector, rustls_pki_types::ServerName<'static>)> },
}

pub struct Client {
    runtime: tokio::runtime::Runtime,
    target: Target,
    idle: Mutex<Vec<(SendRequest<ReqBody>, Instant)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http::Client")
    }
}

impl Client {
    /// A client for the server of `location`; `cacert` is a PEM file of
    /// extra trust roots for TLS (beside the system's).
    pub fn new(location: &RestLocation, cacert: Option<&Path>) -> io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-rest")
            .enable_io()
            .enable_time()
            .build()?;
        let target = match &location.transport {
            Transport::Unix { socket } => Target::Unix(socket.clone()),
            Transport::Tcp { tls: false, host, port } => Target::Tcp { host: host.clone(), port: *port, tls: None },
            Transport::Tcp { tls: true, host, port } => {
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| io::Error::new(ErrorKind::InvalidInput, format!("{host}: {e}")))?;
                let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(cacert)?));
                Target::Tcp { host: host.clone(), port: *port, tls: Some((connector, name)) }
            }
        };
        Ok(Client { runtime, target, idle: Mutex::new(Vec::new()) })
    }

    /// Sends one request and reads its answer, refusing a body longer than
    /// `limit` bytes. Errors are failures to get an answer (connection,
    /// timeout, protocol); an answer of any status is `Ok`.
    pub fn exchange(&self, request: Request<ReqBody>, limit: u64) -> io::Result<Answer> {
        self.runtime.block_on(async {
            let mut sender = self.checkout().await?;
            let answer = tokio::time::timeout(ANSWER_TIMEOUT, sender.send_request(request))
                .await
                .map_err(|_| timed_out("the server did not answer"))?
                .map_err(hyper_error)?;
            let (parts, body) = answer.into_parts();
            // An error's body is a line of text, whatever was asked for.
            let limit = if parts.status.is_success() { limit } else { ERROR_BODY_MAX };
            let body = read_limited(body, limit).await?;
            self.checkin(sender);
            Ok(Answer { status: parts.status, headers: parts.headers, body })
        })
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> io::Result<SendRequest<ReqBody>> {
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some((mut sender, since)) = pooled else { break };
            if sender.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if tokio::time::timeout(Duration::from_secs(1), sender.ready()).await.is_ok_and(|r| r.is_ok()) {
                return Ok(sender);
            }
        }
        self.connect().await
    }

    fn checkin(&self, sender: SendRequest<ReqBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push((sender, Instant::now()));
        }
    }

    async fn connect(&self) -> io::Result<SendRequest<ReqBody>> {
        let timeout = |what: &'static str| move |_| timed_out(what);
        match &self.target {
            Target::Unix(path) => {
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(timeout("connecting timed out"))??;
                handshake(stream).await
            }
            Target::Tcp { host, port, tls } => {
                let stream =
                    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), *port)))
                        .await
                        .map_err(timeout("connecting timed out"))??;
                // Requests are written whole, then answered: Nagle would
                // only delay each request's last segment.
                stream.set_nodelay(true)?;
                match tls {
                    None => handshake(stream).await,
                    Some((connector, name)) => {
                        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name.clone(), stream))
                            .await
                            .map_err(timeout("the TLS handshake timed out"))??;
                        handshake(stream).await
                    }
                }
            }
        }
    }
}

async fn handshake<T>(io: T) -> io::Result<SendRequest<ReqBody>>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        http1::Builder::new().max_buf_size(4 * 1024 * 1024).handshake(TokioIo::new(io)).await.map_err(hyper_error)?;
    // The connection's own task reads and writes the socket; it ends when
    // the last sender is dropped or the server closes the connection.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The body, refused (before it is read, where Content-Length says so)
/// when it is longer than `limit`.
async fn read_limited(mut body: Incoming, limit: u64) -> io::Result<Bytes> {
    let too_long =
        || io::Error::new(ErrorKind::InvalidData, format!("the answer is longer than the {limit} bytes expected"));
    let hint = body.size_hint().exact();
    if hint.is_some_and(|n| n > limit) {
        return Err(too_long());
    }
    let mut out = Vec::with_capacity(hint.unwrap_or(0).min(PRESIZE_MAX as u64) as usize);
    loop {
        let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
            .await
            .map_err(|_| timed_out("the server stopped sending its answer"))?;
        match frame {
            None => return Ok(Bytes::from(out)),
            Some(Err(e)) => return Err(hyper_error(e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() as u64 + data.len() as u64 > limit {
                        return Err(too_long());
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(ErrorKind::TimedOut, what.to_string())
}

/// hyper's error as an `io::Error`, keeping the OS error where there is
/// one (connection refused, reset) and the chain of causes in the text.
fn hyper_error(e: hyper::Error) -> io::Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io::Error::new(io.kind(), format!("{e}: {io}"));
        }
        source = s.source();
    }
    io::Error::new(ErrorKind::ConnectionAborted, e.to_string())
}

/// rustls with ring; the system's trust roots plus those in `cacert`.
fn tls_config(cacert: Option<&Path>) -> io::Result<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(file) = cacert {
        let bad = |e: rustls_pki_types::pem::Error| {
            io::Error::new(ErrorKind::InvalidInput, format!("{}: not a PEM certificate file: {e}", file.display()))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(file).map_err(bad)? {
            roots
                .add(cert.map_err(bad)?)
                .map_err(|e| io::Error::new(ErrorKind::InvalidInput, format!("{}: {e}", file.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(io::Error::new(ErrorKind::InvalidInput, format!("{}: holds no certificate", file.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
