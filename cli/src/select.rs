//! Choosing the snapshot a command works on: a reference (`latest`,
//! `latest~N`, an id or prefix) or `--at TIME`, among the snapshots that
//! match `--host`, `--tag` and the command's paths.

use std::path::PathBuf;

use anyhow::{Result, bail};
use cairn_core::browse::hints;
use cairn_core::snapshot::resolve;
use cairn_core::snapshot::snapshots::{Filter, Selector, SnapshotEntry};
use cairn_core::{Error, Repository, names};
use clap::Args;

use crate::timefmt;

#[derive(Args, Debug, Default)]
pub struct SelectArgs {
    /// Use the newest snapshot taken at or before TIME (e.g. "2h ago", "02:00", "2026-11-23 14:00", "yesterday")
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Only consider snapshots of this host
    #[arg(long)]
    pub host: Option<String>,
    /// Only consider snapshots with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

impl SelectArgs {
    /// The filter, with the absolute `paths` the command works on.
    pub fn filter(&self, paths: &[PathBuf]) -> Filter {
        Filter { host: self.host.clone(), paths: paths.to_vec(), tags: self.tags.clone() }
    }

    /// The snapshot named by `reference` or chosen by `--at` that covers
    /// `paths` (`latest` and `--at`: the newest that does; see
    /// `cairn_core::snapshot::resolve`).
    pub fn choose(&self, repo: &Repository, reference: Option<&str>, paths: &[PathBuf]) -> Result<SnapshotEntry> {
        let selector = match (reference, &self.at) {
            (Some(_), Some(_)) => bail!("give either a snapshot or --at, not both"),
            (Some(r), None) => Selector::Reference(r.to_string()),
            (None, Some(t)) => Selector::At(timefmt::parse(t)?),
            (None, None) => bail!("name a snapshot (an id, a prefix, latest, latest~N) or give --at TIME"),
        };
        pick(repo, &selector, &self.filter(paths))
    }
}

/// `resolve::choose`, its error completed by `with_closest`.
pub fn pick(repo: &Repository, selector: &Selector, filter: &Filter) -> Result<SnapshotEntry> {
    resolve::choose(repo, selector, filter).map_err(|e| with_closest(repo, e))
}

/// A "not covered" error with the closest existing paths added (a typo in
/// the path is the likeliest cause); any other error as it is.
pub fn with_closest(repo: &Repository, e: Error) -> anyhow::Error {
    if let Error::NotCovered { message, path, closest_in: Some(tree) } = &e {
        let close = hints::closest_paths(repo, tree, path, 3);
        if !close.is_empty() {
            let shown: Vec<String> = close.iter().map(|p| names::escape_path(p).into_owned()).collect();
            return anyhow::anyhow!("{message}; closest existing paths: {}", shown.join(", "));
        }
    }
    e.into()
}
