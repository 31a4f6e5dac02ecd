//! The schedule's interval (`--every`): only intervals that both a crontab
//! line and a systemd `OnCalendar=` can express exactly — minutes dividing
//! an hour, hours dividing a day, or one day — so that "every 7m" is never
//! silently turned into something else. Each form maps to one cron
//! expression and one calendar spec, and back, so `schedule show` reads
//! the interval from what is installed.

use std::fmt;

use anyhow::{Result, anyhow};
use jiff::{ToSpan, ZonedDateTime};

/// An interval that starts at the top of its unit: `Minutes(15)` runs at
/// :00, :15, :30 and :45 of every hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    /// Divides 60, less than 60.
    Minutes(u32),
    /// Divides 24, less than 24.
    Hours(u32),
    Day,
}

const WHAT_WORKS: &str = "minutes that divide an hour (1m 2m 3m 4m 5m 6m 10m 12m 15m 20m 30m), \
hours that divide a day (1h 2h 3h 4h 6h 8h 12h), or 1d";

impl Every {
    /// `15m`, `1h`, `2h`, `1d`, `60m` (= 1h), `24h` (= 1d): the profile's
    /// interval syntax (`config::parse_interval`), narrowed to what both
    /// cron and `OnCalendar=` express exactly.
    pub fn parse(text: &str) -> Result<Every> {
        let cannot =
            || anyhow!("--every {text}: cron and systemd timers cannot run exactly that often; use {WHAT_WORKS}");
        let secs = crate::config::parse_interval(text).map_err(|e| anyhow!("--every {e}; use {WHAT_WORKS}"))?.as_secs();
        if secs % 60 != 0 {
            return Err(cannot());
        }
        match secs / 60 {
            1440 => Ok(Every::Day),
            m if m > 0 && m < 60 && 60 % m == 0 => Ok(Every::Minutes(m as u32)),
            m if m >= 60 && m % 60 == 0 && m < 1440 && 24 % (m / 60) == 0 => Ok(Every::Hours((m / 60) as u32)),
            _ => Err(cannot()),
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            Every::Minutes(m) => u64::from(m) * 60,
            Every::Hours(h) => u64::from(h) * 3600,
            Every::Day => 86_400,
        }
    }

    /// The five time fields of a crontab line.
    pub fn cron_fields(self) -> String {
        match self {
            Every::Minutes(1) => "* * * * *".into(),
            Every::Minutes(m) => format!("*/{m} * * * *"),
            Every::Hours(1) => "0 * * * *".into(),
            Every::Hours(h) => format!("0 */{h} * * *"),
            Every::Day => "0 0 * * *".into(),
        }
    }

    /// The inverse of [`Every::cron_fields`]; `None` for a line cairn did not write.
    pub fn from_cron_fields(fields: &[&str]) -> Option<Every> {
        let every = match fields {
            ["*", "*", "*", "*", "*"] => Every::Minutes(1),
            ["0", "*", "*", "*", "*"] => Every::Hours(1),
            ["0", "0", "*", "*", "*"] => Every::Day,
            [m, "*", "*", "*", "*"] => Every::Minutes(m.strip_prefix("*/")?.parse().ok()?),
            ["0", h, "*", "*", "*"] => Every::Hours(h.strip_prefix("*/")?.parse().ok()?),
            _ => return None,
        };
        // `*/7` is a line cairn did not write: not an interval it knows.
        Every::parse(&every.to_string()).ok().filter(|e| *e == every)
    }

    /// A systemd calendar spec (`OnCalendar=`), in local time like cron.
    pub fn on_calendar(self) -> String {
        match self {
            Every::Minutes(m) => format!("*-*-* *:00/{m}:00"),
            Every::Hours(h) => format!("*-*-* 00/{h}:00:00"),
            Every::Day => "*-*-* 00:00:00".into(),
        }
    }

    /// The inverse of [`Every::on_calendar`].
    pub fn from_on_calendar(spec: &str) -> Option<Every> {
        if spec == "*-*-* 00:00:00" {
            return Some(Every::Day);
        }
        if let Some(m) = spec.strip_prefix("*-*-* *:00/").and_then(|r| r.strip_suffix(":00")) {
            return Some(Every::Minutes(m.parse().ok()?));
        }
        let h = spec.strip_prefix("*-*-* 00/")?.strip_suffix(":00:00")?;
        Some(Every::Hours(h.parse().ok()?))
    }

    /// A small random delay for the timer (a tenth of the interval, at most
    /// a minute), so many machines do not all start at the same second.
    pub fn randomized_delay_seconds(self) -> u64 {
        (self.seconds() / 10).min(60)
    }

    /// The first start strictly after `now`, as cron and the timer compute
    /// it (local wall clock; the timer adds its random delay on top).
    pub fn next_after(self, now: &ZonedDateTime) -> Result<ZonedDateTime> {
        let next = match self {
            Every::Minutes(m) => {
                let mut t = now.with().second(0).subsec_nanosecond(0).build()?;
                loop {
                    t = t.checked_add(1.minute())?;
                    if (t.minute() as u32).is_multiple_of(m) {
                        break t;
                    }
                }
            }
            Every::Hours(h) => {
                let mut t = now.with().minute(0).second(0).subsec_nanosecond(0).build()?;
                loop {
                    t = t.checked_add(1.hour())?;
                    if (t.hour() as u32).is_multiple_of(h) && t.minute() == 0 {
                        break t;
                    }
                }
            }
            Every::Day => now.tomorrow()?.start_of_day()?,
        };
        Ok(next)
    }
}

impl fmt::Display for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Every::Minutes(m) => write!(f, "{m}m"),
            Every::Hours(h) => write!(f, "{h}h"),
            Every::Day => write!(f, "1d"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_intervals_are_accepted() {
        assert_eq!(Every::parse("15m").unwrap(), Every::Minutes(15));
        assert_eq!(Every::parse("60m").unwrap(), Every::Hours(1));
        assert_eq!(Every::parse("120m").unwrap(), Every::Hours(2));
        assert_eq!(Every::parse("1h30m").ok(), None);
        assert_eq!(Every::parse("24h").unwrap(), Every::Day);
        assert_eq!(Every::parse("1d").unwrap(), Every::Day);
        for bad in ["7m", "0m", "5h", "2d", "90m", "1w", "h", "", "-1h"] {
            let e = Every::parse(bad).unwrap_err().to_string();
            assert!(e.contains("1d") && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn cron_and_calendar_forms_read_back() {
        for text in ["1m", "5m", "15m", "30m", "1h", "2h", "6h", "12h", "1d"] {
            let every = Every::parse(text).unwrap();
            assert_eq!(every.to_string(), text);
            let cron = every.cron_fields();
            let fields: Vec<&str> = cron.split(' ').collect();
            assert_eq!(Every::from_cron_fields(&fields), Some(every), "{cron}");
            assert_eq!(Every::from_on_calendar(&every.on_calendar()), Some(every));
        }
        assert_eq!(Every::Minutes(15).on_calendar(), "*-*-* *:00/15:00");
        assert_eq!(Every::from_cron_fields(&["5", "4", "*", "*", "1"]), None);
    }

    #[test]
    fn next_start_is_the_next_boundary() {
        let now: ZonedDateTime = "2026-03-01T10:07:30+00:00[UTC]".parse().unwrap();
        let at = |e: Every| e.next_after(&now).unwrap().strftime("%H:%M:%S").to_string();
        assert_eq!(at(Every::Minutes(15)), "10:15:00");
        assert_eq!(at(Every::Minutes(1)), "10:08:00");
        assert_eq!(at(Every::Hours(1)), "11:00:00");
        assert_eq!(at(Every::Hours(4)), "12:00:00");
        assert_eq!(at(Every::Day), "00:00:00");
        let on_boundary: ZonedDateTime = "2026-03-01T10:15:00+00:00[UTC]".parse().unwrap();
        assert_eq!(Every::Minutes(15).next_after(&on_boundary).unwrap().minute(), 30);
    }
}
