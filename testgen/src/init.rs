//! `init`: plans a workspace from (scale, seed), then writes the agent state under
//! `.claude/` and the projects under `projects/` as independent parallel jobs, each
//! with its own random stream so the result does not depend on scheduling.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use rayon::prelude::*;

use crate::fsutil::{self, write_file};
use crate::meta::Meta;
use crate::rng::{Rng, split_sizes};
use crate::scale::{self, Params, Share};
use crate::text::Gen;
use crate::transcript::{self, Session};
use crate::vocab::Vocab;
use crate::{Generated, META_FILE, Scale, T0, binary, project};

const KB: usize = 1024;

/// What kind of software a project is; decides languages and build folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Fullstack,
    Rust,
    Web,
    Python,
    Go,
}

impl Kind {
    const CYCLE: [Kind; 5] = [Kind::Fullstack, Kind::Rust, Kind::Web, Kind::Python, Kind::Go];

    /// Source extensions with weights.
    pub(crate) fn langs(self) -> &'static [(&'static str, usize)] {
        match self {
            Kind::Fullstack => &[("rs", 5), ("ts", 4), ("tsx", 2), ("sh", 1)],
            Kind::Rust => &[("rs", 10), ("py", 1), ("sh", 1)],
            Kind::Web => &[("ts", 6), ("tsx", 3), ("js", 2), ("sh", 1)],
            Kind::Python => &[("py", 10), ("sh", 1)],
            Kind::Go => &[("go", 10), ("sh", 1)],
        }
    }

    pub(crate) fn has_node_modules(self) -> bool {
        matches!(self, Kind::Fullstack | Kind::Web)
    }

    pub(crate) fn has_target(self) -> bool {
        matches!(self, Kind::Fullstack | Kind::Rust)
    }
}

/// Bytes and file count for one category of one project.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    pub bytes: u64,
    pub files: usize,
}

/// Everything needed to build one project independently.
#[derive(Clone, Debug)]
pub(crate) struct ProjectPlan {
    pub index: usize,
    /// Directory name under `projects/`, e.g. `p03-cache-router`.
    pub name: String,
    /// The identifier the name was made from (crate/package name).
    pub ident: String,
    pub kind: Kind,
    pub source: Budget,
    pub docs: Budget,
    pub config: Budget,
    pub git: Budget,
    pub assets: Budget,
    pub node_modules: Budget,
    pub target: Budget,
    pub transcript_bytes: u64,
}

fn plan(p: &Params, seed: u64, v: &Vocab) -> Vec<ProjectPlan> {
    let mut rng = Rng::derive(seed, "plan", 0);
    let n = p.projects;
    let weights: Vec<f64> = (0..n).map(|_| 0.5 + rng.f64()).collect();
    let kinds: Vec<Kind> = (0..n).map(|i| Kind::CYCLE[i % Kind::CYCLE.len()]).collect();
    // Split a category's total over the eligible projects by weight.
    let split = |share: Share, eligible: &dyn Fn(Kind) -> bool| -> Vec<Budget> {
        let sum: f64 = (0..n).filter(|&i| eligible(kinds[i])).map(|i| weights[i]).sum();
        (0..n)
            .map(|i| {
                if !eligible(kinds[i]) || sum <= 0.0 {
                    return Budget::default();
                }
                let f = weights[i] / sum;
                Budget {
                    bytes: (share.bytes * p.bytes as f64 * f) as u64,
                    files: ((share.files * p.files as f64 * f).round() as usize).max(1),
                }
            })
            .collect()
    };
    let all = |_: Kind| true;
    let source = split(scale::SOURCE, &all);
    let docs = split(scale::DOCS, &all);
    let config = split(scale::CONFIG, &all);
    let git = split(scale::GIT, &all);
    let assets = split(scale::ASSETS, &all);
    let transcripts = split(scale::TRANSCRIPTS, &all);
    let nm = split(scale::NODE_MODULES, &Kind::has_node_modules);
    let target = split(scale::TARGET, &Kind::has_target);

    let mut used = HashSet::new();
    (0..n)
        .map(|i| {
            let ident = loop {
                let id = v.ident(&mut rng).kebab.clone();
                if id.len() <= 24 && used.insert(id.clone()) {
                    break id;
                }
            };
            ProjectPlan {
                index: i,
                name: format!("p{i:02}-{ident}"),
                ident,
                kind: kinds[i],
                source: source[i],
                docs: docs[i],
                config: config[i],
                git: git[i],
                assets: assets[i],
                node_modules: nm[i],
                target: target[i],
                transcript_bytes: transcripts[i].bytes,
            }
        })
        .collect()
}

/// Accumulates what a job wrote.
pub(crate) struct Out<'r> {
    pub root: &'r Path,
    pub done: Generated,
}

impl<'r> Out<'r> {
    pub(crate) fn new(root: &'r Path) -> Out<'r> {
        Out { root, done: Generated { files: 0, bytes: 0 } }
    }

    /// Writes `data` at `rel` (relative to the workspace root) with `mtime`.
    pub(crate) fn put(&mut self, rel: &str, data: &[u8], mtime: u64) -> io::Result<()> {
        write_file(&self.root.join(rel), data, mtime)?;
        self.done.files += 1;
        self.done.bytes += data.len() as u64;
        Ok(())
    }
}

/// A synthetic mtime some time in the 90 days before T0.
pub(crate) fn old_mtime(rng: &mut Rng) -> u64 {
    T0 - 600 - rng.below(90 * 86_400) as u64
}

enum Job<'a> {
    Agent,
    Project(&'a ProjectPlan),
    Transcripts(&'a ProjectPlan),
}

/// See [`crate::init()`].
pub(crate) fn run(root: &Path, scale: Scale, seed: u64) -> io::Result<Generated> {
    std::fs::create_dir_all(root)?;
    if std::fs::read_dir(root)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not empty; init needs a fresh directory", root.display()),
        ));
    }
    let p = scale.params();
    let vocab = Vocab::new(seed);
    let plans = plan(&p, seed, &vocab);
    let mut jobs = vec![Job::Agent];
    jobs.extend(plans.iter().map(Job::Transcripts));
    jobs.extend(plans.iter().map(Job::Project));
    let results: Vec<Generated> = jobs
        .par_iter()
        .map(|job| match job {
            Job::Agent => agent_state(root, &p, seed, &vocab, &plans),
            Job::Transcripts(pl) => transcripts(root, &p, seed, &vocab, pl),
            Job::Project(pl) => project::build(root, seed, &vocab, pl),
        })
        .collect::<io::Result<_>>()?;
    write_file(&root.join(META_FILE), Meta { scale, seed }.render().as_bytes(), T0)?;
    // Directory mtimes are synthetic too, so whole trees compare equal.
    for d in fsutil::walk_dirs(root)? {
        fsutil::set_dir_mtime(&d, T0)?;
    }
    fsutil::set_dir_mtime(root, T0)?;
    Ok(results.iter().fold(Generated { files: 0, bytes: 0 }, |a, r| Generated {
        files: a.files + r.files,
        bytes: a.bytes + r.bytes,
    }))
}

/// Session transcripts of one project: 10 KB up to the scale's maximum each.
fn transcripts(root: &Path, p: &Params, seed: u64, v: &Vocab, pl: &ProjectPlan) -> io::Result<Generated> {
    let mut g = Gen::new(v, Rng::derive(seed, "transcripts", pl.index as u64));
    let mut out = Out::new(root);
    let dir = format!(".claude/projects/{}", transcript::slug(&pl.name));
    let mut left = pl.transcript_bytes as usize;
    let min = 10 * KB;
    // The first project always gets one transcript of the scale's maximum size.
    let mut first_max = pl.index == 0;
    loop {
        let size = if std::mem::take(&mut first_max) {
            p.transcript_max
        } else {
            g.rng.log_uniform(min, p.transcript_max.max(min)).min(left.max(min))
        };
        let start = T0 * 1000 - (3 * 86_400_000 + g.rng.below(57 * 86_400_000) as u64);
        let id = g.uuid();
        let mut s = Session::new(&mut g, &pl.name, id.clone(), start);
        let mut text = String::with_capacity(size + 64 * KB);
        transcript::write_turns(&mut g, &mut s, size, &mut text);
        let mtime = (s.time_ms / 1000).min(T0 - 60);
        out.put(&format!("{dir}/{id}.jsonl"), text.as_bytes(), mtime)?;
        left = left.saturating_sub(text.len());
        if left < min {
            break;
        }
    }
    Ok(out.done)
}

/// A todo list as the agent stores it.
pub(crate) fn todos_json(g: &mut Gen<'_>) -> String {
    let mut s = String::from("[");
    for i in 0..g.rng.range(1, 12) {
        if i > 0 {
            s.push(',');
        }
        let mut content = String::new();
        g.sentence(&mut content);
        let status = *g.rng.pick(&["pending", "in_progress", "completed", "completed"]);
        s.push_str("\n  {\"content\": ");
        transcript::json_str(&mut s, &content);
        s.push_str(&format!(
            ", \"status\": \"{status}\", \"priority\": \"{}\", \"id\": \"{}\"}}",
            g.rng.pick(&["high", "medium", "low"]),
            i + 1
        ));
    }
    s.push_str("\n]\n");
    s
}

/// A shell snapshot: the environment an agent's shell tool restores.
pub(crate) fn shell_snapshot(g: &mut Gen<'_>, size: usize) -> String {
    let mut s = String::from(
        "# Snapshot file\n# Unset all aliases to avoid conflicts with functions\nunalias -a 2>/dev/null || true\n",
    );
    let names = g.names(crate::lang::LangId::Shell);
    while s.len() < size {
        match g.rng.below(4) {
            0 => {
                let id = g.v.ident(&mut g.rng).upper.clone();
                let n = g.rng.range(4, 24);
                s.push_str(&format!("export {id}='{}'\n", g.hex(n)));
            }
            1 => {
                let id = g.v.ident(&mut g.rng).kebab.clone();
                s.push_str(&format!("alias {id}='{}'\n", g.v.ident(&mut g.rng).snake));
            }
            _ => g.block(crate::lang::LangId::Shell, &names, &mut s),
        }
    }
    s.push_str("shopt -s expand_aliases\nexport PATH=/home/dev/.cargo/bin:/usr/local/bin:/usr/bin:/bin\n");
    s
}

/// `.claude/`: settings, CLAUDE.md, todos, shell snapshots and sqlite-like stores.
fn agent_state(root: &Path, p: &Params, seed: u64, v: &Vocab, plans: &[ProjectPlan]) -> io::Result<Generated> {
    let mut g = Gen::new(v, Rng::derive(seed, "agent", 0));
    let mut out = Out::new(root);
    let bytes = (scale::AGENT_MISC.bytes * p.bytes as f64) as usize;
    let files = ((scale::AGENT_MISC.files * p.files as f64) as usize).max(6);

    let mut settings = String::from(
        "{\n  \"$schema\": \"https://json.schemastore.org/claude-code-settings.json\",\n  \"permissions\": {\n    \"allow\": [",
    );
    for (i, pl) in plans.iter().enumerate() {
        if i > 0 {
            settings.push(',');
        }
        settings.push_str(&format!(
            "\n      \"Bash(cargo test:*)\",\n      \"Read({}/projects/{}/**)\"",
            transcript::HOME,
            pl.name
        ));
    }
    settings.push_str("\n    ],\n    \"deny\": [\"Read(./.env)\"]\n  },\n  \"model\": \"");
    settings.push_str(g.rng.pick_copy(&crate::vocab::MODELS));
    settings.push_str("\",\n  \"includeCoAuthoredBy\": false\n}\n");
    let m = old_mtime(&mut g.rng);
    out.put(".claude/settings.json", settings.as_bytes(), m)?;
    let size = g.rng.range(3 * KB, 9 * KB);
    let md = g.markdown(size, Some("Agent instructions"));
    let m = old_mtime(&mut g.rng);
    out.put(".claude/CLAUDE.md", md.as_bytes(), m)?;

    // Stores take ~60% of the bytes.
    let stores = [".claude/history.sqlite", ".claude/statsig/cache.db"];
    let n_stores = if p.bytes > 20 << 20 { 2 } else { 1 };
    for path in &stores[..n_stores] {
        let size = (bytes * 6 / 10 / n_stores).max(8 * KB);
        let data = binary::sqlite_like(&mut g.rng, &v.blob, size);
        let m = old_mtime(&mut g.rng);
        out.put(path, &data, m)?;
    }
    let rest = files - 2 - n_stores;
    let n_todos = rest * 6 / 10;
    let n_snaps = rest - n_todos;
    for _ in 0..n_todos {
        let name = format!(".claude/todos/{}-agent-{}.json", g.uuid(), g.uuid());
        let data = todos_json(&mut g);
        let m = old_mtime(&mut g.rng);
        out.put(&name, data.as_bytes(), m)?;
    }
    let snap_bytes = (bytes * 4 / 10) as u64;
    let sizes = split_sizes(&mut g.rng, snap_bytes, n_snaps, 600, 200 * KB, 0.8);
    let mut taken = HashSet::new();
    for size in sizes {
        let m = old_mtime(&mut g.rng);
        let name = loop {
            let n = format!(".claude/shell-snapshots/snapshot-bash-{}{:03}-{}.sh", m, g.rng.below(1000), g.hex(6));
            if taken.insert(n.clone()) {
                break n;
            }
        };
        let data = shell_snapshot(&mut g, size);
        out.put(&name, data.as_bytes(), m)?;
    }
    Ok(out.done)
}
