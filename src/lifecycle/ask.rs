//! A job's ask of its provider for a change it takes asynchronously (a stop, start or
//! resize of a Heat stack): recorded on the job before it is sent, so that the attempt
//! after a crash, which cannot tell an ask cut short from one on its way, observes for
//! the time it may take to show before asking again (`Provider::asks_show_within`), and
//! the provider is asked once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::store::{Job, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// Nothing asked lately: ask at the first look.
    Now,
    /// An earlier attempt asked: observe until then, and ask then if it has not shown.
    After(Instant),
    /// This attempt asked.
    Asked,
}

impl Ask {
    /// For an attempt of `job`, whose earlier attempt may have asked at `job.asked_at`.
    pub(super) fn for_attempt(job: &Job, shows_within: Duration) -> Ask {
        Ask::after(job.asked_at, Utc::now(), shows_within, Instant::now())
    }

    fn after(
        asked: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        shows_within: Duration,
        instant: Instant,
    ) -> Ask {
        let Some(asked) = asked else {
            return Ask::Now;
        };
        let since = (now - asked).to_std().unwrap_or_default();
        match shows_within.checked_sub(since) {
            Some(left) if !left.is_zero() => Ask::After(instant + left),
            _ => Ask::Now,
        }
    }

    /// Whether to ask at this look rather than observe; records the ask on the job
    /// when it is (`LeaseLost` if another replica took the job over: it asks instead).
    pub(super) async fn due(&mut self, store: &Store, job: &Job) -> Result<bool, StoreError> {
        let due = match *self {
            Ask::Now => true,
            Ask::After(at) => Instant::now() >= at,
            Ask::Asked => false,
        };
        if due {
            store.asked(job.id).await?;
            *self = Ask::Asked;
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAT: Duration = Duration::from_secs(60);

    #[test]
    fn a_job_never_asked_asks_at_once() {
        let now = Utc::now();
        assert_eq!(Ask::after(None, now, HEAT, Instant::now()), Ask::Now);
    }

    #[test]
    fn an_ask_made_lately_is_given_the_rest_of_its_time_to_show() {
        let now = Utc::now();
        let instant = Instant::now();
        let asked = now - chrono::Duration::seconds(20);
        assert_eq!(
            Ask::after(Some(asked), now, HEAT, instant),
            Ask::After(instant + Duration::from_secs(40))
        );
    }

    #[test]
    fn an_ask_older_than_its_time_to_show_or_a_provider_without_one_asks_again_at_once() {
        let now = Utc::now();
        let instant = Instant::now();
        let long_ago = now - chrono::Duration::seconds(61);
        assert_eq!(Ask::after(Some(long_ago), now, HEAT, instant), Ask::Now);
        assert_eq!(
            Ask::after(Some(now), now, Duration::ZERO, instant),
            Ask::Now
        );
        // A clock that went back reads as just now.
        let ahead = now + chrono::Duration::seconds(5);
        assert_eq!(
            Ask::after(Some(ahead), now, HEAT, instant),
            Ask::After(instant + HEAT)
        );
    }
}
