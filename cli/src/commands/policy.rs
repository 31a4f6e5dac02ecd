//! `cairn policy show | set`: the repository's forget policy, stored in the
//! repository so that every machine sharing it applies the same rules.

use anyhow::{Result, bail};
use cairn_core::snapshot::policy_store::{self, PolicySource};
use clap::{Args, Subcommand};

use crate::args::Global;
use crate::commands::forget::{KeepArgs, describe, rules_json};
use crate::output::outln;
use crate::{locations, output, password};

#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub action: PolicyAction,
}

#[derive(Subcommand, Debug)]
pub enum PolicyAction {
    /// Print the policy `cairn forget` applies when given no --keep-* rules
    Show,
    /// Replace the repository's policy with these rules (all of them: unset rules keep nothing)
    Set(KeepArgs),
}

pub fn run(g: &Global, a: &PolicyArgs) -> Result<u8> {
    let repo = password::open(g)?;
    match &a.action {
        PolicyAction::Show => {
            let (rules, source) = policy_store::load(&repo)?;
            let (origin, set) = match &source {
                PolicySource::Default => ("default", None),
                PolicySource::Stored { file, .. } => ("repository", Some(file)),
            };
            if g.json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "policy": rules_json(&rules),
                        "source": origin,
                        "set_at": set.map(|f| output::rfc3339(&f.time)),
                        "set_by": set.map(|f| format!("{}@{}", f.user, f.host)),
                    })
                )?;
            } else {
                outln!("{}", describe(&rules))?;
                match set {
                    None => outln!(
                        "(cairn's default: no policy is stored in this repository; `cairn policy set` stores one)"
                    )?,
                    Some(f) => outln!("(set {} by {}@{})", output::local_time(&f.time), f.user, f.host)?,
                }
            }
        }
        PolicyAction::Set(keep) => {
            let Some(rules) = keep.rules() else {
                bail!("give the rules to store, e.g. `cairn policy set --keep-daily 7 --keep-weekly 4`");
            };
            policy_store::store(&repo, &rules, &locations::hostname(), &locations::username())?;
            if g.json {
                outln!("{}", serde_json::json!({ "policy": rules_json(&rules), "source": "repository" }))?;
            } else if !g.quiet {
                outln!("policy set: {}", describe(&rules))?;
            }
        }
    }
    Ok(0)
}
