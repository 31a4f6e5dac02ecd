//! The two small sealed objects of retention (format-spec §10.1): the
//! repository's forget policy (`policy/<id>`, kind `0x08`) and pins
//! (`pins/<snapshot id>`, kind `0x09`). They live in their own folders,
//! which readers that do not know them never list, so they need no new
//! repository version.

use serde::{Deserialize, Serialize};

use crate::format::Timestamp;
use crate::id::Id;

/// A calendar span counted back from a snapshot's local time:
/// `1y2m3d4h` is one year, two months, three days and four hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl Span {
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }
}

/// Which snapshots `forget` keeps. Every rule keeps on its own (they are
/// ORed); all zero / empty is the empty policy, which is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepRules {
    /// The newest N snapshots.
    pub last: u32,
    /// The newest snapshot of each of the last N hours / days / ISO weeks /
    /// months / years that have snapshots.
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    /// Every snapshot taken within this span of the group's latest one.
    pub within: Option<Span>,
    /// The newest snapshot of each hour / day / … within this span of the
    /// group's latest snapshot.
    pub within_hourly: Option<Span>,
    pub within_daily: Option<Span>,
    pub within_weekly: Option<Span>,
    pub within_monthly: Option<Span>,
    pub within_yearly: Option<Span>,
    /// Snapshots carrying all tags of any one of these lists.
    pub tags: Vec<Vec<String>>,
}

impl KeepRules {
    /// The default policy of a repository that has none stored:
    /// 24 hourly, 30 daily, 12 weekly, 12 monthly.
    pub fn repository_default() -> KeepRules {
        KeepRules { hourly: 24, daily: 30, weekly: 12, monthly: 12, ..KeepRules::default() }
    }

    /// True when no rule would keep anything (such a policy is refused:
    /// it would remove all but the newest snapshot of each group).
    pub fn is_empty(&self) -> bool {
        let spans = [
            self.within,
            self.within_hourly,
            self.within_daily,
            self.within_weekly,
            self.within_monthly,
            self.within_yearly,
        ];
        [self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly].iter().all(|n| *n == 0)
            && spans.iter().all(|s| s.is_none_or(|s| s.is_zero()))
            && self.tags.iter().all(|t| t.is_empty())
    }
}

/// `policy/<id>`: the repository's forget policy. Several may exist after
/// concurrent `policy set` runs; the newest by `(time, id)` wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFile {
    pub version: u32,
    /// When it was set (the writer's clock, with its UTC offset).
    pub time: Timestamp,
    pub host: String,
    pub user: String,
    pub rules: KeepRules,
}

/// `pins/<snapshot id>`: that snapshot is never removed by `forget`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinFile {
    pub version: u32,
    /// The pinned snapshot: equal to the file's name.
    pub snapshot: Id,
    pub time: Timestamp,
    pub host: String,
    pub user: String,
}
