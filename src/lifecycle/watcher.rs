//! The watcher of ready clusters: a cluster can stop long after its deploy finished (a
//! local node's process killed, its directory removed), and only asking its provider now
//! and again tells. Providers that cannot tell cheaply always answer that it runs.

use std::time::Duration;

use tokio::sync::watch;

use super::Lifecycle;
use crate::domain::ClusterState;
use crate::domain::state::Mover;
use crate::providers::Liveness;
use crate::store::StoreError;

impl Lifecycle {
    /// Checks now, and then every `watch_interval_secs`, that ready clusters still run;
    /// one whose provider finds it stopped becomes failed with the provider's reason.
    pub(super) async fn watch(self, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.inner.settings.watch_interval_secs.max(1));
        loop {
            if let Err(e) = self.check_ready_clusters().await {
                tracing::error!(error = %e, "checking the ready clusters");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
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
}
