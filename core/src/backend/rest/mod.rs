//! The `rest:` backend: a repository served over restic's REST protocol
//! (version 2; `cairn serve` or restic's rest-server), as format-spec §9
//! describes it. Each trait call is one or two requests; failures to get
//! an answer and 5xx answers are retried with backoff, and every error
//! names the URL (password hidden) and what the server answered.

pub mod http;
pub mod location;

use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use base64::Engine;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};

use super::readahead::ReadAhead;
use super::{Backend, BackendError, BackendResult, FileKind, Op, Spool, is_id_name};
pub use crate::error::AppendOnlyRefusal;
use crate::format;
use crate::id::Id;
use http::{Answer, Client, ReqBody};
pub use location::{LocationError, RestLocation, is_rest};

/// The media type of a version 2 listing.
const V2: &str = "application/vnd.x.restic.rest.v2";
/// The header an append-only `cairn serve` sets on every answer.
pub const APPEND_ONLY_HEADER: &str = "x-cairn-append-only";
/// Waits between attempts of a request that got no answer or a 5xx.
const BACKOFF: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];
/// The largest listing read (about 100 bytes an entry: millions of files).
const MAX_LIST_LEN: u64 = 1 << 30;
/// The largest maintenance report (as the server bounds it).
const MAX_REPORT_LEN: u64 = 64 * 1024;

/// Credentials and trust roots that do not come from the location text.
#[derive(Clone, Debug, Default)]
pub struct RestOptions {
    /// `CAIRN_REST_USERNAME` / `CAIRN_REST_PASSWORD`, used when the
    /// location names no user.
    pub user: Option<String>,
    pub password: Option<String>,
    /// `CAIRN_CACERT`: a PEM file of extra trust roots for https.
    pub cacert: Option<std::path::PathBuf>,
}

impl RestOptions {
    pub fn from_environment() -> RestOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        RestOptions {
            user: var("CAIRN_REST_USERNAME"),
            password: var("CAIRN_REST_PASSWORD"),
            cacert: var("CAIRN_CACERT").map(Into::into),
        }
    }
}

#[derive(Debug)]
pub struct RestBackend {
    location: RestLocation,
    /// The location as shown (password hidden).
    shown: String,
    authorization: Option<HeaderValue>,
    client: Client,
    append_only: AtomicBool,
    read_ahead: ReadAhead,
}

impl RestBackend {
    pub fn new(mut location: RestLocation, options: &RestOptions) -> io::Result<RestBackend> {
        if location.user.is_none() {
            location.user.clone_from(&options.user);
            location.password.clone_from(&options.password);
        }
        let authorization = match &location.user {
            None => None,
            Some(user) => {
                let pair = format!("{user}:{}", location.password.as_deref().unwrap_or(""));
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
                let mut value = HeaderValue::from_str(&value).map_err(io::Error::other)?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let client = Client::new(&location, options.cacert.as_deref())?;
        Ok(RestBackend {
            shown: location.redacted(),
            location,
            authorization,
            client,
            append_only: AtomicBool::new(false),
            read_ahead: ReadAhead::default(),
        })
    }

    /// The URL of `tail` (`data/<id>`, `config`, `keys/`) for messages.
    fn url(&self, tail: &str) -> String {
        format!("{}{tail}", self.shown)
    }

    fn path_of(kind: FileKind, id: &Id) -> String {
        format!("{}/{}", kind.folder(), id.to_hex())
    }

    /// One request, retried (with backoff) while it gets no answer or a
    /// 5xx/408/429 one. Returns the answer and whether an earlier attempt
    /// may have reached the server.
    fn request(
        &self,
        op: Op,
        method: Method,
        tail: &str,
        headers: &[(header::HeaderName, String)],
        body: &dyn Fn() -> io::Result<ReqBody>,
        limit: u64,
    ) -> BackendResult<(Answer, bool)> {
        let uri = format!("{}{tail}", self.location.prefix);
        let mut last_failure = String::new();
        let mut unreachable = false;
        for attempt in 0..=BACKOFF.len() {
            if attempt > 0 {
                std::thread::sleep(BACKOFF[attempt - 1]);
            }
            let body = body().map_err(|e| BackendError::new(op, self.url(tail), e))?;
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header(header::HOST, self.location.host_header())
                .header(header::CONTENT_LENGTH, body.len());
            if let Some(auth) = &self.authorization {
                builder = builder.header(header::AUTHORIZATION, auth.clone());
            }
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            let request = builder.body(body).map_err(|e| BackendError::new(op, self.url(tail), io::Error::other(e)))?;
            match self.client.exchange(request, limit) {
                Ok(answer) => {
                    self.note_append_only(&answer);
                    let status = answer.status;
                    let transient = status.is_server_error()
                        || status == StatusCode::REQUEST_TIMEOUT
                        || status == StatusCode::TOO_MANY_REQUESTS;
                    if !transient || attempt == BACKOFF.len() {
                        return Ok((answer, attempt > 0));
                    }
                    last_failure = describe(&answer);
                    unreachable = false;
                }
                // An answer too long is no transient failure.
                Err(e) if e.kind() == ErrorKind::InvalidData => {
                    return Err(BackendError::new(op, self.url(tail), e));
                }
                Err(e) => {
                    last_failure = e.to_string();
                    unreachable = true;
                }
            }
        }
        // A server that never answered is most often one that is not running.
        let hint = if unreachable { "; is `cairn serve` (or the REST server) running there?" } else { "" };
        let e = io::Error::new(
            ErrorKind::ConnectionAborted,
            format!("no answer from the server after {} attempts: {last_failure}{hint}", BACKOFF.len() + 1),
        );
        Err(BackendError::new(op, self.url(tail), e))
    }

    fn get(&self, op: Op, tail: &str, headers: &[(header::HeaderName, String)], limit: u64) -> BackendResult<Answer> {
        Ok(self.request(op, Method::GET, tail, headers, &|| Ok(ReqBody::Empty), limit)?.0)
    }

    /// HEAD `tail`: its size, or `None` when the server says 404.
    fn head(&self, op: Op, tail: &str) -> BackendResult<Option<u64>> {
        let (answer, _) = self.request(op, Method::HEAD, tail, &[], &|| Ok(ReqBody::Empty), 0)?;
        match answer.status {
            StatusCode::OK => Ok(Some(content_length(&answer).unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.failure(op, tail, &answer)),
        }
    }

    fn note_append_only(&self, answer: &Answer) {
        if answer.headers.get(APPEND_ONLY_HEADER).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")) {
            self.append_only.store(true, Ordering::Relaxed);
        }
    }

    /// The error for an answer that is not the one hoped for.
    fn failure(&self, op: Op, tail: &str, answer: &Answer) -> BackendError {
        let kind = match answer.status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::CONFLICT => ErrorKind::AlreadyExists,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => ErrorKind::PermissionDenied,
            StatusCode::RANGE_NOT_SATISFIABLE => ErrorKind::UnexpectedEof,
            _ => ErrorKind::Other,
        };
        let mut text = format!("the server answered {}", describe(answer));
        text.push_str(&hint(op, tail, answer.status, self.authorization.is_some()));
        BackendError::new(op, self.url(tail), io::Error::new(kind, text))
    }

    /// POST a new file (or the config). A 403 means the name exists (in
    /// every mode) or the principal may not write: a HEAD tells them apart.
    fn create_at(&self, tail: &str, body: &dyn Fn() -> io::Result<ReqBody>) -> BackendResult<()> {
        let (answer, retried) = self.request(Op::Create, Method::POST, tail, &[], body, MAX_REPORT_LEN)?;
        match answer.status {
            StatusCode::OK | StatusCode::CREATED | StatusCode::NO_CONTENT => Ok(()),
            StatusCode::FORBIDDEN | StatusCode::CONFLICT => match self.head(Op::Create, tail)? {
                // An earlier attempt whose answer was lost stored it.
                Some(_) if retried => Ok(()),
                Some(_) => Err(BackendError::new(
                    Op::Create,
                    self.url(tail),
                    io::Error::new(ErrorKind::AlreadyExists, "the server has a file of that name"),
                )),
                None => Err(self.failure(Op::Create, tail, &answer)),
            },
            _ => Err(self.failure(Op::Create, tail, &answer)),
        }
    }

    fn list_entries(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        let tail = format!("{}/", kind.folder());
        let answer = self.get(Op::List, &tail, &[(header::ACCEPT, V2.to_string())], MAX_LIST_LEN)?;
        match answer.status {
            StatusCode::OK => {}
            // A folder that is not there (dropped by a copy) holds nothing.
            StatusCode::NOT_FOUND => return Ok(Vec::new()),
            // A server that knows only restic's types (restic's rest-server)
            // reads `pins/` and `policy/` as a nested repository and answers
            // 405: it holds none of cairn's own kinds.
            StatusCode::METHOD_NOT_ALLOWED if is_cairn_only(kind) => return Ok(Vec::new()),
            _ => return Err(self.failure(Op::List, &tail, &answer)),
        }
        let is_v2 = answer.headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(V2.as_bytes()));
        let unparsable = |e: serde_json::Error| {
            BackendError::new(
                Op::List,
                self.url(&tail),
                io::Error::new(ErrorKind::InvalidData, format!("the server's listing is not valid JSON: {e}")),
            )
        };
        let mut out = Vec::new();
        if is_v2 {
            let entries: Vec<ListEntry> = serde_json::from_slice(&answer.body).map_err(unparsable)?;
            for entry in entries {
                if let Some(id) = id_of(&entry.name) {
                    let time = entry.mtime_ns.map(|ns| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns));
                    out.push((id, entry.size, time));
                }
            }
        } else {
            // Version 1 lists names only: each size is a HEAD away.
            let names: Vec<String> = serde_json::from_slice(&answer.body).map_err(unparsable)?;
            for id in names.iter().filter_map(|n| id_of(n)) {
                if let Some(size) = self.head(Op::List, &Self::path_of(kind, &id))? {
                    out.push((id, size, None));
                }
            }
        }
        out.sort_by_key(|(id, _, _)| *id);
        out.dedup_by_key(|(id, _, _)| *id);
        Ok(out)
    }

    /// GET `tail` with a `Range` header; the answer must be 206 or 200.
    fn get_range(&self, kind: FileKind, id: &Id, range: String, limit: u64) -> BackendResult<Answer> {
        let tail = Self::path_of(kind, id);
        let answer = self.get(Op::Read, &tail, &[(header::RANGE, range)], limit)?;
        match answer.status {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(answer),
            _ => Err(self.failure(Op::Read, &tail, &answer)),
        }
    }

    fn eof(&self, kind: FileKind, id: &Id, what: String) -> BackendError {
        BackendError::new(Op::Read, self.url(&Self::path_of(kind, id)), io::Error::new(ErrorKind::UnexpectedEof, what))
    }
}

#[derive(serde::Deserialize)]
struct ListEntry {
    name: String,
    size: u64,
    /// cairn's extension: the storage's modification time.
    #[serde(default)]
    mtime_ns: Option<u64>,
}

fn id_of(name: &str) -> Option<Id> {
    if is_id_name(name) { Id::from_hex(name).ok() } else { None }
}

fn content_length(answer: &Answer) -> Option<u64> {
    answer.headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The total size in `Content-Range: bytes A-B/TOTAL`.
fn range_total(answer: &Answer) -> Option<u64> {
    let value = answer.headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    value.rsplit_once('/')?.1.trim().parse().ok()
}

/// `404 Not Found: no such file`: the status and the body's first line,
/// printable and short (the body comes from the server, trusted or not).
fn describe(answer: &Answer) -> String {
    let line = String::from_utf8_lossy(&answer.body);
    let line: String = line.lines().next().unwrap_or("").trim().chars().filter(|c| !c.is_control()).take(200).collect();
    if line.is_empty() { answer.status.to_string() } else { format!("{}: {line}", answer.status) }
}

impl Backend for RestBackend {
    fn location(&self) -> String {
        self.shown.clone()
    }

    /// restic's rest-server creates the layout over an existing one
    /// without complaint, so the client looks first: a config or a key
    /// there means the location is taken.
    fn create_layout(&self) -> BackendResult<()> {
        let taken = |what: &str| {
            BackendError::new(
                Op::Layout,
                self.shown.clone(),
                io::Error::new(ErrorKind::AlreadyExists, format!("it already holds {what}")),
            )
        };
        if self.head(Op::Layout, "config")?.is_some() {
            return Err(taken("a repository"));
        }
        if !self.list(FileKind::Key)?.is_empty() {
            return Err(taken("keys"));
        }
        let (answer, _) =
            self.request(Op::Layout, Method::POST, "?create=true", &[], &|| Ok(ReqBody::Empty), MAX_REPORT_LEN)?;
        match answer.status {
            StatusCode::OK | StatusCode::CREATED => Ok(()),
            _ => Err(self.failure(Op::Layout, "", &answer)),
        }
    }

    fn list(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64)>> {
        Ok(self.list_entries(kind)?.into_iter().map(|(id, size, _)| (id, size)).collect())
    }

    fn list_times(&self, kind: FileKind) -> BackendResult<Vec<(Id, u64, Option<SystemTime>)>> {
        self.list_entries(kind)
    }

    fn read(&self, kind: FileKind, id: &Id) -> BackendResult<Vec<u8>> {
        let tail = Self::path_of(kind, id);
        let answer = self.get(Op::Read, &tail, &[], kind.max_len())?;
        match answer.status {
            StatusCode::OK => Ok(answer.body.into()),
            _ => Err(self.failure(Op::Read, &tail, &answer)),
        }
    }

    fn read_range(&self, kind: FileKind, id: &Id, offset: u64, len: usize) -> BackendResult<Vec<u8>> {
        let past_end = || self.eof(kind, id, format!("{len} bytes at {offset} reach past the end"));
        let end = offset.checked_add(len as u64).ok_or_else(past_end)?;
        if len == 0 {
            // No byte to ask for: only whether the file exists and is long enough.
            let size = self.head(Op::Read, &Self::path_of(kind, id))?;
            return match size {
                None => Err(self.failure_not_found(kind, id)),
                Some(size) if offset > size => Err(past_end()),
                Some(_) => Ok(Vec::new()),
            };
        }
        if ReadAhead::applies(kind, len) {
            // The server stops the window at the end of the file.
            let fetch = |start: u64, window_len: u64| {
                let range = format!("bytes={start}-{}", start + window_len - 1);
                let answer = self.get_range(kind, id, range, window_len)?;
                if answer.status != StatusCode::PARTIAL_CONTENT {
                    return Err(past_end());
                }
                Ok(answer.body)
            };
            return self.read_ahead.read_through(kind, id, offset, len, fetch)?.ok_or_else(past_end);
        }
        // A server that ignores ranges and sends more than asked is refused
        // (InvalidData) rather than read whole.
        let answer = self.get_range(kind, id, format!("bytes={offset}-{}", end - 1), len as u64)?;
        let bytes: Vec<u8> = if answer.status == StatusCode::OK {
            let whole = answer.body;
            if (whole.len() as u64) < end {
                return Err(past_end());
            }
            whole[offset as usize..end as usize].to_vec()
        } else {
            answer.body.into()
        };
        if bytes.len() != len {
            return Err(past_end());
        }
        Ok(bytes)
    }

    fn read_tail(&self, kind: FileKind, id: &Id, len: u64) -> BackendResult<(Vec<u8>, u64)> {
        let tail = Self::path_of(kind, id);
        // Go's parser (restic's rest-server) takes at most an int64.
        let len = len.min(kind.max_len()).min(i64::MAX as u64);
        if len == 0 {
            return match self.head(Op::Read, &tail)? {
                Some(size) => Ok((Vec::new(), size)),
                None => Err(self.failure_not_found(kind, id)),
            };
        }
        let answer = self.get(Op::Read, &tail, &[(header::RANGE, format!("bytes=-{len}"))], len.max(kind.max_len()))?;
        match answer.status {
            StatusCode::PARTIAL_CONTENT => {
                let total = range_total(&answer)
                    .ok_or_else(|| self.eof(kind, id, "the server's 206 answer has no Content-Range total".into()))?;
                if answer.body.len() as u64 > len || total < answer.body.len() as u64 {
                    return Err(self.eof(kind, id, "the server's 206 answer does not match its Content-Range".into()));
                }
                Ok((answer.body.into(), total))
            }
            // The whole file (shorter than asked, or ranges ignored).
            StatusCode::OK => {
                let total = answer.body.len() as u64;
                let start = total.saturating_sub(len) as usize;
                Ok((answer.body[start..].to_vec(), total))
            }
            // A suffix of an empty file cannot be satisfied.
            StatusCode::RANGE_NOT_SATISFIABLE => match self.head(Op::Read, &tail)? {
                Some(0) => Ok((Vec::new(), 0)),
                _ => Err(self.failure(Op::Read, &tail, &answer)),
            },
            _ => Err(self.failure(Op::Read, &tail, &answer)),
        }
    }

    fn create(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> BackendResult<()> {
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.create_at(&Self::path_of(kind, id), &|| Ok(ReqBody::Bytes(Some(body.clone()))))
    }

    /// Streams the spool: a pack is never held in memory whole.
    fn create_from_spool(&self, kind: FileKind, id: &Id, spool: Spool) -> BackendResult<()> {
        let path = spool.path().to_path_buf();
        self.create_at(&Self::path_of(kind, id), &|| ReqBody::file(&path).map(|(body, _)| body))
        // Dropping the spool removes it, whatever the outcome.
    }

    fn remove(&self, kind: FileKind, id: &Id) -> BackendResult<()> {
        self.read_ahead.forget(kind, id);
        let tail = Self::path_of(kind, id);
        let (answer, _) =
            self.request(Op::Remove, Method::DELETE, &tail, &[], &|| Ok(ReqBody::Empty), MAX_REPORT_LEN)?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            StatusCode::FORBIDDEN => {
                let refusal = AppendOnlyRefusal { location: self.shown.clone(), answer: describe(&answer) };
                Err(BackendError::new(
                    Op::Remove,
                    self.url(&tail),
                    io::Error::new(ErrorKind::PermissionDenied, refusal),
                ))
            }
            _ => Err(self.failure(Op::Remove, &tail, &answer)),
        }
    }

    fn read_config(&self) -> BackendResult<Vec<u8>> {
        let answer = self.get(Op::Read, "config", &[], format::MAX_CONFIG_FILE_LEN + 1)?;
        match answer.status {
            StatusCode::OK => Ok(answer.body.into()),
            _ => Err(self.failure(Op::Read, "config", &answer)),
        }
    }

    fn create_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.create_at("config", &|| Ok(ReqBody::Bytes(Some(body.clone()))))
    }

    /// cairn's extension: `PUT config` replaces it (the format upgrade).
    fn replace_config(&self, bytes: &[u8]) -> BackendResult<()> {
        let body = bytes::Bytes::copy_from_slice(bytes);
        let (answer, _) = self.request(
            Op::Create,
            Method::PUT,
            "config",
            &[],
            &|| Ok(ReqBody::Bytes(Some(body.clone()))),
            MAX_REPORT_LEN,
        )?;
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            _ => Err(self.failure(Op::Create, "config", &answer)),
        }
    }

    fn append_only(&self) -> bool {
        self.append_only.load(Ordering::Relaxed)
    }

    /// cairn's extension: `GET P cairn/maintenance`; a server without it
    /// (restic's rest-server) answers 404 or 400: no report.
    fn server_report(&self) -> BackendResult<Option<Vec<u8>>> {
        let tail = "cairn/maintenance";
        let answer = self.get(Op::Read, tail, &[], MAX_REPORT_LEN)?;
        match answer.status {
            StatusCode::OK => Ok(Some(answer.body.into())),
            StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => Ok(None),
            _ => Err(self.failure(Op::Read, tail, &answer)),
        }
    }
}

impl RestBackend {
    fn failure_not_found(&self, kind: FileKind, id: &Id) -> BackendError {
        BackendError::new(
            Op::Read,
            self.url(&Self::path_of(kind, id)),
            io::Error::new(ErrorKind::NotFound, "the server answered 404 Not Found"),
        )
    }
}

/// The kinds restic's REST protocol does not have (cairn's extensions).
fn is_cairn_only(kind: FileKind) -> bool {
    matches!(kind, FileKind::Pin | FileKind::Policy)
}

/// What the user can do about a refusal, where the status and request say
/// more than the server's text (restic's rest-server answers bare reasons).
fn hint(op: Op, tail: &str, status: StatusCode, credentials_given: bool) -> String {
    let cairn_only = tail.starts_with("pins/") || tail.starts_with("policy/");
    match status {
        StatusCode::UNAUTHORIZED if credentials_given => String::from(
            "; the server refused the user and password given (in the location or in CAIRN_REST_USERNAME and CAIRN_REST_PASSWORD)",
        ),
        StatusCode::UNAUTHORIZED => String::from(
            "; give the user and password in the location (rest:http://USER:PASSWORD@HOST:PORT/NAME/) or in \
             CAIRN_REST_USERNAME and CAIRN_REST_PASSWORD",
        ),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED if cairn_only && op == Op::Create => String::from(
            "; this server does not store cairn's pins and policies (restic's rest-server knows only restic's \
             types): use `cairn serve` for them",
        ),
        StatusCode::BAD_REQUEST if op == Op::Create => String::from(
            "; if this is restic's rest-server, it checks that every name is the SHA-256 of the contents while \
             cairn names files by BLAKE3: start it with --no-verify-upload, or use `cairn serve`",
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
