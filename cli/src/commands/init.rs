//! `cairn init`

use anyhow::Result;
use cairn_core::Repository;
use cairn_core::format::crypto::KdfParams;

use crate::args::{Global, InitArgs};
use crate::output::outln;
use crate::password;

pub fn run(g: &Global, a: &InitArgs) -> Result<u8> {
    let loc = password::location(g)?;
    let password = if a.no_encryption { None } else { Some(password::new_password(g)?) };
    let mut kdf = KdfParams::DEFAULT;
    if let Some(m) = a.kdf_memory_kib {
        kdf.memory_kib = m;
    }
    if let Some(t) = a.kdf_iterations {
        kdf.iterations = t;
    }
    let mut opts = password::init_options(password.as_deref().map(str::as_bytes), kdf);
    opts.params.chunk_min = a.chunk_min.unwrap_or(opts.params.chunk_min);
    opts.params.chunk_avg = a.chunk_avg.unwrap_or(opts.params.chunk_avg);
    opts.params.chunk_max = a.chunk_max.unwrap_or(opts.params.chunk_max);
    let repo = Repository::init(&loc.path, &opts)?;
    // Remembered from the start: a repository encrypted here is refused
    // if it later claims not to be (and a new one replaces an old memory).
    if let Some(state) = crate::locations::state_root() {
        repo.remember_in(&state);
    }
    if g.json {
        outln!(
            "{}",
            serde_json::json!({ "id": repo.id().to_hex(), "path": loc.path, "encrypted": repo.is_encrypted() })
        )?;
    } else if !g.quiet {
        let how = if repo.is_encrypted() { "encrypted" } else { "unencrypted" };
        outln!("created {how} repository {} at {}", repo.id().short(), loc.path.display())?;
    }
    Ok(0)
}
