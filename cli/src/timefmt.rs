//! Parsing the times a user types for `--time`: RFC 3339, local
//! "YYYY-MM-DD[ HH:MM[:SS]]" in the system time zone, or "@UNIX".

use anyhow::{Result, anyhow};
use cairn_core::format::Timestamp;

pub fn parse(text: &str) -> Result<Timestamp> {
    let text = text.trim();
    let zoned = if let Some(unix) = text.strip_prefix('@') {
        let secs: i64 = unix.parse().map_err(|_| bad(text))?;
        jiff::Timestamp::from_second(secs).map_err(|_| bad(text))?.to_zoned_datetime(jiff::tz::TimeZone::system())
    } else if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        // Keep the offset the user wrote.
        match jiff::fmt::temporal::Pieces::parse(text).ok().and_then(|p| p.to_numeric_offset()) {
            Some(offset) => ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(offset)),
            None => ts.to_zoned_datetime(jiff::tz::TimeZone::system()),
        }
    } else {
        let civil: jiff::civil::DateTime = text
            .parse()
            .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())))
            .map_err(|_| bad(text))?;
        civil.to_zoned_datetime(jiff::tz::TimeZone::system()).map_err(|_| bad(text))?
    };
    Ok(cairn_core::repo::timestamp_of(&zoned))
}

fn bad(text: &str) -> anyhow::Error {
    anyhow!(
        "cannot read the time {text:?}: use RFC 3339 (2026-11-24T02:00:00+01:00), local \"2026-11-24 02:00[:00]\" or \"2026-11-24\", or @UNIXSECONDS"
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn forms() {
        assert_eq!(parse("@1732400000").unwrap().unix_seconds, 1732400000);
        let t = parse("2024-11-23T22:13:20+01:00").unwrap();
        assert_eq!(t.unix_seconds, 1732396400);
        assert_eq!(t.offset_seconds, 3600);
        assert!(parse("2024-11-23 10:00").is_ok());
        assert!(parse("2024-11-23").is_ok());
        assert!(parse("next tuesday").is_err());
    }
}
