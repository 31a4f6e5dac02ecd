//! `cairn serve`: restic's REST backend protocol (version 2, and version 1
//! for listing) over repositories kept in local folders under one root, as
//! cairn's `LocalBackend` keeps them, so a served repository is
//! byte-identical to a local one. It serves cairn repositories to cairn's
//! `rest:` backend and restic repositories to restic, on a Unix socket
//! (clients known by their uid) or TCP (htpasswd users, optionally TLS), and
//! can refuse every deletion but a client's own locks (`--append-only`).
//!
//! The protocol as served is in format-spec.md, "The REST protocol".
//! Modules: `route` (path → what it names), `handlers` (one function per
//! operation, errors → status codes), `upload` (bounded, hashed streaming
//! into a spool), `range`, `body`, `auth` (principals), `append_only` (lock
//! ownership), `listen` (sockets, TLS, limits, shutdown), `maintain` (the
//! `--maintain` thread: retention on the server's side).

#![forbid(unsafe_code)]

pub mod append_only;
pub mod auth;
mod body;
pub mod fuzz_entry;
mod handlers;
mod listen;
pub mod maintain;
pub mod range;
pub mod route;
mod upload;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

pub use handlers::{MAX_DATA_LEN, report_path};
pub use listen::{Bound, ServerHandle, spawn};

use crate::auth::{Htpasswd, Principal};
use crate::body::Body;
use crate::handlers::Reject;

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// A Unix socket at this path (`unix:/path` on the command line).
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;

    /// `unix:/path.sock`, or `host:port` (`:8000` is `127.0.0.1:8000`).
    fn from_str(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path".into());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        let s = if s.starts_with(':') { format!("127.0.0.1{s}") } else { s.to_string() };
        use std::net::ToSocketAddrs;
        s.to_socket_addrs()
            .map_err(|e| format!("cannot use '{s}' as an address: {e}"))?
            .next()
            .ok_or_else(|| format!("'{s}' names no address"))
            .map(Listen::Tcp)
    }
}

/// A certificate chain and its private key, both PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything `cairn serve` is told.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The folder holding the repositories (`/` is the root itself).
    pub root: PathBuf,
    pub listen: Listen,
    pub append_only: bool,
    /// TCP without passwords (every client is anonymous).
    pub no_auth: bool,
    /// Default `ROOT/.htpasswd`.
    pub htpasswd_file: Option<PathBuf>,
    pub private_repos: bool,
    pub tls: Option<TlsFiles>,
    /// The mode of a Unix socket (else as the umask leaves it).
    pub socket_mode: Option<u32>,
    pub max_connections: usize,
    /// One line per request on stderr.
    pub verbose: bool,
    /// Longest wait for a request's headers.
    pub header_timeout: Duration,
    /// Longest pause between two reads of a request body.
    pub body_timeout: Duration,
    /// Longest wait for requests in flight at shutdown.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    pub fn new(root: impl Into<PathBuf>, listen: Listen) -> ServeOptions {
        ServeOptions {
            root: root.into(),
            listen,
            append_only: false,
            no_auth: false,
            htpasswd_file: None,
            private_repos: false,
            tls: None,
            socket_mode: None,
            max_connections: 256,
            verbose: false,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the repository root {0} is not a folder")]
    Root(PathBuf),
    #[error("cannot create the repository root {root}: {source}")]
    CreateRoot { root: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0} is in use by a running server")]
    SocketInUse(PathBuf),
    #[error(
        "TCP needs users: no htpasswd file at {0} (create one with `cairn serve htpasswd FILE USER`, or pass --no-auth)"
    )]
    NoHtpasswd(PathBuf),
    #[error("{0}")]
    Htpasswd(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
}

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub root: PathBuf,
    pub append_only: bool,
    pub private_repos: bool,
    pub no_auth: bool,
    pub htpasswd: Option<Htpasswd>,
    pub locks: append_only::LockOwners,
    pub verbose: bool,
    pub body_timeout: Duration,
    /// Slow password checks running at once: each argon2 check takes
    /// 19 MiB, so a crowd of wrong passwords must not take the memory.
    pub verify_slots: tokio::sync::Semaphore,
}

/// Slow password checks at once (`Shared::verify_slots`).
const VERIFY_SLOTS: usize = 4;

/// Runs the server until SIGINT or SIGTERM, then stops accepting, lets the
/// requests in flight finish (bounded by `shutdown_grace`) and returns.
pub fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let handle = spawn(opts)?;
    eprintln!("cairn serve: listening on {}", handle.bound());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServeError::Runtime)?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok::<(), ServeError>(())
    })?;
    eprintln!("cairn serve: stopping");
    handle.shutdown();
    Ok(())
}

/// One request, from its connection's principal (a Unix peer) or its
/// credentials (TCP), to its answer. Never fails: errors are answers.
pub(crate) async fn answer(
    shared: Arc<Shared>,
    peer: Option<Principal>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (who, result) = match authenticate(&shared, peer, &req).await {
        Ok(who) => {
            let r = route(&shared, &who, req).await;
            (Some(who), r)
        }
        Err(reject) => (None, Err(reject)),
    };
    let mut response = result.unwrap_or_else(Reject::into_response);
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"cairn\""));
    }
    if shared.append_only {
        response.headers_mut().insert("x-cairn-append-only", HeaderValue::from_static("true"));
    }
    if shared.verbose {
        let who = who.as_ref().and_then(Principal::user_name).unwrap_or("-");
        eprintln!("cairn serve: {who} {method} {} {}", path.escape_debug(), response.status().as_u16());
    }
    Ok(response)
}

async fn authenticate(
    shared: &Arc<Shared>,
    peer: Option<Principal>,
    req: &Request<hyper::body::Incoming>,
) -> Result<Principal, Reject> {
    if let Some(p) = peer {
        return Ok(p);
    }
    if shared.no_auth {
        return Ok(Principal::Anonymous);
    }
    let unauthorized = || Reject::new(StatusCode::UNAUTHORIZED, "a user name and password are needed");
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(unauthorized)?;
    let (user, password) = auth::parse_basic(header.as_bytes()).ok_or_else(unauthorized)?;
    let Some(htpasswd) = shared.htpasswd.as_ref() else { return Err(unauthorized()) };
    let ok = match htpasswd.check_cached(&user, &password) {
        Some(known) => known,
        None => {
            let _slot = shared.verify_slots.acquire().await.map_err(|_| unauthorized())?;
            let (s, u) = (shared.clone(), user.clone());
            tokio::task::spawn_blocking(move || s.htpasswd.as_ref().is_some_and(|h| h.check(&u, &password)))
                .await
                .map_err(|e| Reject::internal(format!("a password check failed: {e}")))?
        }
    };
    if ok {
        Ok(Principal::User(user))
    } else {
        Err(Reject::new(StatusCode::UNAUTHORIZED, "wrong user name or password"))
    }
}

async fn route(
    shared: &Arc<Shared>,
    who: &Principal,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Reject> {
    let target =
        route::parse_path(req.uri().path()).map_err(|e| Reject::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    if !who.may_use(&target.repo, shared.private_repos) {
        let why = match who.user_name() {
            Some(user) => format!("{user} may use only the repository named {user} (--private-repos)"),
            None => "an anonymous client may use no repository (--private-repos)".to_string(),
        };
        return Err(Reject::new(StatusCode::FORBIDDEN, why));
    }
    handlers::dispatch(shared.clone(), who.clone(), target, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!("unix:/run/c.sock".parse::<Listen>().unwrap(), Listen::Unix("/run/c.sock".into()));
        assert_eq!(":8000".parse::<Listen>().unwrap(), Listen::Tcp("127.0.0.1:8000".parse().unwrap()));
        assert_eq!("127.0.0.1:0".parse::<Listen>().unwrap(), Listen::Tcp("127.0.0.1:0".parse().unwrap()));
        assert_eq!("[::1]:9".parse::<Listen>().unwrap(), Listen::Tcp("[::1]:9".parse().unwrap()));
        for bad in ["unix:", "8000", "127.0.0.1", "host name:1"] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
    }
}
