//! A cluster's lifetime from the attributes that set it (`icclab.disco.max_age`,
//! `.expire_at`, `.max_idle`, `.on_expiry`), at create and in a partial update, within what the
//! operator allows: a default `max_age` for clusters created without one, and a longest.

use chrono::{DateTime, Utc};

use crate::domain::attributes::{EXPIRE_AT, MAX_AGE, MAX_IDLE, ON_EXPIRY};
use crate::domain::{Lifetime, LifetimePolicy, OnExpiry, Scalar, Span};

/// Why a lifetime attribute was refused: the attribute, and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: expected {expected}")]
pub struct LifetimeError {
    pub attribute: &'static str,
    pub expected: String,
}

/// The lifetime of a new cluster: what the attributes say, the operator's default
/// `max_age` (and its `on_expiry`) where they say none.
pub fn at_create<'a>(
    get: impl Fn(&str) -> Option<&'a Scalar>,
    now: DateTime<Utc>,
    policy: &LifetimePolicy,
) -> Result<Lifetime, LifetimeError> {
    let defaults = Lifetime {
        // An owner who says when it expires means that time, not the default age (the
        // ceiling still holds).
        max_age: if get(EXPIRE_AT).is_some() {
            None
        } else {
            policy.default_max_age
        },
        expire_at: None,
        max_idle: policy.default_max_idle,
        // The operator's default action goes with the operator's defaults; a lifetime
        // the owner set ends as the owner says, or in a delete.
        on_expiry: if [ON_EXPIRY, MAX_AGE, EXPIRE_AT, MAX_IDLE]
            .iter()
            .all(|a| get(a).is_none())
        {
            policy.default_on_expiry
        } else {
            OnExpiry::Delete
        },
    };
    changed(defaults, get, now, now, policy)
}

/// `current` with what the attributes change: a duration or `none` for `max_age`, an
/// RFC 3339 time in the future or `none` for `expire_at`, `delete` or `stop`.
pub fn changed<'a>(
    current: Lifetime,
    get: impl Fn(&str) -> Option<&'a Scalar>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &LifetimePolicy,
) -> Result<Lifetime, LifetimeError> {
    let text = |attribute: &'static str| -> Result<Option<&'a str>, LifetimeError> {
        match get(attribute) {
            None => Ok(None),
            Some(Scalar::String(s)) => Ok(Some(s.trim())),
            Some(other) => Err(LifetimeError {
                attribute,
                expected: format!("a string, got {}", other.quoted()),
            }),
        }
    };
    let mut lifetime = current;
    if let Some(given) = text(MAX_AGE)? {
        lifetime.max_age = match given {
            "none" => None,
            given => Some(Span::parse(given).map_err(|expected| LifetimeError {
                attribute: MAX_AGE,
                expected,
            })?),
        };
    }
    // A new age the cluster has already lived past would end it at once.
    if let (Some(_), Some(age)) = (text(MAX_AGE)?, lifetime.max_age)
        && created_at + age.as_chrono() <= now
    {
        let lived = Span::from_secs(u64::try_from((now - created_at).num_seconds()).unwrap_or(0));
        return Err(LifetimeError {
            attribute: MAX_AGE,
            expected: format!("more than the cluster's age ({lived}), got {age}"),
        });
    }
    if let Some(longest) = policy.longest_max_age {
        match lifetime.max_age {
            None => lifetime.max_age = Some(longest),
            Some(age) if age > longest => {
                return Err(LifetimeError {
                    attribute: MAX_AGE,
                    expected: format!(
                        "at most {longest} (the longest this service allows), got {age}"
                    ),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(given) = text(EXPIRE_AT)? {
        lifetime.expire_at = match given {
            "none" => None,
            given => {
                let at = DateTime::parse_from_rfc3339(given)
                    .map_err(|_| LifetimeError {
                        attribute: EXPIRE_AT,
                        expected: format!(
                            "an RFC 3339 time such as 2026-12-01T18:00:00Z, or none; got {:?}",
                            given.chars().take(40).collect::<String>()
                        ),
                    })?
                    .with_timezone(&Utc);
                if at <= now {
                    return Err(LifetimeError {
                        attribute: EXPIRE_AT,
                        expected: format!(
                            "a time in the future, got {} (it is {} now)",
                            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    });
                }
                Some(at)
            }
        };
    }
    if let Some(given) = text(MAX_IDLE)? {
        lifetime.max_idle = match given {
            "none" => None,
            given => {
                let idle = Span::parse(given).map_err(|expected| LifetimeError {
                    attribute: MAX_IDLE,
                    expected,
                })?;
                if idle < policy.shortest_max_idle {
                    return Err(LifetimeError {
                        attribute: MAX_IDLE,
                        expected: format!(
                            "at least {} (the shortest this service allows), got {idle}",
                            policy.shortest_max_idle
                        ),
                    });
                }
                Some(idle)
            }
        };
    }
    if let Some(given) = text(ON_EXPIRY)? {
        lifetime.on_expiry = OnExpiry::parse(given).map_err(|expected| LifetimeError {
            attribute: ON_EXPIRY,
            expected,
        })?;
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, Scalar> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Scalar::String(v.to_string())))
            .collect()
    }

    #[test]
    fn a_lifetime_takes_what_is_given_within_what_the_operator_allows() {
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("time");
        let policy = LifetimePolicy {
            default_max_age: Some(Span::parse("7d").expect("span")),
            default_on_expiry: OnExpiry::Stop,
            longest_max_age: Some(Span::parse("30d").expect("span")),
            ..LifetimePolicy::default()
        };
        let none = given(&[]);
        let made = at_create(|n| none.get(n), now, &policy).expect("lifetime");
        assert_eq!(made.max_age, policy.default_max_age);
        assert_eq!(made.on_expiry, OnExpiry::Stop, "the operator's default");
        let own = given(&[(MAX_AGE, "8h"), (EXPIRE_AT, "2026-12-01T12:00:00+01:00")]);
        let made = at_create(|n| own.get(n), now, &policy).expect("lifetime");
        assert_eq!(made.max_age, Some(Span::parse("8h").expect("span")));
        assert_eq!(
            made.expire_at,
            Some("2026-12-01T11:00:00Z".parse().expect("time"))
        );
        assert_eq!(
            made.on_expiry,
            OnExpiry::Delete,
            "the user's own, whose default is delete"
        );

        // A time of the owner's own replaces the default age (the ceiling still holds).
        let until = given(&[(EXPIRE_AT, "2026-12-20T00:00:00Z")]);
        let made_until = at_create(|n| until.get(n), now, &policy).expect("lifetime");
        assert_eq!(made_until.max_age, policy.longest_max_age);
        let open_until = at_create(|n| until.get(n), now, &LifetimePolicy::default()).expect("ok");
        assert_eq!(open_until.max_age, None);
        // An age the cluster has lived past is refused, not an expiry at once.
        let short = given(&[(MAX_AGE, "1h")]);
        let created = now - chrono::Duration::hours(2);
        assert_eq!(
            changed(made, |n| short.get(n), created, now, &policy),
            Err(LifetimeError {
                attribute: MAX_AGE,
                expected: "more than the cluster's age (2h), got 1h".to_string()
            })
        );
        // Cleared where no ceiling holds; the ceiling where one does.
        let clear = given(&[(MAX_AGE, "none")]);
        let open = LifetimePolicy::default();
        assert_eq!(
            changed(made, |n| clear.get(n), now, now, &open)
                .expect("ok")
                .max_age,
            None
        );
        assert_eq!(
            changed(made, |n| clear.get(n), now, now, &policy)
                .expect("ok")
                .max_age,
            policy.longest_max_age
        );

        for (attribute, value, expected) in [
            (
                MAX_AGE,
                "31d",
                "at most 30d (the longest this service allows), got 31d",
            ),
            (
                MAX_AGE,
                "-1h",
                "a duration such as 90s, 30m, 8h, 2d or 1h30m, got \"-1h\"",
            ),
            (
                EXPIRE_AT,
                "tomorrow",
                "an RFC 3339 time such as 2026-12-01T18:00:00Z, or none; got \"tomorrow\"",
            ),
            (
                EXPIRE_AT,
                "2026-12-01T09:00:00Z",
                "a time in the future, got 2026-12-01T09:00:00Z (it is 2026-12-01T10:00:00Z now)",
            ),
            (ON_EXPIRY, "explode", "delete or stop, got \"explode\""),
        ] {
            let bad = given(&[(attribute, value)]);
            assert_eq!(
                changed(made, |n| bad.get(n), now, now, &policy),
                Err(LifetimeError {
                    attribute,
                    expected: expected.to_string()
                }),
                "{attribute}={value}"
            );
        }
    }
}
