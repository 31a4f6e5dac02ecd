//! The folders a user excludes from backups: `node_modules/` (many small packages)
//! and Rust's `target/` (a few large, partly compressible build outputs and many
//! small bookkeeping files). `tick` never touches them.

use std::collections::HashSet;
use std::io;

use crate::binary;
use crate::init::{Budget, Out, ProjectPlan, old_mtime};
use crate::lang::LangId;
use crate::rng::split_sizes;
use crate::text::Gen;

const KB: usize = 1024;
const MB: usize = 1024 * KB;

#[derive(Clone, Copy, PartialEq, Eq)]
enum NmRole {
    PackageJson,
    Js,
    Dts,
    MinJs,
    Readme,
    License,
    Changelog,
}

/// `BASE/node_modules/`: packages with package.json, sources, typings, docs.
pub(crate) fn node_modules(g: &mut Gen<'_>, out: &mut Out<'_>, base: &str, budget: Budget) -> io::Result<()> {
    let mut files: Vec<(String, NmRole, String)> = Vec::new();
    let mut names = HashSet::new();
    let mut prev: Option<String> = None;
    while files.len() < budget.files {
        let id = g.v.ident(&mut g.rng).kebab.clone();
        let name = if g.rng.chance(0.15) { format!("@{}/{id}", g.rng.pick(&g.v.pseudo)) } else { id };
        let dir = match &prev {
            Some(p) if g.rng.chance(0.08) => format!("{base}/node_modules/{p}/node_modules/{name}"),
            _ => format!("{base}/node_modules/{name}"),
        };
        if !names.insert(dir.clone()) {
            continue;
        }
        prev = Some(name.clone());
        let mut pkg = vec![
            (format!("{dir}/package.json"), NmRole::PackageJson),
            (format!("{dir}/index.js"), NmRole::Js),
            (format!("{dir}/README.md"), NmRole::Readme),
            (format!("{dir}/LICENSE"), NmRole::License),
        ];
        let mut seen = HashSet::new();
        for _ in 0..g.rng.range(0, 10) {
            let stem = g.v.ident(&mut g.rng).snake.clone();
            if !seen.insert(stem.clone()) {
                continue;
            }
            let (path, role) = match g.rng.below(8) {
                0..=3 => (format!("{dir}/lib/{stem}.js"), NmRole::Js),
                4 | 5 => (format!("{dir}/lib/{stem}.d.ts"), NmRole::Dts),
                6 => (format!("{dir}/dist/{stem}.min.js"), NmRole::MinJs),
                _ => (format!("{dir}/CHANGELOG.md"), NmRole::Changelog),
            };
            if role == NmRole::Changelog && pkg.iter().any(|p| p.1 == NmRole::Changelog) {
                continue;
            }
            pkg.push((path, role));
        }
        files.extend(pkg.into_iter().map(|(p, r)| (p, r, name.clone())));
    }
    files.truncate(budget.files);
    let sizes = split_sizes(&mut g.rng, budget.bytes, files.len(), 60, 400 * KB, 1.3);
    for ((path, role, name), size) in files.into_iter().zip(sizes) {
        let data = match role {
            NmRole::PackageJson => {
                let mut s = format!(
                    "{{\n  \"name\": \"{name}\",\n  \"version\": \"{}.{}.{}\",\n  \"main\": \"index.js\",\n  \"license\": \"MIT\",\n  \"config\": ",
                    g.rng.range(0, 9),
                    g.rng.range(0, 30),
                    g.rng.range(0, 30)
                );
                s.push_str(&g.json(size.saturating_sub(120)));
                s.push_str("}\n");
                s
            }
            NmRole::Js | NmRole::Dts => g.code(LangId::TypeScript, size),
            NmRole::MinJs => g.minified_js(size),
            NmRole::Readme => g.markdown(size, Some(&name)),
            NmRole::Changelog => g.changelog(size),
            NmRole::License => {
                let mut s = format!("{name}\n\n");
                g.license("", &mut s);
                s
            }
        };
        let m = old_mtime(&mut g.rng);
        out.put(&path, data.as_bytes(), m)?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TRole {
    Bin,
    Rlib,
    Rmeta,
    Incr,
    Small,
}

/// `BASE/target/`: cargo's build directory.
pub(crate) fn target(g: &mut Gen<'_>, out: &mut Out<'_>, base: &str, pl: &ProjectPlan) -> io::Result<()> {
    let Budget { bytes, files: n_files } = pl.target;
    let t = format!("{base}/target");
    let bin_name = pl.ident.replace('-', "_");
    let mut files: Vec<(String, TRole)> = vec![
        (format!("{t}/CACHEDIR.TAG"), TRole::Small),
        (format!("{t}/.rustc_info.json"), TRole::Small),
        (format!("{t}/debug/{bin_name}"), TRole::Bin),
        (format!("{t}/debug/{bin_name}.d"), TRole::Small),
    ];
    let mut seen = HashSet::new();
    while files.len() < n_files {
        let c = g.v.ident(&mut g.rng).snake.clone();
        if !seen.insert(c.clone()) && g.rng.chance(0.9) {
            continue;
        }
        let h = g.hex(16);
        files.push((format!("{t}/debug/deps/lib{c}-{h}.rlib"), TRole::Rlib));
        files.push((format!("{t}/debug/deps/lib{c}-{h}.rmeta"), TRole::Rmeta));
        files.push((format!("{t}/debug/deps/{c}-{h}.d"), TRole::Small));
        files.push((format!("{t}/debug/.fingerprint/{c}-{h}/lib-{c}"), TRole::Small));
        files.push((format!("{t}/debug/.fingerprint/{c}-{h}/lib-{c}.json"), TRole::Small));
        if g.rng.chance(0.3) {
            files.push((format!("{t}/debug/build/{c}-{h}/output"), TRole::Small));
        }
        if g.rng.chance(0.25) {
            let s = format!("{t}/debug/incremental/{c}-{}/s-{}-{}", g.hex(13), g.hex(10), g.hex(20));
            for f in ["dep-graph.bin", "query-cache.bin", "work-products.bin"] {
                files.push((format!("{s}/{f}"), TRole::Incr));
            }
        }
    }
    files.truncate(n_files.max(4));
    // Byte shares per role, split among that role's files.
    let share = |r: TRole| match r {
        TRole::Bin => 0.15,
        TRole::Rlib => 0.45,
        TRole::Rmeta => 0.15,
        TRole::Incr => 0.2,
        TRole::Small => 0.05,
    };
    let mut sizes = vec![0usize; files.len()];
    for role in [TRole::Bin, TRole::Rlib, TRole::Rmeta, TRole::Incr, TRole::Small] {
        let idx: Vec<usize> = (0..files.len()).filter(|&i| files[i].1 == role).collect();
        let (lo, hi) = if role == TRole::Small { (30, 64 * KB) } else { (KB, 256 * MB) };
        let s = split_sizes(&mut g.rng, (bytes as f64 * share(role)) as u64, idx.len(), lo, hi, 1.2);
        for (i, size) in idx.into_iter().zip(s) {
            sizes[i] = size;
        }
    }
    for ((path, role), size) in files.into_iter().zip(sizes) {
        let data: Vec<u8> = match role {
            TRole::Bin => {
                let mut d = binary::mixed(&mut g.rng, &g.v.blob, size.max(64), 0.45);
                d[..4].copy_from_slice(b"\x7fELF");
                d
            }
            TRole::Rlib => {
                let mut d = binary::mixed(&mut g.rng, &g.v.blob, size.max(64), 0.45);
                d[..8].copy_from_slice(b"!<arch>\n");
                d
            }
            TRole::Rmeta | TRole::Incr => binary::mixed(&mut g.rng, &g.v.blob, size, 0.35),
            TRole::Small => small_target_file(g, &path, &pl.name, size).into_bytes(),
        };
        let m = old_mtime(&mut g.rng);
        out.put(&path, &data, m)?;
    }
    Ok(())
}

fn small_target_file(g: &mut Gen<'_>, path: &str, project: &str, size: usize) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "CACHEDIR.TAG" {
        return format!(
            "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by cargo.\n# For information about cache directory tags see https://bford.info/cachedir/\n# {project}\n"
        );
    }
    if name.ends_with(".json") {
        return g.json(size);
    }
    if name.ends_with(".d") {
        let mut s = format!("{path}:");
        while s.len() < size {
            s.push_str(&format!(" /home/dev/projects/{project}/src/{}.rs", g.v.ident(&mut g.rng).snake));
        }
        s.push('\n');
        return s;
    }
    if name == "output" {
        let mut s = String::new();
        while s.len() < size {
            s.push_str(&format!(
                "cargo:rerun-if-changed={}\ncargo:rustc-cfg={}\n",
                g.v.ident(&mut g.rng).snake,
                g.v.ident(&mut g.rng).snake
            ));
        }
        return s;
    }
    // Fingerprint hashes.
    g.hex(16)
}
