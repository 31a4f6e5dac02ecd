//! One function per protocol operation, over core's `LocalBackend`, and the
//! one place where failures become HTTP status codes (`Reject`).
//!
//! Every path reaching the filesystem comes from `route::parse_path` (a
//! checked repository name, type and id) joined to the served root, so no
//! request can name a file outside it.

use std::fs;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use cairn_core::backend::local::LocalBackend;
use cairn_core::backend::{Backend, BackendError, CONFIG_NAME};
use cairn_core::format::{self, CONFIG_MAGIC};
use cairn_core::id::Id;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::Shared;
use crate::auth::Principal;
use crate::body::{self, Body};
use crate::range::{RangeAnswer, parse_range};
use crate::route::{Kind, RepoName, Resource, Target};
use crate::upload::{self, NameCheck};

/// A request refused or failed: its status and one line saying why.
#[derive(Debug)]
pub struct Reject {
    pub status: StatusCode,
    pub message: String,
}

impl Reject {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Reject {
        Reject { status, message: message.into() }
    }

    /// A failure of the server's own (logged; the client learns only that).
    pub fn internal(message: impl Into<String>) -> Reject {
        let message = message.into();
        eprintln!("cairn serve: {message}");
        Reject::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error (see the server's log)")
    }

    fn forbidden(message: impl Into<String>) -> Reject {
        Reject::new(StatusCode::FORBIDDEN, message)
    }

    fn not_found() -> Reject {
        Reject::new(StatusCode::NOT_FOUND, "not found")
    }

    fn from_io(e: io::Error, what: &Path) -> Reject {
        match e.kind() {
            ErrorKind::NotFound | ErrorKind::NotADirectory => Reject::not_found(),
            ErrorKind::AlreadyExists => Reject::forbidden("the object exists; objects are never replaced"),
            _ => Reject::internal(format!("{}: {e}", what.display())),
        }
    }

    fn from_backend(e: BackendError) -> Reject {
        if e.is_not_found() {
            Reject::not_found()
        } else if e.is_already_exists() {
            Reject::forbidden("the object exists; objects are never replaced")
        } else {
            Reject::internal(e.to_string())
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut r = Response::new(body::full(format!("{}\n", self.message)));
        *r.status_mut() = self.status;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        r
    }
}

type Answer = Result<Response<Body>, Reject>;

/// The largest `data/` object: cairn's largest pack (a 64 MiB target, one
/// 16 MiB blob past it, the header) and restic's (`--pack-size` at most
/// 128 MiB, one blob past it), with room to spare.
pub const MAX_DATA_LEN: u64 = 256 * 1024 * 1024;

/// The largest valid object of each type (413 beyond).
pub fn bound(kind: Kind) -> u64 {
    match kind {
        Kind::Data => MAX_DATA_LEN,
        Kind::Keys => format::MAX_KEY_FILE_LEN,
        Kind::Locks => format::marker::MAX_MARKER_FILE_LEN,
        Kind::Snapshots => format::MAX_SNAPSHOT_FILE_LEN,
        Kind::Index => format::MAX_INDEX_FILE_LEN,
        Kind::Policy => format::MAX_POLICY_FILE_LEN,
        Kind::Pins => format::MAX_PIN_FILE_LEN,
    }
}

/// The largest maintenance report served.
const MAX_REPORT_LEN: u64 = 64 * 1024;
/// Objects up to this size are read in one go rather than streamed.
const SMALL_READ: u64 = 256 * 1024;

pub fn repo_dir(root: &Path, repo: &RepoName) -> PathBuf {
    match repo {
        RepoName::Root => root.to_path_buf(),
        RepoName::Named(name) => root.join(name),
    }
}

/// Runs filesystem work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Reject> + Send + 'static) -> Result<T, Reject> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Reject::internal(format!("a worker failed: {e}")))?
}

/// Runs filesystem work on the repository at `dir` on the blocking pool,
/// after checking that there is one (404 otherwise): one hop per request.
async fn in_repo<T: Send + 'static>(
    dir: PathBuf,
    f: impl FnOnce(LocalBackend) -> Result<T, Reject> + Send + 'static,
) -> Result<T, Reject> {
    blocking(move || {
        if !dir.is_dir() {
            return Err(Reject::new(StatusCode::NOT_FOUND, "no such repository"));
        }
        f(LocalBackend::new(dir))
    })
    .await
}

/// Answers one authorised request for `target`.
pub async fn dispatch(shared: Arc<Shared>, who: Principal, target: Target, req: Request<Incoming>) -> Answer {
    let dir = repo_dir(&shared.root, &target.repo);
    let method = req.method().clone();
    match (&method, target.resource) {
        (&Method::POST, Resource::Repo) => {
            let create = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "create=true"));
            if !create {
                return Err(Reject::new(StatusCode::BAD_REQUEST, "POST to a repository needs ?create=true"));
            }
            create_repo(dir).await
        }
        (&Method::GET | &Method::HEAD, Resource::Config) => get_config(dir, method == Method::HEAD).await,
        (&Method::POST, Resource::Config) => {
            let bytes =
                upload::receive_small(req.into_body(), format::MAX_CONFIG_FILE_LEN, shared.body_timeout).await?;
            in_repo(dir, move |b| b.create_config(&bytes).map_err(Reject::from_backend)).await?;
            Ok(ok())
        }
        (&Method::PUT, Resource::Config) => {
            if shared.append_only {
                return Err(Reject::forbidden("the server is append-only: the config cannot be replaced"));
            }
            let bytes =
                upload::receive_small(req.into_body(), format::MAX_CONFIG_FILE_LEN, shared.body_timeout).await?;
            in_repo(dir, move |b| b.replace_config(&bytes).map_err(Reject::from_backend)).await?;
            Ok(ok())
        }
        (&Method::DELETE, Resource::Config) => Err(Reject::forbidden("the config is never deleted")),
        (&Method::GET, Resource::List(kind)) => {
            let v2 = req
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .any(|v| v.to_str().is_ok_and(|s| s.contains("application/vnd.x.restic.rest.v2")));
            list(dir, kind, v2).await
        }
        (&Method::GET | &Method::HEAD, Resource::Object(kind, id)) => {
            let range = req.headers().get(header::RANGE).map(|v| v.as_bytes().to_vec());
            get_object(dir, kind, id, method == Method::HEAD, range).await
        }
        (&Method::POST, Resource::Object(kind, id)) => post_object(&shared, &who, dir, kind, id, req).await,
        (&Method::DELETE, Resource::Object(kind, id)) => delete_object(&shared, &who, dir, kind, id).await,
        (&Method::GET | &Method::HEAD, Resource::Maintenance) => {
            maintenance(shared.root.clone(), target.repo, method == Method::HEAD).await
        }
        _ => Err(Reject::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed here"))),
    }
}

fn ok() -> Response<Body> {
    Response::new(body::empty())
}

async fn create_repo(dir: PathBuf) -> Answer {
    blocking(move || {
        if dir.join(CONFIG_NAME).exists() {
            return Err(Reject::new(StatusCode::CONFLICT, "a repository exists here"));
        }
        // Not `create_layout`, which refuses a folder with anything in it:
        // the root repository shares its folder with the server's own files
        // (`.cairn-serve/`, `.htpasswd`), and a create may be retried.
        LocalBackend::new(&dir).complete_layout().map_err(Reject::from_backend)
    })
    .await?;
    Ok(ok())
}

async fn get_config(dir: PathBuf, head: bool) -> Answer {
    let bytes = in_repo(dir, |b| b.read_config().map_err(Reject::from_backend)).await?;
    let len = bytes.len();
    let mut r = Response::new(if head { body::empty() } else { body::full(bytes) });
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(r)
}

async fn list(dir: PathBuf, kind: Kind, v2: bool) -> Answer {
    let listed = in_repo(dir, move |b| b.list_times(kind.file_kind()).map_err(Reject::from_backend)).await?;
    let json = if v2 {
        let entries: Vec<serde_json::Value> = listed
            .iter()
            .map(|(id, size, mtime)| {
                let ns = mtime.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as u64);
                serde_json::json!({ "name": id.to_hex(), "size": size, "mtime_ns": ns })
            })
            .collect();
        serde_json::to_vec(&entries)
    } else {
        serde_json::to_vec(&listed.iter().map(|(id, ..)| id.to_hex()).collect::<Vec<_>>())
    }
    .map_err(|e| Reject::internal(e.to_string()))?;
    let mut r = Response::new(body::full(json));
    let ct = if v2 { "application/vnd.x.restic.rest.v2" } else { "application/vnd.x.restic.rest.v1" };
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(r)
}

/// (A missing repository needs no check of its own here: its object is
/// missing too, 404.)
async fn get_object(dir: PathBuf, kind: Kind, id: Id, head: bool, range: Option<Vec<u8>>) -> Answer {
    let path = LocalBackend::new(dir).path_of(kind.file_kind(), &id);
    let (status, body, start, len, size) = blocking(move || {
        let file = fs::File::open(&path).map_err(|e| Reject::from_io(e, &path))?;
        let size = file.metadata().map_err(|e| Reject::from_io(e, &path))?.len();
        let (status, start, len) = match parse_range(range.as_deref(), size) {
            RangeAnswer::Whole => (StatusCode::OK, 0, size),
            RangeAnswer::Partial { start, len } => (StatusCode::PARTIAL_CONTENT, start, len),
            RangeAnswer::Unsatisfiable => {
                return Ok((StatusCode::RANGE_NOT_SATISFIABLE, body::empty(), 0, 0, size));
            }
        };
        let body = if head {
            body::empty()
        } else if len <= SMALL_READ {
            let mut buf = vec![0u8; len as usize];
            use std::os::unix::fs::FileExt;
            file.read_exact_at(&mut buf, start).map_err(|e| Reject::from_io(e, &path))?;
            body::full(buf)
        } else {
            body::file_range(file, start, len)
        };
        Ok((status, body, start, len, size))
    })
    .await?;
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let cr = format!("bytes */{size}");
        h.insert(header::CONTENT_RANGE, cr.parse().map_err(|_| Reject::internal("bad Content-Range"))?);
        return Ok(r);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if status == StatusCode::PARTIAL_CONTENT {
        let cr = format!("bytes {start}-{}/{size}", start + len - 1);
        h.insert(header::CONTENT_RANGE, cr.parse().map_err(|_| Reject::internal("bad Content-Range"))?);
    }
    Ok(r)
}

/// Which hash names objects of `kind` in the repository at `dir`: cairn's
/// (BLAKE3) when its config is cairn's, restic's (SHA-256) when it is
/// another, either before there is one; pins are named by the snapshot.
fn name_check(dir: &Path, kind: Kind) -> NameCheck {
    if kind == Kind::Pins {
        return NameCheck::None;
    }
    let mut magic = [0u8; CONFIG_MAGIC.len()];
    match fs::File::open(dir.join(CONFIG_NAME)).and_then(|mut f| f.read_exact(&mut magic)) {
        Ok(()) if format::is_cairn_config(&magic) => NameCheck::Blake3,
        Ok(()) => NameCheck::Sha256,
        // A config shorter than the magic is not cairn's.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => NameCheck::Sha256,
        Err(_) => NameCheck::Either,
    }
}

async fn post_object(
    shared: &Shared,
    who: &Principal,
    dir: PathBuf,
    kind: Kind,
    id: Id,
    req: Request<Incoming>,
) -> Answer {
    // The policy decides what the server's own forget removes: a client of
    // an append-only server (an agent with the user's access among them)
    // must not be able to set `--keep-last 1` and have the server destroy
    // the history it cannot delete itself. It is set on the server.
    if shared.append_only && kind == Kind::Policy {
        return Err(Reject::forbidden(
            "the server is append-only: the retention policy is set on the server, not through it",
        ));
    }
    let limit = bound(kind);
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(upload::too_large(limit));
    }
    let d = dir.clone();
    let (spool, check) = in_repo(dir.clone(), move |backend| {
        let path = backend.path_of(kind.file_kind(), &id);
        // Checked first so an existing object costs no upload; the rename
        // below refuses it again should one appear meanwhile.
        if fs::symlink_metadata(&path).is_ok() {
            return Err(Reject::forbidden("the object exists; objects are never replaced"));
        }
        let spool = backend.create_spool(kind.file_kind()).map_err(Reject::from_backend)?;
        Ok((spool, name_check(&d, kind)))
    })
    .await?;
    let spool = upload::receive(req.into_body(), spool, limit, check, id, shared.body_timeout).await?;
    let d = dir.clone();
    blocking(move || {
        LocalBackend::new(d).create_from_spool(kind.file_kind(), &id, spool).map_err(Reject::from_backend)
    })
    .await?;
    if kind == Kind::Locks {
        shared.locks.created(&dir, id, who);
    }
    Ok(ok())
}

async fn delete_object(shared: &Shared, who: &Principal, dir: PathBuf, kind: Kind, id: Id) -> Answer {
    if shared.append_only && !(kind == Kind::Locks && shared.locks.owned_by(&dir, id, who)) {
        let what = if kind == Kind::Locks { "a lock that this client did not create" } else { "objects" };
        return Err(Reject::forbidden(format!("the server is append-only: it does not delete {what}")));
    }
    in_repo(dir.clone(), move |backend| {
        let path = backend.path_of(kind.file_kind(), &id);
        fs::symlink_metadata(&path).map_err(|e| Reject::from_io(e, &path))?;
        backend.remove(kind.file_kind(), &id).map_err(Reject::from_backend)
    })
    .await?;
    if kind == Kind::Locks {
        shared.locks.removed(&dir, id);
    }
    Ok(ok())
}

/// `ROOT/.cairn-serve/maintenance/NAME.json` (`_root.json` for the root).
pub fn report_path(root: &Path, repo: &RepoName) -> PathBuf {
    let name = match repo {
        RepoName::Root => "_root",
        RepoName::Named(n) => n,
    };
    root.join(".cairn-serve").join("maintenance").join(format!("{name}.json"))
}

async fn maintenance(root: PathBuf, repo: RepoName, head: bool) -> Answer {
    let path = report_path(&root, &repo);
    let bytes = blocking(move || {
        let mut bytes = Vec::new();
        let file = fs::File::open(&path).map_err(|e| Reject::from_io(e, &path))?;
        file.take(MAX_REPORT_LEN + 1).read_to_end(&mut bytes).map_err(|e| Reject::from_io(e, &path))?;
        if bytes.len() as u64 > MAX_REPORT_LEN {
            return Err(Reject::internal(format!("{} is larger than 64 KiB", path.display())));
        }
        Ok(bytes)
    })
    .await?;
    let len = bytes.len();
    let mut r = Response::new(if head { body::empty() } else { body::full(bytes) });
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(r)
}
