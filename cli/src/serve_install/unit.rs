//! The text of `cairn-serve.service`: one system service serving every
//! repository under the root, append-only, private per user, over a Unix
//! socket any local user may reach (the server tells users apart by their
//! uid), with retention on the server's side and systemd's sandboxing.

use std::path::Path;

use crate::schedule::systemd::quote;

/// The unit's file name.
pub const UNIT_NAME: &str = "cairn-serve.service";

/// The command line the service runs.
pub fn exec_args(program: &Path, root: &Path, socket: &Path) -> Vec<String> {
    vec![
        program.display().to_string(),
        "serve".into(),
        root.display().to_string(),
        "--listen".into(),
        format!("unix:{}", socket.display()),
        "--socket-mode".into(),
        "0666".into(),
        "--append-only".into(),
        "--private-repos".into(),
        "--maintain".into(),
    ]
}

pub fn service_text(program: &Path, root: &Path, socket: &Path, user: &str) -> String {
    let exec: Vec<String> = exec_args(program, root, socket).iter().map(|a| quote(a)).collect();
    // systemd makes (and removes) the socket's folder when it is one of
    // /run's; elsewhere `install` made it.
    let socket_dir = socket.parent().unwrap_or(Path::new("/"));
    let runtime = socket_dir
        .strip_prefix("/run")
        .ok()
        .filter(|d| d.components().count() == 1)
        .map(|d| format!("RuntimeDirectory={}\nRuntimeDirectoryMode=0755\n", d.display()));
    // Elsewhere the socket's folder must stay writable under ProtectSystem.
    let writable = match runtime {
        Some(_) => quote(&root.display().to_string()),
        None => format!("{} {}", quote(&root.display().to_string()), quote(&socket_dir.display().to_string())),
    };
    let runtime = runtime.unwrap_or_default();
    format!(
        "# Written by `cairn serve install`; `cairn serve uninstall` removes it (and leaves the data).\n\
         [Unit]\n\
         Description=cairn serve: append-only backup repositories in {root}\n\
         After=local-fs.target\n\
         \n\
         [Service]\n\
         User={user}\n\
         Group={user}\n\
         ExecStart={exec}\n\
         {runtime}\
         Restart=on-failure\n\
         UMask=0077\n\
         # The server needs its root and its socket, nothing else.\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ReadWritePaths={writable}\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         PrivateNetwork=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictAddressFamilies=AF_UNIX\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         RestrictSUIDSGID=yes\n\
         LockPersonality=yes\n\
         MemoryDenyWriteExecute=yes\n\
         SystemCallArchitectures=native\n\
         CapabilityBoundingSet=\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        root = root.display(),
        exec = exec.join(" "),
    )
}

/// The words of the unit's `ExecStart=` line (tests run it themselves
/// where there is no systemd), unquoted.
pub fn exec_start_of(unit: &str) -> Option<Vec<String>> {
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart="))?;
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => word.extend(chars.next()),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| **c != ' ') {
                word.push(c);
                chars.next();
            }
        }
        words.push(word.replace("$$", "$").replace("%%", "%"));
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_an_append_only_private_maintaining_server_as_its_user() {
        let text = service_text(
            Path::new("/usr/bin/cairn"),
            Path::new("/var/lib/cairn"),
            Path::new("/run/cairn/s.sock"),
            "cairn",
        );
        for want in [
            "User=cairn\n",
            "ExecStart=/usr/bin/cairn serve /var/lib/cairn --listen unix:/run/cairn/s.sock --socket-mode 0666 --append-only --private-repos --maintain\n",
            "RuntimeDirectory=cairn\n",
            "ReadWritePaths=/var/lib/cairn\n",
            "ProtectSystem=strict\n",
        ] {
            assert!(text.contains(want), "{want:?} missing in\n{text}");
        }
        assert_eq!(
            exec_start_of(&text).unwrap(),
            exec_args(Path::new("/usr/bin/cairn"), Path::new("/var/lib/cairn"), Path::new("/run/cairn/s.sock"))
        );
        // A root with a space survives the quoting both ways.
        let odd =
            service_text(Path::new("/opt/c$/cairn"), Path::new("/srv/my backups"), Path::new("/tmp/x/s.sock"), "c");
        assert!(!odd.contains("RuntimeDirectory"));
        assert!(odd.contains("ReadWritePaths=\"/srv/my backups\" /tmp/x\n"), "{odd}");
        assert_eq!(exec_start_of(&odd).unwrap()[0], "/opt/c$/cairn");
        assert_eq!(exec_start_of(&odd).unwrap()[2], "/srv/my backups");
    }
}
