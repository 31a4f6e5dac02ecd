use super::*;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

use crate::test_fixtures::noise as pseudo_random;

#[test]
fn guarded_reads_give_exactly_the_bytes_of_plain_reads() {
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in [0, 1, 100, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17].into_iter().enumerate() {
        let path = dir.path().join(format!("f{i}"));
        let data = pseudo_random(size, i as u64 + 1);
        std::fs::File::create(&path).unwrap().write_all(&data).unwrap();
        let (mut file, md) = GuardedFile::open(&path, None, DEFAULT_STALL_LIMIT).unwrap();
        assert_eq!(md.len(), size as u64);
        let mut got = Vec::new();
        // Odd buffer sizes, so reads straddle the blocks.
        let mut buf = vec![0u8; 77_777];
        loop {
            let n = file.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == data, "size {size}: same bytes as plain reads");
        assert_eq!(file.read(&mut buf).unwrap(), 0, "stays at the end");
        assert_eq!(file.metadata().unwrap().len(), size as u64);
    }
}

#[test]
fn a_stat_in_the_middle_keeps_the_bytes_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let data = pseudo_random(2 * BLOCK + 5, 9);
    std::fs::write(&path, &data).unwrap();
    let (mut file, _) = GuardedFile::open(&path, None, DEFAULT_STALL_LIMIT).unwrap();
    let mut head = vec![0u8; 1000];
    file.read_exact(&mut head).unwrap();
    assert_eq!(file.metadata().unwrap().len(), data.len() as u64);
    let mut rest = Vec::new();
    file.read_to_end(&mut rest).unwrap();
    head.extend_from_slice(&rest);
    assert!(head == data);
}

#[test]
fn open_refuses_what_open_regular_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let missing = GuardedFile::open(&dir.path().join("missing"), None, DEFAULT_STALL_LIMIT).err().unwrap();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o644), 0)
        .unwrap();
    // A fifo is never read: refused at the open, before any read can block.
    let err = GuardedFile::open(&fifo, None, DEFAULT_STALL_LIMIT).err().unwrap();
    assert_eq!(err.to_string(), crate::fs::open::CHANGED_TYPE);
}

#[test]
fn a_job_that_never_finishes_is_given_up_and_the_next_one_runs() {
    // The sender stays alive until the end of the test: the job is stuck.
    let (keep, never) = mpsc::channel::<()>();
    let err = run_with_limit(Duration::from_millis(20), move || never.recv().is_ok()).unwrap_err();
    assert!(is_stalled(&err), "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(err.to_string().contains("no progress"), "{err}");
    // The stuck helper was abandoned; a new one does the next job.
    assert_eq!(run_with_limit(DEFAULT_STALL_LIMIT, || 7).unwrap(), 7);
    drop(keep);
}

#[test]
fn stall_messages_name_the_limit() {
    assert!(Stalled { limit: Duration::from_secs(60) }.to_string().contains("60 s"));
    assert!(Stalled { limit: Duration::from_millis(1500) }.to_string().contains("1.5 s"));
    assert!(!is_stalled(&std::io::Error::from(std::io::ErrorKind::TimedOut)));
}

#[test]
fn a_source_file_reads_the_same_bytes_directly_or_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let data = pseudo_random(2 * BLOCK + 333, 4);
    std::fs::write(&path, &data).unwrap();
    for limit in [None, Some(DEFAULT_STALL_LIMIT)] {
        let (mut file, md) = SourceFile::open(&path, None, limit).unwrap();
        assert_eq!(matches!(file, SourceFile::Guarded(_)), limit.is_some());
        let mut got = Vec::new();
        file.read_to_end(&mut got).unwrap();
        assert!(got == data, "{limit:?}: the file's bytes");
        assert_eq!(file.metadata().unwrap().ino(), md.ino());
    }
}

#[test]
fn only_local_disk_filesystems_are_read_directly() {
    // /proc is the file system whose reads hang (`/proc/kmsg`).
    assert!(reads_can_stall(Path::new("/proc/self/status")));
    // A path statfs cannot describe is read under the limit too.
    assert!(reads_can_stall(Path::new("/no/such/path")));
    // Wherever the test's temporary folder is, the answer follows its type.
    let dir = tempfile::tempdir().unwrap();
    let magic = rustix::fs::statfs(dir.path()).unwrap().f_type as u32;
    assert_eq!(reads_can_stall(dir.path()), !LOCAL_FILESYSTEMS.contains(&magic));
}
