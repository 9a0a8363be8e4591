//! Operating a running cluster: the stop job (ready → stopping → stopped) and the start
//! job (stopped → starting → ready). Each asks its provider, follows it until done, a
//! deadline passes or a delete overtakes it, and fails the cluster with the provider's
//! reason when it cannot be done. Like deploy and delete, each may run again after a
//! crash: providers find what an earlier attempt did.

use chrono::Utc;

use super::ask::Ask;
use super::silence::SILENCE_CHECK;
use super::{Attempt, Lifecycle, Stop, cancelled, with_losses};
use crate::cluster::Cluster;
use crate::compose::Composition;
use crate::domain::{ClusterState, Resize};
use crate::providers::{Progress, Provider, ProviderError, Suspension};
use crate::store::{Job, JobOutcome, StoreError};

impl Lifecycle {
    pub(super) async fn stop_cluster(&self, job: &Job) -> Result<Attempt, StoreError> {
        let (cluster, provider) = match self.target(job).await? {
            Ok(found) => found,
            Err(attempt) => return Ok(attempt),
        };
        let store = &self.inner.store;
        let deadline = Utc::now() + seconds(self.inner.settings.delete_timeout_secs);
        let started = std::time::Instant::now();
        let mut ask = Ask::for_attempt(job, provider.asks_show_within());
        let mut suspension = if ask.due(store, job).await? {
            provider.suspend(&cluster).await
        } else {
            provider.observe_suspend(&cluster).await
        };
        loop {
            match suspension {
                Ok(Suspension::Stopped) => {
                    let kept =
                        "nothing runs; its addresses, keys and data are kept until it starts again";
                    // A stop because the cluster expired says so to the end.
                    let reason = match cluster.state_reason.strip_prefix(super::expiry::EXPIRED) {
                        Some(why) => format!(
                            "stopped ({}{}): {kept}",
                            super::expiry::EXPIRED,
                            why.trim_end_matches(": stopping")
                        ),
                        None => format!("stopped: {kept}"),
                    };
                    let reason = reason.as_str();
                    if !store
                        .transition(
                            cluster.id,
                            job.kind.mover(),
                            ClusterState::Stopped,
                            reason,
                            None,
                        )
                        .await?
                    {
                        return Ok(cancelled("the cluster moved on (deleted?) during its stop"));
                    }
                    return Ok(Attempt::Finished(JobOutcome::Done, reason.to_string()));
                }
                Ok(Suspension::InProgress) => {}
                Err(ProviderError::Transient(e)) => {
                    return Ok(self.provider_retry(cluster.spec.request.provider, e));
                }
                Err(ProviderError::Permanent(e)) => {
                    self.provider_failed(cluster.spec.request.provider);
                    return self
                        .fail(job, format!("stop failed: {e}"), Stop::Nothing)
                        .await;
                }
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "stop failed: not finished within {} s",
                    self.inner.settings.delete_timeout_secs
                );
                return self.fail(job, reason, Stop::Nothing).await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            let Some(now) = self.still_its(job).await? else {
                return Ok(cancelled("the cluster moved on (deleted?) during its stop"));
            };
            suspension = if ask.due(store, job).await? {
                provider.suspend(&now).await
            } else {
                provider.observe_suspend(&now).await
            };
        }
    }

    pub(super) async fn start_cluster(&self, job: &Job) -> Result<Attempt, StoreError> {
        self.run_to_ready(job, Change::Start).await
    }

    pub(super) async fn scale_cluster(&self, job: &Job) -> Result<Attempt, StoreError> {
        let Some(resize) = self.inner.store.latest_resize(job.cluster_id).await? else {
            return Ok(cancelled("no resize is recorded for the cluster"));
        };
        self.run_to_ready(job, Change::Scale(resize)).await
    }

    /// A start or a scale: asks the provider, then follows it until the cluster is ready
    /// (or failed), as a deploy follows its provider.
    async fn run_to_ready(&self, job: &Job, mut change: Change) -> Result<Attempt, StoreError> {
        let (cluster, provider) = match self.target(job).await? {
            Ok(found) => found,
            Err(attempt) => return Ok(attempt),
        };
        let store = &self.inner.store;
        let deadline = Utc::now() + seconds(self.inner.settings.deploy_timeout_secs);
        let composition = match self.composition_for(&cluster, provider.as_ref()).await? {
            Ok(composition) => composition,
            Err(reason) => return self.fail(job, reason, Stop::Nothing).await,
        };
        let (working, doing, done) = change.words();
        // The leaving slaves hand over what they hold before the provider removes them.
        if let Change::Scale(resize) = change
            && Self::slaves_decommission(
                resize,
                provider.as_ref(),
                composition.decommission_script.is_some(),
            )
            && let Some(attempt) = self
                .await_decommission(job, &cluster, resize, provider.as_ref())
                .await?
        {
            return Ok(attempt);
        }
        let started = std::time::Instant::now();
        let mut silence_checked = started;
        let mut ask = Ask::for_attempt(job, provider.asks_show_within());
        let mut progress = if ask.due(store, job).await? {
            change.ask(provider.as_ref(), &cluster, &composition).await
        } else {
            change.observe(provider.as_ref(), &cluster).await
        };
        let mut last_reason = None;
        // A scale-out cancelled meanwhile: the resize back, once it is under way.
        let mut cancelled_to: Option<u16> = None;
        loop {
            let (state, reason, outputs) = match progress {
                Ok(Progress::Ready(outputs)) => (
                    ClusterState::Ready,
                    match cancelled_to {
                        Some(slaves) => format!(
                            "scale cancelled: back to {slaves} slaves; the new ones were removed"
                        ),
                        None => cluster.ready_reason(done, outputs.lost()),
                    },
                    self.with_exports(&cluster, provider.as_ref(), &composition, outputs)
                        .await,
                ),
                Ok(Progress::Failed { reason, outputs }) => (
                    ClusterState::Failed,
                    format!("{doing} failed: {reason}"),
                    outputs,
                ),
                Ok(Progress::Deploying(outputs) | Progress::Installing(outputs)) => (
                    working,
                    with_losses(&change.progress(), outputs.lost()),
                    outputs,
                ),
                Err(ProviderError::Transient(e)) => {
                    return Ok(self.provider_retry(cluster.spec.request.provider, e));
                }
                Err(ProviderError::Permanent(reason)) => {
                    self.provider_failed(cluster.spec.request.provider);
                    return self
                        .fail(job, format!("{doing} failed: {reason}"), Stop::WhatRuns)
                        .await;
                }
            };
            // New Heat events are written at once: the next look asks from the newest kept.
            if last_reason.as_ref() != Some(&reason) || !outputs.heat_events.is_empty() {
                let moved = match change {
                    // Only while its resize is the latest: a cancel may have recorded another.
                    Change::Scale(resize) => {
                        store
                            .transition_resizing(
                                cluster.id,
                                job.kind.mover(),
                                state,
                                &reason,
                                Some(outputs),
                                resize,
                            )
                            .await?
                    }
                    Change::Start => {
                        store
                            .transition(cluster.id, job.kind.mover(), state, &reason, Some(outputs))
                            .await?
                    }
                };
                if !moved {
                    if let Change::Start = change {
                        return Ok(cancelled(&format!(
                            "the cluster moved on (deleted?) during its {doing}"
                        )));
                    }
                    let back = match self.cancelled_scale(job).await? {
                        Ok(back) => back,
                        Err(attempt) => return Ok(attempt),
                    };
                    change = Change::Scale(back);
                    cancelled_to = Some(back.to);
                    provider.abandon_slaves(&cluster, back).await.ok();
                    store.asked(job.id).await?;
                    progress = provider.resize(&cluster, back, &composition).await;
                    last_reason = None;
                    continue;
                }
                match state {
                    ClusterState::Ready => return Ok(Attempt::Finished(JobOutcome::Done, reason)),
                    ClusterState::Failed => {
                        if let Err(e) = provider.stop(&cluster).await {
                            tracing::warn!(cluster = %cluster.id, error = %e, "stopping what a failed {doing} left running");
                        }
                        return Ok(Attempt::Finished(JobOutcome::Failed, reason));
                    }
                    _ => {}
                }
                last_reason = Some(reason);
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "{doing} failed: not finished within {} s",
                    self.inner.settings.deploy_timeout_secs
                );
                return self.fail(job, reason, Stop::WhatRuns).await;
            }
            if provider.runs_nodes()
                && silence_checked.elapsed() >= SILENCE_CHECK
                && let Some(reason) = {
                    silence_checked = std::time::Instant::now();
                    self.silent_node(&cluster, job).await?
                }
            {
                return self
                    .fail(job, format!("{doing} failed: {reason}"), Stop::WhatRuns)
                    .await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            let Some(now) = self.still_its(job).await? else {
                return Ok(cancelled(&format!(
                    "the cluster moved on (deleted?) during its {doing}"
                )));
            };
            if let Change::Scale(resize) = change
                && store.latest_resize(cluster.id).await? != Some(resize)
            {
                let back = match self.cancelled_scale(job).await? {
                    Ok(back) => back,
                    Err(attempt) => return Ok(attempt),
                };
                change = Change::Scale(back);
                cancelled_to = Some(back.to);
                provider.abandon_slaves(&now, back).await.ok();
                store.asked(job.id).await?;
                progress = provider.resize(&now, back, &composition).await;
                last_reason = None;
                continue;
            }
            progress = if ask.due(store, job).await? {
                change.ask(provider.as_ref(), &now, &composition).await
            } else {
                change.observe(provider.as_ref(), &now).await
            };
        }
    }
}

impl Lifecycle {
    /// A scale whose resize is no longer the latest was cancelled: the resize back the
    /// cancel recorded, or how the job ends instead (the cluster moved on).
    async fn cancelled_scale(&self, job: &Job) -> Result<Result<Resize, Attempt>, StoreError> {
        if self.still_its(job).await?.is_none() {
            return Ok(Err(cancelled(
                "the cluster moved on (deleted?) during its scale",
            )));
        }
        let Some(back) = self.inner.store.latest_resize(job.cluster_id).await? else {
            return Ok(Err(cancelled("no resize is recorded for the cluster")));
        };
        tracing::info!(cluster = %job.cluster_id, from = back.from, to = back.to, "the scale was cancelled: removing its new slaves");
        Ok(Ok(back))
    }
}

/// What brings a cluster to ready again.
#[derive(Debug, Clone, Copy)]
enum Change {
    Start,
    Scale(Resize),
}

impl Change {
    /// The state it works in, its name in reasons, and the reason once done.
    fn words(self) -> (ClusterState, &'static str, &'static str) {
        match self {
            Change::Start => (
                ClusterState::Starting,
                "start",
                "every component is up again",
            ),
            Change::Scale(_) => (
                ClusterState::Scaling,
                "scale",
                "every component is up on the resized cluster",
            ),
        }
    }

    /// Asks the provider for the change (or finds what an earlier ask did).
    async fn ask(
        self,
        provider: &dyn Provider,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        match self {
            Change::Start => provider.resume(cluster, composition).await,
            Change::Scale(resize) => provider.resize(cluster, resize, composition).await,
        }
    }

    /// Where the change asked for stands.
    async fn observe(
        self,
        provider: &dyn Provider,
        cluster: &Cluster,
    ) -> Result<Progress, ProviderError> {
        match self {
            Change::Start => provider.observe_resume(cluster).await,
            Change::Scale(resize) => provider.observe_resize(cluster, resize).await,
        }
    }

    fn progress(self) -> String {
        match self {
            Change::Start => "starting the components".to_string(),
            Change::Scale(Resize { from, to }) if to > from => {
                format!("scaling from {from} to {to} slaves: installing the new slaves")
            }
            Change::Scale(Resize { from, to }) => {
                format!("scaling from {from} to {to} slaves: decommissioning the leaving slaves")
            }
        }
    }
}

fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
}
