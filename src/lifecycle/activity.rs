//! Whether ready clusters are in use: each watcher round asks the provider for the
//! activity of every ready cluster that has a `max_idle` (on VMs, the master's health
//! reporter ran the activity steps and sent their answers in its heartbeat), and stores
//! when it was last in use (`domain::activity`); `expiry` ends it once it was idle for
//! its `max_idle`.

use chrono::{DateTime, Utc};

use super::Lifecycle;
use crate::domain::ClusterState;
use crate::domain::activity::Activity;
use crate::store::StoreError;

impl Lifecycle {
    /// One round; returns how many clusters were looked at.
    pub(crate) async fn assess_activity(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut looked = 0;
        for cluster in store.clusters_in_state(ClusterState::Ready).await? {
            if cluster.spec.lifetime.max_idle.is_none() {
                continue;
            }
            let Some(provider) = self.inner.providers.get(cluster.spec.request.provider) else {
                continue;
            };
            // Since when it is ready: the idle clock never starts before.
            let ready_since = store
                .transitions(cluster.id)
                .await?
                .iter()
                .rev()
                .find(|t| t.to == ClusterState::Ready && t.from != Some(ClusterState::Ready))
                .map_or(cluster.updated_at, |t| t.at);
            let answers = if provider.heartbeats() {
                // The master's health reporter ran the steps: its last heartbeat since
                // the cluster was ready, if it is not stale.
                let timeout = chrono::Duration::seconds(
                    i64::try_from(self.inner.settings.health.heartbeat_timeout_secs)
                        .unwrap_or(i64::MAX / 2),
                );
                store
                    .heartbeats(cluster.id)
                    .await?
                    .into_iter()
                    .find(|h| h.node == "master" && h.at >= ready_since && now - h.at <= timeout)
                    .map(|beat| beat.activity)
                    .filter(|activity| !activity.is_empty())
            } else {
                let composition = match self.composition_for(&cluster, provider.as_ref()).await? {
                    Ok(composition) => composition,
                    Err(reason) => {
                        tracing::warn!(cluster = %cluster.id, %reason, "cannot ask whether the cluster is in use");
                        continue;
                    }
                };
                match provider.activity(&cluster, &composition).await {
                    Ok(answers) => answers,
                    Err(e) => {
                        tracing::warn!(cluster = %cluster.id, error = %e, "could not ask whether the cluster is in use");
                        continue;
                    }
                }
            };
            // Nothing can tell: the cluster never idles.
            let Some(answers) = answers else {
                continue;
            };
            let activity = Activity::assess(cluster.activity.as_ref(), &answers, ready_since, now);
            if cluster
                .activity
                .as_ref()
                .is_none_or(|a| a.busy != activity.busy)
            {
                tracing::info!(cluster = %cluster.id, busy = activity.busy, what = %activity.what, "the cluster's activity changed");
            }
            store.set_activity(cluster.id, activity).await?;
            looked += 1;
        }
        Ok(looked)
    }
}
