//! A delete job: asks the provider to tear a deleting cluster down and follows the
//! tear-down until nothing is left, or it fails or overruns its deadline (the cluster is
//! then failed, and a DELETE again tries again). A delete that carries a cancel
//! (`cancel`) ends the cluster cancelled instead, its record kept.

use chrono::Utc;

use super::cancel::cancelled_reason;
use super::{Attempt, Lifecycle, Stop};
use crate::domain::ClusterState;
use crate::providers::{ProviderError, Teardown};
use crate::store::{Job, JobOutcome, StoreError};

impl Lifecycle {
    pub(super) async fn delete(&self, job: &Job) -> Result<Attempt, StoreError> {
        let (cluster, provider) = match self.target(job).await? {
            Ok(found) => found,
            Err(attempt) => return Ok(attempt),
        };
        let store = &self.inner.store;
        let deadline = Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.delete_timeout_secs).unwrap_or(i64::MAX / 2),
            );
        let waited = std::time::Instant::now();
        // A used cluster goes after the clusters that use it (a cascade deletes them at
        // once): they may still reach it while they are torn down.
        let mut said = String::new();
        loop {
            let dependents = store.dependents(cluster.id).await?;
            if dependents.is_empty() {
                break;
            }
            let names: Vec<String> = dependents.into_iter().map(|(_, name)| name).collect();
            if Utc::now() > deadline {
                let reason = format!(
                    "delete failed: {} still {} it after {} s; DELETE again to retry",
                    names.join(", "),
                    if names.len() == 1 { "uses" } else { "use" },
                    self.inner.settings.delete_timeout_secs
                );
                return self.fail(job, reason, Stop::Nothing).await;
            }
            let waiting = format!(
                "deleting: waiting for {} to be deleted first",
                names.join(", ")
            );
            if said != waiting {
                store
                    .set_reason(cluster.id, job.kind.mover(), &waiting)
                    .await?;
                said = waiting;
            }
            self.pause(waited.elapsed(), provider.as_ref()).await;
        }
        // Its own tear-down has the whole of its time, however long the others' took.
        let started = std::time::Instant::now();
        let deadline = Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.delete_timeout_secs).unwrap_or(i64::MAX / 2),
            );
        // A cancelled cluster holds nothing (its credential went with its stack): the
        // delete of its record asks no provider.
        let was_cancelled = store
            .transitions(cluster.id)
            .await?
            .last()
            .is_some_and(|t| t.from == Some(ClusterState::Cancelled));
        let mut teardown = if was_cancelled {
            Ok(Teardown::Gone)
        } else {
            provider.delete(&cluster).await
        };
        loop {
            match teardown {
                Ok(Teardown::Gone) => {
                    // A cancelled deploy keeps its record. The move into deleting says so
                    // (the reason may have changed since: a retry's).
                    let asked = store
                        .transitions(cluster.id)
                        .await?
                        .into_iter()
                        .rev()
                        .find(|t| {
                            t.to == ClusterState::Deleting && t.from != Some(ClusterState::Deleting)
                        })
                        .map(|t| t.reason)
                        .unwrap_or_default();
                    let (state, reason) = match cancelled_reason(&asked) {
                        Some(reason) => (ClusterState::Cancelled, reason),
                        None => (ClusterState::Deleted, "deleted".to_string()),
                    };
                    store
                        .transition(cluster.id, job.kind.mover(), state, &reason, None)
                        .await?;
                    return Ok(Attempt::Finished(JobOutcome::Done, reason));
                }
                Ok(Teardown::InProgress) => {}
                Err(ProviderError::Transient(e)) => {
                    return Ok(self.provider_retry(cluster.spec.request.provider, e));
                }
                Err(ProviderError::Permanent(e)) => {
                    self.provider_failed(cluster.spec.request.provider);
                    let reason = format!("delete failed: {e}");
                    return self.fail(job, reason, Stop::Nothing).await;
                }
            }
            if Utc::now() > deadline {
                let reason = format!(
                    "delete failed: not finished within {} s; DELETE again to retry",
                    self.inner.settings.delete_timeout_secs
                );
                return self.fail(job, reason, Stop::Nothing).await;
            }
            self.pause(started.elapsed(), provider.as_ref()).await;
            teardown = provider.observe_delete(&cluster).await;
        }
    }
}
