//! The backend conformance suite against a real S3 server (moto, one per
//! test binary, a bucket per test), and what only S3 can get wrong: the
//! multipart path, bounded reads, a missing bucket.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::test_server::{MotoServer, raw_request};
use super::{S3Backend, S3Location, S3Options};
use crate::backend::conformance::Subject;
use crate::backend::{Backend, FileKind};
use crate::id::Id;

fn server() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(MotoServer::start)
}

fn options() -> S3Options {
    S3Options {
        region: "us-east-1".into(),
        lookup: super::BucketLookup::Path,
        multipart_threshold: super::PART_SIZE,
        credentials: Some(("testing".into(), "testing".into())),
    }
}

/// A new bucket's name, unique in this process.
fn bucket_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cairn-unit-{}", N.fetch_add(1, Ordering::SeqCst))
}

fn backend_at(location: &str, options: &S3Options) -> S3Backend {
    S3Backend::new(S3Location::parse(location).unwrap(), options).unwrap()
}

fn subject_with_prefix(prefix: &str) -> Subject {
    let server = server();
    let bucket = bucket_name();
    let location = format!("{}{prefix}", server.bucket(&bucket));
    let backend = Arc::new(backend_at(&location, &options()));
    backend.create_layout().unwrap();
    let addr = server.addr();
    let key_prefix = prefix.trim_start_matches('/').to_string();
    let plant = move |kind: FileKind, name: &str, bytes: &[u8]| {
        let key = if key_prefix.is_empty() { String::new() } else { format!("{key_prefix}/") };
        let path = format!("/{bucket}/{key}{}/{name}", kind.folder());
        let (status, text) = raw_request(addr, "PUT", &path, &[], bytes).unwrap();
        assert_eq!(status, 200, "{text}");
    };
    Subject { backend, plant: Box::new(plant), keep: Vec::new(), content_addressed: false }
}

fn subject() -> Subject {
    subject_with_prefix("")
}

fn subject_under_prefix() -> Subject {
    subject_with_prefix("/repos/one")
}

crate::backend_conformance_suite!(moto, super::subject);
crate::backend_conformance_suite!(moto_prefix, super::subject_under_prefix);

#[test]
fn a_spool_above_the_threshold_goes_up_in_parts_and_reads_back_whole() {
    let server = server();
    let location = server.bucket(&bucket_name());
    let mut opts = options();
    opts.multipart_threshold = 5 * 1024 * 1024;
    let be = backend_at(&location, &opts);
    // Two and a half parts of non-repeating bytes.
    let bytes: Vec<u8> =
        (0..(super::PART_SIZE * 5 / 2) as u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mut spool = be.create_spool(FileKind::Pack).unwrap();
    std::io::Write::write_all(spool.file(), &bytes).unwrap();
    let id = Id::of_file_bytes(&bytes);
    be.create_from_spool(FileKind::Pack, &id, spool).unwrap();
    assert_eq!(be.list(FileKind::Pack).unwrap(), vec![(id, bytes.len() as u64)]);
    assert_eq!(be.read_range(FileKind::Pack, &id, 9_000_000, 10).unwrap(), &bytes[9_000_000..9_000_010]);
    let (tail, size) = be.read_tail(FileKind::Pack, &id, 100).unwrap();
    assert_eq!((tail.as_slice(), size), (&bytes[bytes.len() - 100..], bytes.len() as u64));
    // A second multipart create of the name is refused at completion.
    let mut again = be.create_spool(FileKind::Pack).unwrap();
    std::io::Write::write_all(again.file(), &bytes).unwrap();
    let err = be.create_from_spool(FileKind::Pack, &id, again).unwrap_err();
    assert!(err.is_already_exists(), "{err}");
}

#[test]
fn a_file_longer_than_its_kind_allows_is_refused_not_read() {
    let s = subject();
    let id = Id::of_file_bytes(b"x");
    let long = vec![7u8; crate::format::MAX_CONFIG_FILE_LEN as usize + 10];
    (s.plant)(FileKind::Key, &id.to_hex(), &vec![1u8; crate::format::MAX_KEY_FILE_LEN as usize + 1]);
    let err = s.backend.read(FileKind::Key, &id).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    // The config is read one byte past its bound (the reader refuses it).
    let location = S3Location::parse(&s.backend.location()).unwrap();
    let (status, _) = raw_request(server().addr(), "PUT", &format!("/{}/config", location.bucket), &[], &long).unwrap();
    assert_eq!(status, 200);
    assert_eq!(s.backend.read_config().unwrap().len() as u64, crate::format::MAX_CONFIG_FILE_LEN + 1);
}

#[test]
fn a_missing_bucket_is_said_in_one_line() {
    let location = format!("s3:{}/cairn-no-such-bucket", server().endpoint());
    let be = backend_at(&location, &options());
    let err = be.create_layout().unwrap_err().to_string();
    assert!(err.contains("bucket cairn-no-such-bucket does not exist: create it first"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    let err = be.list(FileKind::Snapshot).unwrap_err();
    assert!(!err.is_not_found(), "a missing bucket is no empty folder: {err}");
}

#[test]
fn an_empty_object_reads_as_empty() {
    let s = subject();
    let id = Id::of_file_bytes(b"");
    s.backend.create(FileKind::Lock, &id, b"").unwrap();
    assert_eq!(s.backend.read(FileKind::Lock, &id).unwrap(), b"");
    assert_eq!(s.backend.read_tail(FileKind::Lock, &id, 10).unwrap(), (Vec::new(), 0));
}

/// Few requests: each trait call is one request (the tail two: HEAD for
/// the size, then the range), counted at a proxy in front of the server.
#[test]
fn each_call_is_one_request_and_500s_are_retried() {
    let server = server();
    let bucket = bucket_name();
    server.bucket(&bucket);
    let proxy = super::test_server::FaultProxy::start(server.addr());
    let be = backend_at(&format!("s3:{}/{bucket}", proxy.endpoint()), &options());
    let id = Id::of_file_bytes(b"one");
    let count = |f: &dyn Fn()| {
        let before = proxy.requests();
        f();
        proxy.requests() - before
    };
    assert_eq!(count(&|| be.create(FileKind::Snapshot, &id, b"one").unwrap()), 1, "create");
    assert_eq!(count(&|| assert_eq!(be.read(FileKind::Snapshot, &id).unwrap(), b"one")), 1, "read");
    assert_eq!(count(&|| assert_eq!(be.list(FileKind::Snapshot).unwrap().len(), 1)), 1, "list");
    assert_eq!(count(&|| assert_eq!(be.read_range(FileKind::Snapshot, &id, 1, 2).unwrap(), b"ne")), 1, "range");
    assert_eq!(count(&|| assert_eq!(be.read_tail(FileKind::Snapshot, &id, 2).unwrap().0, b"ne")), 2, "tail");
    // The bucket's Object Lock configuration: asked once per process.
    let lock = || assert_eq!(be.locked_until(FileKind::Snapshot, &id, None).unwrap(), None);
    assert_eq!(count(&lock), 1, "the Object Lock configuration");
    assert_eq!(count(&lock), 0, "known");
    assert_eq!(count(&|| be.remove(FileKind::Snapshot, &id).unwrap()), 1, "remove");
    // Every second request fails: each call still succeeds, through retries.
    proxy.fail_every(2);
    be.create(FileKind::Snapshot, &id, b"one").unwrap();
    assert_eq!(be.read(FileKind::Snapshot, &id).unwrap(), b"one");
    assert_eq!(be.list(FileKind::Snapshot).unwrap().len(), 1);
    assert!(proxy.failed() >= 1, "faults were injected");
}

/// The harness's server is a real process that answers, and the watcher
/// that ties it to this process is running.
#[test]
fn the_test_server_answers_plain_requests() {
    let (status, text) = raw_request(server().addr(), "GET", "/", &[], b"").unwrap();
    assert_eq!(status, 200, "{text}");
}

/// In a versioned bucket a plain DELETE leaves versions behind; where the
/// bucket has Object Lock, `remove` deletes every version (delete markers
/// included) instead.
#[test]
fn every_version_of_a_file_can_be_removed() {
    let location = server().bucket_with_object_lock(&bucket_name(), 0, "GOVERNANCE");
    let be = backend_at(&location, &options());
    let id = Id::of_file_bytes(b"v");
    be.create(FileKind::Pack, &id, b"v").unwrap();
    be.remove(FileKind::Pack, &id).unwrap();
    assert!(be.list(FileKind::Pack).unwrap().is_empty(), "the current version is gone");
    assert_eq!(be.remove_versions(FileKind::Pack, &id).unwrap(), 0, "no version and no delete marker left");
}

/// A default retention set through the backend: a new file is retained a
/// day from now, and `remove` of it (cairn's own short-lived files) leaves
/// a delete marker: gone from listings, the version kept by the server.
#[test]
fn a_default_retention_is_set_read_and_kept() {
    use crate::backend::object_lock::{LockMode, Retention};
    let server = server();
    let bucket = bucket_name();
    let location = server.bucket_with_object_lock(&bucket, 0, "");
    let be = backend_at(&location, &options());
    let retention = Retention { mode: LockMode::Governance, days: 1 };
    be.set_default_retention(retention).unwrap();
    let (_, text) = raw_request(server.addr(), "GET", &format!("/{bucket}?object-lock"), &[], b"").unwrap();
    assert!(text.contains("<Days>1</Days>") && text.contains("GOVERNANCE"), "{text}");

    let id = Id::of_file_bytes(b"kept");
    be.create(FileKind::Lock, &id, b"kept").unwrap();
    let listed = be.list_times(FileKind::Lock).unwrap();
    let modified = listed[0].2;
    let until = be.locked_until(FileKind::Lock, &id, modified).unwrap().expect("retained");
    assert_eq!(Some(until), modified.map(|m| m + std::time::Duration::from_secs(86_400)));
    // Another process reads the configuration from the bucket.
    let other = backend_at(&location, &options());
    assert_eq!(other.locked_until(FileKind::Lock, &id, modified).unwrap(), Some(until));

    be.remove(FileKind::Lock, &id).unwrap();
    assert!(be.list(FileKind::Lock).unwrap().is_empty(), "gone for cairn");
    let (_, versions) = raw_request(server.addr(), "GET", &format!("/{bucket}?versions"), &[], b"").unwrap();
    assert!(versions.contains("<Version>") && versions.contains("<DeleteMarker>"), "{versions}");

    // A bucket without Object Lock: refused in one line, and no lock.
    let plain = backend_at(&server.bucket(&bucket_name()), &options());
    let err = plain.set_default_retention(retention).unwrap_err().to_string();
    assert!(err.contains("was not created with Object Lock enabled"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(plain.locked_until(FileKind::Lock, &id, None).unwrap(), None);
}

/// The Object Lock requests' errors are the backend's one-line errors: a
/// key the server does not know (init must know: refused), a missing bucket.
#[test]
fn object_lock_errors_are_one_line() {
    use crate::backend::object_lock::{LockMode, Retention};
    let retention = Retention { mode: LockMode::Compliance, days: 7 };
    let checking = MotoServer::start_checking_credentials();
    let be = backend_at(&format!("s3:{}/cairn-any-bucket", checking.endpoint()), &options());
    let err = be.set_default_retention(retention).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(text.contains("access denied: check AWS credentials") && !text.contains('\n'), "{text}");
    let missing = backend_at(&format!("s3:{}/cairn-never-made", server().endpoint()), &options());
    let text = missing.set_default_retention(retention).unwrap_err().to_string();
    assert!(text.contains("bucket cairn-never-made does not exist") && !text.contains('\n'), "{text}");
}

#[test]
fn chunks_of_a_pack_are_read_a_window_at_a_time() {
    let server = server();
    let bucket = bucket_name();
    server.bucket(&bucket);
    let proxy = super::test_server::FaultProxy::start(server.addr());
    let be = backend_at(&format!("s3:{}/{bucket}", proxy.endpoint()), &options());
    // A window and a half: the second window ends where the object does.
    let window = crate::backend::readahead::WINDOW as usize;
    let bytes: Vec<u8> = (0..window * 3 / 2).map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[2]).collect();
    let id = Id::of_file_bytes(&bytes);
    be.create(FileKind::Pack, &id, &bytes).unwrap();
    let before = proxy.requests();
    for offset in (0..bytes.len() - 1000).step_by(100_003) {
        assert_eq!(be.read_range(FileKind::Pack, &id, offset as u64, 1000).unwrap(), bytes[offset..offset + 1000]);
    }
    // The last bytes, and a range crossing the end.
    let end = bytes.len();
    assert_eq!(be.read_range(FileKind::Pack, &id, end as u64 - 7, 7).unwrap(), bytes[end - 7..]);
    assert_eq!(proxy.requests() - before, 2, "one GET per window");
    let err = be.read_range(FileKind::Pack, &id, end as u64 - 7, 8).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    let err = be.read_range(FileKind::Pack, &id, end as u64 + 10, 8).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    // A removed pack's windows go with it.
    be.remove(FileKind::Pack, &id).unwrap();
    let err = be.read_range(FileKind::Pack, &id, 0, 10).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
}
