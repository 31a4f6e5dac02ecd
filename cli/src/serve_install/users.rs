//! Users of the system, as `cairn serve install` needs them: looking one up
//! (through `getent`, so NSS sources such as LDAP count), creating the
//! service's system user, and giving files to a user (`chown`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// The user named `name`, or `None` when there is none.
pub fn lookup(name: &str) -> Result<Option<User>> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("could not run getent to look the user up")?;
    // getent exits 2 for "no such key".
    if out.status.code() == Some(2) {
        return Ok(None);
    }
    if !out.status.success() {
        bail!("getent passwd {name} failed ({})", out.status);
    }
    parse_passwd_line(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or(""))
        .map(Some)
        .with_context(|| format!("getent passwd {name} gave an unreadable line"))
}

fn parse_passwd_line(line: &str) -> Result<User> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 {
        bail!("{line:?} is not a passwd line");
    }
    Ok(User { name: f[0].into(), uid: f[2].parse()?, gid: f[3].parse()?, home: PathBuf::from(f[5]) })
}

/// The system user `name`, created (with a group of its name, no home
/// folder made, no login) when absent; true when it was created.
pub fn ensure_system_user(name: &str, home: &Path) -> Result<(User, bool)> {
    if let Some(u) = lookup(name)? {
        return Ok((u, false));
    }
    let shell =
        ["/usr/sbin/nologin", "/sbin/nologin"].into_iter().find(|s| Path::new(s).exists()).unwrap_or("/bin/false");
    let home = home.display().to_string();
    let out = Command::new("useradd")
        .args(["--system", "--user-group", "--no-create-home", "--home-dir", &home, "--shell", shell, name])
        .stdin(Stdio::null())
        .output()
        .context("could not run useradd")?;
    if !out.status.success() {
        bail!("useradd {name} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let user = lookup(name)?.with_context(|| format!("useradd made {name}, but getent does not find it"))?;
    Ok((user, true))
}

/// Gives `path` (not following a symbolic link) to `user`.
pub fn give(path: &Path, user: &User) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .with_context(|| format!("could not give {} to {}", path.display(), user.name))
}

/// Gives `path` and everything under it to `user`.
pub fn give_tree(path: &Path, user: &User) -> Result<()> {
    give(path, user)?;
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("could not read {}", path.display()))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).with_context(|| format!("could not list {}", path.display()))? {
            give_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passwd_lines() {
        let u = parse_passwd_line("alice:x:1001:1002:Alice,,,:/home/alice:/bin/bash").unwrap();
        assert_eq!(u, User { name: "alice".into(), uid: 1001, gid: 1002, home: "/home/alice".into() });
        assert!(parse_passwd_line("garbage").is_err());
        assert!(parse_passwd_line("a:x:notanumber:1:g:/h:/s").is_err());
        assert_eq!(lookup("root").unwrap().unwrap().uid, 0);
        assert_eq!(lookup("no-such-user-cairn-test").unwrap(), None);
    }
}
