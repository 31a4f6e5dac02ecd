//! `check`: verifies that the repository is whole. Config and keys (by
//! opening), every index file against the pack headers, every snapshot's
//! trees, and that every blob a snapshot needs is indexed; with `read_data`,
//! every pack's bytes, every blob's decryption and id. Leftovers of
//! interrupted runs are reported as notes, not errors.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::backend::FileKind;
use crate::format::{NodeKind, PackEntry};
use crate::id::Id;
use crate::pack;
use crate::repo::Repository;
use crate::snapshots;

#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub read_data: bool,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Each a damaged or missing thing, named.
    pub errors: Vec<String>,
    /// Harmless findings: unreferenced packs, temporary files.
    pub notes: Vec<String>,
    pub snapshots: usize,
    pub packs: usize,
    pub blobs: usize,
}

pub fn check(repo: &Repository, opts: CheckOptions) -> crate::Result<CheckReport> {
    let mut report = CheckReport::default();

    // Snapshots first, then the index: a snapshot written meanwhile by a
    // concurrent run has its index written before it, so it is covered.
    let (all, problems) = snapshots::list(repo)?;
    repo.refresh_index()?;

    // Every key file must be intact (only one of them was needed to open).
    for (id, _) in repo.backend().list(FileKind::Key)? {
        if let Err(e) = repo
            .read_verified(FileKind::Key, &id)
            .and_then(|bytes| crate::codec::from_postcard::<crate::format::KeyFile>(&bytes, "key file").map(|_| ()))
        {
            report.errors.push(format!("key {id}: {e}"));
        }
    }

    // Index files, read afresh so each problem names its file.
    let mut indexed: HashMap<Id, Vec<PackEntry>> = HashMap::new();
    for (id, _) in repo.backend().list(FileKind::Index)? {
        match repo.read_index_file(&id) {
            Ok(file) => {
                for p in file.packs {
                    indexed.entry(p.pack).or_insert(p.entries);
                }
            }
            Err(e) => report.errors.push(format!("index {id}: {e}")),
        }
    }
    report.blobs = indexed.values().map(Vec::len).sum();

    // Packs: present, headers agree with the index, and optionally every blob.
    let on_disk: HashMap<Id, u64> = repo.backend().list(FileKind::Pack)?.into_iter().collect();
    for pack in on_disk.keys() {
        if !indexed.contains_key(pack) {
            report
                .notes
                .push(format!("pack {pack} is not referenced by any index (left by an interrupted run; harmless)"));
        }
    }
    let mut packs: Vec<(&Id, &Vec<PackEntry>)> = indexed.iter().collect();
    packs.sort_by_key(|(id, _)| **id);
    report.packs = packs.len();
    let results: Vec<(Vec<String>, Vec<Id>)> = packs
        .par_iter()
        .map(|(pack, entries)| {
            if !on_disk.contains_key(pack) {
                return (
                    vec![format!("pack {pack} is listed in the index but missing")],
                    entries.iter().map(|e| e.id).collect(),
                );
            }
            if opts.read_data { read_pack(repo, pack, entries) } else { check_header(repo, pack, entries) }
        })
        .collect();
    let mut bad_blobs: HashSet<Id> = HashSet::new();
    for (errors, bad) in results {
        report.errors.extend(errors);
        bad_blobs.extend(bad);
    }

    // Snapshots and their trees.
    report.errors.extend(problems);
    report.snapshots = all.len();
    let mut seen_trees: HashSet<Id> = HashSet::new();
    for entry in &all {
        let sid = entry.id.short();
        let mut stack = vec![(entry.snapshot.tree, String::from("/"))];
        while let Some((tree_id, path)) = stack.pop() {
            if !seen_trees.insert(tree_id) {
                continue;
            }
            if !repo.is_indexed(&tree_id) {
                report.errors.push(format!("snapshot {sid}: tree {tree_id} of {path} is not in any index"));
                continue;
            }
            let tree = match repo.load_tree(&tree_id) {
                Ok(t) => t,
                Err(e) => {
                    report.errors.push(format!("snapshot {sid}: tree of {path}: {e}"));
                    continue;
                }
            };
            for node in &tree.nodes {
                let name = String::from_utf8_lossy(&node.name);
                let child = if path == "/" { format!("/{name}") } else { format!("{path}/{name}") };
                match &node.kind {
                    NodeKind::Dir { subtree } => stack.push((*subtree, child)),
                    NodeKind::File { content, .. } => {
                        for id in content {
                            if !repo.is_indexed(id) {
                                report.errors.push(format!("snapshot {sid}: {child}: chunk {id} is not in any index"));
                            } else if bad_blobs.contains(id) {
                                report.errors.push(format!("snapshot {sid}: {child}: chunk {id} is damaged"));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    for tmp in repo.backend().list_temporaries()? {
        report.notes.push(format!("temporary file {} left by an interrupted write (harmless)", tmp.display()));
    }
    for problem in repo.index_problems() {
        if !report.errors.iter().any(|e| e == problem) {
            report.errors.push(problem.clone());
        }
    }
    Ok(report)
}

fn same_entries(a: &[PackEntry], b: &[PackEntry]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by_key(|e| e.offset);
    b.sort_by_key(|e| e.offset);
    a == b
}

/// Reads only the pack's header and compares it with the index.
fn check_header(repo: &Repository, pack: &Id, entries: &[PackEntry]) -> (Vec<String>, Vec<Id>) {
    match pack::read_header(repo.backend(), repo.keys(), pack) {
        Ok(header) if same_entries(&header, entries) => (Vec::new(), Vec::new()),
        Ok(_) => (vec![format!("pack {pack}: header disagrees with the index")], Vec::new()),
        Err(e) => (vec![format!("pack {pack}: {e}")], entries.iter().map(|e| e.id).collect()),
    }
}

/// Reads the whole pack: its name, its header, and every blob.
fn read_pack(repo: &Repository, pack: &Id, entries: &[PackEntry]) -> (Vec<String>, Vec<Id>) {
    let bytes = match repo.backend().read(FileKind::Pack, pack) {
        Ok(b) => b,
        Err(e) => {
            return (vec![format!("pack {pack}: {e}")], entries.iter().map(|e| e.id).collect());
        }
    };
    let mut errors = Vec::new();
    let mut bad = Vec::new();
    if Id::of_file_bytes(&bytes) != *pack {
        errors.push(format!("pack {pack}: contents do not match its name (damaged)"));
    }
    match pack::parse_pack(repo.keys(), &bytes) {
        Ok(header) if !same_entries(&header, entries) => {
            errors.push(format!("pack {pack}: header disagrees with the index"))
        }
        Ok(_) => {}
        Err(e) => errors.push(format!("pack {pack}: header: {e}")),
    }
    for e in entries {
        let end = e.offset as usize + e.length as usize;
        let Some(stored) = bytes.get(e.offset as usize..end) else {
            errors.push(format!("pack {pack}: blob {} lies beyond the end of the pack", e.id));
            bad.push(e.id);
            continue;
        };
        let loc = crate::index::BlobLocation {
            pack: *pack,
            kind: e.kind,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        };
        if let Err(err) = repo.open_blob(&e.id, &loc, stored) {
            errors.push(format!("pack {pack}: blob {}: {err}", e.id));
            bad.push(e.id);
        }
    }
    (errors, bad)
}
