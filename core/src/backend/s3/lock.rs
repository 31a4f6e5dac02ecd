//! The bucket's Object Lock configuration, read and written with the two
//! bucket-level requests opendal 0.59 does not make:
//! `GET /?object-lock` (GetObjectLockConfiguration) and `PUT /?object-lock`
//! (PutObjectLockConfiguration). They are signed with the signer crates
//! opendal itself uses (reqsign, AWS SigV4), with the same credentials
//! (given keys, else the AWS environment variables and profile files),
//! region, endpoint and addressing as the operator, and sent over opendal's
//! installed HTTP transport (reqwest): no second HTTP stack.
//!
//! The configuration is read once per process and kept: prune asks about
//! every file it deletes, and the answer cannot change under a running
//! process in a way that matters (a retention only ever applies to objects
//! uploaded after it is set). What the storage-neutral part does with it is
//! in `backend::object_lock`.

use std::io::{self, ErrorKind};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{Method, Request};
use opendal::raw::oio::ReadStream;
use opendal::{Buffer, HttpTransporter};
use reqsign_aws_v4::{Credential, DefaultCredentialProvider, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, OsEnv, ProvideCredentialChain, Signer};
use reqsign_file_read_tokio::TokioFileRead;

use super::client::{Client, S3Options, access_denied, no_such_bucket, s3_code};
use super::location::S3Location;
use crate::backend::object_lock::{LockConfiguration, MAX_CONFIGURATION_LEN, Retention, parse_configuration};
use crate::backend::{BackendError, BackendResult, Op};

/// One request, its answer included, is abandoned after this long.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of the GET on a connection error or a 5xx (the PUT is sent once:
/// `init` is simply run again).
const GET_ATTEMPTS: u32 = 3;

/// The bucket's Object Lock requests and the configuration read.
pub struct LockRequests {
    signer: Signer<Credential>,
    /// `http://HOST/BUCKET?object-lock` or `https://BUCKET.HOST/?object-lock`.
    url: String,
    /// The bucket as shown in messages (`s3:http://HOST/BUCKET`).
    shown: String,
    bucket: String,
    known: Mutex<Option<LockConfiguration>>,
}

impl std::fmt::Debug for LockRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockRequests").field("url", &self.url).finish_non_exhaustive()
    }
}

/// What one request got: the status, the S3 error code where there is one,
/// and the body (at most `MAX_CONFIGURATION_LEN` bytes).
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        s3_code(std::str::from_utf8(&self.body).ok()?)
    }
}

impl LockRequests {
    /// The signer as opendal builds it for the operator (`dns`: virtual-host
    /// addressing): keys given in `options`, else the default chain
    /// (environment, profile files; no instance metadata, as the operator).
    pub fn new(location: &S3Location, options: &S3Options, dns: bool) -> LockRequests {
        let ctx =
            Context::new().with_file_read(TokioFileRead).with_http_send(HttpTransporter::default()).with_env(OsEnv);
        let mut chain = ProvideCredentialChain::new().push(DefaultCredentialProvider::builder().no_imds().build());
        if let Some((key, secret)) = &options.credentials {
            chain = chain.push_front(StaticCredentialProvider::new(key, secret));
        }
        let signer = Signer::new(ctx, chain, RequestSigner::new("s3", &options.region));
        let scheme = if location.tls { "https" } else { "http" };
        let url = if dns {
            format!("{scheme}://{}.{}/?object-lock", location.bucket, location.host)
        } else {
            format!("{scheme}://{}/{}?object-lock", location.host, location.bucket)
        };
        LockRequests {
            signer,
            url,
            shown: format!("s3:{}/{}", location.endpoint(), location.bucket),
            bucket: location.bucket.clone(),
            known: Mutex::new(None),
        }
    }

    /// The bucket's configuration, asked once per process. A bucket without
    /// Object Lock (`ObjectLockConfigurationNotFoundError`), and a server
    /// without the request (400/405/501), has no lock. So do credentials
    /// not allowed to read it (403): cairn then deletes as it does in any
    /// bucket, and the storage still refuses what it retains.
    pub fn configuration(&self, client: &Client) -> BackendResult<LockConfiguration> {
        if let Some(known) = *self.known.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(known);
        }
        let found = self.read(client, false)?;
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
        Ok(found)
    }

    /// GetObjectLockConfiguration; `strict`: a refusal (403) or a server
    /// without the request is an error, not "no lock" (`init` must know).
    fn read(&self, client: &Client, strict: bool) -> BackendResult<LockConfiguration> {
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            match client.block_on(self.send(Method::GET, None)) {
                Ok(a) if a.status < 500 || attempt >= GET_ATTEMPTS => break a,
                Err(_) if attempt < GET_ATTEMPTS => {}
                Err(e) => return Err(self.error(Op::Read, ErrorKind::Other, e)),
                Ok(_) => {}
            }
            std::thread::sleep(Duration::from_millis(200 << attempt));
        };
        match (answer.status, answer.code()) {
            (200, _) => parse_configuration(&answer.body).map_err(|e| self.error(Op::Read, ErrorKind::InvalidData, e)),
            (_, Some("ObjectLockConfigurationNotFoundError")) => Ok(LockConfiguration::NotEnabled),
            (_, Some("NoSuchBucket")) => Err(self.error(Op::Read, ErrorKind::Other, no_such_bucket(&self.bucket))),
            (400 | 405 | 501, _) if !strict => Ok(LockConfiguration::NotEnabled),
            (403, _) if !strict => Ok(LockConfiguration::NotEnabled),
            _ => Err(self.refused(Op::Read, "GetObjectLockConfiguration", &answer)),
        }
    }

    /// PutObjectLockConfiguration with `retention` as the bucket's default,
    /// after a GET that finds Object Lock enabled: cairn never turns it on
    /// (a bucket is created with it, which also makes it versioned).
    pub fn set_default(&self, client: &Client, retention: Retention) -> BackendResult<()> {
        if self.read(client, true)? == LockConfiguration::NotEnabled {
            return Err(self.error(
                Op::Create,
                ErrorKind::Unsupported,
                format!(
                    "bucket {} was not created with Object Lock enabled: create it with \
                     `--object-lock-enabled-for-bucket` (aws s3api create-bucket) or the console's \
                     \"Object Lock\" setting, then run init again (nothing was created)",
                    self.bucket
                ),
            ));
        }
        let answer = client
            .block_on(self.send(Method::PUT, Some(retention.to_xml().into_bytes())))
            .map_err(|e| self.error(Op::Create, ErrorKind::Other, e))?;
        if answer.status != 200 {
            return Err(self.refused(Op::Create, "PutObjectLockConfiguration", &answer));
        }
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = Some(LockConfiguration::Default(retention));
        Ok(())
    }

    /// Signs and sends one request; the answer's body is read to at most
    /// `MAX_CONFIGURATION_LEN` bytes (a longer one is refused unread).
    async fn send(&self, method: Method, body: Option<Vec<u8>>) -> Result<Answer, String> {
        let request = async {
            let mut builder = Request::builder().method(method).uri(&self.url);
            let body = match body {
                Some(bytes) => {
                    // S3 requires an integrity header on this request.
                    builder = builder
                        .header("Content-MD5", opendal::raw::format_content_md5(&bytes))
                        .header(CONTENT_TYPE, "application/xml")
                        .header(CONTENT_LENGTH, bytes.len());
                    Buffer::from(Bytes::from(bytes))
                }
                None => Buffer::new(),
            };
            let (mut parts, body) = builder.body(body).map_err(|e| format!("building the request: {e}"))?.into_parts();
            self.signer.sign(&mut parts, None).await.map_err(|e| format!("signing the request: {e}"))?;
            // As opendal does: the transport sets Host for its HTTP version.
            parts.headers.remove(HOST);
            let answer = HttpTransporter::default()
                .fetch(Request::from_parts(parts, body))
                .await
                .map_err(|e| format!("{}: is the S3 server reachable?", e.message()))?;
            let status = answer.status().as_u16();
            let mut stream = answer.into_body();
            let mut out = Vec::new();
            loop {
                let chunk = stream.read().await.map_err(|e| format!("reading the answer: {}", e.message()))?;
                if chunk.is_empty() {
                    break;
                }
                if out.len() + chunk.len() > MAX_CONFIGURATION_LEN {
                    return Err(format!("an answer longer than {MAX_CONFIGURATION_LEN} bytes"));
                }
                out.extend_from_slice(&chunk.to_bytes());
            }
            Ok(Answer { status, body: out })
        };
        tokio::time::timeout(TIMEOUT, request).await.unwrap_or_else(|_| Err(format!("no answer within {TIMEOUT:?}")))
    }

    fn error(&self, op: Op, kind: ErrorKind, what: impl Into<String>) -> BackendError {
        BackendError::new(
            op,
            format!("the Object Lock configuration of {}", self.shown),
            io::Error::new(kind, what.into()),
        )
    }

    /// A refusal, as one line with the S3 error code.
    fn refused(&self, op: Op, request: &str, answer: &Answer) -> BackendError {
        let code = answer.code().unwrap_or("no error code");
        let (kind, what) = match answer.status {
            403 => (ErrorKind::PermissionDenied, access_denied(&self.bucket, &format!("{request}: {code}"))),
            status => (ErrorKind::Other, format!("{request} answered HTTP {status} ({code})")),
        };
        self.error(op, kind, what)
    }
}

/// The operator's HTTP transport: opendal's installed one (reqwest), adding
/// `Content-MD5` to every PUT that carries a body and lacks it. S3 (and
/// moto) refuse an upload to a bucket with a default retention without
/// `Content-MD5` or `x-amz-sdk-checksum-algorithm`, and opendal sends
/// neither (only `x-amz-checksum-crc32c`). The header is added after
/// signing, which SigV4 allows for it (only `x-amz-*` headers must be
/// signed); the server checks it too. Sent on every bucket: whether one has
/// a retention is not known before the first upload, and hashing is cheap
/// beside the upload.
#[derive(Debug, Default)]
pub struct ContentMd5;

impl opendal::HttpTransport for ContentMd5 {
    async fn fetch(&self, mut req: Request<Buffer>) -> opendal::Result<http::Response<opendal::HttpBody>> {
        if req.method() == Method::PUT && !req.body().is_empty() && !req.headers().contains_key("content-md5") {
            let md5 = opendal::raw::format_content_md5_iter(req.body().clone());
            if let Ok(value) = http::HeaderValue::from_str(&md5) {
                req.headers_mut().insert("content-md5", value);
            }
        }
        HttpTransporter::default().fetch(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(text: &str) -> S3Location {
        S3Location::parse(text).unwrap()
    }

    fn options() -> S3Options {
        S3Options {
            region: "eu-west-1".into(),
            lookup: super::super::BucketLookup::Auto,
            multipart_threshold: super::super::PART_SIZE,
            credentials: Some(("k".into(), "s".into())),
        }
    }

    /// The bucket's subresource, in both addressings.
    #[test]
    fn the_url_follows_the_addressing() {
        let path = LockRequests::new(&location("s3:http://127.0.0.1:9000/bucket/prefix"), &options(), false);
        assert_eq!(path.url, "http://127.0.0.1:9000/bucket?object-lock");
        let dns = LockRequests::new(&location("s3:s3.eu-west-1.amazonaws.com/bucket"), &options(), true);
        assert_eq!(dns.url, "https://bucket.s3.eu-west-1.amazonaws.com/?object-lock");
    }

    #[test]
    fn the_error_code_is_read_from_the_answer() {
        let answer = Answer {
            status: 404,
            body: b"<Error><Code>ObjectLockConfigurationNotFoundError</Code><Message>x</Message></Error>".to_vec(),
        };
        assert_eq!(answer.code(), Some("ObjectLockConfigurationNotFoundError"));
        assert_eq!(Answer { status: 500, body: b"<Code>".to_vec() }.code(), None);
    }
}
