//! A delete job: asks the provider to tear a deleting cluster down and follows the
//! tear-down until nothing is left, or it fails or overruns its deadline (the cluster is
//! then failed, and a DELETE again tries again).

use chrono::Utc;

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
        let started = std::time::Instant::now();
        let mut teardown = provider.delete(&cluster).await;
        loop {
            match teardown {
                Ok(Teardown::Gone) => {
                    store
                        .transition(
                            cluster.id,
                            job.kind.mover(),
                            ClusterState::Deleted,
                            "deleted",
                            None,
                        )
                        .await?;
                    return Ok(Attempt::Finished(JobOutcome::Done, "deleted".to_string()));
                }
                Ok(Teardown::InProgress) => {}
                Err(ProviderError::Transient(e)) => return Ok(Attempt::Retry(e)),
                Err(ProviderError::Permanent(e)) => {
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
