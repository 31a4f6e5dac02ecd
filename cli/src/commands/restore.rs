//! `cairn restore SNAPSHOT --target DIR [--path P]...`

use anyhow::Result;
use cairn_core::restorer::{self, RestoreOptions};

use crate::args::{Global, RestoreArgs};
use crate::{EXIT_ERROR, output, password};

pub fn run(g: &Global, a: &RestoreArgs) -> Result<u8> {
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    let paths: Vec<std::path::PathBuf> =
        a.paths.iter().map(|p| if p.is_absolute() { p.clone() } else { std::path::Path::new("/").join(p) }).collect();
    let entry = a.select.choose(&repo, a.snapshot.as_deref(), &paths)?;
    let started = std::time::Instant::now();
    let opts = RestoreOptions { target: a.target.clone(), paths, overwrite: a.overwrite };
    let outcome = restorer::restore(&repo, &entry.snapshot, &opts)?;
    for e in &outcome.errors {
        eprintln!("error: {e}");
    }
    if g.json {
        println!(
            "{}",
            serde_json::json!({
                "snapshot": entry.id.to_hex(), "files": outcome.files, "dirs": outcome.dirs,
                "others": outcome.others, "bytes": outcome.bytes, "errors": outcome.errors,
            })
        );
    } else if !g.quiet {
        println!(
            "restored snapshot {}: {} files, {} folders, {} other entries, {} into {} in {}",
            entry.id.short(),
            outcome.files,
            outcome.dirs,
            outcome.others,
            output::bytes(outcome.bytes),
            a.target.display(),
            output::seconds(started.elapsed().as_millis() as u64)
        );
    }
    if !outcome.errors.is_empty() {
        eprintln!("cairn: error: {} entries could not be restored (listed above); the rest was", outcome.errors.len());
        return Ok(EXIT_ERROR);
    }
    Ok(0)
}
