//! `cairn init`

use anyhow::Result;
use cairn_core::Repository;
use cairn_core::format::crypto::KdfParams;

use crate::args::{Global, InitArgs};
use crate::output::outln;
use crate::password;

pub fn run(g: &Global, a: &InitArgs) -> Result<u8> {
    let loc = password::init_location(g)?;
    let mut kdf = KdfParams::DEFAULT;
    if let Some(m) = a.kdf_memory_kib {
        kdf.memory_kib = m;
    }
    if let Some(t) = a.kdf_iterations {
        kdf.iterations = t;
    }
    let mut params = cairn_core::format::RepoParams::DEFAULT;
    params.chunk_min = a.chunk_min.unwrap_or(params.chunk_min);
    params.chunk_avg = a.chunk_avg.unwrap_or(params.chunk_avg);
    params.chunk_max = a.chunk_max.unwrap_or(params.chunk_max);
    params.zstd_level = a.zstd_level.unwrap_or(params.zstd_level);
    let repo = if loc.is_default {
        // The same repository, password file and record as the first
        // `cairn snapshot` would make.
        password::create_default(g, &loc, kdf, params, !a.no_encryption)?
    } else {
        let password = if a.no_encryption { None } else { Some(password::new_password(g)?) };
        let mut opts = password::init_options(password.as_deref().map(str::as_bytes), kdf);
        opts.params = params;
        let repo = Repository::init(&loc.path, &opts)?;
        // Remembered from the start: a repository encrypted here is refused
        // if it later claims not to be (and a new one replaces an old memory).
        if let Some(state) = crate::locations::state_root() {
            repo.remember_in(&state);
        }
        repo
    };
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
