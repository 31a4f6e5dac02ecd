//! Sockets: binding (TCP, optionally TLS, or a Unix socket), the accept loop
//! with its connection limit, HTTP/1.1 per connection with a header-read
//! timeout, and a graceful stop (no new connections, requests in flight
//! finish, bounded in time).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, oneshot};
use tokio_rustls::TlsAcceptor;

use crate::auth::{Htpasswd, Principal, peer};
use crate::{Listen, ServeError, ServeOptions, Shared};

/// Where a started server listens (the real port when 0 was asked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Tcp(a) => write!(f, "{a}"),
            Bound::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A running server (its own threads). `shutdown` or dropping it stops it
/// gracefully and waits for that.
pub struct ServerHandle {
    bound: Bound,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// The TCP address (tests: `http://{addr}/`); `None` on a Unix socket.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self.bound {
            Bound::Tcp(a) => Some(a),
            Bound::Unix(_) => None,
        }
    }

    pub fn shutdown(mut self) {
        self.stop_and_wait();
    }

    fn stop_and_wait(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_wait();
    }
}

enum Listener {
    Tcp(TcpListener, Option<TlsAcceptor>),
    Unix(UnixListener, PathBuf),
}

/// The repository root: created (one level, mode 0700, as rest-server
/// creates its `--path`) when it does not exist yet; anything but a folder
/// is refused.
fn ensure_root(root: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::DirBuilderExt;
    if !root.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(root)
            .map_err(|source| ServeError::CreateRoot { root: root.to_path_buf(), source })?;
    }
    if !root.is_dir() {
        return Err(ServeError::Root(root.to_path_buf()));
    }
    Ok(())
}

/// Starts a server on its own runtime and returns once it listens.
pub fn spawn(opts: ServeOptions) -> Result<ServerHandle, ServeError> {
    ensure_root(&opts.root)?;
    let htpasswd = match (&opts.listen, opts.no_auth) {
        (Listen::Tcp(_), false) => {
            let path = opts.htpasswd_file.clone().unwrap_or_else(|| opts.root.join(".htpasswd"));
            if !path.exists() {
                return Err(ServeError::NoHtpasswd(path));
            }
            Some(Htpasswd::load(&path).map_err(ServeError::Htpasswd)?)
        }
        (Listen::Unix(_), _) => {
            if opts.htpasswd_file.is_some() || opts.tls.is_some() {
                eprintln!(
                    "cairn serve: note: on a Unix socket clients are known by their uid; --htpasswd-file and --tls are not used"
                );
            }
            None
        }
        _ => None,
    };
    let tls = match (&opts.tls, &opts.listen) {
        (Some(files), Listen::Tcp(_)) => Some(tls_acceptor(&files.cert, &files.key)?),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    let (listener, bound) = rt.block_on(bind(&opts, tls))?;
    if let Bound::Tcp(a) = &bound
        && !a.ip().is_loopback()
        && opts.tls.is_none()
    {
        eprintln!(
            "cairn serve: warning: {a} is reachable from other machines and passwords and data cross it unencrypted; use --tls"
        );
    }
    let shared = Arc::new(Shared {
        root: opts.root.clone(),
        append_only: opts.append_only,
        private_repos: opts.private_repos,
        no_auth: opts.no_auth,
        htpasswd,
        locks: Default::default(),
        verbose: opts.verbose,
        body_timeout: opts.body_timeout,
        verify_slots: tokio::sync::Semaphore::new(crate::VERIFY_SLOTS),
    });
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("cairn-serve".into())
        .spawn(move || {
            rt.block_on(accept_loop(listener, shared, opts, stopped));
            // Blocking work (a file being streamed) is not waited for forever.
            rt.shutdown_timeout(Duration::from_secs(1));
        })
        .map_err(ServeError::Runtime)?;
    Ok(ServerHandle { bound, stop: Some(stop), thread: Some(thread) })
}

async fn bind(opts: &ServeOptions, tls: Option<TlsAcceptor>) -> Result<(Listener, Bound), ServeError> {
    match &opts.listen {
        Listen::Tcp(addr) => {
            let l =
                TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr: addr.to_string(), source: e })?;
            let local = l.local_addr().map_err(ServeError::Runtime)?;
            Ok((Listener::Tcp(l, tls), Bound::Tcp(local)))
        }
        Listen::Unix(path) => {
            let bind_err = |e| ServeError::Bind { addr: format!("unix:{}", path.display()), source: e };
            remove_stale_socket(path)?;
            let l = UnixListener::bind(path).map_err(bind_err)?;
            if let Some(mode) = opts.socket_mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(bind_err)?;
            }
            Ok((Listener::Unix(l, path.clone()), Bound::Unix(path.clone())))
        }
    }
}

/// A socket file left by a server that is gone is removed; one that a
/// running server answers on is not taken over.
fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(md) = std::fs::symlink_metadata(path) else { return Ok(()) };
    if !md.file_type().is_socket() {
        return Err(ServeError::Bind {
            addr: format!("unix:{}", path.display()),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a file that is not a socket is there"),
        });
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ServeError::SocketInUse(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(|e| ServeError::Bind { addr: format!("unix:{}", path.display()), source: e })
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| ServeError::Tls(format!("cannot read the certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!("no certificate in {}", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("cannot read the private key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(listener: Listener, shared: Arc<Shared>, opts: ServeOptions, mut stopped: oneshot::Receiver<()>) {
    let limit = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let header_timeout = opts.header_timeout;
    loop {
        // A free slot first: beyond the limit, clients wait in the backlog.
        let permit = tokio::select! {
            _ = &mut stopped => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let accepted = tokio::select! {
            _ = &mut stopped => break,
            a = accept(&listener) => a,
        };
        let (io, peer) = match accepted {
            Ok(Some(pair)) => pair,
            // A client gone before it could be identified: nothing to serve.
            Ok(None) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                eprintln!("cairn serve: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let io = match io {
                Accepted::Plain(s) => Conn::Tcp(s),
                Accepted::Unix(s) => Conn::Unix(s),
                Accepted::Tls(s, acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(s)).await {
                    Ok(Ok(s)) => Conn::Tls(Box::new(s)),
                    _ => return,
                },
            };
            let service = service_fn(move |req| crate::answer(shared.clone(), peer.clone(), req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(io), service);
            let _ = watcher.watch(conn).await;
        });
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    let _ = tokio::time::timeout(opts.shutdown_grace, graceful.shutdown()).await;
}

enum Accepted {
    Plain(tokio::net::TcpStream),
    Tls(tokio::net::TcpStream, TlsAcceptor),
    Unix(tokio::net::UnixStream),
}

/// The next connection and, on a Unix socket, its principal; `None` for a
/// Unix client whose credentials cannot be read (it went away already).
async fn accept(listener: &Listener) -> std::io::Result<Option<(Accepted, Option<Principal>)>> {
    match listener {
        Listener::Tcp(l, tls) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok(Some((
                match tls {
                    Some(a) => Accepted::Tls(s, a.clone()),
                    None => Accepted::Plain(s),
                },
                None,
            )))
        }
        Listener::Unix(l, _) => {
            let (s, _) = l.accept().await?;
            Ok(peer::principal_of(&s).ok().map(|who| (Accepted::Unix(s), Some(who))))
        }
    }
}

/// One connection's stream, whichever kind.
enum Conn {
    Tcp(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
    Unix(tokio::net::UnixStream),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Conn::Tcp($s) => {
                let $s = std::pin::Pin::new($s);
                $e
            }
            Conn::Tls($s) => {
                let $s = std::pin::Pin::new($s.as_mut());
                $e
            }
            Conn::Unix($s) => {
                let $s = std::pin::Pin::new($s);
                $e
            }
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}
