//! Whether a ready cluster's services work, apart from its lifecycle state: a cluster
//! whose checks fail stays `ready` (ProActive's IN_ERROR beside RUNNING) and says
//! `unhealthy`, instead of being failed and stopped. Health is made from observations —
//! each component's checks on each node, as the service runs them (local) or the
//! nodes' health reporters send them (VMs) — and from the health before it, which
//! carries since when each check fails and how many rounds in a row the cluster has
//! not been healthy (for autorepair).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every check passes on every node.
    Healthy,
    /// A check fails on a slave; the master's pass.
    Degraded,
    /// A check fails on the master: the cluster's services are not there.
    Unhealthy,
    /// Nothing was heard from the nodes for too long, or nothing yet.
    Unknown,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
            HealthStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check on one node, as it was just seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// `master`, `slaves:1`, ...
    pub node: String,
    /// The component whose check it is.
    pub component: String,
    /// What was checked: `tcp 8786`, `http 8787 /health 200`, `process dask-worker`.
    pub check: String,
    pub passing: bool,
    /// What the check said, short: why it fails, or nothing.
    #[serde(default)]
    pub output: String,
}

/// One check on one node, with since when it is as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckState {
    pub node: String,
    pub component: String,
    pub check: String,
    pub passing: bool,
    /// Since when it passes (or fails): the first round it was seen so.
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub output: String,
}

/// What one round of looking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The checks were run (by the service, or by the nodes within the round).
    Checked(Vec<CheckOutcome>),
    /// The nodes said nothing for too long; `last_heard` is their last heartbeat.
    Silent { last_heard: Option<DateTime<Utc>> },
}

/// A cluster's health as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    /// One line: the failing checks (the first few and how many more), or why unknown.
    pub reason: String,
    /// When it was last assessed.
    pub checked: DateTime<Utc>,
    /// Every check's state, the failing ones first.
    #[serde(default)]
    pub checks: Vec<CheckState>,
    /// How many rounds in a row it has not been healthy.
    #[serde(default)]
    pub failing_rounds: u32,
    /// When the nodes last reported their checks (VMs); `None` where the service runs
    /// the checks itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heard: Option<DateTime<Utc>>,
}

/// How many failing checks a reason names before it counts the rest.
const NAMED_IN_REASON: usize = 3;

impl Health {
    /// The health of a cluster some of whose used clusters (`name`, the state it is in)
    /// are not ready: what its own checks say, but at least degraded, the reason naming
    /// them first. Its checks are untouched: nothing of its own is to repair.
    pub fn with_unavailable_uses(mut self, unavailable: &[(String, String)]) -> Health {
        if unavailable.is_empty() {
            return self;
        }
        let named: Vec<String> = unavailable
            .iter()
            .map(|(name, state)| format!("uses {name}, which is {state}"))
            .collect();
        if self.status == HealthStatus::Healthy {
            self.status = HealthStatus::Degraded;
            self.reason = named.join("; ");
        } else {
            self.reason = format!("{}; {}", named.join("; "), self.reason);
        }
        self
    }

    /// The health after `observation` at `now`, given the health before it.
    pub fn assess(
        previous: Option<&Health>,
        observation: Observation,
        now: DateTime<Utc>,
    ) -> Health {
        let failing_rounds = |status: HealthStatus| match status {
            HealthStatus::Healthy => 0,
            _ => previous.map_or(0, |p| p.failing_rounds).saturating_add(1),
        };
        let outcomes = match observation {
            Observation::Silent { last_heard } => {
                let reason = match last_heard {
                    Some(at) => format!(
                        "no health report from the nodes since {}",
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    None => "no health report from the nodes yet".to_string(),
                };
                return Health {
                    status: HealthStatus::Unknown,
                    reason,
                    checked: now,
                    // What was last known stays readable.
                    checks: previous.map(|p| p.checks.clone()).unwrap_or_default(),
                    failing_rounds: failing_rounds(HealthStatus::Unknown),
                    last_heard,
                };
            }
            Observation::Checked(outcomes) => outcomes,
        };
        let mut checks: Vec<CheckState> = outcomes
            .into_iter()
            .map(|outcome| {
                let since = previous
                    .and_then(|p| {
                        p.checks.iter().find(|c| {
                            c.node == outcome.node
                                && c.component == outcome.component
                                && c.check == outcome.check
                        })
                    })
                    .filter(|before| before.passing == outcome.passing)
                    .map_or(now, |before| before.since);
                CheckState {
                    node: outcome.node,
                    component: outcome.component,
                    check: outcome.check,
                    passing: outcome.passing,
                    since,
                    output: outcome.output,
                }
            })
            .collect();
        // Failing first, each group in the order the checks were made.
        checks.sort_by_key(|c| c.passing);
        let failing: Vec<&CheckState> = checks.iter().filter(|c| !c.passing).collect();
        let status = if failing.is_empty() {
            HealthStatus::Healthy
        } else if failing.iter().any(|c| c.node == "master") {
            HealthStatus::Unhealthy
        } else {
            HealthStatus::Degraded
        };
        let reason = if failing.is_empty() {
            format!("{} checks pass on every node", checks.len())
        } else {
            let mut named: Vec<String> = failing
                .iter()
                .take(NAMED_IN_REASON)
                .map(|c| {
                    let output = if c.output.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.output)
                    };
                    format!(
                        "{} on {}: {} failing since {}{output}",
                        c.component,
                        c.node,
                        c.check,
                        c.since.format("%H:%M:%S")
                    )
                })
                .collect();
            if failing.len() > NAMED_IN_REASON {
                named.push(format!(
                    "and {} more failing",
                    failing.len() - NAMED_IN_REASON
                ));
            }
            named.join("; ")
        };
        Health {
            status,
            reason,
            checked: now,
            checks,
            failing_rounds: failing_rounds(status),
            last_heard: previous.and_then(|p| p.last_heard),
        }
    }

    /// The components whose checks fail, by node: what a repair starts again.
    pub fn failing(&self) -> Vec<RepairTarget> {
        let mut targets: Vec<RepairTarget> = Vec::new();
        for check in self.checks.iter().filter(|c| !c.passing) {
            match targets.iter_mut().find(|t| t.node == check.node) {
                Some(target) => {
                    if !target.components.contains(&check.component) {
                        target.components.push(check.component.clone());
                    }
                }
                None => targets.push(RepairTarget {
                    node: check.node.clone(),
                    components: vec![check.component.clone()],
                }),
            }
        }
        targets
    }

    /// Whether the two differ in what a user is told (not merely in when it was checked).
    pub fn differs_from(&self, other: &Health) -> bool {
        self.status != other.status || self.reason != other.reason
    }
}

/// The components a repair starts again on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairTarget {
    pub node: String,
    pub components: Vec<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cluster_whose_used_cluster_is_not_ready_is_at_least_degraded_saying_which() {
        use super::*;
        let now = Utc::now();
        let healthy = Health::assess(None, Observation::Checked(Vec::new()), now);
        assert_eq!(healthy.status, HealthStatus::Healthy);
        let same = healthy.clone().with_unavailable_uses(&[]);
        assert_eq!(same, healthy);
        let degraded = healthy
            .clone()
            .with_unavailable_uses(&[("lab".to_string(), "stopped".to_string())]);
        assert_eq!(degraded.status, HealthStatus::Degraded);
        assert_eq!(degraded.reason, "uses lab, which is stopped");
        let mut unhealthy = healthy;
        unhealthy.status = HealthStatus::Unhealthy;
        unhealthy.reason = "dask on master: tcp 8786 failing".to_string();
        let still = unhealthy.with_unavailable_uses(&[("lab".to_string(), "stopping".to_string())]);
        assert_eq!(still.status, HealthStatus::Unhealthy);
        assert_eq!(
            still.reason,
            "uses lab, which is stopping; dask on master: tcp 8786 failing"
        );
    }

    use super::*;

    fn outcome(node: &str, component: &str, check: &str, passing: bool) -> CheckOutcome {
        CheckOutcome {
            node: node.into(),
            component: component.into(),
            check: check.into(),
            passing,
            output: if passing {
                String::new()
            } else {
                "refused".into()
            },
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time")
    }

    #[test]
    fn every_check_passing_is_healthy_and_counts_no_failing_round() {
        let health = Health::assess(
            None,
            Observation::Checked(vec![
                outcome("master", "dask", "tcp 8786", true),
                outcome("slaves:1", "dask", "tcp 8788", true),
            ]),
            at(0),
        );
        assert_eq!(health.status, HealthStatus::Healthy);
        assert_eq!(health.failing_rounds, 0);
        assert_eq!(health.reason, "2 checks pass on every node");
        assert!(health.failing().is_empty());
    }

    #[test]
    fn a_slave_failing_is_degraded_naming_it_and_keeps_since_when_across_rounds() {
        let checks = || {
            Observation::Checked(vec![
                outcome("master", "dask", "tcp 8786", true),
                outcome("slaves:1", "dask", "process dask-worker", false),
            ])
        };
        let first = Health::assess(None, checks(), at(0));
        assert_eq!(first.status, HealthStatus::Degraded);
        let second = Health::assess(Some(&first), checks(), at(30));
        assert_eq!(second.failing_rounds, 2);
        assert_eq!(
            second.checks[0].since,
            at(0),
            "failing since the first round"
        );
        assert!(
            second
                .reason
                .starts_with("dask on slaves:1: process dask-worker failing since"),
            "{}",
            second.reason
        );
        assert_eq!(
            second.failing(),
            vec![RepairTarget {
                node: "slaves:1".into(),
                components: vec!["dask".into()]
            }]
        );
        // Passing again: healthy, since now, rounds back to 0.
        let third = Health::assess(
            Some(&second),
            Observation::Checked(vec![
                outcome("master", "dask", "tcp 8786", true),
                outcome("slaves:1", "dask", "process dask-worker", true),
            ]),
            at(60),
        );
        assert_eq!(third.status, HealthStatus::Healthy);
        assert_eq!(third.failing_rounds, 0);
        assert_eq!(third.checks[1].since, at(60));
        assert_eq!(
            third.checks[0].since,
            at(0),
            "the master's passed all along"
        );
    }

    #[test]
    fn the_master_failing_is_unhealthy() {
        let health = Health::assess(
            None,
            Observation::Checked(vec![
                outcome("master", "dask", "tcp 8786", false),
                outcome("slaves:1", "dask", "tcp 8788", false),
            ]),
            at(0),
        );
        assert_eq!(health.status, HealthStatus::Unhealthy);
        assert_eq!(health.failing().len(), 2);
    }

    #[test]
    fn silence_is_unknown_with_the_last_heartbeat_and_keeps_the_last_checks() {
        let before = Health::assess(
            None,
            Observation::Checked(vec![outcome("master", "dask", "tcp 8786", true)]),
            at(0),
        );
        let health = Health::assess(
            Some(&before),
            Observation::Silent {
                last_heard: Some(at(0)),
            },
            at(300),
        );
        assert_eq!(health.status, HealthStatus::Unknown);
        assert!(
            health
                .reason
                .contains("no health report from the nodes since")
        );
        assert_eq!(health.checks, before.checks);
        assert_eq!(health.failing_rounds, 1);
    }

    #[test]
    fn a_reason_names_three_failing_checks_and_counts_the_rest() {
        let outcomes = (1..=10)
            .map(|n| outcome(&format!("slaves:{n}"), "dask", "tcp 8788", false))
            .collect();
        let health = Health::assess(None, Observation::Checked(outcomes), at(0));
        assert_eq!(health.reason.matches("failing since").count(), 3);
        assert!(
            health.reason.ends_with("and 7 more failing"),
            "{}",
            health.reason
        );
    }
}
