//! `cairn cat config|snapshot ID|tree ID|index ID|pack ID|keys|policy|pins`:
//! one repository object as JSON, for debugging (restic's `cat`). Core
//! decodes (`cairn_core::browse::cat`); this prints.

use anyhow::{Result, bail};
use cairn_core::browse::cat;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::args::Global;
use crate::output::{self, outln};
use crate::password;

#[derive(Args, Debug)]
#[command(after_help = "ID: snapshot ids take a unique prefix (4+ hex digits), `latest` or `latest~N`; \
index and pack ids a unique prefix; a tree is a full id, or SNAPSHOT[:PATH] for the tree of a snapshot's folder.")]
pub struct CatArgs {
    /// What to print
    #[arg(value_enum)]
    pub what: What,
    /// Which one (for snapshot, tree, index and pack)
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    Config,
    Snapshot,
    Tree,
    Index,
    Pack,
    Keys,
    Policy,
    Pins,
}

pub fn run(g: &Global, a: &CatArgs) -> Result<u8> {
    let needs_id = matches!(a.what, What::Snapshot | What::Tree | What::Index | What::Pack);
    let name = a.what.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let id = match (&a.id, needs_id) {
        (Some(id), true) => id.as_str(),
        (None, true) => bail!("name the {name}: cairn cat {name} ID"),
        (Some(_), false) => bail!("cairn cat {name} takes no ID"),
        (None, false) => "",
    };
    let repo = password::open(g)?;
    match a.what {
        What::Config => print(&cat::config(&repo)),
        What::Snapshot => print(&cat::snapshot(&repo, id)?),
        What::Tree => print(&cat::tree(&repo, id)?),
        What::Index => print(&cat::index(&repo, id)?),
        What::Pack => print(&cat::pack(&repo, id)?),
        What::Keys => print(&cat::keys(&repo)?),
        What::Policy => print(&cat::policy(&repo)?),
        What::Pins => {
            let (pins, problems) = cat::pins(&repo)?;
            for p in &problems {
                output::warning(p);
            }
            print(&pins)
        }
    }
}

/// Indented JSON: `cat` is read by people first.
fn print(value: &impl Serialize) -> Result<u8> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(0)
}
