//! `cat`: one repository object decoded into a plain, serialisable
//! structure (ids in hex, times in RFC 3339, names as text) for debugging,
//! as restic's `cat`. Every object is read through the verified paths the
//! other commands use, so a damaged one is an error, never a guess.

use std::path::Path;

use serde::Serialize;

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::recipe::Recipe;
use crate::format::retention::KeepRules;
use crate::format::{IndexFile, Node, NodeKind, PackEntry, Summary};
use crate::id::{Id, is_hex};
use crate::repo::{Repository, pack, read_key_file_listed};
use crate::snapshot::policy_store::{self, PolicySource};
use crate::snapshot::timefmt::rfc3339;
use crate::snapshot::{pins, snapshots, tree};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[derive(Serialize)]
pub struct ConfigView {
    pub repository_id: String,
    pub version: u32,
    pub encrypted: bool,
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
    pub pack_target: u32,
    pub zstd_level: i32,
    pub features: u64,
}

pub fn config(repo: &Repository) -> ConfigView {
    let p = repo.params();
    ConfigView {
        repository_id: repo.id().to_hex(),
        version: p.version,
        encrypted: repo.is_encrypted(),
        chunk_min: p.chunk_min,
        chunk_avg: p.chunk_avg,
        chunk_max: p.chunk_max,
        pack_target: p.pack_target,
        zstd_level: p.zstd_level,
        features: p.features,
    }
}

#[derive(Serialize)]
pub struct SnapshotView {
    pub id: String,
    pub version: u32,
    pub time: String,
    pub host: String,
    pub user: String,
    pub paths: Vec<String>,
    pub tags: Vec<String>,
    pub tree: String,
    pub parent: Option<String>,
    pub summary: Summary,
    pub program_version: String,
    pub recipe: Option<RecipeView>,
}

#[derive(Serialize)]
pub struct RecipeView {
    pub patterns: Vec<String>,
    pub cargo_target: bool,
    pub markers: Vec<String>,
    pub git_ignore: bool,
    pub one_file_system: bool,
    pub larger_than: Option<u64>,
    pub skip_pseudo_filesystems: bool,
    pub self_excluded: Vec<String>,
    /// Paths given as symlinks: `[given, target]`.
    pub links: Vec<[String; 2]>,
}

impl From<&Recipe> for RecipeView {
    fn from(r: &Recipe) -> RecipeView {
        let e = &r.excludes;
        RecipeView {
            patterns: e.patterns.clone(),
            cargo_target: e.cargo_target,
            markers: e.markers.clone(),
            git_ignore: e.git_ignore,
            one_file_system: e.one_file_system,
            larger_than: e.larger_than,
            skip_pseudo_filesystems: e.skip_pseudo_filesystems,
            self_excluded: e.self_excluded.iter().map(|p| text(p)).collect(),
            links: r.links.iter().map(|l| [text(&l.given), text(&l.target)]).collect(),
        }
    }
}

/// A snapshot by id, unique prefix, `latest` or `latest~N`.
pub fn snapshot(repo: &Repository, reference: &str) -> Result<SnapshotView> {
    let entry = snapshots::resolve(repo, reference)?;
    let s = &entry.snapshot;
    Ok(SnapshotView {
        id: entry.id.to_hex(),
        version: s.version,
        time: rfc3339(&s.time),
        host: s.host.clone(),
        user: s.user.clone(),
        paths: s.paths.iter().map(|p| text(p)).collect(),
        tags: s.tags.clone(),
        tree: s.tree.to_hex(),
        parent: s.parent.map(|p| p.to_hex()),
        summary: s.summary.clone(),
        program_version: s.program_version.clone(),
        recipe: s.recipe.as_ref().map(RecipeView::from),
    })
}

#[derive(Serialize)]
pub struct TreeView {
    pub id: String,
    pub version: u32,
    pub nodes: Vec<NodeView>,
}

#[derive(Serialize)]
pub struct NodeView {
    pub name: String,
    /// `file`, `dir`, `symlink`, `fifo`, `socket`, `chardev`, `blockdev`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub mtime: String,
    pub ctime: String,
    pub inode: u64,
    pub device: u64,
    pub nlink: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtree: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdev: Option<u64>,
    /// Extended attribute names (values left out: they may be large or binary).
    pub xattrs: Vec<String>,
}

fn file_time(t: &crate::format::FileTime) -> String {
    match jiff::Timestamp::new(t.seconds, t.nanos as i32) {
        Ok(ts) => ts.to_string(),
        Err(_) => format!("@{}", t.seconds),
    }
}

fn node_view(n: &Node) -> NodeView {
    let mut v = NodeView {
        name: text(&n.name),
        kind: "",
        mode: format!("{:04o}", n.mode),
        uid: n.uid,
        gid: n.gid,
        mtime: file_time(&n.mtime),
        ctime: file_time(&n.ctime),
        inode: n.inode,
        device: n.device,
        nlink: n.nlink,
        size: None,
        content: None,
        subtree: None,
        target: None,
        rdev: None,
        xattrs: n.xattrs.iter().map(|x| text(&x.name)).collect(),
    };
    v.kind = match &n.kind {
        NodeKind::File { size, content } => {
            v.size = Some(*size);
            v.content = Some(content.iter().map(Id::to_hex).collect());
            "file"
        }
        NodeKind::Dir { subtree } => {
            v.subtree = Some(subtree.to_hex());
            "dir"
        }
        NodeKind::Symlink { target } => {
            v.target = Some(text(target));
            "symlink"
        }
        NodeKind::Fifo => "fifo",
        NodeKind::Socket => "socket",
        NodeKind::CharDevice { rdev } => {
            v.rdev = Some(*rdev);
            "chardev"
        }
        NodeKind::BlockDevice { rdev } => {
            v.rdev = Some(*rdev);
            "blockdev"
        }
    };
    v
}

/// A tree by its full id, or `SNAPSHOT[:PATH]`: the snapshot's root tree,
/// or the tree of the folder at PATH in it (as restic's `cat tree`).
pub fn tree(repo: &Repository, reference: &str) -> Result<TreeView> {
    let id = match Id::from_hex(&reference.to_ascii_lowercase()) {
        Ok(id) => id,
        Err(_) => {
            let (snap, path) = match reference.split_once(':') {
                Some((s, p)) => (s, Some(p)),
                None => (reference, None),
            };
            let entry = snapshots::resolve(repo, snap).map_err(|e| match e {
                Error::InvalidArgument(_) => Error::InvalidArgument(format!(
                    "{reference:?} is not a tree: give a tree id (64 hex digits) or SNAPSHOT[:PATH]"
                )),
                e => e,
            })?;
            match path.filter(|p| !p.is_empty()) {
                None => entry.snapshot.tree,
                Some(p) => match tree::lookup(repo, &entry.snapshot.tree, Path::new(p))? {
                    None => entry.snapshot.tree,
                    Some(Node { kind: NodeKind::Dir { subtree }, .. }) => subtree,
                    Some(_) => return Err(Error::InvalidArgument(format!("{p} is not a folder in the snapshot"))),
                },
            }
        }
    };
    let t = repo.load_tree(&id)?;
    Ok(TreeView { id: id.to_hex(), version: t.version, nodes: t.nodes.iter().map(node_view).collect() })
}

#[derive(Serialize)]
pub struct EntryView {
    /// `data` or `tree`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
}

fn entry_view(e: &PackEntry) -> EntryView {
    let kind = match e.kind {
        crate::format::BlobKind::Data => "data",
        crate::format::BlobKind::Tree => "tree",
    };
    EntryView { kind, id: e.id.to_hex(), offset: e.offset, length: e.length, raw_length: e.raw_length }
}

#[derive(Serialize)]
pub struct IndexView {
    pub id: String,
    pub version: u32,
    pub packs: Vec<IndexedPackView>,
}

#[derive(Serialize)]
pub struct IndexedPackView {
    pub pack: String,
    pub blobs: Vec<EntryView>,
}

/// The file of `kind` named by a full id or a unique prefix (4+ hex digits).
fn resolve_file(repo: &Repository, kind: FileKind, what: &str, reference: &str) -> Result<(Id, u64)> {
    let lower = reference.to_ascii_lowercase();
    if lower.len() < 4 || lower.len() > 64 || !is_hex(&lower) {
        return Err(Error::InvalidArgument(format!(
            "{reference:?} is not a {what} id: give at least 4 hex digits of one"
        )));
    }
    let found: Vec<(Id, u64)> =
        repo.backend().list(kind)?.into_iter().filter(|(id, _)| id.to_hex().starts_with(&lower)).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::InvalidArgument(format!("no {what} file has an id starting with {lower}"))),
        _ => Err(Error::InvalidArgument(format!(
            "{} {what} files have ids starting with {lower}: give more digits",
            found.len()
        ))),
    }
}

/// An index file by id or unique prefix.
pub fn index(repo: &Repository, reference: &str) -> Result<IndexView> {
    let (id, size) = resolve_file(repo, FileKind::Index, "index", reference)?;
    let file: IndexFile = repo.read_index_file_listed(&id, Some(size))?;
    Ok(IndexView {
        id: id.to_hex(),
        version: file.version,
        packs: file
            .packs
            .iter()
            .map(|p| IndexedPackView { pack: p.pack.to_hex(), blobs: p.entries.iter().map(entry_view).collect() })
            .collect(),
    })
}

#[derive(Serialize)]
pub struct PackView {
    pub id: String,
    pub size: u64,
    /// The blobs its header lists.
    pub blobs: Vec<EntryView>,
}

/// A pack's header, by id or unique prefix.
pub fn pack(repo: &Repository, reference: &str) -> Result<PackView> {
    let (id, size) = resolve_file(repo, FileKind::Pack, "pack", reference)?;
    let entries = pack::read_header(repo.backend(), repo.keys(), &id)?;
    Ok(PackView { id: id.to_hex(), size, blobs: entries.iter().map(entry_view).collect() })
}

#[derive(Serialize)]
pub struct KeyView {
    pub id: String,
    pub version: u32,
    pub created: String,
    pub host: String,
    pub user: String,
    pub kdf: crate::format::crypto::KdfParams,
}

/// Every key file (never the sealed master key itself).
pub fn keys(repo: &Repository) -> Result<Vec<KeyView>> {
    let mut out = Vec::new();
    for (id, size) in repo.backend().list(FileKind::Key)? {
        let k = read_key_file_listed(repo.backend(), &id, Some(size))?;
        out.push(KeyView {
            id: id.to_hex(),
            version: k.version,
            created: rfc3339(&k.created),
            host: k.host,
            user: k.user,
            kdf: k.kdf,
        });
    }
    Ok(out)
}

#[derive(Serialize)]
pub struct PolicyView {
    /// `repository` (stored by `policy set`) or `default`.
    pub source: &'static str,
    pub id: Option<String>,
    pub time: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub rules: KeepRules,
}

pub fn policy(repo: &Repository) -> Result<PolicyView> {
    let (rules, source) = policy_store::load(repo)?;
    Ok(match source {
        PolicySource::Stored { id, file } => PolicyView {
            source: "repository",
            id: Some(id.to_hex()),
            time: Some(rfc3339(&file.time)),
            host: Some(file.host.clone()),
            user: Some(file.user.clone()),
            rules,
        },
        PolicySource::Default => PolicyView { source: "default", id: None, time: None, host: None, user: None, rules },
    })
}

#[derive(Serialize)]
pub struct PinView {
    pub snapshot: String,
    pub time: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
}

/// Every pin; a pin file that cannot be read is listed without its details
/// and its problem is in the second list (it still pins).
pub fn pins(repo: &Repository) -> Result<(Vec<PinView>, Vec<String>)> {
    let (pins, problems) = pins::list(repo)?;
    let views = pins
        .iter()
        .map(|(id, file)| PinView {
            snapshot: id.to_hex(),
            time: file.as_ref().map(|f| rfc3339(&f.time)),
            host: file.as_ref().map(|f| f.host.clone()),
            user: file.as_ref().map(|f| f.user.clone()),
        })
        .collect();
    Ok((views, problems))
}
