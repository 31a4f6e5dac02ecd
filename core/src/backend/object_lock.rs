//! S3 Object Lock, as cairn uses it: the bucket's *default retention*
//! (`PutObjectLockConfiguration` / `GetObjectLockConfiguration`), which the
//! storage applies to every object uploaded, by cairn or by anyone holding
//! write credentials — stronger than per-object headers, which an attacker
//! would simply omit. An object is retained from its upload (its
//! `LastModified`) for the period; `Backend::locked_until` answers from it
//! and prune and forget skip what is still retained
//! (`maintenance::locked`).
//!
//! This module is the storage-neutral part: the retention, the XML body of
//! the configuration both ways (a bounded, forgiving reader of what a
//! server sends), and the date arithmetic. The S3 backend sends and signs
//! the two requests.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{BackendError, Op};

/// The largest configuration document read from a server; real ones are a
/// few hundred bytes.
pub const MAX_CONFIGURATION_LEN: usize = 64 * 1024;

/// How strictly the storage retains objects (S3's two modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Users with `s3:BypassGovernanceRetention` may still delete.
    Governance,
    /// Nobody may delete before the date, the account's root included.
    Compliance,
}

impl LockMode {
    pub fn parse(text: &str) -> Option<LockMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "governance" => Some(LockMode::Governance),
            "compliance" => Some(LockMode::Compliance),
            _ => None,
        }
    }

    fn xml(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockMode::Governance => "governance",
            LockMode::Compliance => "compliance",
        })
    }
}

/// A bucket's default retention: every new object is retained this long
/// from its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub mode: LockMode,
    pub days: u32,
}

/// The longest retention cairn sets (S3 allows up to 100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl Retention {
    /// `--object-lock DAYS[d]`: a whole number of days, 1 to 36500.
    pub fn parse_days(text: &str) -> Result<u32, String> {
        let digits = text.trim().strip_suffix('d').unwrap_or(text.trim());
        match digits.parse::<u32>() {
            Ok(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => Ok(days),
            _ => Err(format!("--object-lock {text:?}: give a number of days from 1 to {MAX_RETENTION_DAYS}, e.g. 30d")),
        }
    }

    fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.days) * 86_400)
    }

    /// Until when an object uploaded at `modified` is retained, if that is
    /// after `now`. An object whose upload time is unknown is taken as
    /// uploaded now (the longest it can be retained: never deleted early).
    pub fn locked_until(&self, modified: Option<SystemTime>, now: SystemTime) -> Option<SystemTime> {
        let until = modified.unwrap_or(now).checked_add(self.period())?;
        (until > now).then_some(until)
    }

    /// The body of `PutObjectLockConfiguration`.
    pub fn to_xml(&self) -> String {
        format!(
            "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <ObjectLockEnabled>Enabled</ObjectLockEnabled>\
             <Rule><DefaultRetention><Mode>{}</Mode><Days>{}</Days></DefaultRetention></Rule>\
             </ObjectLockConfiguration>",
            self.mode.xml(),
            self.days
        )
    }
}

/// What a bucket's Object Lock configuration says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockConfiguration {
    /// Object Lock is not enabled on the bucket (it must be created so).
    NotEnabled,
    /// Enabled, without a default retention: objects are not retained
    /// unless their uploader asked (cairn does not).
    NoDefault,
    Default(Retention),
}

/// The text of the first `<tag>…</tag>` in `xml`, trimmed.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim())
}

/// Reads a `GetObjectLockConfiguration` answer. Years count as 365 days
/// (S3's own rule for a retention given in years is calendar years; the
/// difference only shortens what cairn believes by a day per leap year,
/// so it never deletes early by more than that — and S3 refuses anyway).
pub fn parse_configuration(body: &[u8]) -> Result<LockConfiguration, String> {
    if body.len() > MAX_CONFIGURATION_LEN {
        return Err(format!("an Object Lock configuration of {} bytes (at most {MAX_CONFIGURATION_LEN})", body.len()));
    }
    let xml = std::str::from_utf8(body).map_err(|_| "an Object Lock configuration that is not UTF-8".to_string())?;
    if element(xml, "ObjectLockEnabled") != Some("Enabled") {
        return Ok(LockConfiguration::NotEnabled);
    }
    let Some(rule) = element(xml, "DefaultRetention") else { return Ok(LockConfiguration::NoDefault) };
    let mode = match element(rule, "Mode") {
        Some("GOVERNANCE") => LockMode::Governance,
        Some("COMPLIANCE") => LockMode::Compliance,
        other => return Err(format!("an Object Lock retention mode {other:?}")),
    };
    let number =
        |tag| element(rule, tag).map(|n| n.parse::<u32>().map_err(|_| format!("an Object Lock {tag} of {n:?}")));
    // A zero beside the other is read as absent: moto answers both
    // (`<Days>30</Days><Years>0</Years>`).
    let days = number("Days").transpose()?.filter(|n| *n > 0);
    let years = number("Years").transpose()?.filter(|n| *n > 0);
    let days = match (days, years) {
        (Some(days), None) => days,
        (None, Some(years)) => years.checked_mul(365).ok_or("an Object Lock period beyond any date")?,
        (None, None) => return Err("an Object Lock retention of 0 days, or with neither Days nor Years".into()),
        (Some(_), Some(_)) => return Err("an Object Lock retention with both Days and Years".into()),
    };
    Ok(LockConfiguration::Default(Retention { mode, days }))
}

/// `init --object-lock`: sets the default retention of the bucket of the
/// repository at `location` (before anything is uploaded, so every object
/// of the repository is retained).
pub fn set_default_retention(location: &Path, retention: Retention) -> crate::Result<()> {
    Ok(super::for_location(location)?.set_default_retention(retention)?)
}

/// What a backend without Object Lock answers.
pub(super) fn unsupported(location: String) -> BackendError {
    BackendError::new(
        Op::Create,
        format!("an Object Lock retention at {location}"),
        std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "this storage offers no Object Lock that cairn can set (nothing was created)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn our_configuration_reads_back() {
        for mode in [LockMode::Governance, LockMode::Compliance] {
            let retention = Retention { mode, days: 30 };
            assert_eq!(parse_configuration(retention.to_xml().as_bytes()), Ok(LockConfiguration::Default(retention)));
        }
    }

    /// As AWS (and moto) answer: with an XML declaration, whitespace,
    /// Years instead of Days, or no rule.
    #[test]
    fn servers_answers_are_read() {
        let aws = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ObjectLockConfiguration \
                   xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <ObjectLockEnabled>Enabled</ObjectLockEnabled>\n  \
                   <Rule>\n    <DefaultRetention>\n      <Mode>COMPLIANCE</Mode>\n      <Years>2</Years>\n    \
                   </DefaultRetention>\n  </Rule>\n</ObjectLockConfiguration>";
        let expected = Retention { mode: LockMode::Compliance, days: 730 };
        assert_eq!(parse_configuration(aws.as_bytes()), Ok(LockConfiguration::Default(expected)));
        let no_rule =
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(parse_configuration(no_rule.as_bytes()), Ok(LockConfiguration::NoDefault));
        assert_eq!(parse_configuration(b"<ObjectLockConfiguration/>"), Ok(LockConfiguration::NotEnabled));
        let bad = "<ObjectLockEnabled>Enabled</ObjectLockEnabled><DefaultRetention><Mode>X</Mode><Days>1</Days>\
                   </DefaultRetention>";
        assert!(parse_configuration(bad.as_bytes()).is_err());
        let zero = "<ObjectLockEnabled>Enabled</ObjectLockEnabled><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0\
                    </Days></DefaultRetention>";
        assert!(parse_configuration(zero.as_bytes()).is_err());
        assert!(parse_configuration(&vec![b' '; MAX_CONFIGURATION_LEN + 1]).is_err(), "bounded");
        // moto's answer: both elements, the unused one 0.
        let moto = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                    <Mode>GOVERNANCE</Mode><Days>30</Days><Years>0</Years></DefaultRetention></Rule>\
                    </ObjectLockConfiguration>";
        let expected = Retention { mode: LockMode::Governance, days: 30 };
        assert_eq!(parse_configuration(moto.as_bytes()), Ok(LockConfiguration::Default(expected)));
        let both = moto.replace("<Years>0", "<Years>1");
        assert!(parse_configuration(both.as_bytes()).is_err());
    }

    #[test]
    fn retained_from_the_upload_for_the_period() {
        let r = Retention { mode: LockMode::Governance, days: 1 };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        assert_eq!(r.locked_until(Some(now - hour), now), Some(now - hour + Duration::from_secs(86_400)));
        assert_eq!(r.locked_until(Some(now - 25 * hour), now), None, "over");
        assert_eq!(r.locked_until(None, now), Some(now + Duration::from_secs(86_400)), "unknown: from now");
    }

    #[test]
    fn days_and_modes_are_parsed() {
        assert_eq!(Retention::parse_days("30d"), Ok(30));
        assert_eq!(Retention::parse_days("7"), Ok(7));
        for bad in ["0", "0d", "-1", "x", "36501", ""] {
            assert!(Retention::parse_days(bad).is_err(), "{bad}");
        }
        assert_eq!(LockMode::parse("Compliance"), Some(LockMode::Compliance));
        assert_eq!(LockMode::parse("governance"), Some(LockMode::Governance));
        assert_eq!(LockMode::parse("legal"), None);
    }

    proptest! {
        /// A hostile server's answer never panics and never yields a
        /// retention of zero days.
        #[test]
        fn any_answer_is_read_without_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(LockConfiguration::Default(r)) = parse_configuration(&body) {
                prop_assert!(r.days > 0);
            }
        }

        #[test]
        fn tag_soup_is_read_without_panic(parts in proptest::collection::vec(prop_oneof![
            Just("<ObjectLockEnabled>"), Just("</ObjectLockEnabled>"), Just("Enabled"), Just("<DefaultRetention>"),
            Just("</DefaultRetention>"), Just("<Mode>"), Just("</Mode>"), Just("GOVERNANCE"), Just("<Days>"),
            Just("</Days>"), Just("<Years>"), Just("</Years>"), Just("4294967295"), Just("7"),
        ], 0..24)) {
            let body = parts.concat();
            if let Ok(LockConfiguration::Default(r)) = parse_configuration(body.as_bytes()) {
                prop_assert!(r.days > 0);
            }
        }
    }
}
