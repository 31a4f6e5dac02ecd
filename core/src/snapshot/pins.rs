//! Pins: `pins/<snapshot id>`, one small sealed object per pinned snapshot
//! (format-spec §10.1). Pinning creates it if absent, so it needs nothing
//! but "create" from the storage (an append-only server can allow it);
//! unpinning removes it. `forget` never removes a pinned snapshot.

use std::collections::BTreeMap;

use crate::backend::FileKind;
use crate::error::{Error, Result};
use crate::format::codec::{self, ObjectKind};
use crate::format::retention::PinFile;
use crate::format::{FORMAT_VERSION, MAX_PIN_FILE_LEN, check_version};
use crate::id::Id;
use crate::repo::{Repository, now_timestamp};

/// Pins `snapshot`. False if it was pinned already.
pub fn pin(repo: &Repository, snapshot: &Id, host: &str, user: &str) -> Result<bool> {
    let file = PinFile {
        version: FORMAT_VERSION,
        snapshot: *snapshot,
        time: now_timestamp(),
        host: host.to_string(),
        user: user.to_string(),
    };
    let bytes = codec::encode(repo.keys(), ObjectKind::Pin, &file, 3)?;
    match repo.backend().create(FileKind::Pin, snapshot, &bytes) {
        Ok(()) => Ok(true),
        Err(e) if e.is_already_exists() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Unpins `snapshot`. False if it was not pinned.
pub fn unpin(repo: &Repository, snapshot: &Id) -> Result<bool> {
    repo.refuse_if_append_only()?;
    let pinned = repo.backend().list(FileKind::Pin)?.iter().any(|(id, _)| id == snapshot);
    if pinned {
        repo.backend().remove(FileKind::Pin, snapshot)?;
    }
    Ok(pinned)
}

/// Pins by snapshot id: the pin's contents, or `None` if unreadable.
pub type Pins = BTreeMap<Id, Option<PinFile>>;

/// Every pin, by snapshot id, with its contents where they could be read.
/// A pin file that cannot be read still pins its snapshot (erring on the
/// side of keeping); the second list says what was wrong with it.
pub fn list(repo: &Repository) -> Result<(Pins, Vec<String>)> {
    let mut pins = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, size) in repo.backend().list(FileKind::Pin)? {
        let file = if size > MAX_PIN_FILE_LEN {
            Err(Error::corrupt(format!("pin {id}"), format!("{size} bytes, more than a pin holds")))
        } else {
            read(repo, &id)
        };
        match file {
            Ok(pin) => {
                pins.insert(id, Some(pin));
            }
            Err(e) => {
                problems.push(format!("pin {id}: {e} (the snapshot stays pinned; `cairn unpin` removes it)"));
                pins.insert(id, None);
            }
        }
    }
    Ok((pins, problems))
}

fn read(repo: &Repository, id: &Id) -> Result<PinFile> {
    let bytes = repo.backend().read(FileKind::Pin, id)?;
    let pin: PinFile = codec::decode(repo.keys(), ObjectKind::Pin, &bytes)?;
    check_version("pin", pin.version)?;
    if pin.snapshot != *id {
        return Err(Error::corrupt(format!("pin {id}"), format!("it names snapshot {}", pin.snapshot)));
    }
    Ok(pin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures;

    #[test]
    fn pins_are_created_once_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
        let snap = Id([7; 32]);
        assert!(pin(&repo, &snap, "h", "u").unwrap());
        assert!(!pin(&repo, &snap, "h", "u").unwrap(), "pinning twice leaves the first pin");
        let (pins, problems) = list(&repo).unwrap();
        assert!(problems.is_empty());
        assert_eq!(pins[&snap].as_ref().unwrap().snapshot, snap);
        assert!(unpin(&repo, &snap).unwrap());
        assert!(!unpin(&repo, &snap).unwrap());
        assert!(list(&repo).unwrap().0.is_empty());
    }

    #[test]
    fn a_damaged_or_misnamed_pin_still_pins_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let repo = test_fixtures::encrypted_repo(dir.path(), b"pw");
        let (a, b) = (Id([1; 32]), Id([2; 32]));
        pin(&repo, &a, "h", "u").unwrap();
        // A copy of a's pin under b's name.
        let bytes = repo.backend().read(FileKind::Pin, &a).unwrap();
        repo.backend().create(FileKind::Pin, &b, &bytes).unwrap();
        // And a's own pin damaged.
        let path = repo.backend().local_path(FileKind::Pin, &a).unwrap();
        let mut damaged = bytes.clone();
        damaged[30] ^= 1;
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &damaged).unwrap();
        let (pins, problems) = list(&repo).unwrap();
        assert_eq!(pins.keys().copied().collect::<Vec<_>>(), [a, b]);
        assert!(pins.values().all(Option::is_none));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
