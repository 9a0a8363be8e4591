//! Clusters that expire: a partial update that changes a cluster's lifetime (its owner
//! extends it), and the watcher's round that stops or deletes the clusters whose time
//! came, saying why. Expiry is computed from stored times (creation, `max_age`,
//! `expire_at`), so a restart of the service neither loses nor resets it.

use chrono::{DateTime, Utc};

use super::Lifecycle;
use crate::cluster::Cluster;
use crate::cluster::lifetime::{self, LifetimeError};
use crate::domain::attributes::LIFETIME;
use crate::domain::lifetime::without_warning;
use crate::domain::state::Mover;
use crate::domain::{ClusterId, ClusterState, LifetimePolicy, OnExpiry, TenantId};
use crate::occi::text::Attribute;
use crate::store::{Operation, Store, StoreError};

/// Why a change of lifetime was refused.
#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    #[error(transparent)]
    Lifetime(#[from] LifetimeError),
    /// An attribute that is not a lifetime's, or one given twice.
    #[error("{attribute}: {expected}")]
    Attribute { attribute: String, expected: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a partial update's attributes all set a lifetime (and none the slave count).
pub fn sets_lifetime(attributes: &[Attribute]) -> bool {
    !attributes.is_empty()
        && attributes
            .iter()
            .all(|a| LIFETIME.contains(&a.name.as_str()))
}

/// Changes the tenant's cluster's lifetime as the attributes say, within the operator's
/// policy: `None` when it has no such cluster. Nothing is stored when any attribute is
/// refused.
pub async fn extend(
    store: &Store,
    policy: &LifetimePolicy,
    tenant: &TenantId,
    id: ClusterId,
    attributes: &[Attribute],
) -> Result<Option<Cluster>, ExtendError> {
    for (i, attribute) in attributes.iter().enumerate() {
        if !LIFETIME.contains(&attribute.name.as_str()) {
            return Err(ExtendError::Attribute {
                attribute: attribute.name.chars().take(80).collect(),
                expected: format!("only {} change together", LIFETIME.join(", ")),
            });
        }
        if attributes[..i].iter().any(|a| a.name == attribute.name) {
            return Err(ExtendError::Attribute {
                attribute: attribute.name.clone(),
                expected: "one value, given once".to_string(),
            });
        }
    }
    let Some(cluster) = store.cluster(Some(tenant), id).await? else {
        return Ok(None);
    };
    let get = |name: &str| attributes.iter().find(|a| a.name == name).map(|a| &a.value);
    let lifetime = lifetime::changed(
        cluster.spec.lifetime,
        get,
        cluster.created_at,
        Utc::now(),
        policy,
    )?;
    let shown = attributes
        .iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect();
    Ok(store.set_lifetime(tenant, id, lifetime, shown).await?)
}

/// How the reason of a cluster stopped or deleted because it expired begins.
pub const EXPIRED: &str = "expired, ";

/// The states in which an expired cluster is acted on: settled ones (an operation in
/// flight finishes first).
const SETTLED: [ClusterState; 5] = [
    ClusterState::Pending,
    ClusterState::Ready,
    ClusterState::Stopped,
    ClusterState::Failed,
    ClusterState::Cancelled,
];

impl Lifecycle {
    /// One round of expiry at `now`: each settled cluster whose time came is stopped
    /// (`on_expiry = stop`, a ready one) or deleted, with why in its state reason; one
    /// whose time comes within the warning is told so in its reason. Returns how many
    /// were acted on.
    pub(crate) async fn expire_clusters(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let warning = chrono::Duration::seconds(
            i64::try_from(self.inner.settings.expiry_warning_secs).unwrap_or(i64::MAX / 2),
        );
        let mut acted = 0;
        for state in SETTLED {
            for cluster in store.clusters_in_state(state).await? {
                let lifetime = cluster.spec.lifetime;
                let Some(expiry) = cluster.expiry() else {
                    continue;
                };
                if expiry.at > now {
                    // A cluster in use is not about to idle out, whatever its clock says.
                    let in_use = cluster.activity.as_ref().is_some_and(|a| a.busy);
                    let soon = expiry.at - now <= warning && !in_use;
                    if soon && cluster.state == ClusterState::Ready {
                        self.warn_of_expiry(&cluster, &expiry.at, lifetime.on_expiry)
                            .await?;
                    } else if !soon
                        && without_warning(&cluster.state_reason) != cluster.state_reason
                    {
                        // It was warned, and is in use again (or was extended).
                        self.inner
                            .store
                            .set_reason(
                                cluster.id,
                                Mover::Watcher,
                                without_warning(&cluster.state_reason),
                            )
                            .await?;
                    }
                    continue;
                }
                // Its owner may have extended it since the listing: as stored now.
                let Some(cluster) = store.cluster(None, cluster.id).await? else {
                    continue;
                };
                let lifetime = cluster.spec.lifetime;
                let Some(expiry) = cluster.expiry().filter(|e| e.at <= now) else {
                    continue;
                };
                let tenant = &cluster.tenant;
                let stops = self
                    .inner
                    .providers
                    .get(cluster.spec.request.provider)
                    .is_some_and(|provider| provider.stops());
                match (lifetime.on_expiry, cluster.state) {
                    // Nothing of it runs that a stop would end (the file provider's).
                    (OnExpiry::Stop, _) if !stops => continue,
                    (OnExpiry::Stop, ClusterState::Ready) => {
                        let reason = format!("{EXPIRED}{}: stopping", expiry.why);
                        match store
                            .request_operation_because(
                                tenant,
                                cluster.id,
                                Operation::Stop,
                                Some(reason.clone()),
                            )
                            .await
                        {
                            Ok(_) => tracing::warn!(cluster = %cluster.id, "{reason}"),
                            // Another operation came first: the next round looks again.
                            Err(StoreError::WrongState { .. }) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    // Stopped already, or nothing to stop: it waits for its owner.
                    (OnExpiry::Stop, _) => continue,
                    (OnExpiry::Delete, _) => {
                        let reason = format!("{EXPIRED}{}: deleting", expiry.why);
                        match store
                            .request_delete_because(tenant, cluster.id, Some(reason.clone()))
                            .await
                        {
                            Ok(_) => tracing::warn!(cluster = %cluster.id, "{reason}"),
                            // Clusters use it: it waits for them (each expires by itself).
                            Err(StoreError::InUse { .. }) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                }
                acted += 1;
            }
        }
        if acted > 0 {
            self.wake();
        }
        Ok(acted)
    }

    /// Says in a ready cluster's reason when it expires and what then, once.
    async fn warn_of_expiry(
        &self,
        cluster: &Cluster,
        at: &DateTime<Utc>,
        on_expiry: OnExpiry,
    ) -> Result<(), StoreError> {
        let when = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let warning = format!(
            "expires at {when} and is then {} (extend it by changing {}, {} or {}, or use it)",
            on_expiry.done(),
            crate::domain::attributes::MAX_AGE,
            crate::domain::attributes::EXPIRE_AT,
            crate::domain::attributes::MAX_IDLE,
        );
        if cluster.state_reason.contains(&warning) {
            return Ok(());
        }
        let reason = format!("{}; {warning}", without_warning(&cluster.state_reason));
        self.inner
            .store
            .set_reason(cluster.id, Mover::Watcher, &reason)
            .await
            .map(drop)
    }
}
