//! `cairn serve ROOT`: serves the repositories under ROOT over restic's REST
//! protocol (the server is the `cairn-server` crate; this only maps flags),
//! and `cairn serve htpasswd FILE USER`: adds a user to an htpasswd file.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_server::{Listen, ServeOptions, TlsFiles};
use clap::{Args, Subcommand};

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
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("'{s}' is not an octal mode such as 0660"))
}

pub fn run(c: &ServeCommand) -> Result<u8> {
    match &c.action {
        Some(ServeAction::Htpasswd(a)) => htpasswd(a),
        None => serve(&c.run),
    }
}

fn serve(a: &ServeArgs) -> Result<u8> {
    let Some(root) = a.root.clone() else { bail!("cairn serve needs ROOT, the folder of the repositories") };
    let listen: Listen = a.listen.parse().map_err(anyhow::Error::msg)?;
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
    cairn_server::serve(opts)?;
    Ok(0)
}

fn htpasswd(a: &HtpasswdArgs) -> Result<u8> {
    use cairn_server::auth::htpasswd as h;
    h::check_user(&a.user).map_err(anyhow::Error::msg)?;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {}: ", a.user))?;
        if first != rpassword::prompt_password("repeat it: ")? {
            bail!("the two passwords differ; nothing was changed");
        }
        first
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
