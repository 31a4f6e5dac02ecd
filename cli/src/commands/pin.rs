//! `cairn pin ID...` and `cairn unpin ID...`: a pinned snapshot is never
//! removed by `forget`, whatever the policy.

use anyhow::Result;
use cairn_core::snapshot::{pins, snapshots};
use clap::Args;

use crate::args::Global;
use crate::output::outln;
use crate::{locations, password};

#[derive(Args, Debug)]
pub struct PinArgs {
    /// Snapshots (ids, unique prefixes of 4+ hex digits, latest, latest~N)
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
}

pub fn run(g: &Global, a: &PinArgs, pin: bool) -> Result<u8> {
    let repo = password::open(g)?;
    let (pinned, _) = pins::list(&repo)?;
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    for reference in &a.snapshots {
        // Unpinning also takes the full id of a snapshot that is gone, so
        // that a stray pin can always be removed.
        let id = match snapshots::resolve(&repo, reference) {
            Ok(entry) => entry.id,
            Err(e) => match cairn_core::Id::from_hex(reference) {
                Ok(id) if !pin && pinned.contains_key(&id) => id,
                _ => return Err(e.into()),
            },
        };
        let did = if pin {
            pins::pin(&repo, &id, &locations::hostname(), &locations::username())?
        } else {
            pins::unpin(&repo, &id)?
        };
        if did { changed.push(id) } else { unchanged.push(id) }
    }
    let (done, already) = if pin { ("pinned", "already pinned") } else { ("unpinned", "not pinned") };
    if g.json {
        let hex = |v: &[cairn_core::Id]| v.iter().map(|i| i.to_hex()).collect::<Vec<_>>();
        outln!("{}", serde_json::json!({ done: hex(&changed), already.replace(' ', "_"): hex(&unchanged) }))?;
    } else if !g.quiet {
        for id in &changed {
            outln!("{done} {}", id.short())?;
        }
        for id in &unchanged {
            outln!("{} was {already}", id.short())?;
        }
    }
    Ok(0)
}
