//! Pseudo filesystems: kernel interfaces that look like folders of files
//! (`/proc`, `/sys`, `/dev`, cgroups…) but hold no one's data, and whose
//! files can block a reader forever (`/proc/kmsg`) or never end. A snapshot
//! skips their contents by default; the mount point itself is kept as an
//! empty folder so that a restored `/` has its `/proc` to mount on.
//!
//! Recognised by `statfs(2)`'s `f_type` magic number (rustix's safe
//! `statfs`, since core forbids `unsafe`), asked only where the walk
//! crosses onto another device, so a walk pays one `statfs` per mount
//! point. `devtmpfs` shares tmpfs's magic number: a tmpfs-like mount is
//! told apart by its filesystem type in `/proc/self/mountinfo`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;

/// The pseudo filesystems recognised, by `f_type` magic number (from
/// `linux/magic.h`) and the name `mount` shows.
pub const PSEUDO_FILESYSTEMS: &[(u32, &str)] = &[
    (0x0000_9fa0, "proc"),
    (0x6265_6572, "sysfs"),
    (0x0000_1cd1, "devpts"),
    (0x0027_e0eb, "cgroup"),
    (0x6367_7270, "cgroup2"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x7363_6673, "securityfs"),
    (0x6165_676c, "pstore"),
    (0xcafe_4a11, "bpf"),
    (0x6265_6570, "configfs"),
    (0x6573_5543, "fusectl"),
    (0x1980_0202, "mqueue"),
    (0x9584_58f6, "hugetlbfs"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x0000_0187, "autofs"),
    (0xde5e_81e4, "efivarfs"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x6e73_6673, "nsfs"),
];

/// `devtmpfs` (`/dev`): reported by `statfs` as tmpfs or ramfs.
pub const DEVTMPFS: &str = "devtmpfs";
const TMPFS_MAGIC: u32 = 0x0102_1994;
const RAMFS_MAGIC: u32 = 0x8584_58f6;

/// The names of every pseudo filesystem skipped by default, for `--help`.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = PSEUDO_FILESYSTEMS.iter().map(|(_, n)| *n).collect();
    names.insert(2, DEVTMPFS);
    names
}

/// The pseudo filesystem `path` (a folder) is on, if it is on one. A path
/// `statfs` cannot describe is taken for a real filesystem.
pub fn pseudo_filesystem(path: &Path, device: u64) -> Option<&'static str> {
    let magic = rustix::fs::statfs(path).ok()?.f_type as u32;
    classify(magic, || devtmpfs_devices().contains(&device))
}

/// The name for `magic`; `is_devtmpfs` is asked only for tmpfs-like ones.
fn classify(magic: u32, is_devtmpfs: impl FnOnce() -> bool) -> Option<&'static str> {
    if let Some((_, name)) = PSEUDO_FILESYSTEMS.iter().find(|(m, _)| *m == magic) {
        return Some(name);
    }
    ((magic == TMPFS_MAGIC || magic == RAMFS_MAGIC) && is_devtmpfs()).then_some(DEVTMPFS)
}

/// The devices of the devtmpfs mounts, read once from
/// `/proc/self/mountinfo` (none when it cannot be read).
fn devtmpfs_devices() -> &'static [u64] {
    static DEVICES: OnceLock<Vec<u64>> = OnceLock::new();
    DEVICES.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        devices_of_type(&text, DEVTMPFS)
    })
}

/// The devices (`major:minor`, field 3) of the mounts of type `fs_type`
/// (the first field after ` - `) in a mountinfo text.
fn devices_of_type(mountinfo: &str, fs_type: &str) -> Vec<u64> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            if tail.split(' ').next()? != fs_type {
                return None;
            }
            let (major, minor) = head.split(' ').nth(2)?.split_once(':')?;
            Some(rustix::fs::makedev(major.parse().ok()?, minor.parse().ok()?))
        })
        .collect()
}

/// `pseudo_filesystem` of `path`'s own device (its `lstat`).
pub fn pseudo_filesystem_of(path: &Path) -> Option<&'static str> {
    let md = std::fs::symlink_metadata(path).ok()?;
    md.is_dir().then(|| pseudo_filesystem(path, md.dev())).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_name_pseudo_filesystems_and_nothing_else() {
        assert_eq!(classify(0x9fa0, || false), Some("proc"));
        assert_eq!(classify(0x6367_7270, || false), Some("cgroup2"));
        // ext4 and btrfs are real.
        assert_eq!(classify(0xef53, || true), None);
        assert_eq!(classify(0x9123_683e, || true), None);
        // tmpfs is real (people keep work in /tmp) unless it is devtmpfs.
        assert_eq!(classify(TMPFS_MAGIC, || false), None);
        assert_eq!(classify(TMPFS_MAGIC, || true), Some(DEVTMPFS));
        assert!(names().contains(&"proc") && names().contains(&DEVTMPFS));
    }

    #[test]
    fn mountinfo_gives_the_devices_of_a_type() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=1k\n\
                    25 24 0:23 / /dev/shm rw,relatime shared:3 - tmpfs tmpfs rw\n\
                    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
        assert_eq!(devices_of_type(text, DEVTMPFS), vec![rustix::fs::makedev(0, 6)]);
        assert_eq!(devices_of_type(text, "ext4"), vec![rustix::fs::makedev(254, 0)]);
        assert!(devices_of_type("garbage\n", DEVTMPFS).is_empty());
    }

    #[test]
    fn proc_is_a_pseudo_filesystem_and_a_temporary_folder_is_not() {
        if !Path::new("/proc/self/mountinfo").exists() {
            return; // No procfs mounted here (not Linux, or a bare chroot).
        }
        assert_eq!(pseudo_filesystem_of(Path::new("/proc")), Some("proc"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pseudo_filesystem_of(dir.path()), None);
    }
}
