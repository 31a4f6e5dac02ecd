//! The principal of a Unix-socket client: the uid the kernel reports for the
//! peer (`SO_PEERCRED`), which the client cannot forge, and its user name.

use tokio::net::UnixStream;

use super::Principal;

/// The peer's uid and user name (`#uid` when the system has no
/// name for it, which `--private-repos` then never matches a repository to).
pub fn principal_of(stream: &UnixStream) -> std::io::Result<Principal> {
    let uid = stream.peer_cred()?.uid();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{uid}"));
    Ok(Principal::Uid(uid, name))
}
