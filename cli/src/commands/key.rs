//! `cairn key passwd`: change the password. The order keeps a working
//! password at every crash point:
//! 1. a new key file sealing the master key under the new password is made
//!    durable (both passwords work);
//! 2. when the password came from the default password file, that file is
//!    replaced with the new password (temporary name, sync, rename);
//! 3. the new key file is read back and opened, then the old one removed.

use anyhow::{Context, Result, bail};
use cairn_core::repo::keys;
use cairn_core::testhook::{self, Point};

use crate::args::{Global, PasswdArgs};
use crate::output::outln;
use crate::{locations, output, password};

pub fn passwd(g: &Global, a: &PasswdArgs) -> Result<u8> {
    let opened = password::open_keeping_password(g)?;
    let repo = &opened.repo;
    // Refused before the new key is added: the old one could not be removed.
    repo.refuse_if_append_only()?;
    let Some(old) = opened.password.as_deref() else {
        bail!("{} is not encrypted: it has no password to change", repo.path().display());
    };
    let new = if let Some(file) = &a.new_password_file {
        password::read_new_password_file(file)?
    } else if a.generate {
        if opened.from_file.is_none() {
            bail!(
                "--generate writes the new password into the default repository's password file, but the password did not come from it: give the new one with --new-password-file FILE"
            );
        }
        locations::random_password()?
    } else {
        match password::prompt_new_password()? {
            Some(p) => p,
            None => bail!(
                "no new password given: pass --new-password-file FILE, or --generate (a new random one in the default password file), or run on a terminal"
            ),
        }
    };
    let change = keys::add_key(repo, old.as_bytes(), new.as_bytes(), &locations::hostname(), &locations::username())?;
    if let Some(file) = &opened.from_file {
        crate::atomic_file::replace_private(file, format!("{new}\n").as_bytes()).with_context(|| {
            format!(
                "the new key is stored, but {} could not be rewritten; it still holds the old password, which still works",
                file.display()
            )
        })?;
        testhook::reached(Point::PasswordFileRewritten, None);
    }
    keys::remove_old_key(repo, &change, new.as_bytes()).with_context(|| {
        format!(
            "the new password works, but the old key file keys/{} could not be removed, so the old password still works too",
            change.old_key
        )
    })?;
    // An earlier change that was interrupted leaves its old key file: its
    // password still opens the repository, which the user should know.
    let others: Vec<String> = repo
        .backend()
        .list(cairn_core::backend::FileKind::Key)?
        .into_iter()
        .filter(|(id, _)| *id != change.new_key)
        .map(|(id, _)| format!("keys/{id}"))
        .collect();
    if !others.is_empty() {
        output::note(format!(
            "other key files remain, and their passwords still open the repository (an earlier change was interrupted?): {}; remove them from {} unless you know what they are",
            others.join(", "),
            repo.path().display()
        ));
    }
    if g.json {
        outln!(
            "{}",
            serde_json::json!({
                "old_key": change.old_key.to_hex(),
                "new_key": change.new_key.to_hex(),
                "password_file": opened.from_file,
            })
        )?;
    } else if !g.quiet {
        outln!("password changed: key {} replaces key {}", change.new_key.short(), change.old_key.short())?;
        match &opened.from_file {
            Some(file) => outln!("the new password is in {}; replace your offsite copy of that file", file.display())?,
            None => outln!("the old password no longer opens the repository: update wherever you keep it")?,
        }
    }
    Ok(0)
}
