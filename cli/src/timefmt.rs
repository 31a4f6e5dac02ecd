//! Times typed on the command line, read relative to now in the system's
//! time zone (the forms are in `cairn_core::snapshot::timefmt`).

use anyhow::Result;
use cairn_core::format::Timestamp;

pub fn parse(text: &str) -> Result<Timestamp> {
    Ok(cairn_core::snapshot::timefmt::parse(text, &jiff::ZonedDateTime::now())?)
}
