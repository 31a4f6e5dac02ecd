//! `tick`: one hour of agent activity on an existing workspace. Edits small text files,
//! grows transcripts, creates/deletes/renames files, adds git objects, touches mtimes
//! and once a day writes a large artifact. Never changes `node_modules/` or `target/`.
//!
//! The random stream is derived from (seed, hour) and every listing is sorted, so the
//! result is a pure function of the seed, the hour and the tree it is applied to.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::Path;

use crate::fsutil::{self, Entry, ext, parent};
use crate::init::{shell_snapshot, todos_json};
use crate::journal::{Journal, TickReport};
use crate::lang::LangId;
use crate::meta::Meta;
use crate::project::loose_object_path;
use crate::rng::Rng;
use crate::text::Gen;
use crate::transcript::{self, Session};
use crate::vocab::Vocab;
use crate::{T0, binary};

const KB: usize = 1024;
const MB: usize = 1024 * KB;

/// Extensions `tick` edits in place.
const EDITABLE: [&str; 8] = ["rs", "py", "ts", "tsx", "js", "go", "sh", "md"];
/// Largest file `tick` edits in place or deletes.
const SMALL: u64 = 256 * KB as u64;

/// The working state of one tick.
struct Tick<'a, 'v> {
    root: &'a Path,
    now: u64,
    volume: f64,
    g: Gen<'v>,
    j: Journal,
    /// Paths already acted on this tick (each file gets at most one operation).
    used: HashSet<String>,
    /// Directories that did not exist before this tick.
    new_dirs: BTreeSet<String>,
}

fn is_transcript(rel: &str) -> bool {
    rel.starts_with(".claude/projects/") && rel.ends_with(".jsonl")
}

fn is_git(rel: &str) -> bool {
    rel.contains("/.git/") || rel.starts_with(".git/")
}

/// The hour encoded in an artifact name `projects/<p>/{dist,data}/<name>-hNNNN.<ext>`.
fn artifact_hour(rel: &str) -> Option<u32> {
    let mut parts = rel.split('/');
    let (Some("projects"), Some(_), Some("dist" | "data"), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let stem = name.split('.').next()?;
    let (_, h) = stem.rsplit_once("-h")?;
    if h.len() == 4 { h.parse().ok() } else { None }
}

/// Sorted names of the subdirectories of `dir` (empty if it does not exist).
fn subdirs(dir: &Path) -> io::Result<Vec<String>> {
    let mut v = Vec::new();
    match fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if e.file_type()?.is_dir() {
                    if let Ok(n) = e.file_name().into_string() {
                        v.push(n);
                    }
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    v.sort();
    Ok(v)
}

impl Tick<'_, '_> {
    fn abs(&self, rel: &str) -> std::path::PathBuf {
        self.root.join(rel)
    }

    fn exists(&self, rel: &str) -> bool {
        fs::symlink_metadata(self.abs(rel)).is_ok()
    }

    /// Writes a new file, remembering which directories it brought into existence.
    fn create(&mut self, rel: &str, data: &[u8]) -> io::Result<()> {
        let mut d = parent(rel);
        while !d.is_empty() && !self.exists(d) {
            self.new_dirs.insert(d.to_string());
            d = parent(d);
        }
        fsutil::write_file(&self.abs(rel), data, self.now)?;
        self.j.created(rel);
        self.used.insert(rel.to_string());
        Ok(())
    }

    /// A fresh, unused path `dir/<stem><suffix>` built from identifiers.
    fn fresh(&mut self, dir: &str, suffix: &str, style: fn(&crate::vocab::Ident) -> &str) -> String {
        let mut attempt = 0;
        loop {
            let id = style(self.g.v.ident(&mut self.g.rng)).to_string();
            // Popular identifiers collide; after a few tries add a random suffix.
            let rel = if attempt < 8 {
                format!("{dir}/{id}{suffix}")
            } else {
                format!("{dir}/{id}-{}{suffix}", self.g.hex(6))
            };
            if !self.used.contains(&rel) && !self.exists(&rel) {
                return rel;
            }
            attempt += 1;
        }
    }

    /// Picks up to `k` unused entries of `pool`.
    fn choose<'e>(&mut self, pool: &[&'e Entry], k: usize) -> Vec<&'e Entry> {
        let free: Vec<&Entry> = pool.iter().copied().filter(|e| !self.used.contains(&e.rel)).collect();
        let picked: Vec<&Entry> = self.g.rng.sample(free.len(), k).into_iter().map(|i| free[i]).collect();
        for e in &picked {
            self.used.insert(e.rel.clone());
        }
        picked
    }

    fn grow_transcripts(&mut self, transcripts: &[&Entry], projects: &[String]) -> io::Result<()> {
        let k = self.g.rng.range(1, 3);
        for e in self.choose(transcripts, k) {
            let size = self.scaled(50 * KB, 2 * MB);
            let id = e.rel.rsplit('/').next().unwrap_or("").trim_end_matches(".jsonl").to_string();
            let slug_dir = parent(&e.rel).rsplit('/').next().unwrap_or("");
            let project = transcript::project_of_slug(slug_dir).unwrap_or_else(|| "workspace".into());
            let mut text = String::with_capacity(size + 64 * KB);
            self.session_text(&project, id, size, &mut text);
            fsutil::append_file(&self.abs(&e.rel), text.as_bytes(), self.now)?;
            self.j.appended(&e.rel);
        }
        if !projects.is_empty() && self.g.rng.chance(0.3) {
            let project = self.g.rng.pick(projects).clone();
            let id = self.g.uuid();
            let rel = format!(".claude/projects/{}/{id}.jsonl", transcript::slug(&project));
            let size = self.scaled(20 * KB, MB);
            let mut text = String::with_capacity(size + 64 * KB);
            self.session_text(&project, id, size, &mut text);
            self.create(&rel, text.as_bytes())?;
        }
        Ok(())
    }

    fn session_text(&mut self, project: &str, id: String, size: usize, out: &mut String) {
        let start = (self.now - 3600) * 1000 + self.g.rng.below(600_000) as u64;
        let mut s = Session::new(&mut self.g, project, id, start);
        transcript::write_turns(&mut self.g, &mut s, size, out);
    }

    /// A byte count in `lo..=hi` (medium scale) scaled by the corpus' volume.
    fn scaled(&mut self, lo: usize, hi: usize) -> usize {
        let v = self.g.rng.log_uniform(lo, hi) as f64 * self.volume;
        (v as usize).max(KB)
    }

    fn edit_files(&mut self, editable: &[&Entry]) -> io::Result<()> {
        let k = self.g.rng.range(20, 60);
        for e in self.choose(editable, k) {
            let path = self.abs(&e.rel);
            let Ok(old) = String::from_utf8(fs::read(&path)?) else {
                continue; // not ours (binary or non-UTF-8): leave it alone
            };
            let new = edit(&mut self.g, &old, ext(&e.rel));
            fsutil::write_file(&path, new.as_bytes(), self.now)?;
            self.j.modified(&e.rel);
        }
        Ok(())
    }

    fn create_files(&mut self, sources: &[&Entry], projects: &[String], hour: u32) -> io::Result<()> {
        for _ in 0..self.g.rng.range(8, 12) {
            let r = self.g.rng.f64();
            if r < 0.5 && !sources.is_empty() {
                // A new source file next to an existing one, in the same language.
                let like = *self.g.rng.pick(sources);
                let ext = ext(&like.rel).to_string();
                let lang = LangId::from_ext(&ext).unwrap_or(LangId::Shell);
                let style: fn(&crate::vocab::Ident) -> &str =
                    if lang == LangId::TypeScript { |i| &i.camel } else { |i| &i.snake };
                let rel = self.fresh(parent(&like.rel), &format!(".{ext}"), style);
                let size = self.g.rng.log_uniform(400, 24 * KB);
                let data = self.g.code(lang, size);
                self.create(&rel, data.as_bytes())?;
            } else if r < 0.7 && !projects.is_empty() {
                let project = self.g.rng.pick(projects).clone();
                let dir = if self.g.rng.chance(0.6) { "notes" } else { "docs" };
                let rel = self.fresh(&format!("projects/{project}/{dir}"), &format!("-h{hour:04}.md"), |i| &i.kebab);
                let size = self.g.rng.log_uniform(300, 12 * KB);
                let data = self.g.markdown(size, None);
                self.create(&rel, data.as_bytes())?;
            } else if r < 0.9 {
                let rel = format!(".claude/todos/{}-agent-{}.json", self.g.uuid(), self.g.uuid());
                let data = todos_json(&mut self.g);
                self.create(&rel, data.as_bytes())?;
            } else {
                let rel = format!(
                    ".claude/shell-snapshots/snapshot-bash-{}{:03}-{}.sh",
                    self.now,
                    self.g.rng.below(1000),
                    self.g.hex(6)
                );
                let size = self.g.rng.log_uniform(600, 20 * KB);
                let data = shell_snapshot(&mut self.g, size);
                self.create(&rel, data.as_bytes())?;
            }
        }
        Ok(())
    }

    fn delete_files(&mut self, deletable: &[&Entry]) -> io::Result<()> {
        let k = self.g.rng.range(3, 7);
        for e in self.choose(deletable, k) {
            fs::remove_file(self.abs(&e.rel))?;
            self.j.deleted(&e.rel);
        }
        Ok(())
    }

    fn rename_files(&mut self, sources: &[&Entry]) -> io::Result<()> {
        let k = self.g.rng.range(1, 3);
        for e in self.choose(sources, k) {
            let ext = ext(&e.rel).to_string();
            let style: fn(&crate::vocab::Ident) -> &str =
                if matches!(ext.as_str(), "ts" | "js") { |i| &i.camel } else { |i| &i.snake };
            let to = self.fresh(parent(&e.rel), &format!(".{ext}"), style);
            fs::rename(self.abs(&e.rel), self.abs(&to))?;
            self.used.insert(to.clone());
            self.j.renamed(&e.rel, &to);
        }
        Ok(())
    }

    fn git_objects(&mut self, repos: &[String]) -> io::Result<()> {
        let k = self.g.rng.range(1, 3);
        for i in self.g.rng.sample(repos.len(), k) {
            let base = &repos[i];
            for _ in 0..self.g.rng.range(1, 6) {
                let rel = loose_object_path(&mut self.g, base);
                if self.exists(&rel) || self.used.contains(&rel) {
                    continue;
                }
                let size = self.g.rng.log_uniform(100, 16 * KB);
                let data = binary::git_loose(&mut self.g.rng, size);
                self.create(&rel, &data)?;
            }
            // Move the branch head.
            let head = fs::read_to_string(self.abs(&format!("{base}/.git/HEAD"))).unwrap_or_default();
            if let Some(r) = head.trim().strip_prefix("ref: ") {
                let rel = format!("{base}/.git/{r}");
                if !self.used.contains(&rel) && !r.contains("..") {
                    let data = format!("{}\n", self.g.hex(40));
                    if self.exists(&rel) {
                        fsutil::write_file(&self.abs(&rel), data.as_bytes(), self.now)?;
                        self.j.modified(&rel);
                        self.used.insert(rel);
                    } else {
                        self.create(&rel, data.as_bytes())?;
                    }
                }
            }
        }
        Ok(())
    }

    fn touch_files(&mut self, all: &[&Entry]) -> io::Result<()> {
        let k = self.g.rng.range(3, 10);
        for e in self.choose(all, k) {
            fsutil::set_mtime(&self.abs(&e.rel), self.now)?;
            self.j.touched(&e.rel);
        }
        Ok(())
    }

    fn daily_artifact(&mut self, seed: u64, hour: u32, projects: &[String], artifacts: &[&Entry]) -> io::Result<()> {
        let day = u64::from((hour - 1) / 24);
        let chosen = Rng::derive(seed, "artifact-day", day).below(24) as u32;
        if (hour - 1) % 24 != chosen || projects.is_empty() {
            return Ok(());
        }
        let project = self.g.rng.pick(projects).clone();
        let (dir, ext) = *self.g.rng.pick(&[
            ("dist", "tar"),
            ("dist", "wasm"),
            ("data", "parquet"),
            ("data", "npy"),
            ("data", "safetensors"),
        ]);
        let stem = self.g.v.ident(&mut self.g.rng).kebab.clone();
        let rel = format!("projects/{project}/{dir}/{stem}-h{hour:04}.{ext}");
        let size = self.scaled(50 * MB, 200 * MB);
        let data = binary::artifact(&mut self.g.rng, &self.g.v.blob, size);
        self.create(&rel, &data)?;
        drop(data);
        if self.g.rng.chance(0.5) {
            let oldest = artifacts
                .iter()
                .filter(|e| !self.used.contains(&e.rel))
                .min_by_key(|e| (artifact_hour(&e.rel), e.rel.clone()));
            if let Some(e) = oldest {
                let rel = e.rel.clone();
                fs::remove_file(self.abs(&rel))?;
                self.j.deleted(&rel);
                self.used.insert(rel);
            }
        }
        Ok(())
    }

    /// Sets the mtime of every directory whose entries changed.
    fn stamp_dirs(&self) -> io::Result<()> {
        let mut dirs: BTreeSet<String> = BTreeSet::new();
        for p in self.j.structural_paths() {
            dirs.insert(parent(&p).to_string());
        }
        for d in &self.new_dirs {
            dirs.insert(d.clone());
            dirs.insert(parent(d).to_string());
        }
        for d in dirs {
            let path = self.abs(&d);
            if path.is_dir() {
                fsutil::set_dir_mtime(&path, self.now)?;
            }
        }
        Ok(())
    }
}

/// Edits a text file: changes a few lines, appends a block, or truncates it.
fn edit(g: &mut Gen<'_>, old: &str, ext: &str) -> String {
    let lang = LangId::from_ext(ext);
    let names = lang.map(|l| g.names(l));
    g.set_topic(20);
    let mut lines: Vec<String> = old.lines().map(String::from).collect();
    let new_line = |g: &mut Gen<'_>, indent: &str| -> String {
        let mut s = indent.to_string();
        match (lang, &names) {
            (Some(l), Some(n)) => g.code_lines(l, n, 1, 0, &mut s),
            _ => {
                g.sentence(&mut s);
                s.push('\n');
            }
        }
        s.trim_end_matches('\n').replace('\n', &format!("\n{indent}"))
    };
    let r = g.rng.f64();
    let mut out = if r < 0.6 && lines.len() >= 3 {
        for _ in 0..g.rng.range(1, 5) {
            let i = g.rng.below(lines.len());
            let indent: String = lines[i].chars().take_while(|c| c.is_whitespace()).collect();
            match g.rng.below(10) {
                0..=5 => lines[i] = new_line(g, &indent),
                6..=8 => {
                    let l = new_line(g, &indent);
                    lines.insert(i + 1, l);
                }
                _ if lines.len() > 3 => {
                    lines.remove(i);
                }
                _ => {}
            }
        }
        lines.join("\n") + "\n"
    } else if r < 0.85 || lines.len() < 4 {
        let mut s = old.to_string();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        match (lang, &names) {
            (Some(l), Some(n)) => {
                s.push('\n');
                g.block(l, n, &mut s);
            }
            _ => g.md_chunk(&mut s),
        }
        s
    } else {
        let keep = (lines.len() * g.rng.range(40, 90) / 100).max(1);
        lines.truncate(keep);
        lines.join("\n") + "\n"
    };
    if out == old {
        let comment = lang.map_or("<!--", |l| g.v.langs[l as usize].comment);
        out.push_str(comment);
        out.push(' ');
        g.sentence(&mut out);
        out.push('\n');
    }
    out
}

/// See [`crate::tick()`].
pub(crate) fn run(root: &Path, hour: u32) -> io::Result<TickReport> {
    if hour == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "hours start at 1"));
    }
    let meta = Meta::read(root)?;
    let vocab = Vocab::new(meta.seed);
    let mut t = Tick {
        root,
        now: T0 + u64::from(hour) * 3600,
        volume: meta.scale.params().volume,
        g: Gen::new(&vocab, Rng::derive(meta.seed, "tick", u64::from(hour))),
        j: Journal::default(),
        used: HashSet::new(),
        new_dirs: BTreeSet::new(),
    };

    let files = fsutil::walk(root, true)?;
    let all: Vec<&Entry> = files.iter().collect();
    let transcripts: Vec<&Entry> = files.iter().filter(|e| is_transcript(&e.rel)).collect();
    let artifacts: Vec<&Entry> = files.iter().filter(|e| artifact_hour(&e.rel).is_some()).collect();
    let plain: Vec<&Entry> =
        files.iter().filter(|e| !is_transcript(&e.rel) && !is_git(&e.rel) && artifact_hour(&e.rel).is_none()).collect();
    let editable: Vec<&Entry> =
        plain.iter().copied().filter(|e| e.size <= SMALL && EDITABLE.contains(&ext(&e.rel))).collect();
    let sources: Vec<&Entry> =
        editable.iter().copied().filter(|e| e.rel.starts_with("projects/") && ext(&e.rel) != "md").collect();
    let deletable: Vec<&Entry> = plain
        .iter()
        .copied()
        .filter(|e| {
            e.size <= SMALL
                && (EDITABLE.contains(&ext(&e.rel))
                    || e.rel.starts_with(".claude/todos/")
                    || e.rel.starts_with(".claude/shell-snapshots/"))
        })
        .collect();
    let projects = subdirs(&root.join("projects"))?;
    let repos: Vec<String> =
        projects.iter().map(|p| format!("projects/{p}")).filter(|p| root.join(p).join(".git").is_dir()).collect();

    t.grow_transcripts(&transcripts, &projects)?;
    t.edit_files(&editable)?;
    t.create_files(&sources, &projects, hour)?;
    t.delete_files(&deletable)?;
    t.rename_files(&sources)?;
    t.git_objects(&repos)?;
    t.touch_files(&all)?;
    t.daily_artifact(meta.seed, hour, &projects, &artifacts)?;
    t.stamp_dirs()?;
    Ok(t.j.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names() {
        assert_eq!(artifact_hour("projects/p01-x/data/foo-bar-h0024.parquet"), Some(24));
        assert_eq!(artifact_hour("projects/p01-x/dist/foo-h0003.tar"), Some(3));
        assert_eq!(artifact_hour("projects/p01-x/src/foo-h0003.rs"), None);
        assert_eq!(artifact_hour("projects/p01-x/data/sub/foo-h0003.npy"), None);
        assert_eq!(artifact_hour("projects/p01-x/data/foo-h03.npy"), None);
    }

    #[test]
    fn edits_change_content() {
        let v = Vocab::new(1);
        let mut g = Gen::new(&v, Rng::derive(1, "edit", 0));
        for (text, ext) in [("", "rs"), ("a\n", "md"), ("fn x() {}\n", "rs"), ("x", "py")] {
            for _ in 0..20 {
                assert_ne!(edit(&mut g, text, ext), text);
            }
        }
        let code = g.code(LangId::Go, 4000);
        for _ in 0..50 {
            assert_ne!(edit(&mut g, &code, "go"), code);
        }
    }
}
