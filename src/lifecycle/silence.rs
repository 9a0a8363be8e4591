//! Steps that went silent: a node that started a step and has not reported since, for
//! longer than the step's timeout (`[timeouts]` in its component, else its phase's
//! default; longer where the history of the same step says it can take longer: three
//! times its 99th percentile), fails the step and the operation, saying which node,
//! which step, and for how long, instead of waiting out the whole deploy's deadline.

use chrono::{DateTime, Utc};

use super::Lifecycle;
use crate::cluster::Cluster;
use crate::domain::{Report, ReportStatus, Span};
use crate::frameworks::catalogue::{Catalogue, NodeGroup, Phase};
use crate::frameworks::init;
use crate::frameworks::plan::Plan;
use crate::store::{Job, StoreError};
use crate::tasks::eta::{Expected, StageKey};

/// How many times its longest recent runs (the 99th percentile) a step may take before
/// its node counts as silent.
const HISTORY_MARGIN: f64 = 3.0;

/// A step's timeout: the one declared (or its phase's default), or three times the
/// 99th percentile of its latest runs where that is longer, never shorter.
pub fn with_history(declared: Span, history: Option<Expected>) -> Span {
    let from_history = history.map_or(0, |h| (h.p99 * HISTORY_MARGIN).ceil().max(0.0) as u64);
    if from_history > declared.secs() {
        Span::from_secs(from_history)
    } else {
        declared
    }
}

/// How long after its own timeout (when its node stops it and reports the failure) an
/// init action's node counts as silent.
const INIT_GRACE_SECS: u64 = 60;

/// The timeout of a stage a node reports: a component step's (`[timeouts]` in its
/// component, else its phase's default), or a user's init action's, which its node stops
/// at its timeout: silent a minute after that. None for stages that are not steps.
fn declared_timeout(catalogue: &Catalogue, plan: &Plan, stage: &str) -> Option<Span> {
    let (component, phase) = stage.split_once(' ')?;
    // An action may be named as a phase is (`init start`).
    if component == init::STAGE_PREFIX {
        let action = plan.init.iter().find(|a| a.name.as_str() == phase)?;
        return Some(Span::from_secs(action.timeout.secs() + INIT_GRACE_SECS));
    }
    Some(catalogue.get(component)?.timeout(Phase::parse(phase)?))
}

/// How often an operation looks for silent nodes (each look reads its reports).
pub(super) const SILENCE_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the operation fails, when a node is silent in a step past its timeout: the first
/// such node in the reports (those since the operation began, oldest first).
pub fn silent_step(
    reports: &[Report],
    now: DateTime<Utc>,
    timeout_of: impl Fn(&Report) -> Option<Span>,
) -> Option<String> {
    let mut last: Vec<&Report> = Vec::new();
    for report in reports {
        match last.iter_mut().find(|seen| seen.node == report.node) {
            Some(seen) => *seen = report,
            None => last.push(report),
        }
    }
    last.into_iter().find_map(|report| {
        if report.status != ReportStatus::Executing {
            return None;
        }
        let timeout = timeout_of(report)?;
        let silent = (now - report.at).num_seconds();
        (silent > i64::try_from(timeout.secs()).unwrap_or(i64::MAX)).then(|| {
            format!(
                "{} silent for {} in '{}' (its timeout is {timeout}); its log: GET \
                 /disco/UUID/logs?node={}",
                report.node,
                Span::from_secs(u64::try_from(silent).unwrap_or(0)),
                report.stage,
                report.node
            )
        })
    })
}

impl Lifecycle {
    /// `silent_step` for the cluster's operation `job`, from its reports since the job
    /// was queued, the catalogue's timeouts and the history of the same steps.
    pub(super) async fn silent_node(
        &self,
        cluster: &Cluster,
        job: &Job,
    ) -> Result<Option<String>, StoreError> {
        // As stored now: the slaves given up on meanwhile are silent for good reason.
        let Some(now) = self.inner.store.cluster(None, cluster.id).await? else {
            return Ok(None);
        };
        let lost = now.outputs.lost();
        let reports: Vec<Report> = self
            .inner
            .store
            .reports(cluster.id, 0)
            .await?
            .into_iter()
            .map(|(_, report)| report)
            .filter(|report| report.at >= job.created_at)
            .filter(|report| !lost.iter().any(|slave| slave.node == report.node))
            .collect();
        let catalogue = &self.inner.catalogue;
        let history = self.inner.store.expectations(cluster).await?;
        let timeout_of = |report: &Report| {
            let (component, phase) = report.stage.split_once(' ')?;
            let declared = declared_timeout(catalogue, &cluster.plan, &report.stage)?;
            let key = StageKey {
                component: component.to_string(),
                phase: phase.to_string(),
                group: if report.node == "master" {
                    NodeGroup::Master
                } else {
                    NodeGroup::Slaves
                },
            };
            Some(with_history(declared, history.get(&key)))
        };
        Ok(silent_step(&reports, Utc::now(), timeout_of)
            .map(|reason| reason.replace("UUID", &cluster.id.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(node: &str, stage: &str, status: ReportStatus, at: DateTime<Utc>) -> Report {
        Report {
            at,
            node: node.to_string(),
            stage: stage.to_string(),
            status,
            rc: None,
            output: String::new(),
            error: String::new(),
        }
    }

    #[test]
    fn a_node_silent_in_a_step_past_its_timeout_is_named_with_the_step() {
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().expect("time");
        let minutes = |n| start + chrono::Duration::minutes(n);
        let timeout_of = |report: &Report| match report.stage.as_str() {
            "spark install" => Some(Span::parse("30m").expect("span")),
            "spark start" => Some(Span::parse("15m").expect("span")),
            _ => None,
        };
        let reports = vec![
            report(
                "master",
                "node started",
                ReportStatus::Succeeded,
                minutes(0),
            ),
            report(
                "master",
                "spark install",
                ReportStatus::Executing,
                minutes(0),
            ),
            report(
                "slaves:1",
                "spark install",
                ReportStatus::Executing,
                minutes(1),
            ),
            report(
                "master",
                "spark install",
                ReportStatus::Succeeded,
                minutes(5),
            ),
            report("master", "spark start", ReportStatus::Executing, minutes(5)),
        ];
        // Within their timeouts.
        assert_eq!(silent_step(&reports, minutes(20), timeout_of), None);
        // The master's start (15m from minute 5) runs out first.
        assert_eq!(
            silent_step(&reports, minutes(21), timeout_of).as_deref(),
            Some(
                "master silent for 16m in 'spark start' (its timeout is 15m); its log: GET \
                 /disco/UUID/logs?node=master"
            )
        );
        // A node that finished its step is not silent in it; nor is a stage that is
        // not a step.
        let done = vec![
            report(
                "slaves:1",
                "spark install",
                ReportStatus::Executing,
                minutes(1),
            ),
            report(
                "slaves:1",
                "spark install",
                ReportStatus::Succeeded,
                minutes(2),
            ),
            report("slaves:1", "waiting", ReportStatus::Executing, minutes(2)),
        ];
        assert_eq!(silent_step(&done, minutes(600), timeout_of), None);
    }

    #[test]
    fn an_init_action_is_silent_a_minute_after_its_own_timeout() {
        let catalogue = crate::frameworks::testing::standard();
        let plan = crate::cluster::testing::cluster(&[
            ("icclab.disco.dependencies.inject", "['spark']"),
            (
                "icclab.disco.init",
                r#"[{"name":"warm","script":"true","timeout":"5m"},{"name":"start","script":"true"}]"#,
            ),
        ])
        .plan;
        let timeout = |stage: &str| declared_timeout(&catalogue, &plan, stage).map(Span::secs);
        assert_eq!(timeout("init warm"), Some(360));
        assert_eq!(timeout("init other"), None, "not an action of the plan");
        assert_eq!(timeout("init start"), Some(660), "named as a phase is");
        assert_eq!(
            timeout("spark install"),
            Some(Phase::Install.default_timeout().secs())
        );
        assert_eq!(timeout("node started"), None);
    }

    #[test]
    fn history_lengthens_a_timeout_to_three_times_its_longest_runs_never_shortens_it() {
        let declared = Span::parse("30m").expect("span");
        let runs = |p99: f64| Expected {
            median: p99 / 2.0,
            p99,
            runs: 20,
        };
        assert_eq!(with_history(declared, None), declared);
        // 5 min at most: 15 min is shorter than the declared 30.
        assert_eq!(with_history(declared, Some(runs(300.0))), declared);
        // 20 min at most, on a slow flavor: an hour.
        assert_eq!(
            with_history(declared, Some(runs(1200.0))).secs(),
            3600,
            "three times the longest"
        );
    }
}
