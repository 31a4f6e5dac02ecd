//! `cairn dump (SNAPSHOT | --at TIME) PATH`: one stored file's bytes on
//! standard output, streamed blob by blob.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use cairn_core::Error;
use cairn_core::browse::dump::{self, Found};
use cairn_core::fs::path as paths;

use crate::args::{DumpArgs, Global};
use crate::{output, password};

pub fn run(g: &Global, a: &DumpArgs) -> Result<u8> {
    // With --at, the one positional argument is the path.
    let (reference, path) = match (&a.select.at, &a.path) {
        (Some(_), None) => (None, PathBuf::from(&a.snapshot)),
        (_, Some(p)) => (Some(a.snapshot.as_str()), p.clone()),
        (None, None) => bail!("name the file to dump: cairn dump SNAPSHOT PATH (or --at TIME PATH)"),
    };
    let path = paths::absolute(&path)?;
    let repo = password::open(g)?;
    for problem in repo.index_problems() {
        output::warning(problem);
    }
    // `latest` and --at mean the newest snapshot covering the path.
    let entry = a.select.choose(&repo, reference, std::slice::from_ref(&path))?;
    let node = match dump::find(&repo, &entry.snapshot, &path) {
        Ok(Found::File(node)) => node,
        Ok(Found::Other(kind)) => bail!(
            "{} is a {kind} in snapshot {}: dump writes one file's bytes; use `cairn restore {} --path {} --target DIR` for anything else",
            path.display(),
            entry.id.short(),
            entry.id.short(),
            path.display()
        ),
        Err(Error::PathNotInSnapshot(_)) => return super::ls::not_found(&repo, &entry, &path),
        Err(e) => return Err(e.into()),
    };
    let stdout = std::io::stdout();
    // Blobs are up to a few MiB: a buffer of one pipe's worth is enough.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    dump::write_file(&repo, &node, &mut out)?;
    out.flush()?;
    Ok(0)
}
