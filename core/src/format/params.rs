//! The encoding of `RepoParams`, which depends on its leading `version`
//! (format-spec §12): version 1 is six fields, version 2 appends
//! `features: u64`, and with feature bit 1 (`FEATURE_ADOPTED_IDS`) the
//! adopted blob-id key (32 bytes) and chunker seed (u64) follow. Postcard
//! writes a struct as its fields in order, so a version-1 encoding is
//! exactly what cairn 1 wrote.

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::format::{AdoptedIds, FEATURE_ADOPTED_IDS, KNOWN_FEATURES, REPO_VERSION, RepoParams};

impl Serialize for RepoParams {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let with_features = self.version >= 2;
        let adopted = self.adopted.as_ref().filter(|_| with_features && self.features & FEATURE_ADOPTED_IDS != 0);
        let fields = if with_features { 7 } else { 6 } + if adopted.is_some() { 2 } else { 0 };
        let mut t = s.serialize_tuple(fields)?;
        t.serialize_element(&self.version)?;
        t.serialize_element(&self.chunk_min)?;
        t.serialize_element(&self.chunk_avg)?;
        t.serialize_element(&self.chunk_max)?;
        t.serialize_element(&self.pack_target)?;
        t.serialize_element(&self.zstd_level)?;
        if with_features {
            t.serialize_element(&self.features)?;
        }
        if let Some(adopted) = adopted {
            t.serialize_element(&adopted.blob_id_key)?;
            t.serialize_element(&adopted.chunker_seed)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for RepoParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ByVersion;
        impl<'de> Visitor<'de> for ByVersion {
            type Value = RepoParams;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("repository parameters")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<RepoParams, A::Error> {
                let mut next = |i: usize| -> std::result::Result<u32, A::Error> {
                    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))
                };
                let version = next(0)?;
                let chunk_min = next(1)?;
                let chunk_avg = next(2)?;
                let chunk_max = next(3)?;
                let pack_target = next(4)?;
                let zstd_level: i32 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(5, &self))?;
                // Only version 2 has the field; an unknown version is refused
                // by `RepoParams::decode` before its fields are read.
                let features = if version >= 2 {
                    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(6, &self))?
                } else {
                    0
                };
                let adopted = if features & FEATURE_ADOPTED_IDS != 0 {
                    let blob_id_key = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(7, &self))?;
                    let chunker_seed = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(8, &self))?;
                    Some(AdoptedIds { blob_id_key, chunker_seed })
                } else {
                    None
                };
                Ok(RepoParams { version, chunk_min, chunk_avg, chunk_max, pack_target, zstd_level, features, adopted })
            }
        }
        d.deserialize_tuple(9, ByVersion)
    }
}

impl RepoParams {
    /// Decodes the plaintext of the sealed parameters: the version first,
    /// so that a newer one is refused as such (not as damage), then the
    /// fields of that version, then the feature bits (unknown ones are
    /// refused: this cairn would not follow the rules they stand for).
    pub fn decode(raw: &[u8]) -> Result<RepoParams> {
        let (version, _) = postcard::take_from_bytes::<u32>(raw)
            .map_err(|e| Error::corrupt("config", format!("repository parameters: postcard: {e}")))?;
        if version == 0 || version > REPO_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "repository format",
                found: version,
                supported: REPO_VERSION,
            });
        }
        // Unknown feature bits before leftover bytes: a newer feature may
        // append fields, and its repository is "upgrade cairn", not damage.
        let (params, rest) = postcard::take_from_bytes::<RepoParams>(raw)
            .map_err(|e| Error::corrupt("config", format!("repository parameters: postcard: {e}")))?;
        params.check_features()?;
        if !rest.is_empty() {
            return Err(Error::corrupt("config", format!("repository parameters: {} trailing bytes", rest.len())));
        }
        Ok(params)
    }

    /// Refuses feature bits this cairn does not know.
    pub fn check_features(&self) -> Result<()> {
        let unknown = self.features & !KNOWN_FEATURES;
        if unknown != 0 {
            return Err(Error::UnknownFeatures(unknown));
        }
        Ok(())
    }

    /// These parameters carrying `adopted` (another repository's blob-id
    /// key and chunker seed), with the feature bit that says so.
    pub fn adopting(&self, adopted: AdoptedIds) -> RepoParams {
        RepoParams { features: self.features | FEATURE_ADOPTED_IDS, adopted: Some(adopted), ..self.clone() }
    }

    /// These parameters as version 2 with the deletion protocol (the upgrade
    /// of a version-1 repository changes nothing else).
    pub fn upgraded(&self) -> RepoParams {
        RepoParams { version: REPO_VERSION, features: self.features | super::FEATURE_DELETION_PROTOCOL, ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FEATURE_DELETION_PROTOCOL;
    use crate::format::codec;

    #[test]
    fn version_1_has_six_fields_and_version_2_appends_the_features() {
        let v1 = RepoParams { version: 1, features: 0, ..RepoParams::DEFAULT };
        let v1_bytes = codec::to_postcard(&v1).unwrap();
        let v2 = RepoParams::DEFAULT;
        let v2_bytes = codec::to_postcard(&v2).unwrap();
        assert_eq!(&v2_bytes[1..v1_bytes.len()], &v1_bytes[1..], "same fields after the version");
        assert_eq!(&v2_bytes[v1_bytes.len()..], &[FEATURE_DELETION_PROTOCOL as u8]);
        assert_eq!(RepoParams::decode(&v1_bytes).unwrap(), v1);
        assert_eq!(RepoParams::decode(&v2_bytes).unwrap(), v2);
        assert_eq!(v1.upgraded(), v2);
    }

    #[test]
    fn unknown_versions_and_feature_bits_are_refused() {
        let v3 = codec::to_postcard(&RepoParams { version: 3, ..RepoParams::DEFAULT }).unwrap();
        assert!(matches!(RepoParams::decode(&v3), Err(Error::UnsupportedVersion { found: 3, .. })));
        let unknown = codec::to_postcard(&RepoParams { features: 0b1101, ..RepoParams::DEFAULT }).unwrap();
        assert!(matches!(RepoParams::decode(&unknown), Err(Error::UnknownFeatures(0b1100))));
        // A newer feature's appended fields do not make it "damaged".
        let mut appended = unknown.clone();
        appended.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(RepoParams::decode(&appended), Err(Error::UnknownFeatures(0b1100))));
        let v2_cut = codec::to_postcard(&RepoParams { version: 1, ..RepoParams::DEFAULT }).unwrap();
        let mut as_v2 = v2_cut.clone();
        as_v2[0] = 2;
        assert!(matches!(RepoParams::decode(&as_v2), Err(Error::Corrupt { .. })), "v2 without its features");
    }

    #[test]
    fn adopted_ids_follow_the_features_and_only_with_their_bit() {
        let adopted = AdoptedIds { blob_id_key: [9; 32], chunker_seed: 0x0102 };
        let with = RepoParams::DEFAULT.adopting(adopted.clone());
        let bytes = codec::to_postcard(&with).unwrap();
        let plain = codec::to_postcard(&RepoParams::DEFAULT).unwrap();
        assert_eq!(bytes.len(), plain.len() + 32 + 2, "the key, then the seed as a varint");
        assert_eq!(RepoParams::decode(&bytes).unwrap(), with);
        // The bit without the fields is cut short; the fields without the bit are left over.
        let mut cut = plain.clone();
        *cut.last_mut().unwrap() |= FEATURE_ADOPTED_IDS as u8;
        assert!(matches!(RepoParams::decode(&cut), Err(Error::Corrupt { .. })));
        let mut extra = plain;
        extra.extend_from_slice(&[9; 34]);
        assert!(matches!(RepoParams::decode(&extra), Err(Error::Corrupt { .. })));
        assert!(!format!("{with:?}").contains("9, 9"), "the key is never printed");
    }
}
