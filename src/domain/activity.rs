//! Whether a ready cluster is in use, for its idle expiry (`icclab.disco.max_idle`).
//! Each component that can tell has an `activity` step printing one JSON line
//! (`{"busy": true, "last_active": "2026-12-01T10:00:00Z", "what": "1 running
//! application"}`); the cluster is busy when any of them is, and its idle clock starts
//! at the latest of: the last time one was busy, the last activity one reported, and
//! when the cluster was last ready. That time is stored, so a restart of the service
//! neither loses nor resets the countdown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One component's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentActivity {
    pub component: String,
    pub busy: bool,
    pub last_active: Option<DateTime<Utc>>,
    /// What it is doing, or what it found idle: `2 running applications`, `no kernel busy`.
    pub what: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    busy: bool,
    #[serde(default)]
    last_active: Option<String>,
    #[serde(default)]
    what: String,
}

/// The longest `what` kept from a step's answer.
const LONGEST_WHAT: usize = 120;

impl ComponentActivity {
    /// A step's line, or, when it is not one, the component counted as in use: a
    /// cluster is never ended because DISCO could not tell.
    pub fn from_answer(component: &str, line: &str) -> ComponentActivity {
        ComponentActivity::parse(component, line).unwrap_or_else(|why| ComponentActivity {
            component: component.to_string(),
            busy: true,
            last_active: None,
            what: format!("cannot tell, so counted as in use: {why}")
                .chars()
                .filter(|c| !crate::domain::text::is_refused(*c))
                .take(LONGEST_WHAT)
                .collect(),
        })
    }

    /// A step's line, read strictly: it is the cluster's to write.
    pub fn parse(component: &str, line: &str) -> Result<ComponentActivity, String> {
        let line: Line = serde_json::from_str(line.trim()).map_err(|e| {
            format!(
                "{component} activity: expected one JSON line {{\"busy\", \"last_active\", \"what\"}}: {e}"
            )
        })?;
        let last_active = match line.last_active.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| format!("{component} activity: last_active is not RFC 3339"))?
                    .with_timezone(&Utc),
            ),
        };
        let what: String = line
            .what
            .chars()
            .filter(|c| !crate::domain::text::is_refused(*c))
            .take(LONGEST_WHAT)
            .collect();
        Ok(ComponentActivity {
            component: component.to_string(),
            busy: line.busy,
            last_active,
            what,
        })
    }
}

/// A cluster's activity as last assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Whether a component was busy at the last look.
    pub busy: bool,
    /// When the cluster was last in use (or became ready): its idle clock starts here.
    pub last_active: DateTime<Utc>,
    /// What the components said: `spark: 1 running application; jupyter: no kernel busy`.
    pub what: String,
    pub checked: DateTime<Utc>,
}

impl Activity {
    /// The activity after the components' answers at `now`, for a cluster last ready
    /// since `ready_since`. A component's `last_active` in the future counts as now.
    pub fn assess(
        previous: Option<&Activity>,
        answers: &[ComponentActivity],
        ready_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Activity {
        let busy = answers.iter().any(|a| a.busy);
        let mut last_active = ready_since;
        if let Some(previous) = previous {
            last_active = last_active.max(previous.last_active);
        }
        for answer in answers {
            if let Some(at) = answer.last_active {
                last_active = last_active.max(at.min(now));
            }
        }
        if busy {
            last_active = now;
        }
        let what = answers
            .iter()
            .map(|a| format!("{}: {}", a.component, a.what))
            .collect::<Vec<_>>()
            .join("; ");
        Activity {
            busy,
            last_active: last_active.min(now),
            what,
            checked: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn a_line_parses_strictly_and_its_text_is_kept_short_and_printable() {
        let answer = ComponentActivity::parse(
            "spark",
            r#"{"busy": true, "last_active": "2026-12-01T10:00:00Z", "what": "1 running\u001b application"}"#,
        )
        .expect("parses");
        assert!(answer.busy);
        assert_eq!(answer.what, "1 running application");
        assert_eq!(
            answer.last_active,
            Some("2026-12-01T10:00:00Z".parse().expect("time"))
        );
        for bad in [
            "",
            "busy",
            r#"{"busy": "yes"}"#,
            r#"{"busy": true, "extra": 1}"#,
            r#"{"busy": false, "last_active": "yesterday"}"#,
        ] {
            assert!(ComponentActivity::parse("spark", bad).is_err(), "{bad:?}");
        }
    }

    fn answer(busy: bool, last: Option<i64>) -> ComponentActivity {
        ComponentActivity {
            component: "jupyter".into(),
            busy,
            last_active: last.map(at),
            what: if busy {
                "1 kernel busy"
            } else {
                "no kernel busy"
            }
            .into(),
        }
    }

    #[test]
    fn the_idle_clock_starts_at_the_latest_use_and_never_before_ready() {
        // Ready at 100; nobody busy, a kernel last active at 50 (before ready).
        let first = Activity::assess(None, &[answer(false, Some(50))], at(100), at(160));
        assert!(!first.busy);
        assert_eq!(first.last_active, at(100));
        // Busy at 200: the clock restarts then.
        let busy = Activity::assess(Some(&first), &[answer(true, None)], at(100), at(200));
        assert_eq!(busy.last_active, at(200));
        // Idle again, with a last activity the component reports at 230.
        let idle = Activity::assess(Some(&busy), &[answer(false, Some(230))], at(100), at(300));
        assert_eq!(idle.last_active, at(230));
        assert_eq!(idle.what, "jupyter: no kernel busy");
        // A time in the future is now; a later ready (a start) restarts the clock.
        let future = Activity::assess(Some(&idle), &[answer(false, Some(9_999))], at(100), at(400));
        assert_eq!(future.last_active, at(400));
        let restarted = Activity::assess(Some(&idle), &[], at(500), at(510));
        assert_eq!(restarted.last_active, at(500));
    }
}
