//! One project under `projects/pNN-<name>/`: source tree, docs, config files, `.git/`
//! and assets; the excluded build folders are delegated to [`crate::deps`].

use std::collections::HashSet;
use std::io;
use std::path::Path;

use crate::init::{Budget, Kind, Out, ProjectPlan, old_mtime};
use crate::lang::LangId;
use crate::rng::{Rng, split_sizes};
use crate::text::{self, Gen};
use crate::vocab::Vocab;
use crate::{Generated, binary, deps};

const KB: usize = 1024;
const MB: usize = 1024 * KB;

/// Relative paths already used in a project, for picking fresh names.
#[derive(Default)]
pub(crate) struct Taken(HashSet<String>);

impl Taken {
    /// `dir/stem.ext` (`ext` with its dot, or empty), or with a numeric suffix if taken.
    pub(crate) fn unique(&mut self, dir: &str, stem: &str, ext: &str) -> String {
        let mut n = 1;
        loop {
            let name = if n == 1 { format!("{dir}/{stem}{ext}") } else { format!("{dir}/{stem}_{n}{ext}") };
            if self.0.insert(name.clone()) {
                return name;
            }
            n += 1;
        }
    }

    pub(crate) fn insert(&mut self, path: &str) {
        self.0.insert(path.to_string());
    }
}

/// Builds the whole project `pl`; returns what it wrote.
pub(crate) fn build(root: &Path, seed: u64, v: &Vocab, pl: &ProjectPlan) -> io::Result<Generated> {
    let mut rng = Rng::derive(seed, "project", pl.index as u64);
    let mut out = Out::new(root);
    let base = format!("projects/{}", pl.name);
    let mut taken = Taken::default();
    let n_mods = (pl.source.files / 12).clamp(2, 48);
    let mut mods = Vec::new();
    let mut seen = HashSet::new();
    while mods.len() < n_mods {
        let m = v.ident(&mut rng).snake.clone();
        if seen.insert(m.clone()) {
            mods.push(m);
        }
    }
    // Independent streams per section: changing one section leaves the others alone.
    config(&mut Gen::new(v, rng.fork("config")), &mut out, &base, pl, &mut taken)?;
    sources(&mut Gen::new(v, rng.fork("source")), &mut out, &base, pl, &mods, &mut taken)?;
    docs(&mut Gen::new(v, rng.fork("docs")), &mut out, &base, pl, &mods, &mut taken)?;
    assets(&mut Gen::new(v, rng.fork("assets")), &mut out, &base, pl, &mut taken)?;
    git(&mut Gen::new(v, rng.fork("git")), &mut out, &base, pl)?;
    if pl.kind.has_node_modules() {
        deps::node_modules(&mut Gen::new(v, rng.fork("node_modules")), &mut out, &base, pl.node_modules)?;
    }
    if pl.kind.has_target() {
        deps::target(&mut Gen::new(v, rng.fork("target")), &mut out, &base, pl)?;
    }
    Ok(out.done)
}

fn pick_weighted<'a>(rng: &mut Rng, items: &'a [(&'a str, usize)]) -> &'a str {
    let total: usize = items.iter().map(|x| x.1).sum();
    let mut r = rng.below(total);
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    items.last().map_or("", |x| x.0)
}

/// Where a new source file of extension `ext` goes in a project, and its file name.
pub(crate) fn source_path(
    g: &mut Gen<'_>,
    pl_ident: &str,
    kind: Kind,
    mods: &[String],
    ext: &str,
    taken: &mut Taken,
    base: &str,
) -> String {
    let test = g.rng.chance(0.15);
    let m = g.rng.pick(mods).clone();
    let m2 = g.rng.pick(mods).clone();
    let id = g.v.ident(&mut g.rng);
    let (snake, camel, pascal) = (id.snake.clone(), id.camel.clone(), id.pascal.clone());
    let r = g.rng.f64();
    let (dir, stem, ext) = match ext {
        "rs" if test => ("tests".to_string(), snake, ".rs".to_string()),
        "rs" if r < 0.3 => ("src".to_string(), snake, ".rs".to_string()),
        "rs" if r < 0.8 => (format!("src/{m}"), snake, ".rs".to_string()),
        "rs" => (format!("src/{m}/{m2}"), snake, ".rs".to_string()),
        "py" => {
            let pkg = if kind == Kind::Rust { "tools".to_string() } else { pl_ident.replace('-', "_") };
            if test {
                ("tests".to_string(), format!("test_{snake}"), ".py".to_string())
            } else if r < 0.3 {
                (pkg, snake, ".py".to_string())
            } else {
                (format!("{pkg}/{m}"), snake, ".py".to_string())
            }
        }
        "ts" | "tsx" | "js" => {
            let web = if kind == Kind::Fullstack { "web/src" } else { "src" };
            if test {
                (format!("{web}/__tests__"), format!("{camel}.test"), ".ts".to_string())
            } else if ext == "tsx" {
                (format!("{web}/components"), pascal, ".tsx".to_string())
            } else if r < 0.3 {
                (web.to_string(), camel, format!(".{ext}"))
            } else {
                (format!("{web}/{m}"), camel, format!(".{ext}"))
            }
        }
        "go" => {
            let stem = if test { format!("{snake}_test") } else { snake };
            if r < 0.2 {
                (format!("cmd/{pl_ident}"), stem, ".go".to_string())
            } else if r < 0.6 {
                (format!("internal/{m}"), stem, ".go".to_string())
            } else {
                (format!("pkg/{m}"), stem, ".go".to_string())
            }
        }
        _ => ("scripts".to_string(), id.kebab.clone(), format!(".{ext}")),
    };
    taken.unique(&format!("{base}/{dir}"), &stem, &ext)
}

fn sources(
    g: &mut Gen<'_>,
    out: &mut Out<'_>,
    base: &str,
    pl: &ProjectPlan,
    mods: &[String],
    taken: &mut Taken,
) -> io::Result<()> {
    let sizes = split_sizes(&mut g.rng, pl.source.bytes, pl.source.files, 150, 160 * KB, 1.0);
    for size in sizes {
        let ext = pick_weighted(&mut g.rng, pl.kind.langs());
        let path = source_path(g, &pl.ident, pl.kind, mods, ext, taken, base);
        let lang = LangId::from_ext(ext).unwrap_or(LangId::Shell);
        let data = g.code(lang, size);
        let m = old_mtime(&mut g.rng);
        out.put(&path, data.as_bytes(), m)?;
    }
    Ok(())
}

fn docs(
    g: &mut Gen<'_>,
    out: &mut Out<'_>,
    base: &str,
    pl: &ProjectPlan,
    mods: &[String],
    taken: &mut Taken,
) -> io::Result<()> {
    let sizes = split_sizes(&mut g.rng, pl.docs.bytes, pl.docs.files.max(2), 300, 96 * KB, 1.0);
    for (i, size) in sizes.into_iter().enumerate() {
        let (path, data) = match i {
            0 => (format!("{base}/README.md"), g.markdown(size, Some(&pl.ident))),
            1 => (format!("{base}/CHANGELOG.md"), g.changelog(size)),
            2 => (format!("{base}/CONTRIBUTING.md"), g.markdown(size, Some("Contributing"))),
            _ => {
                let r = g.rng.f64();
                let stem = g.v.ident(&mut g.rng).kebab.clone();
                let dir = if r < 0.55 {
                    format!("{base}/docs")
                } else if r < 0.8 {
                    format!("{base}/docs/{}", g.rng.pick(mods))
                } else if r < 0.9 {
                    format!("{base}/docs/adr")
                } else {
                    format!("{base}/notes")
                };
                (taken.unique(&dir, &stem, ".md"), g.markdown(size, None))
            }
        };
        taken.insert(&path);
        let m = old_mtime(&mut g.rng);
        out.put(&path, data.as_bytes(), m)?;
    }
    Ok(())
}

fn version(g: &mut Gen<'_>) -> String {
    format!("{}.{}.{}", g.rng.range(0, 4), g.rng.range(0, 30), g.rng.range(0, 20))
}

/// Manifests and lock files for the project's kind, with their natural sizes.
fn manifests(g: &mut Gen<'_>, base: &str, pl: &ProjectPlan) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let name = &pl.ident;
    let deps: Vec<String> = (0..g.rng.range(4, 16)).map(|_| g.v.ident(&mut g.rng).kebab.clone()).collect();
    if matches!(pl.kind, Kind::Rust | Kind::Fullstack) {
        let mut s = format!(
            "[package]\nname = \"{name}\"\nversion = \"{}\"\nedition = \"2021\"\nlicense = \"MIT OR Apache-2.0\"\n\n[dependencies]\n",
            version(g)
        );
        for d in &deps {
            s.push_str(&format!("{d} = \"{}\"\n", version(g)));
        }
        s.push_str("\n[dev-dependencies]\ntempfile = \"3\"\n");
        files.push((format!("{base}/Cargo.toml"), s));
        let mut lock = String::from(
            "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n",
        );
        for _ in 0..g.rng.range(40, 300) {
            let pkg = g.v.ident(&mut g.rng).kebab.clone();
            lock.push_str(&format!(
                "\n[[package]]\nname = \"{pkg}\"\nversion = \"{}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
                version(g),
                g.hex(64)
            ));
            if g.rng.chance(0.6) {
                lock.push_str("dependencies = [\n");
                for _ in 0..g.rng.range(1, 5) {
                    lock.push_str(&format!(" \"{}\",\n", g.v.ident(&mut g.rng).kebab));
                }
                lock.push_str("]\n");
            }
        }
        files.push((format!("{base}/Cargo.lock"), lock));
        files.push((
            format!("{base}/rustfmt.toml"),
            format!("edition = \"2021\"\nmax_width = {}\n# {name}\n", g.rng.range(90, 120)),
        ));
    }
    if matches!(pl.kind, Kind::Web | Kind::Fullstack) {
        let dir = if pl.kind == Kind::Fullstack { format!("{base}/web") } else { base.to_string() };
        let mut s = format!(
            "{{\n  \"name\": \"{name}\",\n  \"version\": \"{}\",\n  \"private\": true,\n  \"type\": \"module\",\n  \"scripts\": {{\n    \"build\": \"tsc -p .\",\n    \"test\": \"vitest run\",\n    \"lint\": \"eslint src\"\n  }},\n  \"dependencies\": {{",
            version(g)
        );
        for (i, d) in deps.iter().enumerate() {
            s.push_str(if i == 0 { "\n" } else { ",\n" });
            s.push_str(&format!("    \"{d}\": \"^{}\"", version(g)));
        }
        s.push_str("\n  }\n}\n");
        files.push((format!("{dir}/package.json"), s));
        let mut lock = format!("{{\n  \"name\": \"{name}\",\n  \"lockfileVersion\": 3,\n  \"packages\": {{");
        for i in 0..g.rng.range(40, 400) {
            let pkg = g.v.ident(&mut g.rng).kebab.clone();
            let ver = version(g);
            let integrity = g.hex(86);
            lock.push_str(if i == 0 { "\n" } else { ",\n" });
            lock.push_str(&format!("    \"node_modules/{pkg}\": {{\n      \"version\": \"{ver}\",\n      \"resolved\": \"https://registry.npmjs.org/{pkg}/-/{pkg}-{ver}.tgz\",\n      \"integrity\": \"sha512-{integrity}\"\n    }}"));
        }
        lock.push_str("\n  }\n}\n");
        files.push((format!("{dir}/package-lock.json"), lock));
        files.push((
            format!("{dir}/tsconfig.json"),
            format!("{{\n  \"compilerOptions\": {{\n    \"target\": \"ES2022\",\n    \"module\": \"ESNext\",\n    \"strict\": true,\n    \"outDir\": \"dist\",\n    \"rootDir\": \"src\"\n  }},\n  \"include\": [\"src\"],\n  \"//\": \"{name}\"\n}}\n"),
        ));
    }
    if pl.kind == Kind::Python {
        let mut s = format!(
            "[project]\nname = \"{name}\"\nversion = \"{}\"\nrequires-python = \">=3.10\"\ndependencies = [\n",
            version(g)
        );
        for d in &deps {
            s.push_str(&format!("  \"{d}>={}\",\n", version(g)));
        }
        s.push_str("]\n\n[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n");
        files.push((format!("{base}/pyproject.toml"), s));
        let mut req = String::new();
        for d in &deps {
            req.push_str(&format!("{d}=={}\n", version(g)));
        }
        files.push((format!("{base}/requirements.txt"), req));
    }
    if pl.kind == Kind::Go {
        let mut s = format!("module example.com/{name}\n\ngo 1.22\n\nrequire (\n");
        let mut sum = String::new();
        for d in &deps {
            let ver = version(g);
            s.push_str(&format!("\tgithub.com/{d}/{d} v{ver}\n"));
            sum.push_str(&format!("github.com/{d}/{d} v{ver} h1:{}=\n", g.hex(43)));
            sum.push_str(&format!("github.com/{d}/{d} v{ver}/go.mod h1:{}=\n", g.hex(43)));
        }
        s.push_str(")\n");
        files.push((format!("{base}/go.mod"), s));
        files.push((format!("{base}/go.sum"), sum));
    }
    files.push((
        format!("{base}/.gitignore"),
        format!("target/\nnode_modules/\ndist/\n*.log\n.env\n__pycache__/\n/{name}-*.tmp\n"),
    ));
    files.push((
        format!("{base}/.editorconfig"),
        format!(
            "root = true\n\n[*]\nindent_style = space\nindent_size = {}\nend_of_line = lf\n# {name}\n",
            g.rng.pick(&[2, 4])
        ),
    ));
    let mut make = format!(".PHONY: all test lint\n\n# {name}\nall: test lint\n\n");
    for target in ["test", "lint", "build", "release"] {
        make.push_str(&format!("{target}:\n\t./scripts/{target}.sh {}\n\n", g.v.ident(&mut g.rng).kebab));
    }
    files.push((format!("{base}/Makefile"), make));
    let ci_size = g.rng.range(600, 3000);
    files.push((format!("{base}/.github/workflows/ci.yml"), g.yaml(ci_size)));
    files
}

fn config(g: &mut Gen<'_>, out: &mut Out<'_>, base: &str, pl: &ProjectPlan, taken: &mut Taken) -> io::Result<()> {
    let fixed = manifests(g, base, pl);
    let fixed_bytes: usize = fixed.iter().map(|f| f.1.len()).sum();
    let n_fixed = fixed.len();
    for (path, data) in fixed {
        taken.insert(&path);
        let m = old_mtime(&mut g.rng);
        out.put(&path, data.as_bytes(), m)?;
    }
    let extra = pl.config.files.saturating_sub(n_fixed);
    let left = pl.config.bytes.saturating_sub(fixed_bytes as u64);
    for size in split_sizes(&mut g.rng, left, extra, 100, 64 * KB, 0.8) {
        let (dir, ext) =
            *g.rng.pick(&[("config", ".yaml"), ("config", ".json"), ("config", ".toml"), ("tests/fixtures", ".json")]);
        let stem = g.v.ident(&mut g.rng).kebab.clone();
        let path = taken.unique(&format!("{base}/{dir}"), &stem, ext);
        let data = text::for_ext(g, &ext[1..], size);
        let m = old_mtime(&mut g.rng);
        out.put(&path, data.as_bytes(), m)?;
    }
    Ok(())
}

fn assets(g: &mut Gen<'_>, out: &mut Out<'_>, base: &str, pl: &ProjectPlan, taken: &mut Taken) -> io::Result<()> {
    let dir = match pl.kind {
        Kind::Web | Kind::Fullstack => "public/img",
        _ => "assets",
    };
    for size in split_sizes(&mut g.rng, pl.assets.bytes, pl.assets.files, 2 * KB, 8 * MB, 1.2) {
        let stem = g.v.ident(&mut g.rng).kebab.clone();
        let r = g.rng.f64();
        let (path, data) = if r < 0.6 {
            (taken.unique(&format!("{base}/{dir}"), &stem, ".png"), binary::png(&mut g.rng, size))
        } else if r < 0.9 {
            (taken.unique(&format!("{base}/{dir}"), &stem, ".jpg"), binary::jpeg(&mut g.rng, size))
        } else {
            (taken.unique(&format!("{base}/assets/fonts"), &stem, ".woff2"), binary::woff2(&mut g.rng, size))
        };
        let m = old_mtime(&mut g.rng);
        out.put(&path, &data, m)?;
    }
    Ok(())
}

/// A short commit-style line.
fn commit_msg(g: &mut Gen<'_>) -> String {
    let mut s = String::from(*g.rng.pick(&["fix", "feat", "refactor", "test", "docs", "chore"]));
    s.push_str(": ");
    let k = g.rng.range(3, 9);
    g.words(k, &mut s);
    s
}

/// A loose object path `.git/objects/xx/<38 hex>` under project dir `base`.
pub(crate) fn loose_object_path(g: &mut Gen<'_>, base: &str) -> String {
    let h = g.hex(40);
    format!("{base}/.git/objects/{}/{}", &h[..2], &h[2..])
}

fn git(g: &mut Gen<'_>, out: &mut Out<'_>, base: &str, pl: &ProjectPlan) -> io::Result<()> {
    let Budget { bytes, files } = pl.git;
    let bytes = bytes as usize;
    let branch = format!("agent/{}", pl.ident);
    let head = g.hex(40);
    let mut fixed: Vec<(String, Vec<u8>)> = vec![
        (".git/HEAD".into(), format!("ref: refs/heads/{branch}\n").into_bytes()),
        (
            ".git/config".into(),
            format!("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[remote \"origin\"]\n\turl = git@example.com:dev/{}.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"{branch}\"]\n\tremote = origin\n\tmerge = refs/heads/{branch}\n", pl.ident).into_bytes(),
        ),
        (".git/description".into(), format!("{}: unnamed repository; edit this file to name it.\n", pl.name).into_bytes()),
        (format!(".git/refs/heads/{branch}"), format!("{head}\n").into_bytes()),
        (".git/info/exclude".into(), format!("# git ls-files --others --exclude-from=.git/info/exclude\n# {}\n*.swp\n", pl.name).into_bytes()),
        (".git/COMMIT_EDITMSG".into(), format!("{}\n", commit_msg(g)).into_bytes()),
    ];
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted\n");
    for _ in 0..g.rng.range(2, 20) {
        packed.push_str(&format!("{} refs/tags/v{}\n", g.hex(40), version(g)));
    }
    fixed.push((".git/packed-refs".into(), packed.into_bytes()));
    let mut log = String::new();
    let mut prev = "0".repeat(40);
    let mut t = crate::T0 - 90 * 86_400;
    for _ in 0..g.rng.range(5, 200) {
        let next = g.hex(40);
        t += g.rng.range(60, 40_000) as u64;
        let who = g.rng.pick(&g.v.people).clone();
        log.push_str(&format!(
            "{prev} {next} {who} <{}@example.com> {t} +0000\tcommit: {}\n",
            who.replace(' ', ".").to_ascii_lowercase(),
            commit_msg(g)
        ));
        prev = next;
    }
    fixed.push((".git/logs/HEAD".into(), log.into_bytes()));
    let idx_size = (pl.source.files * 80 + 200).min(bytes / 8 + 200);
    let mut index = binary::mixed(&mut g.rng, &g.v.blob, idx_size, 0.5);
    index[..4].copy_from_slice(b"DIRC");
    fixed.push((".git/index".into(), index));
    for hook in ["pre-commit", "commit-msg", "pre-push", "post-update"].iter().take(g.rng.range(2, 4)) {
        let size = g.rng.range(400, 4000);
        fixed.push((format!(".git/hooks/{hook}.sample"), g.code(LangId::Shell, size).into_bytes()));
    }
    let fixed_files = fixed.len();
    for (rel, data) in fixed {
        let m = old_mtime(&mut g.rng);
        out.put(&format!("{base}/{rel}"), &data, m)?;
    }
    let n_packs = 1 + usize::from(bytes > 4 * MB) + usize::from(bytes > 32 * MB);
    let loose = files.saturating_sub(fixed_files + 2 * n_packs).max(1);
    for size in split_sizes(&mut g.rng, (bytes * 72 / 100) as u64, n_packs, 4 * KB, 1 << 30, 0.7) {
        let name = format!("{base}/.git/objects/pack/pack-{}", g.hex(40));
        let m = old_mtime(&mut g.rng);
        out.put(&format!("{name}.pack"), &binary::git_pack(&mut g.rng, size), m)?;
        let idx = binary::git_idx(&mut g.rng, (size / 30).max(1100));
        out.put(&format!("{name}.idx"), &idx, m)?;
    }
    let mut seen = HashSet::new();
    for size in split_sizes(&mut g.rng, (bytes / 4) as u64, loose, 40, 256 * KB, 1.2) {
        let path = loop {
            let p = loose_object_path(g, base);
            if seen.insert(p.clone()) {
                break p;
            }
        };
        let m = old_mtime(&mut g.rng);
        out.put(&path, &binary::git_loose(&mut g.rng, size), m)?;
    }
    Ok(())
}
