//! Tests of run markers: registration and refresh, liveness as prune sees
//! it, the lapse of a run that slept, two prunes, and the format upgrade.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::*;
use crate::backend::memory::MemoryBackend;
use crate::format::marker::MarkerRole;
use crate::format::{BlobKind, RepoParams};
use crate::repo::{OpenOptions, config};
use crate::test_fixtures::init_options;

fn memory_repo() -> (Arc<MemoryBackend>, Repository) {
    let backend = Arc::new(MemoryBackend::new());
    let repo = Repository::init_with_backend(backend.clone(), &init_options(None)).unwrap();
    (backend, repo)
}

fn open_as(backend: &Arc<MemoryBackend>, role: MarkerRole) -> Repository {
    let opts = OpenOptions { register: Some(role), ..OpenOptions::default() };
    Repository::open_backend_with(backend.clone(), &opts).unwrap()
}

fn lock_files(backend: &dyn Backend) -> Vec<Id> {
    backend.list(FileKind::Lock).unwrap().into_iter().map(|(id, _)| id).collect()
}

/// A boot clock the test moves by hand.
fn fake_clock() -> (Arc<AtomicU64>, BootClock) {
    let secs = Arc::new(AtomicU64::new(1000));
    let read = secs.clone();
    (secs, Arc::new(move || Duration::from_secs(read.load(Ordering::SeqCst))))
}

/// Times long enough that the refresh thread never runs during a test.
const SLOW: Tuning =
    Tuning { stale: Duration::from_secs(3000), refresh: Duration::from_secs(1000), lapse: Duration::from_secs(1500) };

#[test]
fn a_registered_run_keeps_one_marker_that_decodes_and_goes_with_the_repository() {
    let (backend, _init) = memory_repo();
    let repo = open_as(&backend, MarkerRole::Snapshot);
    let files = lock_files(&*backend);
    assert_eq!(files.len(), 1);
    let registration = repo.registration().unwrap();
    let marker = repo.read_marker(&files[0], backend.list(FileKind::Lock).unwrap()[0].1).unwrap();
    assert_eq!(marker.role, MarkerRole::Snapshot);
    assert_eq!(marker.run, registration.run());
    assert_eq!(marker.pid, std::process::id());
    registration.refresh();
    let refreshed = lock_files(&*backend);
    assert_eq!(refreshed.len(), 1, "the new file replaces the old");
    assert_ne!(refreshed, files);
    assert!(repo.markers_except_own().unwrap().is_empty(), "its own marker is not another run's");
    drop(repo);
    assert!(lock_files(&*backend).is_empty(), "removed when the run ends");
}

#[test]
fn a_marker_of_this_process_is_live_and_one_of_a_dead_process_is_dead_at_once() {
    let (backend, _init) = memory_repo();
    let alive = open_as(&backend, MarkerRole::Snapshot);
    let observer = open_as(&backend, MarkerRole::Prune);
    let live = observer.live_markers_except_own().unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].marker.as_ref().unwrap().run, alive.registration().unwrap().run());
    // A marker of a process that ended, written just now on this machine.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    let me = Me::current();
    let start = liveness::process_start(pid);
    child.wait().unwrap();
    let dead = Me { pid, pid_start: start.unwrap_or(1), ..me };
    let killed =
        Registration::start_with(backend.clone(), Keys::Plain, MarkerRole::Snapshot, SLOW, boot_clock(), dead).unwrap();
    let killed_file = killed.file().unwrap();
    std::mem::forget(killed); // killed: its marker stays, nobody refreshes it
    let seen = observer.markers_except_own().unwrap();
    let of_killed = seen.iter().find(|m| m.file == killed_file).unwrap();
    assert!(!of_killed.live, "a dead pid on this host and boot: dead although fresh");
    assert_eq!(observer.live_markers_except_own().unwrap().len(), 1);
    assert_eq!(observer.remove_dead_markers().unwrap(), 1);
    assert!(!lock_files(&*backend).contains(&killed_file));
    assert!(lock_files(&*backend).contains(&alive.registration().unwrap().file().unwrap()), "the live one stays");
}

#[test]
fn unreadable_files_in_locks_are_live_until_stale_by_storage_time() {
    let (backend, _init) = memory_repo();
    let observer = open_as(&backend, MarkerRole::Prune);
    let garbage = Id::of_file_bytes(b"not a marker");
    backend.put_raw(FileKind::Lock, &garbage.to_hex(), b"not a marker");
    let seen = observer.live_markers_except_own().unwrap();
    assert_eq!(seen.len(), 1, "fresh garbage blocks");
    assert!(seen[0].marker.is_none() && seen[0].describe().contains("unreadable marker"));
    backend.set_time(FileKind::Lock, &garbage, SystemTime::now() - Duration::from_secs(31 * 60));
    assert!(observer.live_markers_except_own().unwrap().is_empty(), "stale garbage does not");
    assert_eq!(observer.remove_dead_markers().unwrap(), 1);
}

#[test]
fn another_hosts_marker_is_live_until_older_than_stale_by_its_file_time() {
    let (backend, _init) = memory_repo();
    let observer = open_as(&backend, MarkerRole::Prune);
    let other = Me { host: "elsewhere".into(), boot_id: "other-boot".into(), ..Me::current() };
    let run = Registration::start_with(backend.clone(), Keys::Plain, MarkerRole::Snapshot, SLOW, boot_clock(), other)
        .unwrap();
    assert_eq!(observer.live_markers_except_own().unwrap().len(), 1);
    backend.set_time(FileKind::Lock, &run.file().unwrap(), SystemTime::now() - Duration::from_secs(29 * 60));
    assert_eq!(observer.live_markers_except_own().unwrap().len(), 1, "29 minutes: still live");
    backend.set_time(FileKind::Lock, &run.file().unwrap(), SystemTime::now() - Duration::from_secs(31 * 60));
    assert!(observer.live_markers_except_own().unwrap().is_empty(), "31 minutes: dead");
}

#[test]
fn a_run_whose_refreshes_were_too_far_apart_is_lapsed_until_it_restarts() {
    let (backend, _init) = memory_repo();
    let (secs, clock) = fake_clock();
    let run = Registration::start_with(backend.clone(), Keys::Plain, MarkerRole::Snapshot, SLOW, clock, Me::current())
        .unwrap();
    run.ensure_not_lapsed().unwrap();
    secs.fetch_add(1400, Ordering::SeqCst);
    run.ensure_not_lapsed().unwrap();
    secs.fetch_add(200, Ordering::SeqCst); // 1600 s since the last refresh
    assert!(matches!(run.ensure_not_lapsed(), Err(Error::RunLapsed { limit_secs: 1500 })));
    // A refresh after the gap does not make the run safe again: a prune may
    // have judged it dead during the gap.
    run.refresh();
    assert!(matches!(run.ensure_not_lapsed(), Err(Error::RunLapsed { .. })), "lapsed stays lapsed");
    let old_run = run.run();
    run.restart().unwrap();
    run.ensure_not_lapsed().unwrap();
    assert_ne!(run.run(), old_run, "a new run");
    assert_eq!(lock_files(&*backend), vec![run.file().unwrap()], "one marker: the new one");
}

#[test]
fn of_two_prunes_the_later_one_backs_off_naming_the_other() {
    let (backend, _init) = memory_repo();
    let first = open_as(&backend, MarkerRole::Prune);
    let second = open_as(&backend, MarkerRole::Prune);
    let key = |r: &Repository| {
        let state = r.registration().unwrap().shared.lock();
        (state.started, state.run)
    };
    let (earlier, later) = if key(&first) < key(&second) { (first, second) } else { (second, first) };
    earlier.claim_prune().unwrap();
    match later.claim_prune() {
        Err(Error::PruneRunning { host, pid, .. }) => {
            assert_eq!(pid, std::process::id());
            assert_eq!(host, Me::current().host);
        }
        other => panic!("{other:?}"),
    }
    // A snapshot run does not stop a prune from claiming (only the sweep waits).
    let _snapshot = open_as(&backend, MarkerRole::Snapshot);
    earlier.claim_prune().unwrap();
}

/// Writes a version-1 config (as cairn 1 did) for the repository in `backend`.
fn make_version_1(backend: &Arc<MemoryBackend>, repo: &Repository) {
    let v1 = RepoParams { version: 1, features: 0, ..repo.params().clone() };
    backend.replace_config(&config::seal_config(repo.keys(), repo.id(), &v1).unwrap()).unwrap();
}

#[test]
fn upgrade_makes_a_version_1_repository_version_2_with_the_same_keys_and_id() {
    let backend = Arc::new(MemoryBackend::new());
    let made = Repository::init_with_backend(backend.clone(), &init_options(Some(b"pw"))).unwrap();
    assert_eq!(made.format_version(), 2, "init makes version 2");
    let saver = made.saver();
    let blob = saver.save(BlobKind::Data, b"kept across the upgrade").unwrap();
    saver.finish().unwrap();
    make_version_1(&backend, &made);
    let old = Repository::open_with_backend(backend.clone(), Some(b"pw"), None).unwrap();
    assert_eq!(old.format_version(), 1);
    assert!(!old.follows_deletion_protocol());
    assert!(old.upgrade_format().unwrap(), "upgraded");
    assert_eq!(old.format_version(), 2);
    assert!(!old.upgrade_format().unwrap(), "once");
    let new = Repository::open_with_backend(backend.clone(), Some(b"pw"), None).unwrap();
    assert_eq!(new.format_version(), 2);
    assert!(new.follows_deletion_protocol());
    assert_eq!(new.id(), made.id());
    assert_eq!(new.params().features, crate::format::FEATURE_DELETION_PROTOCOL);
    assert_eq!(new.load_blob(&blob).unwrap(), b"kept across the upgrade", "same keys");
}

#[test]
fn unknown_features_and_a_version_mismatch_are_refused_on_open() {
    let (backend, repo) = memory_repo();
    let unknown = RepoParams { features: 1 | 1 << 7, ..repo.params().clone() };
    backend.replace_config(&config::seal_config(repo.keys(), repo.id(), &unknown).unwrap()).unwrap();
    let err = Repository::open_with_backend(backend.clone(), None, None).err().unwrap();
    assert!(matches!(err, Error::UnknownFeatures(0x80)), "{err}");
    assert!(err.to_string().contains("upgrade cairn"), "{err}");
    // The config's plain version says 1, its authenticated parameters 2.
    let bytes = config::seal_config(repo.keys(), repo.id(), repo.params()).unwrap();
    let mut file: crate::format::ConfigFile = codec::from_postcard(&bytes, "config").unwrap();
    file.version = 1;
    backend.replace_config(&codec::to_postcard(&file).unwrap()).unwrap();
    let err = Repository::open_with_backend(backend.clone(), None, None).err().unwrap();
    assert!(matches!(&err, Error::Corrupt { detail, .. } if detail.contains("format version 1")), "{err}");
}
