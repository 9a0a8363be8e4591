//! Operating a running cluster: the stop job (ready → stopping → stopped) and the start
//! job (stopped → starting → ready). Each asks its provider, follows it until done, a
//! deadline passes or a delete overtakes it, and fails the cluster with the provider's
//! reason when it cannot be done. Like deploy and delete, each may run again after a
//! crash: providers find what an earlier attempt did.

use chrono::Utc;

use super::{Attempt, Lifecycle, Stop, cancelled};
use crate::domain::ClusterState;
use crate::providers::{Progress, ProviderError, Suspension};
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
        let mut suspension = provider.suspend(&cluster).await;
        loop {
            match suspension {
                Ok(Suspension::Stopped) => {
                    let reason = "stopped: nothing runs; its addresses, keys and data are kept until it starts again";
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
                Err(ProviderError::Transient(e)) => return Ok(Attempt::Retry(e)),
                Err(ProviderError::Permanent(e)) => {
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
            suspension = provider.observe_suspend(&now).await;
        }
    }

    pub(super) async fn start_cluster(&self, job: &Job) -> Result<Attempt, StoreError> {
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
        let started = std::time::Instant::now();
        let mut progress = provider.resume(&cluster, &composition).await;
        let mut last_reason = None;
        loop {
            let (state, reason, outputs) = match progress {
                Ok(Progress::Ready(outputs)) => (
                    ClusterState::Ready,
                    "every component is up again".to_string(),
                    outputs,
                ),
                Ok(Progress::Failed { reason, outputs }) => (
                    ClusterState::Failed,
                    format!("start failed: {reason}"),
                    outputs,
                ),
                Ok(Progress::Deploying(outputs) | Progress::Installing(outputs)) => (
                    ClusterState::Starting,
                    "starting the components".to_string(),
                    outputs,
                ),
                Err(ProviderError::Transient(e)) => return Ok(Attempt::Retry(e)),
                Err(ProviderError::Permanent(reason)) => {
                    return self
                        .fail(job, format!("start failed: {reason}"), Stop::WhatRuns)
                        .await;
                }
            };
            if last_reason.as_ref() != Some(&reason) {
                if !store
                    .transition(cluster.id, job.kind.mover(), state, &reason, Some(outputs))
                    .await?
                {
                    return Ok(cancelled(
                        "the cluster moved on (deleted?) during its start",
                    ));
                }
                match state {
                    ClusterState::Ready => return Ok(Attempt::Finished(JobOutcome::Done, reason)),
                    ClusterState::Failed => {
                        if let Err(e) = provider.stop(&cluster).await {
                            tracing::warn!(cluster = %cluster.id, error = %e, "stopping what a failed start left running");
                        }
                        return Ok(Attempt::Finished(JobOutcome::Failed, reason));
                    }
                    _ => {}
                }
                last_reason = Some(reason);
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "start failed: not finished within {} s",
                    self.inner.settings.deploy_timeout_secs
                );
                return self.fail(job, reason, Stop::WhatRuns).await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            let Some(now) = self.still_its(job).await? else {
                return Ok(cancelled(
                    "the cluster moved on (deleted?) during its start",
                ));
            };
            progress = provider.observe_resume(&now).await;
        }
    }
}

fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
}
