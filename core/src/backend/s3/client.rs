//! The S3 client under the `s3:` backend: an opendal operator (S3 service,
//! with retries and timeouts) driven from a tokio runtime of its own, so
//! that the synchronous `Backend` calls block on one request at a time.
//! Also the mapping of opendal's errors to one clear line each.

use std::io::{self, ErrorKind};
use std::time::Duration;

use futures_util::StreamExt;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{Error as OdError, ErrorKind as OdKind, HttpTransporter, OperationContext, Operator};

use super::location::S3Location;

/// Attempts of a request (the first and five retries) and their backoff.
const MAX_RETRIES: usize = 5;
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// A request that does not finish in this long is abandoned (and retried);
/// an upload or download whose bytes stop flowing for `IO_TIMEOUT` too.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How buckets are addressed (`CAIRN_S3_BUCKET_LOOKUP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketLookup {
    /// `https://BUCKET.HOST/KEY` on AWS, `https://HOST/BUCKET/KEY` elsewhere.
    Auto,
    Path,
    Dns,
}

/// Settings that do not come from the location text.
#[derive(Clone, Debug)]
pub struct S3Options {
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    pub lookup: BucketLookup,
    /// Files above this size are uploaded in parts (`CAIRN_S3_MULTIPART_THRESHOLD`).
    pub multipart_threshold: u64,
    /// Keys given here rather than found by opendal (tests); `None`: the
    /// AWS environment variables, then the shared profile files.
    pub credentials: Option<(String, String)>,
}

/// The part size of a multipart upload (and the default threshold).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// S3's smallest part (all but the last).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

impl S3Options {
    pub fn from_environment() -> Result<S3Options, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
        let lookup = match var("CAIRN_S3_BUCKET_LOOKUP").as_deref() {
            None | Some("auto") => BucketLookup::Auto,
            Some("path") => BucketLookup::Path,
            Some("dns") => BucketLookup::Dns,
            Some(other) => return Err(format!("CAIRN_S3_BUCKET_LOOKUP={other:?}: expected auto, path or dns")),
        };
        let multipart_threshold = match var("CAIRN_S3_MULTIPART_THRESHOLD") {
            None => PART_SIZE,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n >= MIN_PART_SIZE).ok_or_else(|| {
                format!("CAIRN_S3_MULTIPART_THRESHOLD={v:?}: expected a byte count of at least {MIN_PART_SIZE}")
            })?,
        };
        Ok(S3Options { region, lookup, multipart_threshold, credentials: None })
    }
}

/// Whether buckets are addressed as `BUCKET.HOST` (else `HOST/BUCKET`).
pub fn virtual_host(location: &S3Location, options: &S3Options) -> bool {
    match options.lookup {
        BucketLookup::Auto => location.is_aws(),
        BucketLookup::Path => false,
        BucketLookup::Dns => true,
    }
}

/// The operator and the runtime it runs on.
#[derive(Debug)]
pub struct Client {
    pub operator: Operator,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(location: &S3Location, options: &S3Options) -> io::Result<Client> {
        // reqwest's TLS runs on rustls with the provider cairn already
        // uses (ring); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The process-wide HTTP transport (first install wins; idempotent).
        opendal_http_transport_reqwest::install_default();
        let mut builder = opendal::services::S3::default()
            .bucket(&location.bucket)
            .endpoint(&location.endpoint())
            .region(&options.region)
            .root("/")
            // The server checks every upload's bytes against this.
            .checksum_algorithm("crc32c")
            // No instance-metadata probing on a laptop (a slow timeout
            // when there are no credentials); env and profile files stay.
            .disable_ec2_metadata();
        let dns = virtual_host(location, options);
        if let Some((key, secret)) = &options.credentials {
            builder = builder.access_key_id(key).secret_access_key(secret);
        }
        if dns {
            builder = builder.enable_virtual_host_style();
        }
        let operator = Operator::new(builder)
            .map_err(|e| io::Error::other(e.to_string()))?
            .layer(TimeoutLayer::new().with_timeout(REQUEST_TIMEOUT).with_io_timeout(IO_TIMEOUT))
            .layer(
                RetryLayer::new()
                    .with_max_times(MAX_RETRIES)
                    .with_min_delay(MIN_BACKOFF)
                    .with_max_delay(MAX_BACKOFF)
                    .with_jitter(),
            )
            // Content-MD5 on uploads (buckets with Object Lock require it).
            .with_context(OperationContext::new().with_http_transport(HttpTransporter::new(super::lock::ContentMd5)));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-s3")
            .enable_all()
            .build()?;
        Ok(Client { operator, runtime })
    }

    /// Runs one request (or a few) to completion.
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        self.runtime.block_on(future.into_future())
    }

    /// GET `key`: exactly `limit` bytes from `offset` (`Bound::Exact`, a
    /// ranged GET; opendal refuses an answer of another length), else the
    /// whole object. Never more than `limit` bytes are kept: the answer is
    /// refused (`InvalidData`) or cut as soon as it holds more, so a server
    /// that ignores the range is never buffered beyond the bound.
    pub async fn read_bounded(&self, key: &str, offset: u64, limit: u64, bound: Bound) -> Result<Vec<u8>, Failure> {
        let reader = self.operator.reader(key).await?;
        let mut stream = if matches!(bound, Bound::Exact | Bound::UpTo) {
            reader.into_stream(offset..offset.saturating_add(limit)).await?
        } else {
            reader.into_stream(offset..).await?
        };
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                // opendal's check, at the end, that the range was complete:
                // every byte the object has in it has arrived.
                Err(e) if bound == Bound::UpTo && ends_short(&e) => return Ok(out),
                other => other?,
            };
            for bytes in chunk {
                let room = (limit - out.len() as u64) as usize;
                if bytes.len() > room {
                    if bound == Bound::Cut {
                        out.extend_from_slice(&bytes[..room]);
                        return Ok(out);
                    }
                    return Err(Failure::TooLong(limit));
                }
                out.extend_from_slice(&bytes);
            }
        }
        Ok(out)
    }
}

/// How `Client::read_bounded` treats its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A range of exactly `limit` bytes.
    Exact,
    /// The whole object; more than `limit` bytes is an error.
    AtMost,
    /// The whole object's first `limit` bytes (the rest is not read).
    Cut,
    /// A range of `limit` bytes, or fewer where the object ends first.
    UpTo,
}

/// A failed request: opendal's error, or an answer longer than asked.
#[derive(Debug)]
pub enum Failure {
    Od(OdError),
    TooLong(u64),
}

impl From<OdError> for Failure {
    fn from(e: OdError) -> Self {
        Failure::Od(e)
    }
}

impl Failure {
    /// A ranged answer shorter than the range (the object ends first).
    pub fn is_short(&self) -> bool {
        matches!(self, Failure::Od(e) if ends_short(e))
    }

    pub fn kind(&self) -> Option<OdKind> {
        match self {
            Failure::Od(e) => Some(e.kind()),
            Failure::TooLong(_) => None,
        }
    }

    /// One clear line, with the io kind callers test (`NotFound`,
    /// `AlreadyExists`, `PermissionDenied`, `UnexpectedEof`).
    pub fn into_io(self, bucket: &str) -> io::Error {
        let e = match self {
            Failure::TooLong(limit) => {
                return io::Error::new(
                    ErrorKind::InvalidData,
                    format!("the server sent more than the {limit} bytes asked"),
                );
            }
            Failure::Od(e) => e,
        };
        let text = e.to_string();
        // A missing bucket is no missing file: said as such, and never
        // `NotFound` (a listing would read it as an empty folder).
        if text.contains("NoSuchBucket") {
            return io::Error::other(no_such_bucket(bucket));
        }
        let (kind, what) = match e.kind() {
            OdKind::NotFound => (ErrorKind::NotFound, "not found".to_string()),
            OdKind::PermissionDenied => {
                (ErrorKind::PermissionDenied, access_denied(bucket, s3_code(&text).unwrap_or("AccessDenied")))
            }
            // opendal signs with what it found: nothing usable.
            OdKind::Unexpected if e.message().contains("sign") && e.message().contains("request") => (
                ErrorKind::PermissionDenied,
                "no AWS credentials found to sign the request: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or AWS_PROFILE (with ~/.aws/credentials)"
                    .to_string(),
            ),
            OdKind::ConditionNotMatch | OdKind::AlreadyExists => {
                (ErrorKind::AlreadyExists, "the bucket already holds an object of that name".into())
            }
            OdKind::RangeNotSatisfied => (ErrorKind::UnexpectedEof, "the range reaches past the end".into()),
            // opendal's check of a ranged answer's length: the object ends
            // before the range does.
            OdKind::Unexpected if e.message().contains("got too little data") => {
                (ErrorKind::UnexpectedEof, "the range reaches past the end".into())
            }
            OdKind::ConfigInvalid => (ErrorKind::InvalidInput, format!("invalid S3 settings: {}", e.message())),
            _ => (ErrorKind::Other, summary(&e, &text)),
        };
        io::Error::new(kind, what)
    }
}

/// opendal's complaint that a ranged answer held fewer bytes than the
/// range: the object ends first.
fn ends_short(e: &OdError) -> bool {
    e.kind() == OdKind::Unexpected && e.message().contains("got too little data")
}

/// The S3 error code in an answer's text (`<Code>InvalidAccessKeyId</Code>`).
pub(super) fn s3_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")?;
    Some(text[start..start + end].trim())
}

/// The line for a bucket the server does not have.
pub(super) fn no_such_bucket(bucket: &str) -> String {
    format!("bucket {bucket} does not exist: create it first (cairn does not create buckets)")
}

/// The line for a request the server refused (403), `what` naming it.
pub(super) fn access_denied(bucket: &str, what: &str) -> String {
    format!(
        "access denied: check AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and \
         their rights on bucket {bucket} ({what})"
    )
}

/// A short, printable line for an unexpected failure: opendal's message and
/// the S3 error code, without the request's full context.
fn summary(e: &OdError, text: &str) -> String {
    let mut line: String = e.message().chars().filter(|c| !c.is_control()).take(300).collect();
    if let Some(code) = s3_code(text) {
        line.push_str(&format!(" ({code})"));
    }
    if e.is_temporary() || text.contains("persistent") {
        line.push_str("; gave up after retries: is the S3 server reachable?");
    }
    line
}
