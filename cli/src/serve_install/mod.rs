//! `cairn serve install --for-user NAME` and `cairn serve uninstall`: the
//! operating-system plumbing that puts a user's backups out of that user's
//! reach. A system user (`cairn`) owns a repository root (0700) and runs
//! `cairn serve` as a systemd system service (append-only, private
//! repositories, retention on the server's side) on a Unix socket; NAME
//! gets a repository under the root, its password (one copy for the
//! service, one for NAME) and a profile that points at the socket. No
//! repository logic here beyond creating the repository through core.
//!
//! Test seams: `CAIRN_INSTALL_ROOT` prefixes /etc, /var/lib and /run;
//! `CAIRN_SYSTEMCTL` names the program run instead of `systemctl`.

mod unit;
mod users;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::Repository;
use cairn_core::format::crypto::KdfParams;
use clap::Args;

use crate::args::Global;
use crate::output::outln;
use crate::schedule::systemd::systemctl_system;
use crate::{atomic_file, config, locations, password};
pub use unit::{UNIT_NAME, exec_start_of};
use users::User;

#[derive(Args, Debug)]
#[command(long_about = "Set up `cairn serve` so that NAME's backups are out of NAME's reach (run as root).

Creates the system user `cairn` (if absent), the repository root (mode 0700, owned by it), a repository \
ROOT/NAME with a random password (stored for the service in ROOT/.cairn-serve/passwords/NAME and for NAME \
in ~NAME/.config/cairn/serve-password, both mode 0600), the system service cairn-serve.service (append-only, \
private repositories, retention on the server's side, a Unix socket every local user can reach) and \
NAME's profile, which then uses `rest:unix:SOCKET:/NAME/`. Run it again for another user to add theirs to \
the same service. The global --profile names which of NAME's profiles to point at the server \
(default `default`); one that names another repository is changed only with --force, keeping its other keys.

NAME can then snapshot and restore, but not forget, prune or delete: the service forgets by the \
repository's policy (`cairn policy set`) and prunes on its own schedule; `cairn status` shows when.")]
pub struct InstallArgs {
    /// The user whose backups go to the server
    #[arg(long, value_name = "NAME")]
    pub for_user: String,
    /// The repository root, owned by the service's user
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The server's Unix socket
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Point NAME's profile at the server even if it names another repository
    #[arg(long)]
    pub force: bool,
    /// The system user that runs the service (tests use their own)
    #[arg(long, value_name = "USER", default_value = "cairn", hide = true)]
    pub service_user: String,
}

#[derive(Args, Debug)]
#[command(long_about = "Stop and remove the cairn-serve system service. The repositories, their \
passwords, the `cairn` user and the users' profiles stay (said in the output): removing backups is \
left to a deliberate, separate step.")]
pub struct UninstallArgs {}

/// `$CAIRN_INSTALL_ROOT` + `path` (tests install into a folder).
fn prefixed(path: &str) -> PathBuf {
    match std::env::var_os("CAIRN_INSTALL_ROOT").filter(|p| !p.is_empty()) {
        Some(root) => PathBuf::from(root).join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

fn unit_file() -> PathBuf {
    prefixed("/etc/systemd/system").join(UNIT_NAME)
}

pub fn install(g: &Global, a: &InstallArgs) -> Result<u8> {
    // NAME's profile to point at the server: the global --profile (default `default`).
    let profile = g.profile.clone().unwrap_or_else(|| config::DEFAULT_PROFILE.to_string());
    if !users::is_root() {
        bail!("`cairn serve install` creates a system user and a system service: run it as root (sudo)");
    }
    let name = &a.for_user;
    if cairn_server::route::check_repo_name(name).is_err() || name == cairn_server::maintain::ROOT_NAME {
        bail!(
            "{name:?} cannot name a repository on the server (up to 64 letters, digits, `_`, `.`, `-`, not `.` first, \
             not a word of the protocol)"
        );
    }
    let Some(user) = users::lookup(name)? else { bail!("there is no user {name:?}") };
    if user.uid == 0 {
        bail!("backups of root cannot be kept from root; name an ordinary user");
    }
    let root = a.root.clone().unwrap_or_else(|| prefixed("/var/lib/cairn"));
    let socket = a.socket.clone().unwrap_or_else(|| prefixed("/run/cairn/serve.sock"));
    if !root.is_absolute() || !socket.is_absolute() {
        bail!("--root and --socket must be absolute paths");
    }
    let location = format!("rest:unix:{}:/{name}/", socket.display());
    let config_file = user.home.join(".config/cairn/config.toml");
    let user_password = user.home.join(".config/cairn/serve-password");
    // A profile that would be refused is said before anything is made.
    point_profile(a, &profile, &user, &config_file, &location, &user_password, true)?;
    // The service must be able to run this program: said before anything is made.
    let program = std::env::current_exe().context("could not find this program's path for the service")?;
    let nobody = User { name: a.service_user.clone(), uid: u32::MAX, gid: u32::MAX, home: root.clone() };
    reachable_by(&program, &users::lookup(&a.service_user)?.unwrap_or(nobody))?;
    let (service, created) = users::ensure_system_user(&a.service_user, &root)?;
    if created {
        outln!("created the system user {}", service.name)?;
    }
    if service.uid == user.uid {
        bail!("the service's user and {name} are the same user: the backups would not be out of its reach");
    }

    // The root and the server's folders: the service's alone.
    let admin = root.join(".cairn-serve");
    for dir in [root.clone(), admin.clone(), admin.join("passwords"), admin.join("maintenance")] {
        private_dir(&dir, &service)?;
    }
    if let Some(dir) = socket.parent().filter(|d| !d.exists()) {
        std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
        users::give(dir, &service)?;
    }

    let repo_path = root.join(name);
    let service_password = admin.join("passwords").join(name);
    let password = repository(&repo_path, &service_password, &service)?;
    user_file(&user, &user_password, &password)?;

    let unit = unit_file();
    atomic_file::write(&unit, unit::service_text(&program, &root, &socket, &service.name).as_bytes())?;
    outln!("wrote {}", unit.display())?;

    point_profile(a, &profile, &user, &config_file, &location, &user_password, false)?;
    outln!("{name}'s profile `{profile}` ({}) now uses {location}", config_file.display())?;

    systemctl_system(&["daemon-reload"])?;
    systemctl_system(&["enable", "--now", UNIT_NAME])?;
    outln!("started {UNIT_NAME}")?;
    outln!(
        "{name} can snapshot and restore, but not delete: the service (user {}) forgets by the repository's \
         policy and prunes on its own schedule; `cairn status` shows when it last did",
        service.name
    )?;
    Ok(0)
}

/// Refuses a program the service's user could not run (`cargo install` as
/// root puts it under /root, mode 0700): the service would fail to start.
fn reachable_by(program: &Path, user: &User) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    for p in program.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        let m = std::fs::metadata(p).with_context(|| format!("could not read {}", p.display()))?;
        let others_x = m.mode() & 0o001 != 0;
        let owner_x = m.uid() == user.uid && m.mode() & 0o100 != 0;
        let group_x = m.gid() == user.gid && m.mode() & 0o010 != 0;
        if !(others_x || owner_x || group_x) {
            bail!(
                "the service's user {} cannot run {} ({} is mode {:o}); install cairn where every user can \
                 run it (e.g. /usr/local/bin) and run that one",
                user.name,
                program.display(),
                p.display(),
                m.mode() & 0o7777
            );
        }
    }
    Ok(())
}

/// A folder owned by `owner`, mode 0700 (made if absent).
fn private_dir(dir: &Path, owner: &User) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    users::give(dir, owner)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("could not make {} private", dir.display()))
}

/// The repository at `path` and its password: created with a new random
/// password (written for the service first, so it is never lost) when
/// absent; an existing one is kept when the service has its password.
fn repository(path: &Path, password_file: &Path, service: &User) -> Result<String> {
    let known = match std::fs::read_to_string(password_file) {
        Ok(text) => Some(text.lines().next().unwrap_or("").to_string()).filter(|p| !p.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("could not read {}", password_file.display())),
    };
    if Repository::exists_at(path)? {
        let Some(password) = known else {
            bail!(
                "{} holds a repository whose password the service does not have ({} is missing)",
                path.display(),
                password_file.display()
            );
        };
        Repository::open(path, Some(password.as_bytes()))
            .with_context(|| format!("the password in {} does not open {}", password_file.display(), path.display()))?;
        outln!("kept the repository {}", path.display())?;
        return Ok(password);
    }
    let password = match known {
        Some(p) => p,
        None => {
            let p = locations::random_password()?;
            atomic_file::replace_private(password_file, format!("{p}\n").as_bytes())
                .with_context(|| format!("could not write {}", password_file.display()))?;
            users::give(password_file, service)?;
            p
        }
    };
    Repository::init(path, &password::init_options(Some(password.as_bytes()), KdfParams::DEFAULT))
        .with_context(|| format!("could not create the repository {}", path.display()))?;
    users::give_tree(path, service)?;
    outln!("created the repository {} (its password: {})", path.display(), password_file.display())?;
    Ok(password)
}

/// Writes `user`'s copy of the password (0600, theirs), making the
/// folders above it theirs when this made them.
fn user_file(user: &User, file: &Path, password: &str) -> Result<()> {
    make_user_dirs(user, file.parent().context("a file needs a folder")?)?;
    atomic_file::replace_private(file, format!("{password}\n").as_bytes())
        .with_context(|| format!("could not write {}", file.display()))?;
    users::give(file, user)
}

fn make_user_dirs(user: &User, dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d.to_path_buf());
        d = d.parent().context("no folder above")?;
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).with_context(|| format!("could not create {}", d.display()))?;
        users::give(d, user)?;
    }
    Ok(())
}

/// Points `user`'s profile at the server: a new profile, or the existing
/// one's repository and password file (the rest kept as written). A profile
/// naming another repository is changed only with --force. With `check_only`,
/// only says whether it would refuse (before anything else is made).
fn point_profile(
    a: &InstallArgs,
    profile: &str,
    user: &User,
    file: &Path,
    location: &str,
    password: &Path,
    check_only: bool,
) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", file.display())),
    };
    let doc: toml::Table = text.parse().with_context(|| format!("could not parse {}", file.display()))?;
    let password = password.display().to_string();
    match doc.get(profile).and_then(|p| p.as_table()) {
        None if check_only => {}
        None => config::write_profile(
            file,
            profile,
            vec![("repository", location.into()), ("password-file", password.as_str().into())],
            false,
        )?,
        Some(p) => {
            let current = p.get("repository").and_then(|r| r.as_str());
            if current.is_some_and(|r| r != location) && !a.force {
                bail!(
                    "{}: profile `{}` uses the repository {}; give --force to point it at the server (its \
                     snapshots stay there), or --profile NAME for another profile",
                    file.display(),
                    profile,
                    current.unwrap_or_default()
                );
            }
            if p.contains_key("password-command") {
                bail!(
                    "{}: profile `{}` has a password-command; remove it first (the server's password is in {password})",
                    file.display(),
                    profile
                );
            }
            if check_only {
                return Ok(());
            }
            config::set_profile_key(file, profile, "repository", location)?;
            config::set_profile_key(file, profile, "password-file", password.as_str())?;
        }
    }
    if check_only { Ok(()) } else { users::give(file, user) }
}

pub fn uninstall(_a: &UninstallArgs) -> Result<u8> {
    if !users::is_root() {
        bail!("`cairn serve uninstall` removes a system service: run it as root (sudo)");
    }
    let unit = unit_file();
    let text = match std::fs::read_to_string(&unit) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            outln!("{} is not installed ({} is absent)", UNIT_NAME, unit.display())?;
            return Ok(0);
        }
        Err(e) => return Err(e).with_context(|| format!("could not read {}", unit.display())),
    };
    systemctl_system(&["disable", "--now", UNIT_NAME])?;
    atomic_file::remove(&unit)?;
    systemctl_system(&["daemon-reload"])?;
    outln!("stopped and removed {UNIT_NAME}")?;
    let root = exec_start_of(&text).and_then(|w| w.get(2).cloned()).unwrap_or_else(|| "the repository root".into());
    outln!(
        "left in place: the repositories and their passwords in {root}, the service's user and the users' \
         profiles (they point at the server's socket until changed)"
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_program_in_a_private_folder_is_refused_for_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("bin/cairn");
        std::fs::create_dir_all(program.parent().unwrap()).unwrap();
        std::fs::write(&program, "").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let stranger = User { name: "svc".into(), uid: u32::MAX, gid: u32::MAX, home: "/".into() };
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = reachable_by(&program, &stranger).unwrap_err().to_string();
        assert!(e.contains("cannot run") && e.contains("mode 700"), "{e}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        reachable_by(&program, &stranger).unwrap();
    }
}
