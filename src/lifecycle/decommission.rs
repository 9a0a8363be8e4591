//! The leaving slaves of a scale-in, where the provider cannot run their decommission
//! steps itself (VMs, which DISCO has no way into): each slave asks DISCO now and again
//! whether it leaves (`GET /disco/UUID/report?node=slaves:N`, with the cluster's report
//! token), and is given its decommission script when it does; it runs the steps,
//! reporting each, and ends with `node ready`. The scale waits for those reports before
//! the provider removes the slaves, so that no data and no running task goes with them.

use chrono::{DateTime, Utc};

use super::{Attempt, Lifecycle, Stop};
use crate::cluster::Cluster;
use crate::compose::script::{MASTER_ADDRESS, SLAVE_INDEX, WC_NOTIFY};
use crate::domain::{ClusterState, Report, ReportStatus, Resize};
use crate::providers::Provider;
use crate::store::{Job, StoreError};
use crate::tasks::NODE_READY;

/// What a slave's agent reports once it runs (`disco_agent_install`): only such slaves
/// are waited for.
pub const AGENT_READY: &str = "agent ready";

/// The longest the leaving slaves' decommission steps may take, as on the local provider.
pub const DECOMMISSION_WITHIN: std::time::Duration = std::time::Duration::from_secs(900);

/// The slaves a resize lets go, as nodes name themselves: `slaves:(to + 1)` to
/// `slaves:from`; none for a scale-out.
pub fn leaving(resize: Resize) -> Vec<String> {
    (resize.to..resize.from)
        .map(crate::domain::node::slave_name)
        .collect()
}

/// Where the leaving slaves' decommission stands, from the reports they sent since the
/// scale began.
#[derive(Debug, PartialEq, Eq)]
pub enum Decommission {
    Done,
    /// These have not finished yet.
    Waiting(Vec<String>),
    /// A step failed on a leaving slave: which, and what it said.
    Failed(String),
}

pub fn decommission_of(
    leaving: &[String],
    reports: &[Report],
    since: DateTime<Utc>,
) -> Decommission {
    let mut waiting = Vec::new();
    for node in leaving {
        let of_node = || {
            reports
                .iter()
                .filter(move |r| &r.node == node && r.at >= since)
        };
        if let Some(failed) = of_node().find(|r| r.status == ReportStatus::Failed) {
            let said = failed.error.lines().last().unwrap_or_default();
            return Decommission::Failed(format!(
                "{node}: {} failed with return code {}: {said}",
                failed.stage,
                failed
                    .rc
                    .map_or_else(|| "?".to_string(), |rc| rc.to_string()),
            ));
        }
        if !of_node().any(|r| r.stage == NODE_READY && r.status == ReportStatus::Succeeded) {
            waiting.push(node.clone());
        }
    }
    if waiting.is_empty() {
        Decommission::Done
    } else {
        Decommission::Waiting(waiting)
    }
}

impl Lifecycle {
    /// Whether the leaving slaves of this scale decommission themselves, asked by DISCO:
    /// a scale-in, on a provider whose nodes report and which does not run their steps
    /// itself, of a cluster with a component that has decommission steps.
    pub(super) fn slaves_decommission(
        resize: Resize,
        provider: &dyn Provider,
        has_steps: bool,
    ) -> bool {
        resize.to < resize.from && provider.runs_nodes() && !provider.decommissions() && has_steps
    }

    /// Waits until every slave the scale-in lets go reported its decommission steps
    /// done. `None`: go on with the resize; otherwise how the job ends (the cluster
    /// failed with the step that failed, or the deadline; or it moved on).
    pub(super) async fn await_decommission(
        &self,
        job: &Job,
        cluster: &Cluster,
        resize: Resize,
        provider: &dyn Provider,
    ) -> Result<Option<Attempt>, StoreError> {
        let store = &self.inner.store;
        let since = store
            .transitions(cluster.id)
            .await?
            .into_iter()
            .rev()
            .find(|t| t.to == ClusterState::Scaling && t.from != Some(ClusterState::Scaling))
            .map_or(cluster.updated_at, |t| t.at);
        // Only the slaves whose agent said it runs: one given up on is gone already, and
        // one without an agent (booted before agents, no systemd, a report URL that is
        // not https) cannot be asked; those go without their steps, as they did before.
        let agents: Vec<String> = store
            .reports(cluster.id, 0)
            .await?
            .into_iter()
            .filter(|(_, r)| r.stage == AGENT_READY && r.status == ReportStatus::Succeeded)
            .map(|(_, r)| r.node)
            .collect();
        let (leaving, unasked): (Vec<String>, Vec<String>) = leaving(resize)
            .into_iter()
            .filter(|node| !cluster.outputs.lost().iter().any(|lost| &lost.node == node))
            .partition(|node| agents.contains(node));
        if !unasked.is_empty() {
            tracing::warn!(cluster = %cluster.id, slaves = %unasked.join(", "), "these leaving slaves have no agent to run their decommission steps: they go without");
        }
        if leaving.is_empty() {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let mut said = None;
        loop {
            let reports: Vec<Report> = store
                .reports(cluster.id, 0)
                .await?
                .into_iter()
                .map(|(_, report)| report)
                .collect();
            let waiting = match decommission_of(&leaving, &reports, since) {
                Decommission::Done => return Ok(None),
                Decommission::Failed(reason) => {
                    let reason = format!("scale failed: the decommission of {reason}");
                    return Ok(Some(self.fail(job, reason, Stop::Nothing).await?));
                }
                Decommission::Waiting(waiting) => waiting,
            };
            if started.elapsed() > DECOMMISSION_WITHIN {
                let reason = format!(
                    "scale failed: {} did not decommission within {} s (can they reach \
                     DISCO's report URL?)",
                    waiting.join(", "),
                    DECOMMISSION_WITHIN.as_secs()
                );
                return Ok(Some(self.fail(job, reason, Stop::Nothing).await?));
            }
            let reason = format!(
                "scaling from {} to {} slaves: waiting for {} to run their decommission steps",
                resize.from,
                resize.to,
                waiting.join(", ")
            );
            if said.as_ref() != Some(&reason) {
                if !store
                    .set_reason(cluster.id, job.kind.mover(), &reason)
                    .await?
                {
                    return Ok(Some(super::cancelled(
                        "the cluster moved on (deleted?) during its scale",
                    )));
                }
                said = Some(reason);
            }
            self.pause(started.elapsed(), provider).await;
            if self.still_its(job).await?.is_none() {
                return Ok(Some(super::cancelled(
                    "the cluster moved on (deleted?) during its scale",
                )));
            }
        }
    }

    /// What a leaving slave runs when it asks (`node` is `slaves:N`): the cluster's
    /// decommission script, reporting to this server, with the slave's index and the
    /// master's address in it and no wait condition to signal. `None` when the node
    /// does not leave now, or nothing is to run.
    pub async fn decommission_script(
        &self,
        cluster: &Cluster,
        node: &str,
    ) -> Result<Option<String>, StoreError> {
        if cluster.state != ClusterState::Scaling {
            return Ok(None);
        }
        let Some(resize) = self.inner.store.latest_resize(cluster.id).await? else {
            return Ok(None);
        };
        let Some(provider) = self.inner.providers.get(cluster.spec.request.provider) else {
            return Ok(None);
        };
        if !Self::slaves_decommission(resize, provider.as_ref(), true)
            || !leaving(resize).iter().any(|n| n == node)
            || cluster.outputs.lost().iter().any(|lost| lost.node == node)
        {
            return Ok(None);
        }
        let Some(index) = crate::domain::node::slave_index(node) else {
            return Ok(None);
        };
        let Ok(composition) = self.composition_for(cluster, provider.as_ref()).await? else {
            return Ok(None);
        };
        let master = cluster
            .outputs
            .master_private_ip
            .clone()
            .unwrap_or_default();
        Ok(composition.decommission_script.map(|script| {
            script
                .replace(SLAVE_INDEX, &index.to_string())
                .replace(MASTER_ADDRESS, &master)
                .replace(WC_NOTIFY, "true")
        }))
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
            rc: (status == ReportStatus::Failed).then_some(3),
            output: String::new(),
            error: "retire_workers timed out".to_string(),
        }
    }

    #[test]
    fn a_scale_in_waits_for_each_leaving_slave_to_say_it_is_done() {
        let resize = Resize { from: 4, to: 2 };
        assert_eq!(leaving(resize), ["slaves:3", "slaves:4"]);
        assert!(leaving(Resize { from: 2, to: 4 }).is_empty());
        let since = Utc::now();
        let before = since - chrono::Duration::seconds(60);
        let leaving = leaving(resize);
        let mut reports = vec![
            // The deploy's, long before: not this scale's.
            report("slaves:3", NODE_READY, ReportStatus::Succeeded, before),
            report("slaves:4", NODE_READY, ReportStatus::Succeeded, before),
            report(
                "slaves:3",
                "dask decommission",
                ReportStatus::Succeeded,
                since,
            ),
            report("slaves:3", NODE_READY, ReportStatus::Succeeded, since),
        ];
        assert_eq!(
            decommission_of(&leaving, &reports, since),
            Decommission::Waiting(vec!["slaves:4".into()])
        );
        reports.push(report(
            "slaves:4",
            NODE_READY,
            ReportStatus::Succeeded,
            since,
        ));
        assert_eq!(
            decommission_of(&leaving, &reports, since),
            Decommission::Done
        );
        reports.push(report(
            "slaves:4",
            "dask decommission",
            ReportStatus::Failed,
            since,
        ));
        assert_eq!(
            decommission_of(&leaving, &reports, since),
            Decommission::Failed(
                "slaves:4: dask decommission failed with return code 3: retire_workers timed out"
                    .into()
            )
        );
    }
}
