//! How long a cluster may live: `icclab.disco.max_age` (a span from its creation),
//! `icclab.disco.expire_at` (a time), and what happens then (`icclab.disco.on_expiry`:
//! delete or stop). The time it expires is computed from stored times, so a restart of
//! the service neither loses nor resets it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A span of time as users write it: a number and a unit, repeated (`90s`, `30m`, `8h`,
/// `2d`, `1h30m`), whole seconds, positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span {
    secs: u64,
}

impl Span {
    /// The longest span: 10 years.
    const MOST_SECS: u64 = 10 * 366 * 86_400;

    pub fn parse(text: &str) -> Result<Span, String> {
        let expected = || {
            format!(
                "a duration such as 90s, 30m, 8h, 2d or 1h30m, got {:?}",
                text.chars().take(40).collect::<String>()
            )
        };
        let mut secs: u64 = 0;
        let mut number = String::new();
        let mut any = false;
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => return Err(expected()),
            };
            let n: u64 = number.parse().map_err(|_| expected())?;
            secs = n
                .checked_mul(unit)
                .and_then(|s| secs.checked_add(s))
                .filter(|s| *s <= Self::MOST_SECS)
                .ok_or_else(|| "a duration of at most 10 years".to_string())?;
            number.clear();
            any = true;
        }
        if !any || !number.is_empty() {
            return Err(expected());
        }
        if secs == 0 {
            return Err(format!("a duration longer than 0, got {text:?}"));
        }
        Ok(Span { secs })
    }

    pub fn from_secs(secs: u64) -> Span {
        Span {
            secs: secs.clamp(1, Self::MOST_SECS),
        }
    }

    pub fn secs(self) -> u64 {
        self.secs
    }

    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.secs).unwrap_or(i64::MAX / 2))
    }
}

impl std::fmt::Display for Span {
    /// The largest units first: `1d2h`, `30m`, `90s` is `1m30s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut left = self.secs;
        for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if left >= secs {
                write!(f, "{}{unit}", left / secs)?;
                left %= secs;
            }
        }
        Ok(())
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(text: String) -> Result<Span, String> {
        Span::parse(&text)
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        span.to_string()
    }
}

/// What happens to a cluster when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExpiry {
    #[default]
    Delete,
    Stop,
}

impl OnExpiry {
    pub fn parse(text: &str) -> Result<OnExpiry, String> {
        match text {
            "delete" => Ok(OnExpiry::Delete),
            "stop" => Ok(OnExpiry::Stop),
            other => Err(format!(
                "delete or stop, got {:?}",
                other.chars().take(40).collect::<String>()
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnExpiry::Delete => "delete",
            OnExpiry::Stop => "stop",
        }
    }

    /// What becomes of the cluster, as a reason says it: `deleted`, `stopped`.
    pub fn done(self) -> &'static str {
        match self {
            OnExpiry::Delete => "deleted",
            OnExpiry::Stop => "stopped",
        }
    }
}

/// A cluster's lifetime, as its owner (or the operator's default) set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lifetime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<DateTime<Utc>>,
    /// How long a ready cluster may go unused (`crate::domain::activity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_idle: Option<Span>,
    #[serde(default)]
    pub on_expiry: OnExpiry,
}

/// What the operator allows (`[jobs]` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct LifetimePolicy {
    /// The `max_age` of a cluster created without one.
    pub default_max_age: Option<Span>,
    /// What happens at the default `max_age` when the owner did not say.
    pub default_on_expiry: OnExpiry,
    /// The longest `max_age` a cluster may have; one without gets it.
    pub longest_max_age: Option<Span>,
    /// The `max_idle` of a cluster created without one.
    pub default_max_idle: Option<Span>,
    /// The shortest `max_idle` a cluster may have.
    pub shortest_max_idle: Span,
}

impl Default for LifetimePolicy {
    /// No defaults, no ceiling, and idle expiry from 5 minutes.
    fn default() -> LifetimePolicy {
        LifetimePolicy {
            default_max_age: None,
            default_on_expiry: OnExpiry::Delete,
            longest_max_age: None,
            default_max_idle: None,
            shortest_max_idle: Span::from_secs(300),
        }
    }
}

/// When a cluster expires, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub at: DateTime<Utc>,
    /// `max_age 8h reached (created 2026-12-01T10:02:00Z)`, `expire_at 2026-12-01T18:00:00Z reached`.
    pub why: String,
}

impl Lifetime {
    /// When a cluster unused since `activity.last_active` expires by its `max_idle`.
    pub fn idle_expiry(&self, activity: &crate::domain::activity::Activity) -> Option<Expiry> {
        let idle = self.max_idle?;
        let since = activity.last_active;
        let what = if activity.what.is_empty() {
            String::new()
        } else {
            format!(" ({})", activity.what)
        };
        Some(Expiry {
            at: since + idle.as_chrono(),
            why: format!(
                "it was idle for its max_idle of {idle} since {}{what}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        })
    }

    /// The earliest of `expiry` and, for a ready cluster whose activity is known, its
    /// `idle_expiry`.
    pub fn expiry_with(
        &self,
        created_at: DateTime<Utc>,
        activity: Option<&crate::domain::activity::Activity>,
    ) -> Option<Expiry> {
        let by_idle = activity.and_then(|a| self.idle_expiry(a));
        match (self.expiry(created_at), by_idle) {
            (Some(e), Some(i)) => Some(if i.at < e.at { i } else { e }),
            (e, i) => e.or(i),
        }
    }

    /// The earlier of `created_at + max_age` and `expire_at`; `None` when neither is set.
    pub fn expiry(&self, created_at: DateTime<Utc>) -> Option<Expiry> {
        let by_age = self.max_age.map(|age| Expiry {
            at: created_at + age.as_chrono(),
            why: format!(
                "its max_age of {age} was reached (created {})",
                created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        });
        let by_time = self.expire_at.map(|at| Expiry {
            at,
            why: format!(
                "its expire_at {} was reached",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        });
        match (by_age, by_time) {
            (Some(a), Some(t)) => Some(if t.at < a.at { t } else { a }),
            (a, t) => a.or(t),
        }
    }
}

/// A state reason without the warning of an expiry soon that the watcher added to it
/// (`...; expires at 2026-12-01T18:00:00Z and is then stopped ...`).
pub fn without_warning(reason: &str) -> &str {
    reason
        .split_once("; expires at ")
        .map_or(reason, |(before, _)| before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_in_the_units_users_write_and_print_back_the_same() {
        for (text, secs, shown) in [
            ("90s", 90, "1m30s"),
            ("30m", 1_800, "30m"),
            ("8h", 28_800, "8h"),
            ("2d", 172_800, "2d"),
            ("1h30m", 5_400, "1h30m"),
            (" 45m ", 2_700, "45m"),
        ] {
            let span = Span::parse(text).expect(text);
            assert_eq!(span.secs(), secs, "{text}");
            assert_eq!(span.to_string(), shown);
            assert_eq!(Span::parse(shown), Ok(span), "round trip of {shown}");
        }
        for bad in [
            "",
            "10",
            "m",
            "-5m",
            "1.5h",
            "5 m",
            "3w",
            "0s",
            "1h30",
            "99999999999999999999d",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            Span::parse("0m").unwrap_err(),
            "a duration longer than 0, got \"0m\""
        );
    }

    #[test]
    fn a_cluster_expires_at_the_earlier_of_its_age_and_its_time() {
        let created: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("time");
        let none = Lifetime::default();
        assert_eq!(none.expiry(created), None);
        let aged = Lifetime {
            max_age: Some(Span::parse("8h").expect("span")),
            ..Lifetime::default()
        };
        let expiry = aged.expiry(created).expect("expiry");
        assert_eq!(expiry.at, created + chrono::Duration::hours(8));
        assert_eq!(
            expiry.why,
            "its max_age of 8h was reached (created 2026-12-01T10:00:00Z)"
        );
        let both = Lifetime {
            expire_at: Some("2026-12-01T12:00:00Z".parse().expect("time")),
            ..aged
        };
        let expiry = both.expiry(created).expect("expiry");
        assert_eq!(expiry.at, created + chrono::Duration::hours(2));
        assert_eq!(expiry.why, "its expire_at 2026-12-01T12:00:00Z was reached");
    }
}
