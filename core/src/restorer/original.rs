//! Restoring to the original places (`--to-original`): for each planned
//! entry, what is on disk now decides the action. Missing entries are
//! created, identical files (same metadata, then same chunk ids; nothing
//! rewritten) are left alone, different ones are replaced only with `--overwrite`, and with
//! `--delete` entries the snapshot does not have are removed, except those
//! its recorded exclude rules leave out (a version-1 snapshot recorded
//! none: then only entries newer than it are removed). Everything
//! about to be replaced or removed is listed for the preserve snapshot,
//! which is taken before anything is touched.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::archiver::content_ids;
use crate::error::Result;
use crate::format::{Node, NodeKind, Snapshot};
use crate::fs::exclude::{ExcludeRules, Scope};
use crate::fs::fsmeta::{self, Identity};
use crate::repo::Repository;

use super::plan::{Plan, Planned};
use super::{Action, Decided};

/// Why an entry that differs is left alone; the caller adds how to allow
/// overwriting (counted in `Decided::needs_overwrite`).
const OVERWRITE_HINT: &str = "left as it is: overwriting was not allowed";

/// `delete`: with `--delete`, how to tell what the snapshot left out on
/// purpose from what came later.
pub fn decide(repo: &Repository, plan: Plan, overwrite: bool, delete: Option<DeleteRule>) -> Result<Decided> {
    let mut delete = delete.map(|rule| (rule, Scopes::default()));
    let mut d = Decided { original: true, ..Decided::default() };
    // Folders that cannot be restored block everything below them.
    let mut blocked: Vec<PathBuf> = Vec::new();
    let is_blocked = |blocked: &[PathBuf], p: &Path| blocked.iter().any(|b| p.starts_with(b));
    for entry in plan.dirs {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => {
                blocked.push(entry.path.clone());
                Action::Skip(format!("cannot be examined: {e}"))
            }
            Ok(md) if md.is_dir() => Action::Unchanged,
            // A folder only on the way to a selected path holds much that no
            // snapshot covers: what is there now is never replaced.
            Ok(_) if !entry.selected => {
                blocked.push(entry.path.clone());
                Action::Skip(
                    "a file or symlink is where the snapshot has a folder on the way to the selected paths; \
                     it is never replaced (move it away and run the restore again)"
                        .to_string(),
                )
            }
            Ok(md) if overwrite => {
                d.preserve.push(entry.path.clone());
                d.seen.insert(entry.path.clone(), Identity::of(&md));
                Action::Replace
            }
            Ok(_) => {
                blocked.push(entry.path.clone());
                needs_overwrite(&mut d, "a file is where the snapshot has a folder")
            }
        };
        // Only folders inside a selected path are made to match: the folders
        // on the way to it (up to `/`) hold much that no snapshot path covers.
        if let Some((rule, scopes)) = &mut delete
            && entry.selected
            && matches!(action, Action::Unchanged | Action::Replace)
        {
            extra_entries(repo, &entry, rule, scopes, &mut d)?;
        }
        d.dirs.push((entry, action));
    }
    for entry in plan.files {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
            Ok(md) if md.is_file() && same_file(repo, &entry, &md) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, &md, &entry.path, &mut d),
        };
        d.files.push((entry, action));
    }
    hard_link_groups(overwrite, &mut d);
    for entry in plan.others {
        if is_blocked(&blocked, &entry.path) {
            continue;
        }
        let action = match fs::symlink_metadata(&entry.path) {
            // Missing, or below a file that a folder replaces.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Action::Create,
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
            Ok(md) if md.file_type().is_symlink() && same_link(&entry) => Action::Unchanged,
            Ok(md) if same_special(&entry, &md) => Action::Unchanged,
            Ok(md) => replace_or_skip(overwrite, &md, &entry.path, &mut d),
        };
        d.others.push((entry, action));
    }
    Ok(d)
}

/// Hard links: the names of one snapshot inode are left alone only while
/// they are still one inode on disk and all as in the snapshot (missing
/// names are then linked to them). Otherwise every name present is
/// replaced (with `--overwrite`), so that all are written again as one
/// inode: an unchanged name left alone would stay a separate file beside
/// the rewritten ones.
fn hard_link_groups(overwrite: bool, d: &mut Decided) {
    let mut groups: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, (entry, _)) in d.files.iter().enumerate() {
        if entry.node.nlink > 1 {
            groups.entry((entry.node.device, entry.node.inode)).or_default().push(i);
        }
    }
    let mut broken: Vec<usize> = Vec::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        let mut inodes_on_disk = HashSet::new();
        let mut all_unchanged = true;
        for &i in members {
            match &d.files[i].1 {
                Action::Unchanged => {
                    if let Ok(md) = fs::symlink_metadata(&d.files[i].0.path) {
                        inodes_on_disk.insert((md.dev(), md.ino()));
                    }
                }
                Action::Create => {}
                _ => all_unchanged = false,
            }
        }
        if !all_unchanged || inodes_on_disk.len() > 1 {
            broken.extend(members.iter().copied().filter(|&i| d.files[i].1 == Action::Unchanged));
        }
    }
    broken.sort_unstable();
    for i in broken {
        let path = d.files[i].0.path.clone();
        let action = match fs::symlink_metadata(&path) {
            Ok(md) if overwrite => replace_or_skip(true, &md, &path, d),
            Ok(_) => needs_overwrite(
                d,
                "same contents, but no longer hard-linked to the other names of its snapshot inode as it was",
            ),
            Err(e) => Action::Skip(format!("cannot be examined: {e}")),
        };
        d.files[i].1 = action;
    }
}

fn replace_or_skip(overwrite: bool, md: &fs::Metadata, path: &Path, d: &mut Decided) -> Action {
    if overwrite {
        d.preserve.push(path.to_path_buf());
        d.seen.insert(path.to_path_buf(), Identity::of(md));
        Action::Replace
    } else if md.is_dir() {
        needs_overwrite(d, "a folder is where the snapshot has a file")
    } else {
        needs_overwrite(d, "differs from the snapshot")
    }
}

/// Leaves an entry that differs as it is, counting it for the caller's hint.
fn needs_overwrite(d: &mut Decided, what: &str) -> Action {
    d.needs_overwrite += 1;
    Action::Skip(format!("{what}; {OVERWRITE_HINT}"))
}

/// The file is as in the snapshot: the metadata a restore sets (cheap, so
/// first), then the same size, then the same chunk ids. A file whose mode,
/// mtime, owner or xattrs alone changed differs too: leaving it alone would
/// leave it unlike the snapshot, which is what the restore was asked for.
fn same_file(repo: &Repository, entry: &Planned, md: &fs::Metadata) -> bool {
    let NodeKind::File { size, content } = &entry.node.kind else { return false };
    same_metadata(&entry.node, md, &entry.path)
        && *size == md.len()
        && content_ids(repo, &entry.path).is_ok_and(|ids| &ids == content)
}

/// Whether an existing folder's mode, mtime, xattrs or owner differ from
/// the snapshot's (then they are applied again: the folder itself and what
/// is in it stay, so nothing needs preserving).
pub fn folder_metadata_differs(path: &Path, node: &Node) -> bool {
    fs::symlink_metadata(path).is_ok_and(|md| md.is_dir() && !same_metadata(node, &md, path))
}

/// Mode, mtime, xattrs and (where the restore can set it, as root) owner.
fn same_metadata(node: &Node, md: &fs::Metadata, path: &Path) -> bool {
    let owner = !fsmeta::can_chown() || (node.uid, node.gid) == (md.uid(), md.gid());
    owner
        && node.mode == md.mode() & 0o7777
        && (node.mtime.seconds, i64::from(node.mtime.nanos)) == (md.mtime(), md.mtime_nsec())
        && fsmeta::read_xattrs(path) == node.xattrs
}

fn same_link(entry: &Planned) -> bool {
    let NodeKind::Symlink { target } = &entry.node.kind else { return false };
    fs::read_link(&entry.path).is_ok_and(|t| t.as_os_str().as_bytes() == target.as_slice())
}

/// A fifo, socket or device node as in the snapshot: same kind, device
/// number and metadata. (Without this, every such entry "differed", and a
/// restore of a tree holding one failed unless given --overwrite.)
fn same_special(entry: &Planned, md: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let same_kind = match entry.node.kind {
        NodeKind::Fifo => ft.is_fifo(),
        NodeKind::Socket => ft.is_socket(),
        NodeKind::CharDevice { rdev } => ft.is_char_device() && md.rdev() == rdev,
        NodeKind::BlockDevice { rdev } => ft.is_block_device() && md.rdev() == rdev,
        _ => false,
    };
    same_kind && same_metadata(&entry.node, md, &entry.path)
}

/// With `--delete`: which entries the snapshot lacks on purpose.
pub enum DeleteRule {
    /// The exclude rules the snapshot recorded and its paths: an entry
    /// those rules leave out is kept, any other the snapshot lacks goes.
    Recorded { rules: Box<ExcludeRules>, paths: Vec<PathBuf> },
    /// A version-1 snapshot, which recorded no rules: only entries that came
    /// into being after this time (seconds) go. Older ones were probably
    /// excluded (e.g. node_modules) and are kept.
    NewerThan(i64),
}

impl DeleteRule {
    pub fn of(snapshot: &Snapshot) -> Result<DeleteRule> {
        Ok(match &snapshot.recipe {
            Some(recipe) => DeleteRule::Recorded {
                rules: Box::new(ExcludeRules::from_record(&recipe.excludes)?),
                paths: snapshot.paths.iter().map(|p| PathBuf::from(OsStr::from_bytes(p))).collect(),
            },
            None => DeleteRule::NewerThan(snapshot.time.unix_seconds),
        })
    }
}

/// The exclude scope in force inside each folder examined, built from the
/// snapshot path down (its `.gitignore` stack), each folder once.
#[derive(Default)]
struct Scopes(HashMap<PathBuf, Option<Scope>>);

impl Scopes {
    /// The rules in force for the entries of `dir`, a folder at or below
    /// `root`; `None` when some folder on the way cannot be read.
    fn inside(&mut self, rules: &ExcludeRules, root: &Path, dir: &Path) -> Option<Scope> {
        if let Some(known) = self.0.get(dir) {
            return known.clone();
        }
        let base = if dir == root {
            fs::symlink_metadata(root).ok().map(|md| Scope::root(&md))
        } else {
            dir.parent().and_then(|up| self.inside(rules, root, up))
        };
        let scope = base.and_then(|base| {
            let names = sorted_names(dir).ok()?;
            Some(rules.enter(dir, &names, &base).0.unwrap_or(base))
        });
        self.0.insert(dir.to_path_buf(), scope.clone());
        scope
    }
}

fn sorted_names(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir)? {
        names.push(e?.file_name().as_bytes().to_vec());
    }
    names.sort();
    Ok(names)
}

/// With `--delete`: entries of a restored folder that the snapshot lacks
/// and that `rule` does not keep. Anything on another device (a mount
/// point) is always kept.
fn extra_entries(
    repo: &Repository,
    dir: &Planned,
    rule: &DeleteRule,
    scopes: &mut Scopes,
    d: &mut Decided,
) -> Result<()> {
    let NodeKind::Dir { subtree } = &dir.node.kind else { return Ok(()) };
    let Ok(dir_md) = fs::symlink_metadata(&dir.path) else { return Ok(()) };
    if !dir_md.is_dir() {
        return Ok(());
    }
    let tree = repo.load_tree(subtree)?;
    let known: HashSet<&[u8]> = tree.nodes.iter().map(|n| n.name.as_slice()).collect();
    let Ok(names) = sorted_names(&dir.path) else { return Ok(()) };
    let mut extra: Vec<(PathBuf, fs::Metadata)> = names
        .iter()
        .filter(|name| !known.contains(name.as_slice()))
        .map(|name| dir.path.join(OsStr::from_bytes(name)))
        .filter_map(|path| fs::symlink_metadata(&path).ok().map(|md| (path, md)))
        .filter(|(_, md)| md.dev() == dir_md.dev())
        .collect();
    match rule {
        DeleteRule::NewerThan(since) => {
            extra.retain(|(path, _)| fsmeta::birth_time(path).is_ok_and(|born| born >= *since));
        }
        DeleteRule::Recorded { rules, paths } => {
            // Outside every snapshot path (cannot happen for a selected
            // folder) or where the rules cannot be worked out, keep all.
            let scope = paths
                .iter()
                .find(|root| dir.path.starts_with(root))
                .and_then(|root| scopes.inside(rules, root, &dir.path));
            let Some(scope) = scope else { return Ok(()) };
            extra.retain(|(path, md)| {
                let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
                let excluded = rules.check_entry(path, name, md, &scope, &names).is_some()
                    || (md.is_dir()
                        && sorted_names(path).map_or(true, |inner| rules.check_listing(path, &inner).is_some()));
                !excluded
            });
        }
    }
    extra.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, md) in extra {
        d.preserve.push(path.clone());
        d.seen.insert(path.clone(), Identity::of(&md));
        d.deletions.push(path);
    }
    Ok(())
}
