//! Writing the profile file: `toml_edit` changes one key or one table and
//! keeps everything else as the user wrote it (comments, order, spacing).
//! The file is replaced whole (temporary file, fsync, rename), so a crash
//! leaves the old file or the new one.

use std::path::Path;

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, Table};

/// The file as an editable document; an absent file is an empty one.
fn read(file: &Path) -> Result<DocumentMut> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read the profile file {}", file.display())),
    };
    text.parse::<DocumentMut>().with_context(|| format!("could not parse the profile file {}", file.display()))
}

fn write(file: &Path, doc: &DocumentMut) -> Result<()> {
    crate::atomic_file::replace_private(file, doc.to_string().as_bytes())
        .with_context(|| format!("could not write the profile file {}", file.display()))
}

/// Sets `key = value` in `[profile]` (created if absent), keeping the rest
/// of the file as it is. `schedule install` writes `every` with it.
#[allow(dead_code)] // called by `schedule install` (part B of issue 12)
pub fn set_profile_key(file: &Path, profile: &str, key: &str, value: impl Into<toml_edit::Value>) -> Result<()> {
    let mut doc = read(file)?;
    let table = doc.entry(profile).or_insert_with(|| Item::Table(Table::new()));
    let Some(table) = table.as_table_like_mut() else {
        bail!("{}: `{profile}` is not a table; fix the file first", file.display());
    };
    table.insert(key, Item::Value(value.into()));
    write(file, &doc)
}

/// Writes the table `[profile]` (replacing one of that name only when
/// `replace`), with the given keys in order.
pub fn write_profile(file: &Path, profile: &str, keys: Vec<(&str, toml_edit::Value)>, replace: bool) -> Result<()> {
    let mut doc = read(file)?;
    if doc.contains_key(profile) && !replace {
        bail!(
            "{} already has a profile `{profile}`; give --force to replace it, or --profile NAME for another",
            file.display()
        );
    }
    let mut table = Table::new();
    for (k, v) in keys {
        table.insert(k, Item::Value(v));
    }
    doc.insert(profile, Item::Table(table));
    write(file, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_key_keeps_comments_and_other_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let text = "# mine\n[default]\npaths = [\"/a\"] # the work\n\n[other]\nhost = \"h\"\n";
        std::fs::write(&file, text).unwrap();
        set_profile_key(&file, "default", "every", "1h").unwrap();
        let after = std::fs::read_to_string(&file).unwrap();
        assert!(after.starts_with("# mine\n[default]\npaths = [\"/a\"] # the work\nevery = \"1h\"\n"), "{after}");
        assert!(after.contains("[other]\nhost = \"h\"\n"));
        set_profile_key(&file, "default", "every", "2h").unwrap();
        assert!(std::fs::read_to_string(&file).unwrap().contains("every = \"2h\"\n"));
        assert!(write_profile(&file, "other", vec![], false).is_err());
    }
}
