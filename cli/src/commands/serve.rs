//! `cairn serve ROOT`: serves the repositories under ROOT over restic's REST
//! protocol (the server is the `cairn-server` crate; this only maps flags),
//! and `cairn serve htpasswd FILE USER`: adds a user to an htpasswd file.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_core::maintenance::read_subset::ReadSubset;
use cairn_core::maintenance::server_side::Schedule;
use cairn_server::{Listen, ServeOptions, TlsFiles};
use clap::{Args, Subcommand};

use crate::config::Every;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ServeCommand {
    #[command(subcommand)]
    pub action: Option<ServeAction>,
    #[command(flatten)]
    pub run: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum ServeAction {
    /// Add a user to an htpasswd file (or replace their password), argon2id; the password is read from standard input
    Htpasswd(HtpasswdArgs),
    /// Set up a system service keeping NAME's backups out of NAME's reach (as root)
    Install(crate::serve_install::InstallArgs),
    /// Stop and remove the system service; the data, passwords and users stay
    Uninstall(crate::serve_install::UninstallArgs),
}

#[derive(Args, Debug)]
pub struct HtpasswdArgs {
    /// The htpasswd file (created 0600 if absent)
    pub file: PathBuf,
    /// The user name (as the client gives it; with --private-repos, also the name of their repository)
    pub user: String,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The folder holding the repositories: `/NAME/` is ROOT/NAME, `/` is ROOT itself
    #[arg(value_name = "ROOT", required = true)]
    pub root: Option<PathBuf>,
    /// `HOST:PORT`, or `unix:/path/to.sock`
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    pub listen: String,
    /// Refuse to delete or replace anything, except a client's own locks
    #[arg(long)]
    pub append_only: bool,
    /// On TCP, accept every client without a password
    #[arg(long)]
    pub no_auth: bool,
    /// The users of TCP clients [default: ROOT/.htpasswd]
    #[arg(long, value_name = "FILE")]
    pub htpasswd_file: Option<PathBuf>,
    /// A user may use only the repository named as their user name (on a Unix socket, their login name)
    #[arg(long)]
    pub private_repos: bool,
    /// Serve HTTPS (needs --tls-cert and --tls-key)
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub tls: bool,
    /// The certificate chain (PEM)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_key: Option<PathBuf>,
    /// The Unix socket's mode, in octal (0666: every local user may connect, each known by uid) [default: as the umask leaves it, usually only the server's user]
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub socket_mode: Option<u32>,
    /// Connections served at once; more wait
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Log every request to standard error
    #[arg(long)]
    pub verbose: bool,
    /// Run retention on the server's side: forget by each repository's policy, prune and check, for every
    /// repository whose password is in ROOT/.cairn-serve/passwords/NAME (mode 0600, the server's user's)
    #[arg(long)]
    pub maintain: bool,
    /// How often --maintain forgets (snapshots dated by when the server received them), or `never`
    #[arg(long, value_name = "INTERVAL", default_value = "1h", value_parser = Every::parse, requires = "maintain")]
    pub forget_every: Every,
    /// How often --maintain prunes, or `never`
    #[arg(long, value_name = "INTERVAL", default_value = "1d", value_parser = Every::parse, requires = "maintain")]
    pub prune_every: Every,
    /// How often --maintain checks, or `never`
    #[arg(long, value_name = "INTERVAL", default_value = "7d", value_parser = Every::parse, requires = "maintain")]
    pub check_every: Every,
    /// The packs each check reads: N/M rotates through the M slices (1/4, 2/4, …), or PCT% or SIZE
    #[arg(long, value_name = "SUBSET", default_value = "1/4", requires = "maintain")]
    pub check_read_data_subset: String,
    /// How often --maintain looks at what is due (tests shorten it)
    #[arg(long, value_name = "INTERVAL", default_value = "1m", value_parser = crate::config::parse_interval, hide = true)]
    pub maintain_tick: Duration,
}

/// The schedule of `--maintain` from the flags.
fn maintain_options(a: &ServeArgs) -> Result<cairn_server::maintain::MaintainOptions> {
    let every = |e: Every| match e {
        Every::Never => None,
        Every::After(d) => Some(d),
    };
    Ok(cairn_server::maintain::MaintainOptions {
        schedule: Schedule {
            forget_every: every(a.forget_every),
            prune_every: every(a.prune_every),
            check_every: every(a.check_every),
            check_subset: a.check_read_data_subset.parse::<ReadSubset>()?,
        },
        tick: a.maintain_tick,
    })
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("'{s}' is not an octal mode such as 0660"))
}

pub fn run(g: &crate::args::Global, c: &ServeCommand) -> Result<u8> {
    match &c.action {
        Some(ServeAction::Htpasswd(a)) => htpasswd(a),
        Some(ServeAction::Install(a)) => crate::serve_install::install(g, a),
        Some(ServeAction::Uninstall(a)) => crate::serve_install::uninstall(a),
        None => serve(&c.run),
    }
}

fn serve(a: &ServeArgs) -> Result<u8> {
    let Some(root) = a.root.clone() else { bail!("cairn serve needs ROOT, the folder of the repositories") };
    let listen: Listen = a.listen.parse().map_err(anyhow::Error::msg)?;
    let root_for_maintenance = root.clone();
    let mut opts = ServeOptions::new(root, listen);
    opts.append_only = a.append_only;
    opts.no_auth = a.no_auth;
    opts.htpasswd_file = a.htpasswd_file.clone();
    opts.private_repos = a.private_repos;
    opts.tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) if a.tls => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    opts.socket_mode = a.socket_mode;
    opts.max_connections = a.max_connections;
    opts.verbose = a.verbose;
    // Test seam: a short body timeout, so a slow-client test takes seconds.
    if let Some(secs) = std::env::var("CAIRN_SERVE_BODY_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()) {
        opts.body_timeout = Duration::from_secs(secs);
        opts.header_timeout = Duration::from_secs(secs);
    }
    // Retention runs beside the server, on its own thread, until it stops.
    let maintainer = match a.maintain {
        true => Some(cairn_server::maintain::start(root_for_maintenance, maintain_options(a)?)?),
        false => None,
    };
    cairn_server::serve(opts)?;
    drop(maintainer);
    Ok(0)
}

fn htpasswd(a: &HtpasswdArgs) -> Result<u8> {
    use cairn_server::auth::htpasswd as h;
    h::check_user(&a.user).map_err(anyhow::Error::msg)?;
    let password = if let Some(typed) = crate::password::prompt_new_password()? {
        typed
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("could not read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        bail!("the password is empty; nothing was changed");
    }
    let old = match std::fs::read_to_string(&a.file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", a.file.display())),
    };
    let hash = h::hash_argon2id(password.as_bytes()).map_err(anyhow::Error::msg)?;
    let text = h::with_user(&old, &a.user, &hash);
    h::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}; nothing was changed", a.file.display()))?;
    crate::atomic_file::replace_private(&a.file, text.as_bytes())
        .with_context(|| format!("could not write {}", a.file.display()))?;
    eprintln!("{} holds user {}", a.file.display(), a.user);
    Ok(0)
}
