//! A ready cluster's health, continuously, and its repair. Each watcher round asks the
//! provider for every check on every node (local: the service runs them; VMs: the
//! nodes' heartbeats, and what the cloud sees of the servers), assesses the health
//! against the one before it and stores it. A cluster whose checks fail stays `ready`;
//! `?action=repair` (or autorepair, after `health.autorepair_after` failing rounds, at
//! most `health.autorepairs_per_hour` times an hour) starts the failing components
//! again on the nodes where they fail, as the repair job.

use chrono::{DateTime, Utc};

use super::decommission::{AGENT_READY, DECOMMISSION_WITHIN, Decommission, decommission_of};
use super::silence::SILENCE_CHECK;
use super::{Attempt, Lifecycle, Stop, cancelled};
use crate::cluster::Cluster;
use crate::compose::Part;
use crate::compose::script::{MASTER_ADDRESS, SLAVE_INDEX, WC_NOTIFY};
use crate::domain::health::RepairTarget;
use crate::domain::health::{CheckOutcome, Observation};
use crate::domain::{ClusterId, ClusterState, Health, HealthStatus, TenantId};
use crate::domain::{Report, ReportStatus};
use crate::frameworks::catalogue::NodeGroup;
use crate::providers::{Progress, Provider, ProviderError};
use crate::store::{Job, JobOutcome, StoreError};

/// Why a repair was refused.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("the {0} provider cannot repair a cluster")]
    Unsupported(crate::domain::ProviderKind),
    /// Nothing to repair: every check passes (or none was made yet).
    #[error("{0}")]
    NothingFailing(String),
    /// Nodes to repair whose agent does not run, so that nothing would run the steps.
    #[error(
        "repair needs DISCO's agent on {0}, which runs only where the nodes reach DISCO over \
         https (server.public_url); start the failing services there by hand, or recreate the cluster"
    )]
    NoAgent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Lifecycle {
    /// One round of health: every ready cluster's checks, assessed and stored, then
    /// autorepair where its owner asked for it. Returns how many clusters are not
    /// healthy.
    pub(crate) async fn assess_health(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let settings = &self.inner.settings.health;
        let mut not_healthy = 0;
        for cluster in store.clusters_in_state(ClusterState::Ready).await? {
            // Where nothing runs (the file provider) there is no health to tell.
            let Some(provider) = self
                .inner
                .providers
                .get(cluster.spec.request.provider)
                .filter(|p| p.runs_nodes())
            else {
                continue;
            };
            let observation = match self.observe_health(&cluster, provider.as_ref(), now).await {
                Ok(observation) => observation,
                Err(e) => {
                    tracing::warn!(cluster = %cluster.id, error = %e, "could not check the cluster's health");
                    continue;
                }
            };
            let mut unavailable = Vec::new();
            for used in &cluster.plan.uses {
                match store.state_of(used.cluster).await? {
                    Some(ClusterState::Ready) => {}
                    state => unavailable.push((
                        used.name.clone(),
                        state.map_or("gone", |s| s.as_str()).to_string(),
                    )),
                }
            }
            let health = Health::assess(cluster.health.as_ref(), observation, now)
                .with_unavailable_uses(&unavailable);
            if cluster
                .health
                .as_ref()
                .is_none_or(|before| before.status != health.status)
            {
                tracing::info!(cluster = %cluster.id, health = %health.status, reason = %health.reason, "the cluster's health changed");
            }
            let failing_rounds = health.failing_rounds;
            let status = health.status;
            let targets = repairable(&cluster, &health);
            if !store.set_health(cluster.id, health).await? {
                continue;
            }
            if status == HealthStatus::Healthy {
                continue;
            }
            not_healthy += 1;
            // Not on what silent nodes said last: they would not run the repair either.
            if cluster.spec.autorepair
                && status != HealthStatus::Unknown
                && provider.repairs()
                && !targets.is_empty()
                && failing_rounds >= settings.autorepair_after.max(1)
                && (!provider.repairs_by_agent() || {
                    let agents = self.agents(&cluster).await?;
                    targets.iter().all(|t| agents.contains(&t.node))
                })
            {
                self.autorepair(&cluster, targets, now).await?;
            }
        }
        Ok(not_healthy)
    }

    /// What the checks say now: the provider's, and on VMs the nodes' last heartbeats
    /// (a node silent for `health.heartbeat_timeout_secs` fails a `heartbeat` check;
    /// all silent is `unknown`).
    async fn observe_health(
        &self,
        cluster: &Cluster,
        provider: &dyn Provider,
        now: DateTime<Utc>,
    ) -> Result<Observation, String> {
        let mut outcomes = provider.probe(cluster).await.map_err(|e| e.to_string())?;
        if !provider.heartbeats() {
            return Ok(Observation::Checked(outcomes));
        }
        let heartbeats = self
            .inner
            .store
            .heartbeats(cluster.id)
            .await
            .map_err(|e| e.to_string())?;
        let nodes = cluster.plan.node_names();
        let lost = cluster.outputs.lost_nodes();
        let serving: Vec<&String> = nodes
            .iter()
            .filter(|n| !lost.contains(&n.as_str()))
            .collect();
        let silent_after = chrono::Duration::seconds(
            i64::try_from(self.inner.settings.health.heartbeat_timeout_secs.max(1))
                .unwrap_or(i64::MAX / 2),
        );
        let last_heard = heartbeats.iter().map(|h| h.at).max();
        // Since it was last ready (a start or a repair counts anew): nodes have had the
        // time. A change of its reason or lifetime is no new start.
        let ready_since = self
            .inner
            .store
            .transitions(cluster.id)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .rev()
            .find(|t| t.to == ClusterState::Ready && t.from != Some(ClusterState::Ready))
            .map_or(cluster.created_at, |t| t.at);
        let mut any_fresh = false;
        for node in &serving {
            // A heartbeat from before the cluster was last ready (a stop) says nothing.
            match heartbeats
                .iter()
                .find(|h| &&h.node == node && h.at >= ready_since)
            {
                Some(beat) if now - beat.at <= silent_after => {
                    any_fresh = true;
                    outcomes.extend(beat.checks.iter().cloned().map(|mut c| {
                        // A node speaks for itself alone.
                        c.node = beat.node.clone();
                        c
                    }));
                }
                Some(beat) => outcomes.push(silent(node, Some(beat.at))),
                None if now - ready_since > silent_after => outcomes.push(silent(node, None)),
                None => {}
            }
        }
        if !any_fresh && (last_heard.is_some() || now - ready_since > silent_after) {
            return Ok(Observation::Silent { last_heard });
        }
        Ok(Observation::Checked(outcomes))
    }

    /// Repairs a cluster whose owner asked for autorepair, unless it was repaired
    /// `health.autorepairs_per_hour` times in the last hour; each attempt is a repair
    /// in its history.
    async fn autorepair(
        &self,
        cluster: &Cluster,
        targets: Vec<crate::domain::health::RepairTarget>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let per_hour = self.inner.settings.health.autorepairs_per_hour;
        let recent = store
            .transitions(cluster.id)
            .await?
            .iter()
            .filter(|t| t.to == ClusterState::Repairing && t.from == Some(ClusterState::Ready))
            .filter(|t| now - t.at < chrono::Duration::hours(1))
            .count();
        if recent >= per_hour as usize {
            tracing::warn!(cluster = %cluster.id, recent, "autorepair: repaired {recent} times in the last hour already (health.autorepairs_per_hour); waiting");
            return Ok(());
        }
        let reason = format!(
            "autorepair ({} of at most {per_hour} this hour): starting again {}",
            recent + 1,
            describe(&targets)
        );
        match store
            .request_repair(None, cluster.id, targets, reason.clone())
            .await
        {
            Ok(Some(_)) => {
                tracing::info!(cluster = %cluster.id, "{reason}");
                self.wake();
            }
            // Moved on meanwhile (a stop, a delete): not ours to repair any more.
            Ok(None) | Err(StoreError::WrongState { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `?action=repair` by the cluster's owner: the failing components of its last
    /// health, on the nodes where they fail. `None` when the tenant has no such cluster.
    pub async fn request_repair(
        &self,
        tenant: &TenantId,
        id: ClusterId,
    ) -> Result<Option<Cluster>, RepairError> {
        let store = &self.inner.store;
        let Some(cluster) = store.cluster(Some(tenant), id).await? else {
            return Ok(None);
        };
        let provider = cluster.spec.request.provider;
        if !self
            .inner
            .providers
            .get(provider)
            .is_some_and(|p| p.repairs())
        {
            return Err(RepairError::Unsupported(provider));
        }
        if cluster.state != ClusterState::Ready {
            return Err(StoreError::WrongState {
                state: cluster.state,
                action: "repair",
                needed: "ready",
            }
            .into());
        }
        let targets = cluster
            .health
            .as_ref()
            .map(|health| repairable(&cluster, health))
            .unwrap_or_default();
        if targets.is_empty() {
            let why = match &cluster.health {
                Some(health) => format!(
                    "nothing to repair: the cluster is {} ({}, checked {})",
                    health.status,
                    health.reason,
                    health.checked.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                None => "nothing to repair: the cluster's health was not checked yet".into(),
            };
            return Err(RepairError::NothingFailing(why));
        }
        if self
            .inner
            .providers
            .get(provider)
            .is_some_and(|p| p.repairs_by_agent())
        {
            let agents = self.agents(&cluster).await?;
            let missing: Vec<&str> = targets
                .iter()
                .map(|t| t.node.as_str())
                .filter(|node| !agents.iter().any(|a| a == node))
                .collect();
            if !missing.is_empty() {
                return Err(RepairError::NoAgent(missing.join(", ")));
            }
        }
        let reason = format!("repair requested: starting again {}", describe(&targets));
        let repaired = store
            .request_repair(Some(tenant), id, targets, reason)
            .await?;
        self.wake();
        Ok(repaired)
    }

    /// The repair job: the provider starts the targets' components again and is followed
    /// until they pass their checks. It ends ready either way (the cluster was usable
    /// before), with what came of it in the reason; a failed repair stops nothing.
    pub(super) async fn repair_cluster(&self, job: &Job) -> Result<Attempt, StoreError> {
        let (cluster, provider) = match self.target(job).await? {
            Ok(found) => found,
            Err(attempt) => return Ok(attempt),
        };
        let store = &self.inner.store;
        let Some(targets) = store.latest_repair(cluster.id).await? else {
            return self
                .fail(
                    job,
                    "repair failed: nothing to repair is recorded".into(),
                    Stop::Nothing,
                )
                .await;
        };
        let composition = match self.composition_for(&cluster, provider.as_ref()).await? {
            Ok(composition) => composition,
            Err(reason) => {
                return self
                    .fail(job, format!("repair failed: {reason}"), Stop::Nothing)
                    .await;
            }
        };
        let what = describe(&targets);
        let deadline = Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.deploy_timeout_secs).unwrap_or(i64::MAX / 2),
            );
        if provider.repairs_by_agent() {
            return self
                .await_agents_repair(job, &cluster, &targets, provider.as_ref())
                .await;
        }
        let started = std::time::Instant::now();
        let mut silence_checked = started;
        let mut progress = provider.repair(&cluster, &targets, &composition).await;
        loop {
            match progress {
                Ok(Progress::Ready(outputs)) => {
                    let reason = format!("repaired: started again {what}");
                    if !store
                        .transition(
                            cluster.id,
                            job.kind.mover(),
                            ClusterState::Ready,
                            &reason,
                            Some(outputs),
                        )
                        .await?
                    {
                        return Ok(cancelled(
                            "the cluster moved on (deleted?) during its repair",
                        ));
                    }
                    return Ok(Attempt::Finished(JobOutcome::Done, reason));
                }
                Err(ProviderError::Permanent(reason)) => {
                    self.provider_failed(cluster.spec.request.provider);
                    return self
                        .fail(job, format!("repair failed: {reason}"), Stop::Nothing)
                        .await;
                }
                Ok(Progress::Failed { reason, .. }) => {
                    return self
                        .fail(job, format!("repair failed: {reason}"), Stop::Nothing)
                        .await;
                }
                Ok(Progress::Deploying(_) | Progress::Installing(_)) => {}
                Err(ProviderError::Transient(e)) => {
                    return Ok(self.provider_retry(cluster.spec.request.provider, e));
                }
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "repair failed: not finished within {} s",
                    self.inner.settings.deploy_timeout_secs
                );
                return self.fail(job, reason, Stop::Nothing).await;
            }
            if provider.runs_nodes()
                && silence_checked.elapsed() >= SILENCE_CHECK
                && let Some(reason) = {
                    silence_checked = std::time::Instant::now();
                    self.silent_node(&cluster, job).await?
                }
            {
                return self
                    .fail(job, format!("repair failed: {reason}"), Stop::Nothing)
                    .await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            let Some(now) = self.still_its(job).await? else {
                return Ok(cancelled(
                    "the cluster moved on (deleted?) during its repair",
                ));
            };
            progress = provider.observe_repair(&now, &targets).await;
        }
    }
}

impl Lifecycle {
    /// The nodes whose agent said it runs (`AGENT_READY`).
    async fn agents(&self, cluster: &Cluster) -> Result<Vec<String>, StoreError> {
        Ok(self
            .inner
            .store
            .reports(cluster.id, 0)
            .await?
            .into_iter()
            .filter(|(_, r)| r.stage == AGENT_READY && r.status == ReportStatus::Succeeded)
            .map(|(_, r)| r.node)
            .collect())
    }

    /// When the cluster's latest repair began: its move into repairing.
    async fn repair_began(&self, cluster: &Cluster) -> Result<DateTime<Utc>, StoreError> {
        Ok(self
            .inner
            .store
            .transitions(cluster.id)
            .await?
            .into_iter()
            .rev()
            .find(|t| t.to == ClusterState::Repairing && t.from != Some(ClusterState::Repairing))
            .map_or(cluster.updated_at, |t| t.at))
    }

    /// A repair that the nodes' agents run: waits until each target node reported its
    /// steps done (`node ready`) since the repair began, as a scale-in waits for its
    /// leaving slaves; a step that failed, or the deadline, ends it failed (the cluster
    /// stays ready).
    async fn await_agents_repair(
        &self,
        job: &Job,
        cluster: &Cluster,
        targets: &[RepairTarget],
        provider: &dyn Provider,
    ) -> Result<Attempt, StoreError> {
        let store = &self.inner.store;
        let since = self.repair_began(cluster).await?;
        let nodes: Vec<String> = targets.iter().map(|t| t.node.clone()).collect();
        let what = describe(targets);
        let deadline =
            Utc::now() + chrono::Duration::from_std(DECOMMISSION_WITHIN).unwrap_or_default();
        let started = std::time::Instant::now();
        let mut silence_checked = started;
        loop {
            let reports: Vec<Report> = store
                .reports(cluster.id, 0)
                .await?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            match decommission_of(&nodes, &reports, since) {
                Decommission::Done => {
                    let reason = format!("repaired: started again {what}");
                    if !store
                        .transition(
                            cluster.id,
                            job.kind.mover(),
                            ClusterState::Ready,
                            &reason,
                            None,
                        )
                        .await?
                    {
                        return Ok(cancelled(
                            "the cluster moved on (deleted?) during its repair",
                        ));
                    }
                    return Ok(Attempt::Finished(JobOutcome::Done, reason));
                }
                Decommission::Failed(why) => {
                    return self
                        .fail(job, format!("repair failed: {why}"), Stop::Nothing)
                        .await;
                }
                Decommission::Waiting(waiting) => {
                    if Utc::now() > deadline {
                        let reason = format!(
                            "repair failed: {} did not report the repair done within {} s",
                            waiting.join(", "),
                            DECOMMISSION_WITHIN.as_secs()
                        );
                        return self.fail(job, reason, Stop::Nothing).await;
                    }
                }
            }
            if silence_checked.elapsed() >= SILENCE_CHECK
                && let Some(reason) = {
                    silence_checked = std::time::Instant::now();
                    self.silent_node(cluster, job).await?
                }
            {
                return self
                    .fail(job, format!("repair failed: {reason}"), Stop::Nothing)
                    .await;
            }
            self.pause(started.elapsed(), provider).await;
            if self.still_its(job).await?.is_none() {
                return Ok(cancelled(
                    "the cluster moved on (deleted?) during its repair",
                ));
            }
        }
    }

    /// For a node's agent (`GET /disco/UUID/health/repair?node=...`): while the cluster is
    /// repairing and the node is one of the repair's, the repair's id (when it began)
    /// and the script its agent runs: the start and smoke steps of the node's failing
    /// components, reporting to this server, with no wait condition to signal. `None`
    /// otherwise.
    pub async fn repair_script(
        &self,
        cluster: &Cluster,
        node: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        if cluster.state != ClusterState::Repairing {
            return Ok(None);
        }
        let Some(provider) = self.inner.providers.get(cluster.spec.request.provider) else {
            return Ok(None);
        };
        if !provider.repairs_by_agent() {
            return Ok(None);
        }
        let Some(target) = self
            .inner
            .store
            .latest_repair(cluster.id)
            .await?
            .and_then(|targets| targets.into_iter().find(|t| t.node == node))
        else {
            return Ok(None);
        };
        let (group, index) = match crate::domain::node::slave_index(node) {
            Some(index) => (NodeGroup::Slaves, index),
            None => (NodeGroup::Master, 0),
        };
        let mut facts = super::facts(cluster);
        self.add_used(cluster, &mut facts).await?;
        if let Some(reports_to) = &self.inner.reports_to {
            facts.report_url = Some(format!("{reports_to}/{}/report", cluster.id));
            facts.report_token = Some(self.inner.store.report_token(cluster.id).await?);
        }
        let Ok(script) = self.inner.composer.part_script(
            &cluster.plan,
            &self.inner.catalogue,
            &facts,
            group,
            Part::Restart,
        ) else {
            return Ok(None);
        };
        let master = cluster
            .outputs
            .master_private_ip
            .clone()
            .unwrap_or_default();
        // Component names are words (`ComponentName`): nothing to quote.
        let script = script
            .replacen(
                "#!/bin/bash\n",
                &format!(
                    "#!/bin/bash\nexport DISCO_ONLY_COMPONENTS='{}'\n",
                    target.components.join(" ")
                ),
                1,
            )
            .replace(SLAVE_INDEX, &index.to_string())
            .replace(MASTER_ADDRESS, &master)
            .replace(WC_NOTIFY, "true");
        let id = self
            .repair_began(cluster)
            .await?
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        Ok(Some((id, script)))
    }
}

/// What a repair can start again: the failing checks' components that the plan has (a
/// silent node or a server in `ERROR` is no component's to start). A component failing
/// on the master is started again on every node that runs it: its slaves' services
/// connect to the master's (Dask's workers end with their scheduler, Spark's workers
/// register with the master they knew).
fn repairable(cluster: &Cluster, health: &Health) -> Vec<crate::domain::health::RepairTarget> {
    use crate::domain::health::RepairTarget;
    use crate::frameworks::catalogue::NodeGroup;
    let plan = &cluster.plan;
    let components = plan.component_names();
    let mut targets = health.failing();
    for target in &mut targets {
        target
            .components
            .retain(|c| components.contains(&c.as_str()));
    }
    targets.retain(|t| !t.components.is_empty());
    let on_master: Vec<String> = targets
        .iter()
        .find(|t| t.node == "master")
        .map(|t| t.components.clone())
        .unwrap_or_default();
    if on_master.is_empty() {
        return targets;
    }
    let lost = cluster.outputs.lost_nodes();
    for node in plan.node_names() {
        let group = if node == "master" {
            NodeGroup::Master
        } else {
            NodeGroup::Slaves
        };
        if lost.contains(&node.as_str()) {
            continue;
        }
        let runs: Vec<String> = on_master
            .iter()
            .filter(|name| {
                plan.components
                    .iter()
                    .any(|c| &c.name == *name && c.steps.iter().any(|s| s.group == group))
            })
            .cloned()
            .collect();
        if runs.is_empty() {
            continue;
        }
        match targets.iter_mut().find(|t| t.node == node) {
            Some(target) => {
                for component in runs {
                    if !target.components.contains(&component) {
                        target.components.push(component);
                    }
                }
            }
            None => targets.push(RepairTarget {
                node,
                components: runs,
            }),
        }
    }
    targets
}

/// A node that sent no heartbeat for too long, as a failing check of its own.
fn silent(node: &str, last: Option<DateTime<Utc>>) -> CheckOutcome {
    CheckOutcome {
        node: node.to_string(),
        component: "disco".to_string(),
        check: "heartbeat".to_string(),
        passing: false,
        output: match last {
            Some(at) => format!("no heartbeat since {}", at.format("%H:%M:%S")),
            None => "no heartbeat yet".to_string(),
        },
    }
}

/// `dask on slaves:1, spark on master`.
fn describe(targets: &[crate::domain::health::RepairTarget]) -> String {
    targets
        .iter()
        .map(|t| format!("{} on {}", t.components.join(" and "), t.node))
        .collect::<Vec<_>>()
        .join(", ")
}
