//! Reading and writing moments in time as people type them: RFC 3339, local
//! dates and times in the system time zone, `HH:MM`, relative forms
//! (`90m ago`, `2h ago`, `3 days ago`, `yesterday`, `now`) and `@UNIX`.

use jiff::tz::TimeZone;
use jiff::{ZonedDateTime, civil};

use crate::error::{Error, Result};
use crate::format::Timestamp;
use crate::repo::timestamp_of;

/// What `parse` accepts, for error messages.
pub const ACCEPTED_FORMS: &str = "RFC 3339 (2026-11-24T02:00:00+01:00), local \"2026-11-24 02:00[:00]\", \
\"2026-11-24\" (the end of that day), \"02:00\" (today, or yesterday if that is still to come), \
\"90m ago\", \"2h ago\", \"3 days ago\", \"1 week ago\", \"yesterday\" (24 hours ago), \"now\", or @UNIXSECONDS";

/// Parses `text` relative to `now` (which carries the local time zone).
pub fn parse(text: &str, now: &ZonedDateTime) -> Result<Timestamp> {
    let t = text.trim();
    let bad = || Error::InvalidArgument(format!("cannot read the time {text:?}; use {ACCEPTED_FORMS}"));
    let lower = t.to_ascii_lowercase();
    if lower == "now" {
        return Ok(timestamp_of(now));
    }
    if lower == "yesterday" {
        return shifted(now, 24 * 3600);
    }
    if let Some(rel) = lower.strip_suffix(" ago").or_else(|| lower.strip_suffix("ago")) {
        return shifted(now, parse_duration(rel.trim()).ok_or_else(bad)?);
    }
    if let Some(unix) = t.strip_prefix('@') {
        let secs: i64 = unix.parse().map_err(|_| bad())?;
        let ts = jiff::Timestamp::from_second(secs).map_err(|_| bad())?;
        return Ok(timestamp_of(&ts.to_zoned_datetime(now.time_zone().clone())));
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        // Keep the offset the user wrote.
        let tz = match jiff::fmt::temporal::Pieces::parse(t).ok().and_then(|p| p.to_numeric_offset()) {
            Some(offset) => TimeZone::fixed(offset),
            None => now.time_zone().clone(),
        };
        return Ok(timestamp_of(&ts.to_zoned_datetime(tz)));
    }
    let tz = now.time_zone().clone();
    if let Some(Ok(date)) = (!t.contains([' ', 'T', 't', ':'])).then(|| t.parse::<civil::Date>()) {
        // A date alone means the whole of that day: its last moment.
        let end = date.to_datetime(civil::Time::MAX);
        return Ok(timestamp_of(&end.to_zoned_datetime(tz).map_err(|_| bad())?));
    }
    if let Ok(dt) = t.parse::<civil::DateTime>() {
        return Ok(timestamp_of(&dt.to_zoned_datetime(tz).map_err(|_| bad())?));
    }
    if let Ok(time) = t.parse::<civil::Time>() {
        let today = now.date().to_datetime(time).to_zoned_datetime(tz.clone()).map_err(|_| bad())?;
        if today.timestamp() <= now.timestamp() {
            return Ok(timestamp_of(&today));
        }
        let yesterday = now.date().yesterday().map_err(|_| bad())?.to_datetime(time);
        return Ok(timestamp_of(&yesterday.to_zoned_datetime(tz).map_err(|_| bad())?));
    }
    Err(bad())
}

fn shifted(now: &ZonedDateTime, seconds_back: i64) -> Result<Timestamp> {
    let ts = jiff::Timestamp::from_second(now.timestamp().as_second() - seconds_back)
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    Ok(timestamp_of(&ts.to_zoned_datetime(now.time_zone().clone())))
}

/// `90m`, `2h`, `3 days`, `1 week`, `45 minutes`, `30s`, `1h30m`,
/// `1h 30m` → seconds: numbers each followed by a unit. The one duration
/// syntax of `--at "2h ago"` and of the profile's intervals (`every`).
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: i64 = rest[..digits].parse().ok()?;
        let after = rest[digits..].trim_start();
        let letters = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let unit_seconds = match &after[..letters] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit_seconds)?)?;
        rest = after[letters..].trim_start();
    }
    Some(total)
}

/// RFC 3339 in the offset the time was recorded with.
pub fn rfc3339(t: &Timestamp) -> String {
    match (jiff::Timestamp::new(t.unix_seconds, t.nanos as i32), jiff::tz::Offset::from_seconds(t.offset_seconds)) {
        (Ok(ts), Ok(off)) => ts.display_with_offset(off).to_string(),
        _ => format!("@{}", t.unix_seconds),
    }
}

/// "2026-11-24 02:00:13" in the system's time zone.
pub fn local(t: &Timestamp) -> String {
    match jiff::Timestamp::new(t.unix_seconds, t.nanos as i32) {
        Ok(ts) => ts.to_zoned_datetime(TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => format!("@{}", t.unix_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> ZonedDateTime {
        // 2026-11-24 10:30:00 in UTC+01:00.
        jiff::Timestamp::from_second(1_795_512_600)
            .unwrap()
            .to_zoned_datetime(TimeZone::fixed(jiff::tz::Offset::from_seconds(3600).unwrap()))
    }

    #[test]
    fn every_form() {
        let n = now();
        let at = |s: &str| parse(s, &n).unwrap().unix_seconds;
        assert_eq!(at("now"), 1_795_512_600);
        assert_eq!(at("90m ago"), 1_795_512_600 - 5400);
        assert_eq!(at("2h ago"), 1_795_512_600 - 7200);
        assert_eq!(at("3 days ago"), 1_795_512_600 - 3 * 86400);
        assert_eq!(at("1 week ago"), 1_795_512_600 - 7 * 86400);
        assert_eq!(at("1h30m ago"), 1_795_512_600 - 5400);
        assert_eq!(at("yesterday"), 1_795_512_600 - 86400);
        assert_eq!(at("@1732400000"), 1_732_400_000);
        let t = parse("2024-11-23T22:13:20+01:00", &n).unwrap();
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_732_396_400, 3600));
        // Local forms are in the zone of `now` (UTC+1): 10:00 local is 09:00 UTC.
        assert_eq!(at("2026-11-24 10:00"), 1_795_510_800);
        assert_eq!(at("2026-11-24 10:00:30"), 1_795_510_830);
        assert_eq!(at("10:00"), 1_795_510_800);
        // A time still to come today means yesterday.
        assert_eq!(at("11:00"), 1_795_514_400 - 86400);
        // A date alone is its last moment.
        assert_eq!(at("2026-11-23"), 1_795_474_800 - 1);
        for bad in ["next tuesday", "2h", "ago", "5 parsecs ago", "@x", "25:00"] {
            let e = parse(bad, &n).unwrap_err().to_string();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
    }
}
