//! `cairn-testgen`: command-line front end of the workspace generator.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use cairn_testgen::Scale;
use clap::{Parser, Subcommand};

/// Deterministic generator of AI-coding-agent workspace trees and their hourly churn.
#[derive(Parser)]
#[command(name = "cairn-testgen", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a fresh workspace in DIR (created if missing; must be empty).
    Init {
        dir: PathBuf,
        /// tiny (~5 MB), small (~60 MB), medium (~1 GB) or large (~8 GB).
        #[arg(long, default_value = "tiny")]
        scale: Scale,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Apply one hour of agent activity (hours 1, 2, 3, ... in order).
    Tick {
        dir: PathBuf,
        #[arg(long)]
        hour: u32,
        /// Print the full report as JSON instead of a summary line.
        #[arg(long)]
        json: bool,
    },
    /// Delete every *.md file.
    Disaster { dir: PathBuf },
    /// Count files and bytes, with and without node_modules/ and target/.
    Stats {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Init { dir, scale, seed } => {
            let start = Instant::now();
            let g = cairn_testgen::init(&dir, scale, seed).with_context(|| format!("init {}", dir.display()))?;
            println!(
                "init {} (scale {scale}, seed {seed}): {} files, {} bytes ({:.1} MiB) in {:.2}s",
                dir.display(),
                g.files,
                g.bytes,
                mb(g.bytes),
                start.elapsed().as_secs_f64()
            );
        }
        Cmd::Tick { dir, hour, json } => {
            let r = cairn_testgen::tick(&dir, hour).with_context(|| format!("tick {} --hour {hour}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("hour {hour}: {}", r.summary());
            }
        }
        Cmd::Disaster { dir } => {
            let gone = cairn_testgen::disaster(&dir).with_context(|| format!("disaster {}", dir.display()))?;
            println!("deleted {} markdown files", gone.len());
        }
        Cmd::Stats { dir, json } => {
            let s = cairn_testgen::stats(&dir).with_context(|| format!("stats {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!(
                    "all: {} files, {} bytes ({:.1} MiB); without node_modules/target: {} files, {} bytes ({:.1} MiB)",
                    s.all.files,
                    s.all.bytes,
                    mb(s.all.bytes),
                    s.without_excluded.files,
                    s.without_excluded.bytes,
                    mb(s.without_excluded.bytes)
                );
            }
        }
    }
    Ok(())
}
