//! The metadata file `ROOT/.cairn-testgen` (`scale=...` and `seed=...` lines) that lets
//! `tick` size its activity for the workspace `init` made.

use std::io;
use std::path::Path;

use crate::Scale;

/// File name of the metadata file, directly under the workspace root.
pub const META_FILE: &str = ".cairn-testgen";

/// What `init` recorded about a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub scale: Scale,
    pub seed: u64,
}

impl Meta {
    pub(crate) fn render(&self) -> String {
        format!("scale={}\nseed={}\n", self.scale, self.seed)
    }

    pub(crate) fn parse(text: &str) -> io::Result<Meta> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{META_FILE}: {what}"));
        let mut scale = None;
        let mut seed = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let Some((key, value)) = line.split_once('=') else {
                return Err(bad(&format!("malformed line {line:?}")));
            };
            match key.trim() {
                "scale" => scale = Some(value.parse::<Scale>().map_err(|e| bad(&e.to_string()))?),
                "seed" => seed = Some(value.trim().parse::<u64>().map_err(|e| bad(&format!("seed: {e}")))?),
                _ => {} // forward compatible: ignore unknown keys
            }
        }
        match (scale, seed) {
            (Some(scale), Some(seed)) => Ok(Meta { scale, seed }),
            _ => Err(bad("missing scale= or seed=")),
        }
    }

    pub(crate) fn read(root: &Path) -> io::Result<Meta> {
        let path = root.join(META_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: {e} (was the workspace made by `cairn-testgen init`?)", path.display()),
            )
        })?;
        Meta::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Meta { scale: Scale::Small, seed: 42 };
        assert_eq!(m.render(), "scale=small\nseed=42\n");
        assert_eq!(Meta::parse(&m.render()).unwrap(), m);
        assert!(Meta::parse("scale=tiny\n").is_err());
        assert!(Meta::parse("scale=tiny\nseed=x\n").is_err());
    }
}
