//! The archiver's walk: each entry met is excluded, reused from the parent
//! snapshot, or read (files chunked and saved, folders built into trees),
//! with warnings for what vanished or could not be read. Mount points of
//! pseudo filesystems are kept as empty folders, and every file is read
//! with a stall limit (`fs::stall`).

use super::*;
use crate::fs::pseudo;
use crate::fs::stall::{self, SourceFile};

/// How many times a file that changes while read is read again.
const READ_ATTEMPTS: usize = 3;

impl Archiver<'_> {
    fn warn(&self, w: Warning) {
        self.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    }

    /// Warns that `path` was not stored because of `e`: `Vanished` when it
    /// was deleted or replaced under the walk, `Unreadable` otherwise.
    fn warn_unreadable(&self, path: &Path, e: &std::io::Error) {
        let path = path.to_path_buf();
        if vanished(e) {
            let how = if e.kind() == std::io::ErrorKind::NotFound { "deleted" } else { "replaced" };
            self.warn(Warning::Vanished { path, error: how.to_string() });
        } else {
            self.warn(Warning::Unreadable { path, error: e.to_string() });
        }
    }

    /// The tree of an intermediate folder on the way to the selected paths:
    /// its own metadata is real, but it holds only the names that lead on.
    pub(super) fn archive_virtual(&self, dir: &Path, trie: &PathTrie, parent: Option<&Tree>) -> Result<Tree> {
        let nodes: Result<Vec<Option<Node>>> = trie
            .children
            .par_iter()
            .map(|(name, child)| {
                let parent_node = parent.and_then(|t| t.find(name));
                if child.selected {
                    return self.archive_entry(dir, name, parent_node, None);
                }
                let path = dir.join(crate::snapshot::tree::name_to_path(name));
                let md = match std::fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => md,
                    Ok(_) => {
                        return Err(Error::InvalidArgument(format!("{} is no longer a folder", path.display())));
                    }
                    Err(e) => return Err(Error::io(path, e)),
                };
                let parent_sub = self.parent_subtree(parent_node);
                let tree = self.archive_virtual(&path, child, parent_sub.as_ref())?;
                let id = self.saver.save_tree(&tree)?;
                Ok(Some(fsmeta::node_from_metadata(
                    name,
                    &md,
                    NodeKind::Dir { subtree: id },
                    fsmeta::read_xattrs(&path),
                )))
            })
            .collect();
        Ok(Tree { version: FORMAT_VERSION, nodes: nodes?.into_iter().flatten().collect() })
    }

    /// A folder's names, sorted; `None` (with a warning) when it cannot be
    /// listed.
    pub(super) fn list(&self, dir: &Path) -> Option<Vec<Vec<u8>>> {
        match read_dir_names(dir) {
            Ok(n) => Some(n),
            Err(e) => {
                self.warn_unreadable(dir, &e);
                None
            }
        }
    }

    /// The tree of a real folder listed as `names`: its entries that are not
    /// excluded, sorted by name. `scope` holds the rules in force in `dir`
    /// (before its own `.gitignore`).
    /// `device` is `dir`'s own.
    pub(super) fn dir_tree(
        &self,
        dir: &Path,
        names: &[Vec<u8>],
        parent: Option<&Tree>,
        scope: &Scope,
        device: u64,
    ) -> Result<Tree> {
        let (own_scope, problem) = self.rules.enter(dir, names, scope);
        if let Some(error) = problem {
            self.warn(Warning::Exclude { path: dir.join(".gitignore"), error });
        }
        let within = Within { scope: own_scope.as_ref().unwrap_or(scope), siblings: names, device };
        let nodes: Result<Vec<Option<Node>>> = names
            .par_iter()
            .map(|name| self.archive_entry(dir, name, parent.and_then(|t| t.find(name)), Some(within)))
            .collect();
        let tree = Tree { version: FORMAT_VERSION, nodes: nodes?.into_iter().flatten().collect() };
        if let (Some(counter), Some(parent)) = (&self.alarm, parent) {
            counter.compare(dir, names, parent, &tree);
        }
        Ok(tree)
    }

    /// True (with a note) when the folder `path` is the mount point of a
    /// pseudo filesystem to be kept empty. Asked only where the device
    /// changes from the folder above (`parent_device`), or for a path given
    /// on the command line (`None`).
    pub(super) fn skipped_pseudo(&self, path: &Path, md: &Metadata, parent_device: Option<u64>) -> bool {
        if !self.rules.skips_pseudo_filesystems() || parent_device == Some(md.dev()) {
            return false;
        }
        let Some(fs_type) = pseudo::pseudo_filesystem(path, md.dev()) else { return false };
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Note::PseudoFilesystem { path: path.to_path_buf(), fs_type });
        true
    }

    /// Records an excluded entry.
    fn exclude(&self, path: PathBuf, reason: Reason) {
        bump(&self.stats.excluded, 1);
        if reason == Reason::OwnFile {
            self.own_met.lock().unwrap_or_else(|p| p.into_inner()).push(path.clone());
        }
        if self.report_excluded {
            self.excluded.lock().unwrap_or_else(|p| p.into_inner()).push((path, reason));
        }
    }

    fn parent_subtree(&self, parent: Option<&Node>) -> Option<Tree> {
        let Some(Node { kind: NodeKind::Dir { subtree }, .. }) = parent else {
            return None;
        };
        match self.repo.load_tree(subtree) {
            Ok(t) => Some(t),
            Err(e) => {
                self.warn(Warning::Parent { error: e.to_string() });
                None
            }
        }
    }

    /// One entry of a folder; `None` when it could not be read (warned) or
    /// is excluded. `within` is `None` for a path given on the command line.
    fn archive_entry(
        &self,
        dir: &Path,
        name: &[u8],
        parent: Option<&Node>,
        within: Option<Within<'_>>,
    ) -> Result<Option<Node>> {
        let path = dir.join(crate::snapshot::tree::name_to_path(name));
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) => {
                // Listed, then deleted before this stat: a note, not a failure.
                self.warn_unreadable(&path, &e);
                return Ok(None);
            }
        };
        if let Some(w) = within
            && let Some(reason) = self.rules.check_entry(&path, name, &md, w.scope, w.siblings)
        {
            self.exclude(path, reason);
            return Ok(None);
        }
        let ft = md.file_type();
        if ft.is_dir() {
            let names = if self.skipped_pseudo(&path, &md, within.map(|w| w.device)) {
                // Not even listed: an automount point would mount on it.
                Vec::new()
            } else {
                let Some(names) = self.list(&path) else { return Ok(None) };
                if within.is_some()
                    && let Some(reason) = self.rules.check_listing(&path, &names)
                {
                    self.exclude(path, reason);
                    return Ok(None);
                }
                names
            };
            let given_scope;
            let scope = match within {
                Some(w) => w.scope,
                None => {
                    given_scope = Scope::root(&md);
                    &given_scope
                }
            };
            let parent_sub = self.parent_subtree(parent);
            let tree = self.dir_tree(&path, &names, parent_sub.as_ref(), scope, md.dev())?;
            let id = match (parent, &parent_sub) {
                // Unchanged folder: the parent's tree id, without encoding it again.
                (Some(Node { kind: NodeKind::Dir { subtree }, .. }), Some(old)) if *old == tree => *subtree,
                _ => self.saver.save_tree(&tree)?,
            };
            bump(&self.stats.dirs, 1);
            let xattrs = self.xattrs(&path, &md, parent);
            return Ok(Some(fsmeta::node_from_metadata(name, &md, NodeKind::Dir { subtree: id }, xattrs)));
        }
        if ft.is_file() {
            return self.archive_file(&path, name, md, parent);
        }
        match fsmeta::special_kind(&path, &md) {
            Ok(kind) => {
                bump(&self.stats.others, 1);
                let xattrs = fsmeta::read_xattrs(&path);
                Ok(Some(fsmeta::node_from_metadata(name, &md, kind, xattrs)))
            }
            Err(e) => {
                self.warn(Warning::Unreadable { path, error: e.to_string() });
                Ok(None)
            }
        }
    }

    fn archive_file(&self, path: &Path, name: &[u8], md: Metadata, parent: Option<&Node>) -> Result<Option<Node>> {
        let reusable =
            parent.filter(|p| !self.racy(&md) && fsmeta::unchanged_since(p, &md)).and_then(|p| match &p.kind {
                NodeKind::File { content, .. } if content.iter().all(|id| self.repo.is_indexed(BlobKind::Data, id)) => {
                    Some(content.clone())
                }
                _ => None,
            });
        let (content, size, md) = if let Some(content) = reusable {
            (content, md.len(), md)
        } else if let Some((content, size)) = self.known_hard_link(&md) {
            (content, size, md)
        } else {
            match self.read_file(path, (md.dev(), md.ino()))? {
                Some(read) => read,
                None => return Ok(None),
            }
        };
        if md.nlink() > 1 {
            self.hard_links
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((md.dev(), md.ino()), ((content.clone(), size), link_stamp(&md)));
        }
        match parent.map(|p| &p.kind) {
            Some(NodeKind::File { content: old, .. }) if *old == content => bump(&self.stats.files_unchanged, 1),
            Some(_) => bump(&self.stats.files_changed, 1),
            None => bump(&self.stats.files_new, 1),
        }
        bump(&self.stats.total_bytes, size);
        // Given paths never nest, so at most one holds this file.
        if let Some((_, n)) = self.files_per_path.iter().find(|(given, _)| path.starts_with(given)) {
            bump(n, 1);
        }
        self.progress.files.fetch_add(1, Ordering::Relaxed);
        self.progress.bytes_done.fetch_add(size, Ordering::Relaxed);
        let xattrs = self.xattrs(path, &md, parent);
        let mut node = fsmeta::node_from_metadata(name, &md, NodeKind::File { size, content }, xattrs);
        node.nlink = md.nlink();
        Ok(Some(node))
    }

    /// Extended attributes; those of the parent node when the ctime shows
    /// nothing changed (setting an xattr updates the ctime).
    fn xattrs(&self, path: &Path, md: &Metadata, parent: Option<&Node>) -> Vec<Xattr> {
        match parent {
            Some(p)
                if !self.racy(md) && p.ctime.seconds == md.ctime() && i64::from(p.ctime.nanos) == md.ctime_nsec() =>
            {
                p.xattrs.clone()
            }
            _ => fsmeta::read_xattrs(path),
        }
    }

    /// True when `md`'s ctime is too close to the parent's read for an
    /// unchanged stat to prove unchanged contents.
    fn racy(&self, md: &Metadata) -> bool {
        self.racy_after
            .is_some_and(|cutoff| i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec()) >= cutoff)
    }

    /// The content of another link to the same inode read earlier in this
    /// snapshot, if its size, mtime and ctime still match.
    fn known_hard_link(&self, md: &Metadata) -> Option<(Vec<Id>, u64)> {
        if md.nlink() < 2 {
            return None;
        }
        let links = self.hard_links.lock().unwrap_or_else(|p| p.into_inner());
        match links.get(&(md.dev(), md.ino())) {
            Some((content, stamp)) if *stamp == link_stamp(md) => Some(content.clone()),
            _ => None,
        }
    }

    /// Reads and stores a file's contents. Retries when the file changes
    /// while read; stores the last version read, with a warning, if it never
    /// holds still. Returns the chunk ids, the bytes read and the stat taken
    /// before the read that was kept. `None` when it could not be read,
    /// including when `path` is no longer the regular file with the
    /// (device, inode) `identity` the walk saw.
    fn read_file(&self, path: &Path, identity: (u64, u64)) -> Result<Option<(Vec<Id>, u64, Metadata)>> {
        *self.progress.current.lock().unwrap_or_else(|p| p.into_inner()) = path.to_path_buf();
        let mut last = None;
        for _ in 0..READ_ATTEMPTS {
            let attempt = (|| -> Result<(Vec<Id>, u64, Metadata, bool), ReadFailure> {
                testhook::reached(Point::FileStat, Some(path));
                // Where a read can hang, opened and read on a helper thread,
                // each wait bounded by the stall limit: no file can hold up
                // the snapshot. On a local disk, read directly.
                let limit = self.read_limit(path, identity.0);
                let (mut file, before) = SourceFile::open(path, Some(identity), limit)?;
                let (content, read) = self.store_contents(&mut file, before.len())?;
                testhook::reached(Point::FileRead, Some(path));
                let after = file.metadata()?;
                let stable = read == after.len()
                    && before.len() == after.len()
                    && before.mtime() == after.mtime()
                    && before.mtime_nsec() == after.mtime_nsec()
                    && before.ctime() == after.ctime()
                    && before.ctime_nsec() == after.ctime_nsec();
                Ok((content, read, before, stable))
            })();
            match attempt {
                Ok((content, read, before, true)) => {
                    self.count_read(read);
                    return Ok(Some((content, read, before)));
                }
                Ok((content, read, before, false)) => last = Some((content, read, before)),
                // Failing to store is fatal; failing to read the file is a warning.
                Err(ReadFailure::Repository(e)) => return Err(e),
                // No node: what was read of it so far is referenced by nothing.
                Err(ReadFailure::Source(e)) if stall::is_stalled(&e) => {
                    self.warn(Warning::Stalled { path: path.to_path_buf(), limit: self.stall_limit });
                    return Ok(None);
                }
                Err(ReadFailure::Source(e)) => {
                    self.warn_unreadable(path, &e);
                    return Ok(None);
                }
            }
        }
        self.warn(Warning::Changed { path: path.to_path_buf() });
        Ok(last.inspect(|(_, read, _)| self.count_read(*read)))
    }

    /// The stall limit for reading `path` on `device`: `None` (read
    /// directly) where reads cannot hang (`stall::reads_can_stall`).
    fn read_limit(&self, path: &Path, device: u64) -> Option<Duration> {
        let mut devices = self.devices_can_stall.lock().unwrap_or_else(|p| p.into_inner());
        let can_stall = *devices.entry(device).or_insert_with(|| stall::reads_can_stall(path));
        can_stall.then_some(self.stall_limit)
    }

    fn count_read(&self, bytes: u64) {
        bump(&self.stats.files_read, 1);
        bump(&self.stats.bytes_read, bytes);
    }

    /// Chunks a file and saves each chunk (`Chunker::for_each_chunk`, the
    /// routine `archiver::content_ids` uses too).
    fn store_contents(&self, file: &mut SourceFile, size_hint: u64) -> Result<(Vec<Id>, u64), ReadFailure> {
        let mut ids = Vec::new();
        let read = self
            .chunker
            .for_each_chunk(file, size_hint, |data| -> Result<()> {
                self.progress.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                ids.push(self.saver.save(BlobKind::Data, data)?);
                Ok(())
            })
            .map_err(|e| match e {
                ChunkError::Read(e) => ReadFailure::Source(e),
                ChunkError::Sink(e) => ReadFailure::Repository(e),
            })?;
        Ok((ids, read))
    }
}

/// Why reading a file into the repository stopped: the source (a warning)
/// or the repository (fatal).
enum ReadFailure {
    Source(std::io::Error),
    Repository(Error),
}

impl From<std::io::Error> for ReadFailure {
    fn from(e: std::io::Error) -> Self {
        ReadFailure::Source(e)
    }
}

/// The names in a folder, sorted as bytes.
fn read_dir_names(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().as_bytes().to_vec());
    }
    names.sort();
    Ok(names)
}
