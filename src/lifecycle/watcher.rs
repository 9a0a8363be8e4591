//! The watcher of ready clusters: a cluster can stop long after its deploy finished (a
//! local node's process killed, its directory removed), and only asking its provider now
//! and again tells. Providers that cannot tell cheaply always answer that it runs.
//!
//! It also looks for what outlived its cluster: processes, addresses or files a provider
//! still holds of a cluster that is deleted or unknown to the store (left by a crash, a
//! bug, a database restored from a backup) are removed, with a warning naming it; and
//! the records of clusters deleted over `store.keep_deleted_days` ago are purged.

use std::time::Duration;

use tokio::sync::watch;

use super::Lifecycle;
use crate::domain::ClusterState;
use crate::domain::state::Mover;
use crate::providers::Liveness;
use crate::store::StoreError;

impl Lifecycle {
    /// Checks now, and then every `watch_interval_secs`, that ready clusters still exist
    /// (one whose provider finds it gone becomes failed with the provider's reason), how
    /// healthy they are (`health`), that nothing of deleted clusters runs, and which
    /// clusters expired (`expiry`).
    pub(super) async fn watch(self, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.inner.settings.watch_interval_secs.max(1));
        loop {
            if let Err(e) = self.check_ready_clusters().await {
                tracing::error!(error = %e, "checking the ready clusters");
            }
            if let Err(e) = self.assess_health(chrono::Utc::now()).await {
                tracing::error!(error = %e, "assessing the ready clusters' health");
            }
            if let Err(e) = self.remove_leftovers().await {
                tracing::error!(error = %e, "looking for what deleted clusters left");
            }
            if let Err(e) = self.assess_activity(chrono::Utc::now()).await {
                tracing::error!(error = %e, "asking whether the ready clusters are in use");
            }
            if let Err(e) = self.expire_clusters(chrono::Utc::now()).await {
                tracing::error!(error = %e, "looking for clusters that expired");
            }
            if let Err(e) = self.release_failed_clusters(chrono::Utc::now()).await {
                tracing::error!(error = %e, "giving back what failed clusters hold");
            }
            if let Err(e) = self.purge_deleted_clusters(chrono::Utc::now()).await {
                tracing::error!(error = %e, "purging clusters deleted long ago");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Forgets the clusters deleted `store.keep_deleted_days` before `now`, with every
    /// row that names them; how many. Nothing with `keep_deleted_days` = 0.
    pub async fn purge_deleted_clusters(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let Some(keep) = self.inner.keep_deleted else {
            return Ok(0);
        };
        let purged = self.inner.store.purge_deleted(now - keep).await?;
        if purged > 0 {
            tracing::info!(
                purged,
                "purged clusters deleted over {} days ago",
                keep.num_days()
            );
        }
        Ok(purged)
    }

    /// One round of `watch`; returns how many clusters it found stopped.
    pub(crate) async fn check_ready_clusters(&self) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut stopped = 0;
        for cluster in store.clusters_in_state(ClusterState::Ready).await? {
            let Some(provider) = self.inner.providers.get(cluster.spec.request.provider) else {
                continue;
            };
            match provider.check(&cluster).await {
                Ok(Liveness::Running) => {}
                Ok(Liveness::Stopped(reason)) => {
                    let reason = format!("stopped: {reason}");
                    tracing::warn!(cluster = %cluster.id, "{reason}");
                    if store
                        .transition(
                            cluster.id,
                            Mover::Watcher,
                            ClusterState::Failed,
                            &reason,
                            None,
                        )
                        .await?
                    {
                        stopped += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(cluster = %cluster.id, error = %e, "could not check the cluster")
                }
            }
        }
        Ok(stopped)
    }

    /// One round of cleaning failed deploys: each cluster that failed before it was ever
    /// ready, longer than `jobs.cleanup_failed_after` ago, gives back what it holds (its
    /// provider's `release`), once; its record, task tree and reports stay until it is
    /// deleted. Returns how many were cleaned.
    pub(crate) async fn release_failed_clusters(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        let Some(after) = self.inner.settings.cleanup_failed_after else {
            return Ok(0);
        };
        let store = &self.inner.store;
        let mut released = 0;
        for cluster in store.clusters_in_state(ClusterState::Failed).await? {
            // The time of its last change: when it failed, or when its reason last moved.
            if cluster.outputs.released_at.is_some() || now - cluster.updated_at < after.as_chrono()
            {
                continue;
            }
            // Only a deploy that never finished: a cluster that was ready once holds its
            // owner's data, kept until the owner deletes it.
            if store
                .transitions(cluster.id)
                .await?
                .iter()
                .any(|t| t.to == ClusterState::Ready)
            {
                continue;
            }
            let Some(provider) = self.inner.providers.get(cluster.spec.request.provider) else {
                continue;
            };
            match provider.release(&cluster).await {
                // Under way (Heat deletes the stack): the next round looks again.
                Ok(false) => {}
                Ok(true) => {
                    let reason = format!(
                        "{}; what it held was given back after {after} (jobs.cleanup_failed_after): \
                         its record, task tree and deployment log stay until it is deleted",
                        cluster.state_reason
                    );
                    if store.mark_released(cluster.id, reason).await? {
                        tracing::info!(cluster = %cluster.id, "a failed cluster's resources were given back");
                        released += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(cluster = %cluster.id, error = %e, "could not give back what a failed cluster holds")
                }
            }
        }
        Ok(released)
    }

    /// One round of looking for leftovers: whatever a provider holds of a cluster that is
    /// deleted or that the store does not know is removed. Returns for how many clusters.
    pub(crate) async fn remove_leftovers(&self) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut removed = 0;
        for provider in self.inner.providers.iter() {
            let held = match provider.holdings().await {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(provider = %provider.kind(), error = %e, "could not list what the provider holds");
                    continue;
                }
            };
            for id in held {
                // Listed before the store is asked: a cluster deleted meanwhile is
                // deleted for good, and one the store has not is no job's to make.
                let status = match store.state_of(id).await? {
                    Some(ClusterState::Deleted) => "deleted",
                    Some(ClusterState::Cancelled) => "cancelled",
                    None => "unknown to this server",
                    Some(_) => continue,
                };
                tracing::warn!(cluster = %id, provider = %provider.kind(), "cluster {id} is {status} but its provider still holds something of it: removing it");
                match provider.remove_holdings(id).await {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        tracing::warn!(cluster = %id, error = %e, "removing what the cluster left")
                    }
                }
            }
        }
        Ok(removed)
    }
}
