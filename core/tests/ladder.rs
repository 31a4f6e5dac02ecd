//! Dependencies run one way, down the ladder that `src/lib.rs` draws: every
//! `crate::<module>` path in the library's non-test code must name its own
//! rung or one below it. The drawing is parsed from `lib.rs` itself, so the
//! picture and the rule cannot drift apart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Files that are compiled for tests (or fuzzing) only and so may reach
/// anywhere.
const TEST_ONLY: &[&str] = &["fuzz_entry", "spec_vectors", "test_fixtures"];

/// Names the crate root re-exports, by the rung that defines them.
const ROOT_ITEMS: &[(&str, &str)] =
    &[("Error", "error"), ("Result", "error"), ("Id", "id"), ("Repository", "repo"), ("PROGRAM_VERSION", "lib")];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Rung of each module, 0 the lowest, read from the ```text block of
/// `lib.rs`'s doc comment.
fn ladder() -> HashMap<String, usize> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let block: Vec<&str> = lib
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .skip_while(|l| *l != "```text")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(!block.is_empty(), "lib.rs draws no ladder");
    let mut rungs = HashMap::new();
    for (height, line) in block.iter().rev().enumerate() {
        let names = line.split('—').next().unwrap();
        for name in names.split_whitespace() {
            rungs.insert(name.to_string(), height);
        }
    }
    rungs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`repo/pack.rs` → `repo`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// Each `crate::<name>` in the code of `text` before its first
/// `#[cfg(test)]` (the tests at the end of a module), comments skipped.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start() == "#[cfg(test)]" {
            break;
        }
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // `$crate::` in a macro is the same crate; anything else with a
            // `crate::` suffix (`cairn_core::`) is not a path of this crate.
            let before = &line[..at];
            if before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            found.push((number + 1, if name.is_empty() { rest.chars().take(1).collect() } else { name }));
        }
    }
    found
}

/// Files that are a module's tests by name (`mod tests;` files).
fn is_test_file(file: &Path) -> bool {
    let stem = file.file_stem().unwrap().to_str().unwrap();
    stem == "tests" || stem.ends_with("_tests") || file.components().any(|c| c.as_os_str() == "spec_vectors")
}

/// Every `crate::` path that runs up or across the ladder, as
/// "file:line: module (rung) uses target (rung)".
fn violations(files: &[PathBuf]) -> Vec<String> {
    let rungs = ladder();
    let mut bad = Vec::new();
    for file in files {
        let module = module_of(file);
        if module == "lib" || TEST_ONLY.contains(&module.as_str()) || is_test_file(file) {
            continue;
        }
        let Some(&own) = rungs.get(&module) else {
            bad.push(format!("{}: module {module} is not on the ladder in lib.rs", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in crate_paths(&text) {
            let target = ROOT_ITEMS.iter().find(|(item, _)| *item == name).map_or(name.as_str(), |(_, m)| m);
            if target == module || target == "lib" {
                continue;
            }
            match rungs.get(target) {
                Some(&height) if height < own => {}
                Some(&height) => bad.push(format!(
                    "{}:{line}: {module} (rung {own}) uses {target} (rung {height}), which is not below it",
                    file.display()
                )),
                None => bad.push(format!(
                    "{}:{line}: `crate::{name}` is not a rung of the ladder (use the folder path, not a re-export)",
                    file.display()
                )),
            }
        }
    }
    bad
}

#[test]
fn no_crate_path_runs_up_the_ladder() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let bad = violations(&files);
    assert!(bad.is_empty(), "dependencies that break the ladder:\n{}", bad.join("\n"));
}

#[test]
fn every_folder_of_src_is_on_the_ladder() {
    let rungs = ladder();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let module = module_of(&path);
        if module == "lib" || TEST_ONLY.contains(&module.as_str()) || is_test_file(&path) {
            continue;
        }
        assert!(rungs.contains_key(&module), "{module} is in src/ but not on the ladder in lib.rs");
    }
}
