//! A deploy job: moves a pending cluster to deploying, composes its plan, hands the
//! composition to the provider and follows the provider's progress until the cluster is
//! ready or failed, the deadline passes, or a delete overtakes it.

use chrono::Utc;

use super::silence::SILENCE_CHECK;
use super::{Attempt, Lifecycle, Stop, cancelled, with_losses};
use crate::domain::ClusterState;
use crate::providers::{Progress, ProviderError};
use crate::store::{Job, JobOutcome, StoreError};

impl Lifecycle {
    pub(super) async fn deploy(&self, job: &Job) -> Result<Attempt, StoreError> {
        let (cluster, provider) = match self.target(job).await? {
            Ok(found) => found,
            Err(attempt) => return Ok(attempt),
        };
        let store = &self.inner.store;
        let deadline = job.created_at
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.deploy_timeout_secs).unwrap_or(i64::MAX / 2),
            );
        if cluster.state == ClusterState::Pending
            && !store
                .transition(
                    cluster.id,
                    job.kind.mover(),
                    ClusterState::Deploying,
                    format!("creating the nodes with provider {}", provider.kind()),
                    None,
                )
                .await?
        {
            return Ok(cancelled("the cluster moved on before its deploy started"));
        }
        let composition = match self.composition_for(&cluster, provider.as_ref()).await? {
            Ok(composition) => composition,
            Err(reason) => return self.fail(job, reason, Stop::Nothing).await,
        };
        let started = std::time::Instant::now();
        let mut silence_checked = started;
        let mut progress = provider.deploy(&cluster, &composition).await;
        // Once the provider has made the resources, the credentials only creation needs
        // are dropped from the store.
        if progress.is_ok() && cluster.delegation.creation_token.is_some() {
            store
                .set_delegation(cluster.id, &cluster.delegation.after_creation())
                .await?;
        }
        let mut last_applied = None;
        loop {
            let current = match progress {
                Ok(current) => current,
                Err(ProviderError::Transient(e)) => {
                    return Ok(self.provider_retry(cluster.spec.request.provider, e));
                }
                Err(ProviderError::Permanent(reason)) => {
                    self.provider_failed(cluster.spec.request.provider);
                    return self.fail(job, reason, Stop::WhatRuns).await;
                }
            };
            if last_applied.as_ref() != Some(&current) {
                let (state, reason, outputs) = match current.clone() {
                    Progress::Deploying(o) => {
                        (ClusterState::Deploying, "creating the nodes".to_string(), o)
                    }
                    Progress::Installing(o) => (
                        ClusterState::Installing,
                        with_losses("installing the components", o.lost()),
                        o,
                    ),
                    Progress::Ready(o) => (
                        ClusterState::Ready,
                        cluster.ready_reason("every component is up", o.lost()),
                        self.with_exports(&cluster, provider.as_ref(), &composition, o)
                            .await,
                    ),
                    Progress::Failed { reason, outputs } => (ClusterState::Failed, reason, outputs),
                };
                if !store
                    .transition(cluster.id, job.kind.mover(), state, &reason, Some(outputs))
                    .await?
                {
                    return Ok(cancelled(
                        "the cluster moved on (deleted?) during its deploy",
                    ));
                }
                match state {
                    ClusterState::Ready => return Ok(Attempt::Finished(JobOutcome::Done, reason)),
                    ClusterState::Failed => {
                        return Ok(Attempt::Finished(JobOutcome::Failed, reason));
                    }
                    _ => {}
                }
                last_applied = Some(current);
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "the deploy did not finish within {} s",
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
                return self.fail(job, reason, Stop::WhatRuns).await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            // Observed as stored now: with what the provider recorded so far (its stack's
            // id, say), not as it was when the job began.
            let Some(now) = self.still_its(job).await? else {
                return Ok(cancelled(
                    "the cluster moved on (deleted?) during its deploy",
                ));
            };
            progress = provider.observe(&now).await;
        }
    }
}
