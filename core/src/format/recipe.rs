//! How a snapshot was taken (format-spec §10, `Snapshot` version 2): the
//! exclude rules in force and the symlinks given on the command line that
//! were followed. Readers use it to look at the live filesystem the way the
//! snapshot did (`diff` against live files, `restore --to-original
//! --delete`) and to translate a path given through a symlink.
//!
//! Also the hand-written (de)serialisation of `Snapshot`: version 2 is
//! version 1's fields followed by the `Recipe`; version 3 (a copy, written
//! by `cairn copy`) is version 1's fields, then `Option<Recipe>`, then
//! `original: Option<Id>`. The layout depends on the leading version and
//! cannot be derived.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

use super::{SNAPSHOT_VERSION, Snapshot};

/// Everything a snapshot records about how it was taken.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recipe {
    pub excludes: ExcludeRecord,
    /// Paths given as symlinks and followed, in the order of `paths`.
    pub links: Vec<GivenLink>,
}

/// The exclude rules of one run, complete enough to apply them again
/// without the command line or the exclude files: a pattern file's lines are
/// recorded, not its name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExcludeRecord {
    /// Every pattern in the order applied (gitignore syntax, rooted at `/`):
    /// the default ones, then `--exclude`, then the lines of each
    /// `--exclude-file`, as cairn rewrote them (a pattern with an inner `/`
    /// gains a leading `**/`). Blank and comment lines are dropped.
    pub patterns: Vec<String>,
    /// A `target` folder next to a `Cargo.toml` is left out (default set).
    pub cargo_target: bool,
    /// Marker file names: a folder holding one is left out. `CACHEDIR.TAG`
    /// counts only with its signature.
    pub markers: Vec<String>,
    /// `.gitignore` files found in the tree were honoured.
    pub git_ignore: bool,
    /// Other filesystems below each path were not entered.
    pub one_file_system: bool,
    /// Regular files larger than this many bytes were left out.
    pub larger_than: Option<u64>,
    /// Pseudo filesystems (proc, sysfs, …) were skipped.
    pub skip_pseudo_filesystems: bool,
    /// Absolute paths left out because they are cairn's own (repository,
    /// cache, password file).
    pub self_excluded: Vec<ByteBuf>,
}

/// A path given on the command line that was a symlink, and the path it
/// named, which the snapshot stores (and lists in `paths`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GivenLink {
    /// Absolute and lexically clean, parent symlinks resolved: the path of
    /// the symlink itself.
    pub given: ByteBuf,
    /// The canonical path it named, as it appears in `paths`.
    pub target: ByteBuf,
}

impl Snapshot {
    /// `path` as the snapshot stores it: a path at or below a symlink given
    /// on the command line becomes the same path below its target. Other
    /// paths are returned as they are.
    pub fn stored_path(&self, path: &Path) -> PathBuf {
        let Some(recipe) = &self.recipe else { return path.to_path_buf() };
        for link in &recipe.links {
            let given = Path::new(std::ffi::OsStr::from_bytes(&link.given));
            if let Ok(rest) = path.strip_prefix(given) {
                let target = Path::new(std::ffi::OsStr::from_bytes(&link.target));
                return if rest.as_os_str().is_empty() { target.to_path_buf() } else { target.join(rest) };
            }
        }
        path.to_path_buf()
    }
}

/// A snapshot's plaintext. The leading version is read first, so that a
/// snapshot from a newer cairn says "unsupported version", not "damaged".
pub fn decode_snapshot(raw: &[u8]) -> crate::error::Result<Snapshot> {
    if let Ok((version, _)) = postcard::take_from_bytes::<u32>(raw) {
        super::check_snapshot_version(version)?;
    }
    super::codec::from_postcard(raw, "snapshot")
}

/// The number of fields of a version-1 snapshot.
const V1_FIELDS: usize = 10;

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let extra = match self.version {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        };
        let mut t = serializer.serialize_tuple(V1_FIELDS + extra)?;
        t.serialize_element(&self.version)?;
        t.serialize_element(&self.time)?;
        t.serialize_element(&self.host)?;
        t.serialize_element(&self.user)?;
        t.serialize_element(&self.paths)?;
        t.serialize_element(&self.tags)?;
        t.serialize_element(&self.tree)?;
        t.serialize_element(&self.parent)?;
        t.serialize_element(&self.summary)?;
        t.serialize_element(&self.program_version)?;
        if extra == 1 {
            match &self.recipe {
                Some(r) => t.serialize_element(r)?,
                None => t.serialize_element(&Recipe::default())?,
            }
        }
        if extra == 2 {
            t.serialize_element(&self.recipe)?;
            t.serialize_element(&self.original)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Snapshot, D::Error> {
        deserializer.deserialize_tuple(V1_FIELDS + 2, SnapshotVisitor)
    }
}

struct SnapshotVisitor;

impl<'de> Visitor<'de> for SnapshotVisitor {
    type Value = Snapshot;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a snapshot manifest (version 1, 2 or 3)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Snapshot, A::Error> {
        let version: u32 = field(&mut seq, 0)?;
        // The layout after the version depends on it: a newer one cannot be
        // decoded, and 0 was never written.
        if version == 0 || version > SNAPSHOT_VERSION {
            return Err(de::Error::custom(format_args!("unsupported snapshot version {version}")));
        }
        let time = field(&mut seq, 1)?;
        let host = field(&mut seq, 2)?;
        let user = field(&mut seq, 3)?;
        let paths = field(&mut seq, 4)?;
        let tags = field(&mut seq, 5)?;
        let tree = field(&mut seq, 6)?;
        let parent = field(&mut seq, 7)?;
        let summary = field(&mut seq, 8)?;
        let program_version = field(&mut seq, 9)?;
        let (recipe, original) = match version {
            1 => (None, None),
            2 => (Some(field(&mut seq, 10)?), None),
            _ => (field(&mut seq, 10)?, field(&mut seq, 11)?),
        };
        Ok(Snapshot {
            version,
            time,
            host,
            user,
            paths,
            tags,
            tree,
            parent,
            summary,
            program_version,
            recipe,
            original,
        })
    }
}

/// The next field of a snapshot (number `index`, 0-based).
fn field<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A, index: usize) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(index, &"a snapshot manifest"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::codec::{from_postcard, to_postcard};
    use crate::format::{Summary, Timestamp};
    use crate::id::Id;

    fn snapshot(version: u32, recipe: Option<Recipe>) -> Snapshot {
        Snapshot {
            version,
            time: Timestamp { unix_seconds: 1, nanos: 2, offset_seconds: 3 },
            host: "h".into(),
            user: "u".into(),
            paths: vec![ByteBuf::from(b"/data/p".to_vec())],
            tags: vec![],
            tree: Id([7; 32]),
            parent: None,
            summary: Summary::default(),
            program_version: "x".into(),
            recipe,
            original: None,
        }
    }

    fn recipe() -> Recipe {
        Recipe {
            excludes: ExcludeRecord {
                patterns: vec!["node_modules/".into()],
                cargo_target: true,
                markers: vec!["CACHEDIR.TAG".into()],
                larger_than: Some(5),
                self_excluded: vec![ByteBuf::from(b"/r".to_vec())],
                ..ExcludeRecord::default()
            },
            links: vec![GivenLink {
                given: ByteBuf::from(b"/home/u/linked".to_vec()),
                target: ByteBuf::from(b"/data/p".to_vec()),
            }],
        }
    }

    #[test]
    fn both_versions_round_trip() {
        for s in [snapshot(1, None), snapshot(2, Some(recipe()))] {
            let bytes = to_postcard(&s).unwrap();
            assert_eq!(from_postcard::<Snapshot>(&bytes, "snapshot").unwrap(), s);
        }
    }

    #[test]
    fn version_2_is_version_1_followed_by_the_recipe() {
        let v1 = to_postcard(&snapshot(1, None)).unwrap();
        let v2 = to_postcard(&snapshot(2, Some(recipe()))).unwrap();
        assert_eq!(v2[0], 2);
        assert_eq!(&v2[1..v1.len()], &v1[1..]);
        assert_eq!(&v2[v1.len()..], to_postcard(&recipe()).unwrap().as_slice());
    }

    #[test]
    fn version_3_makes_the_recipe_optional_and_adds_the_original() {
        let v1 = to_postcard(&snapshot(1, None)).unwrap();
        for recipe in [None, Some(recipe())] {
            let copy = Snapshot { original: Some(Id([9; 32])), ..snapshot(3, recipe.clone()) };
            let bytes = to_postcard(&copy).unwrap();
            assert_eq!(&bytes[1..v1.len()], &v1[1..], "version 1's fields, unchanged");
            let mut tail = to_postcard(&recipe).unwrap();
            tail.extend(to_postcard(&Some(Id([9; 32]))).unwrap());
            assert_eq!(&bytes[v1.len()..], tail.as_slice());
            assert_eq!(decode_snapshot(&bytes).unwrap(), copy);
        }
    }

    #[test]
    fn unknown_versions_and_leftovers_are_rejected() {
        let mut v3 = to_postcard(&snapshot(2, Some(recipe()))).unwrap();
        v3[0] = 4;
        assert!(from_postcard::<Snapshot>(&v3, "snapshot").is_err());
        v3[0] = 0;
        assert!(from_postcard::<Snapshot>(&v3, "snapshot").is_err());
        // A version-1 manifest followed by a recipe has bytes left over.
        v3[0] = 1;
        assert!(from_postcard::<Snapshot>(&v3, "snapshot").is_err());
        // A version-2 manifest without its recipe is cut short.
        let mut short = to_postcard(&snapshot(1, None)).unwrap();
        short[0] = 2;
        assert!(from_postcard::<Snapshot>(&short, "snapshot").is_err());
    }

    #[test]
    fn a_newer_version_is_unsupported_not_damaged() {
        let mut v3 = to_postcard(&snapshot(2, Some(recipe()))).unwrap();
        v3[0] = 4;
        assert!(matches!(decode_snapshot(&v3), Err(crate::Error::UnsupportedVersion { found: 4, .. })));
        v3[0] = 2;
        assert_eq!(decode_snapshot(&v3).unwrap(), snapshot(2, Some(recipe())));
    }

    #[test]
    fn paths_through_a_followed_link_are_translated() {
        let s = snapshot(2, Some(recipe()));
        assert_eq!(s.stored_path(Path::new("/home/u/linked")), Path::new("/data/p"));
        assert_eq!(s.stored_path(Path::new("/home/u/linked/a/b")), Path::new("/data/p/a/b"));
        assert_eq!(s.stored_path(Path::new("/home/u/linkedx")), Path::new("/home/u/linkedx"));
        assert_eq!(s.stored_path(Path::new("/data/p/a")), Path::new("/data/p/a"));
        assert_eq!(snapshot(1, None).stored_path(Path::new("/home/u/linked")), Path::new("/home/u/linked"));
    }
}
