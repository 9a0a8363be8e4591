//! Cancelling a deploy or a scale-out in flight (`?action=cancel`). A scale-out's
//! cancel records the resize back (`Store::request_cancel_scale`); the scale job, which
//! looks at the latest resize as it goes, gives the new slaves up and removes them, and
//! the cluster is ready again with its old count. A deploy's: the cluster moves to deleting with
//! a reason that says it is a cancel, the deploy job finds it deleting and ends, and the
//! delete job removes whatever the deploy made (processes, addresses, stack) and ends
//! the cluster `cancelled` instead of deleted: its record, task tree and deployment log
//! stay readable until its owner deletes it.

use super::Lifecycle;
use crate::cluster::Cluster;
use crate::domain::{ClusterId, TenantId};
use crate::store::StoreError;

/// How the reason of a cluster whose deploy is being cancelled begins.
pub const CANCELLING: &str = "cancelling: ";
/// How the reason of the move that cancels a scale-out begins.
pub const CANCELLING_SCALE: &str = "cancelling the scale: ";

impl Lifecycle {
    /// Cancels the tenant's cluster's deploy; `None` when it has no such cluster, a 409
    /// (`WrongState`) when no deploy is in flight.
    pub async fn request_cancel(
        &self,
        tenant: &TenantId,
        id: ClusterId,
    ) -> Result<Option<Cluster>, StoreError> {
        let Some(cluster) = self.inner.store.cluster(Some(tenant), id).await? else {
            return Ok(None);
        };
        if cluster.state == crate::domain::ClusterState::Scaling {
            let reason = format!(
                "{CANCELLING_SCALE}the scale-out was cancelled by its owner; its new slaves are \
                 being removed"
            );
            let cancelled = self
                .inner
                .store
                .request_cancel_scale(tenant, id, reason)
                .await?;
            self.nudge();
            return Ok(cancelled);
        }
        let reason = format!(
            "{CANCELLING}the deploy was cancelled by its owner while {}; what it made is being removed",
            cluster.state
        );
        let cancelled = self.inner.store.request_cancel(tenant, id, reason).await?;
        // The deploy ends at its next look; the delete runs after it.
        self.nudge();
        self.wake();
        Ok(cancelled)
    }
}

/// The reason a cancelled cluster keeps once what its deploy made is gone.
pub(super) fn cancelled_reason(cancelling: &str) -> Option<String> {
    let why = cancelling.strip_prefix(CANCELLING)?;
    let why = why.split_once("; what it made").map_or(why, |(why, _)| why);
    Some(format!(
        "cancelled: {why}; nothing of it runs or is held any more (its record, task tree and \
         deployment log stay until it is deleted)"
    ))
}
