//! Clusters and their history: storing one, finding it, requests that change its state
//! (with the job that carries them out, in the same transaction), and every transition
//! recorded on the way.

use super::db::{Conn, params};
use chrono::Utc;
use secrecy::ExposeSecret;

use super::jobs::{JobKind, enqueue, job_queued, make_due_now};
use super::rows::{
    CLUSTER_COLUMNS, ClusterRow, parse_state, parse_time, read_row, timestamp, to_json,
};
use super::{Store, StoreError};
use crate::cluster::{Cluster, Outputs};
use crate::domain::state::Mover;
use crate::domain::{ClusterId, ClusterState, Resize, SlaveCount, TenantId, Transition};

/// The condition of a listing's page on its marker (`?2`, NULL from the start): after
/// it in creation order (the index `clusters_listing` walks this order).
const AFTER_MARKER: &str = "(CAST(?2 AS TEXT) IS NULL OR (created_at, id) > \
     (SELECT created_at, id FROM clusters WHERE id = ?2))";

/// `count` rows of `columns` of a listing's page: the tenant's clusters that are not
/// deleted, in creation order, after `after`, the first `offset` skipped.
fn listing_rows<T>(
    conn: &Conn,
    columns: &str,
    tenant: &TenantId,
    after: Option<ClusterId>,
    count: usize,
    offset: usize,
    read: impl FnMut(&super::db::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let after = after.map(|id| id.to_string());
    conn.query_map(
        &format!(
            "SELECT {columns} FROM clusters WHERE tenant = ?1 AND state <> 'deleted' \
             AND {AFTER_MARKER} ORDER BY created_at, id LIMIT ?3 OFFSET ?4"
        ),
        params![tenant.as_str(), after, count as i64, offset as i64],
        read,
    )
}

fn parse_id(id: &str) -> Result<ClusterId, StoreError> {
    id.parse().map_err(|_| StoreError::Corrupt {
        id: id.to_string(),
        problem: "its id is not a UUID".to_string(),
    })
}

impl Store {
    /// Stores a new cluster, pending, with its deploy job unless it is staged.
    pub async fn insert_cluster(&self, cluster: Cluster) -> Result<(), StoreError> {
        self.insert(cluster, false).await
    }

    /// Stores a new cluster as `insert_cluster` does, unless a cluster of another tenant
    /// that is not deleted is on its provider (which takes one tenant's clusters).
    pub async fn insert_cluster_of_sole_tenant(&self, cluster: Cluster) -> Result<(), StoreError> {
        self.insert(cluster, true).await
    }

    async fn insert(&self, cluster: Cluster, sole_tenant: bool) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let provider = cluster.spec.request.provider;
            if sole_tenant {
                let others: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM clusters WHERE provider = ?1 AND tenant <> ?2 AND state <> 'deleted')",
                    params![provider.as_str(), cluster.tenant.as_str()],
                    |row| row.get(0),
                )?;
                if others {
                    return Err(StoreError::OtherTenant(provider));
                }
            }
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM clusters WHERE tenant = ?1 AND name = ?2 AND state <> 'deleted')",
                params![cluster.tenant.as_str(), cluster.spec.request.name.as_str()],
                |row| row.get(0),
            )?;
            if taken {
                return Err(StoreError::NameTaken(cluster.spec.request.name.to_string()));
            }
            let now = timestamp(cluster.created_at);
            tx.execute(
                "INSERT INTO clusters (id, tenant, name, provider, state, state_reason, spec, outputs, \
                 key_name, public_key, private_key, created_at, updated_at, plan, delegation) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)",
                params![
                    cluster.id.to_string(),
                    cluster.tenant.as_str(),
                    cluster.spec.request.name.as_str(),
                    cluster.spec.request.provider.as_str(),
                    cluster.state.as_str(),
                    cluster.state_reason,
                    to_json(&cluster.spec)?,
                    to_json(&cluster.outputs)?,
                    cluster.keys.name,
                    cluster.keys.public_key,
                    cluster.keys.private_key.expose_secret(),
                    now,
                    to_json(&cluster.plan)?,
                    to_json(&cluster.delegation)?,
                ],
            )?;
            super::uses::record_uses(&tx, &cluster.tenant, cluster.id, &cluster.spec.uses)?;
            record_transition(
                &tx,
                cluster.id,
                None,
                cluster.state,
                &cluster.state_reason,
                None,
            )?;
            if !cluster.spec.staged {
                enqueue(&tx, cluster.id, JobKind::Deploy)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// A cluster that is not deleted; with a tenant, only that tenant's.
    pub async fn cluster(
        &self,
        tenant: Option<&TenantId>,
        id: ClusterId,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.cloned();
        self.read(move |conn| find_cluster(conn, tenant.as_ref(), id))
            .await
    }

    /// The state of a cluster, deleted ones included; `None` when the store never had it.
    pub async fn state_of(&self, id: ClusterId) -> Result<Option<ClusterState>, StoreError> {
        self.read(move |conn| Ok(find_any_cluster(conn, id)?.map(|cluster| cluster.state)))
            .await
    }

    /// The tenant's clusters that are not deleted, oldest first.
    pub async fn clusters(&self, tenant: &TenantId) -> Result<Vec<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            conn.query_map(
                &format!(
                    "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE tenant = ?1 AND state <> 'deleted' \
                     ORDER BY created_at, id"
                ),
                params![tenant.as_str()],
                read_row,
            )?
            .into_iter()
            .map(ClusterRow::into_cluster)
            .collect()
        })
        .await
    }

    /// Up to `count` of the tenant's clusters that are not deleted, in creation order,
    /// after the cluster `after` (from the start without one): one page of a listing,
    /// so that a listing of any size holds one page at a time.
    pub async fn clusters_after(
        &self,
        tenant: &TenantId,
        after: Option<ClusterId>,
        count: usize,
    ) -> Result<Vec<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            listing_rows(conn, CLUSTER_COLUMNS, &tenant, after, count, 0, read_row)?
                .into_iter()
                .map(ClusterRow::into_cluster)
                .collect()
        })
        .await
    }

    /// `clusters_after`, the clusters' ids only: for renderings that show locations.
    pub async fn cluster_ids_after(
        &self,
        tenant: &TenantId,
        after: Option<ClusterId>,
        count: usize,
    ) -> Result<Vec<ClusterId>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            listing_rows(conn, "id", &tenant, after, count, 0, |row| row.get(0))?
                .iter()
                .map(|id: &String| parse_id(id))
                .collect()
        })
        .await
    }

    /// The last cluster of the page of `count` after `after`, when more of the
    /// tenant's clusters follow it (the marker of the next page); `None` when the page
    /// ends the listing.
    pub async fn page_end(
        &self,
        tenant: &TenantId,
        after: Option<ClusterId>,
        count: usize,
    ) -> Result<Option<ClusterId>, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let offset = count.saturating_sub(1);
            let ids: Vec<String> =
                listing_rows(conn, "id", &tenant, after, 2, offset, |row| row.get(0))?;
            match ids.as_slice() {
                [last, _] => parse_id(last).map(Some),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Whether `id` is one of the tenant's clusters, deleted ones included (a listing's
    /// marker may have been deleted since its page was shown).
    pub async fn is_tenants(&self, tenant: &TenantId, id: ClusterId) -> Result<bool, StoreError> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM clusters WHERE id = ?1 AND tenant = ?2)",
                params![id.to_string(), tenant.as_str()],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Every tenant's clusters in `state`, oldest first: for the lifecycle's checks.
    pub async fn clusters_in_state(&self, state: ClusterState) -> Result<Vec<Cluster>, StoreError> {
        self.read(move |conn| {
            conn.query_map(
                &format!(
                    "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE state = ?1 ORDER BY created_at, id"
                ),
                params![state.as_str()],
                read_row,
            )?
            .into_iter()
            .map(ClusterRow::into_cluster)
            .collect()
        })
        .await
    }

    /// Starts tearing a cluster down: it becomes deleting and a delete job is queued.
    /// Asking again while a delete is queued changes nothing. `None` when the tenant has
    /// no such cluster.
    ///
    /// The cluster's deploy jobs are not ended here (one may be running, making nodes):
    /// they are made due now, run before the delete (a cluster runs one job at a time,
    /// the oldest first), find the cluster deleting and end cancelled, each by itself; the
    /// delete then finds whatever a deploy made.
    pub async fn request_delete(
        &self,
        tenant: &TenantId,
        id: ClusterId,
    ) -> Result<Option<Cluster>, StoreError> {
        self.request_delete_because(tenant, id, None).await
    }

    /// `request_delete`, with why the cluster is deleted when it is not its owner's asking
    /// (it expired): its reason while it is deleted. `InUse`, changing nothing, while
    /// clusters that are not deleted use it.
    pub async fn request_delete_because(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        because: Option<String>,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let dependents = super::uses::staying_dependents(&tx, id)?;
            if !dependents.is_empty() && find_cluster(&tx, Some(&tenant), id)?.is_some() {
                return Err(StoreError::InUse {
                    names: dependents.into_iter().map(|(_, name)| name).collect(),
                });
            }
            let cluster = delete_in(&tx, &tenant, id, because.as_deref())?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Deletes the tenant's cluster and every cluster that uses it, directly or not, in
    /// one transaction: each gets its delete job, the dependents' reasons name the cluster
    /// they go with, and each delete job waits for the clusters that use its cluster to be
    /// gone before it tears its own down. The cluster and its dependents, dependents
    /// first; `None` when the tenant has no such cluster.
    pub async fn request_delete_cascade(
        &self,
        tenant: &TenantId,
        id: ClusterId,
    ) -> Result<Option<(Cluster, Vec<Cluster>)>, StoreError> {
        let tenant = tenant.clone();
        let deleted = self
            .call(move |conn| {
                let tx = conn.transaction()?;
                let Some(root) = find_cluster(&tx, Some(&tenant), id)? else {
                    return Ok(None);
                };
                // Every dependent, each once, those that use others' dependents after them.
                let mut order: Vec<(ClusterId, String)> = Vec::new();
                let mut pending = vec![id];
                while let Some(next) = pending.pop() {
                    for (dependent, name) in super::uses::dependents(&tx, next)? {
                        order.retain(|(seen, _)| *seen != dependent);
                        order.push((dependent, name));
                        pending.push(dependent);
                    }
                }
                let name = root.spec.request.name.to_string();
                let mut dependents = Vec::with_capacity(order.len());
                for (dependent, _) in order.iter().rev() {
                    let reason = format!("delete requested with {name}, which it uses (cascade)");
                    if let Some(cluster) = delete_in(&tx, &tenant, *dependent, Some(&reason))? {
                        dependents.push(cluster);
                    }
                }
                let reason = if dependents.is_empty() {
                    "delete requested"
                } else {
                    "delete requested (cascade: the clusters that use it first)"
                };
                let root = delete_in(&tx, &tenant, id, Some(reason))?;
                tx.commit()?;
                Ok(root.map(|root| (root, dependents)))
            })
            .await?;
        if let Some((root, dependents)) = &deleted {
            for cluster in dependents.iter().chain([root]) {
                self.changed(cluster.id);
            }
        }
        Ok(deleted)
    }

    /// Cancels the tenant's cluster's deploy in flight: it moves to deleting with
    /// `reason` (which begins with `lifecycle::cancel::CANCELLING`, so that the delete
    /// ends it cancelled, its record kept), and the delete job is queued, in one
    /// transaction; the deploy, found deleting, ends and the delete removes what it made.
    /// `None` when the tenant has no such cluster; `WrongState`, changing nothing, when
    /// no deploy is in flight (a staged cluster's is not queued).
    pub async fn request_cancel(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        reason: String,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            if !cluster
                .state
                .can_move_to(ClusterState::Deleting, Mover::CancelRequest)
                || !job_queued(&tx, id, JobKind::Deploy)?
            {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "cancel",
                    needed: "deploying: a deploy in flight (pending with its deploy queued, \
                             deploying or installing)",
                });
            }
            move_state(&tx, &cluster, ClusterState::Deleting, &reason)?;
            make_due_now(&tx, id, JobKind::Deploy)?;
            enqueue(&tx, id, JobKind::Delete)?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Cancels the tenant's cluster's scale-out in flight: its plan and spec say the old
    /// slave count again, and a move within scaling records the resize back (from the
    /// new count to the old) with `reason`; the scale job, which looks at the latest
    /// resize as it goes, then removes the new slaves instead of waiting for them. `None`
    /// when the tenant has no such cluster; `WrongState`, changing nothing, when it is
    /// not scaling out.
    pub async fn request_cancel_scale(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        reason: String,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            let out = latest_resize_in(&tx, id)?
                .filter(|r| cluster.state == ClusterState::Scaling && r.to > r.from);
            let Some(resize) = out else {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "cancel",
                    needed: "deploying or scaling out (a scale-in hands its slaves' data over \
                             and is not cancelled)",
                });
            };
            let slaves = SlaveCount::new(resize.from).map_err(|problem| StoreError::Corrupt {
                id: id.to_string(),
                problem,
            })?;
            cluster.plan.set_slave_count(resize.from);
            cluster.spec.resize(slaves);
            tx.execute(
                "UPDATE clusters SET plan = ?2, spec = ?3, state_reason = ?4, updated_at = ?5 \
                 WHERE id = ?1",
                params![
                    id.to_string(),
                    to_json(&cluster.plan)?,
                    to_json(&cluster.spec)?,
                    reason,
                    timestamp(Utc::now())
                ],
            )?;
            // Recorded although the state stays: the resize the job does now.
            record_transition(
                &tx,
                id,
                Some(ClusterState::Scaling),
                ClusterState::Scaling,
                &reason,
                Some(Resize {
                    from: resize.to,
                    to: resize.from,
                }),
            )?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Stops a ready cluster, or starts a stopped one: it moves to stopping (starting)
    /// and the job that does it is queued, in one transaction. `None` when the tenant has
    /// no such cluster; `WrongState`, changing nothing, when the cluster is not in the
    /// state the operation starts from (another operation runs, say).
    pub async fn request_operation(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        operation: Operation,
    ) -> Result<Option<Cluster>, StoreError> {
        self.request_operation_because(tenant, id, operation, None)
            .await
    }

    /// `request_operation`, with why when it is not the owner's asking (the cluster
    /// expired): its reason while the operation runs.
    pub async fn request_operation_because(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        operation: Operation,
        because: Option<String>,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            let (by, to, job, reason) = operation.request();
            if !cluster.state.can_move_to(to, by) || job_queued(&tx, id, job)? {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: job.as_str(),
                    needed: operation.needs(),
                });
            }
            move_state(&tx, &cluster, to, because.as_deref().unwrap_or(reason))?;
            enqueue(&tx, id, job)?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Resizes a ready cluster to `slaves`: its plan and spec say the new count, it moves
    /// to scaling with the resize recorded on that move, and the scale job is queued, in
    /// one transaction. `None` when the tenant has no such cluster; `WrongState`,
    /// changing nothing, when it is not ready. The caller checked the count's bounds.
    pub async fn request_scale(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        slaves: SlaveCount,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            if !cluster
                .state
                .can_move_to(ClusterState::Scaling, Mover::ScaleRequest)
                || job_queued(&tx, id, JobKind::Scale)?
            {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "scale",
                    needed: "ready",
                });
            }
            let resize = Resize {
                from: cluster.plan.slave_count(),
                to: slaves.get(),
            };
            cluster.plan.set_slave_count(resize.to);
            cluster.spec.resize(slaves);
            tx.execute(
                "UPDATE clusters SET plan = ?2, spec = ?3 WHERE id = ?1",
                params![
                    id.to_string(),
                    to_json(&cluster.plan)?,
                    to_json(&cluster.spec)?
                ],
            )?;
            let reason = format!("scaling from {} to {} slaves", resize.from, resize.to);
            move_state(&tx, &cluster, ClusterState::Scaling, &reason)?;
            tx.execute(
                "UPDATE transitions SET resize_from = ?2, resize_to = ?3 \
                 WHERE id = (SELECT MAX(id) FROM transitions WHERE cluster_id = ?1)",
                params![id.to_string(), resize.from, resize.to],
            )?;
            enqueue(&tx, id, JobKind::Scale)?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Sets how long the tenant's cluster may live, and the attributes its rendering
    /// shows for it; its state does not change. `None` when the tenant has no such
    /// cluster; `WrongState` once it is being deleted.
    pub async fn set_lifetime(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        lifetime: crate::domain::Lifetime,
        shown: Vec<(String, crate::domain::Scalar)>,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            if matches!(
                cluster.state,
                ClusterState::Deleting | ClusterState::Deleted
            ) {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "a change of its lifetime",
                    needed: "not deleting",
                });
            }
            cluster.spec.lifetime = lifetime;
            cluster.spec.attributes.extend(shown);
            // A warning that it expires soon may no longer hold.
            let reason = crate::domain::lifetime::without_warning(&cluster.state_reason);
            tx.execute(
                "UPDATE clusters SET spec = ?2, state_reason = ?3, updated_at = ?4 WHERE id = ?1",
                params![
                    id.to_string(),
                    to_json(&cluster.spec)?,
                    reason,
                    timestamp(Utc::now())
                ],
            )?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Replaces a staged cluster's spec and plan (a change before its deploy), in one
    /// transaction with the check that it is still staged: `WrongState` once its deploy
    /// was asked for or it left pending, `None` when the tenant has no such cluster.
    pub async fn update_staged(
        &self,
        tenant: &TenantId,
        id: ClusterId,
        spec: crate::cluster::ClusterSpec,
        plan: crate::frameworks::plan::Plan,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            let deploying = job_queued(&tx, id, JobKind::Deploy)?;
            if cluster.state != ClusterState::Pending || !cluster.spec.staged || deploying {
                return Err(StoreError::WrongState {
                    state: if deploying && cluster.state == ClusterState::Pending {
                        ClusterState::Deploying
                    } else {
                        cluster.state
                    },
                    action: "a change of its attributes",
                    needed: "pending (staged, before ?action=deploy)",
                });
            }
            tx.execute(
                "UPDATE clusters SET spec = ?2, plan = ?3, updated_at = ?4 WHERE id = ?1",
                params![
                    id.to_string(),
                    to_json(&spec)?,
                    to_json(&plan)?,
                    timestamp(Utc::now())
                ],
            )?;
            super::uses::record_uses(&tx, &tenant, id, &spec.uses)?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// Records that what a failed cluster held was given back, with why in its reason;
    /// `false` when it is no longer failed (deleted meanwhile).
    pub async fn mark_released(&self, id: ClusterId, reason: String) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_any_cluster(&tx, id)? else {
                return Ok(false);
            };
            if cluster.state != ClusterState::Failed {
                return Ok(false);
            }
            // Its addresses may be another cluster's now.
            cluster.outputs = crate::cluster::Outputs {
                stack_id: cluster.outputs.stack_id.take(),
                // What Heat said of the stack stays: the tree's record of why it failed.
                heat_events: std::mem::take(&mut cluster.outputs.heat_events),
                released_at: Some(Utc::now()),
                ..crate::cluster::Outputs::default()
            };
            tx.execute(
                "UPDATE clusters SET outputs = ?2, state_reason = ?3 WHERE id = ?1",
                params![id.to_string(), to_json(&cluster.outputs)?, reason],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// The resize the cluster's latest move into scaling began.
    pub async fn latest_resize(&self, id: ClusterId) -> Result<Option<Resize>, StoreError> {
        Ok(self
            .transitions(id)
            .await?
            .into_iter()
            .rev()
            .find_map(|t| t.resize))
    }

    /// Queues the deploy of a staged (pending) cluster. `None` when there is no such cluster.
    pub async fn request_deploy(
        &self,
        tenant: &TenantId,
        id: ClusterId,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, Some(&tenant), id)? else {
                return Ok(None);
            };
            if cluster.state != ClusterState::Pending {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "deploy",
                    needed: "pending (created with icclab.disco.stage=\"true\")",
                });
            }
            // It deploys with what the clusters it uses export now: they must be up.
            super::uses::check_ready(&tx, &tenant, &cluster.spec.uses)?;
            if !job_queued(&tx, id, JobKind::Deploy)? {
                enqueue(&tx, id, JobKind::Deploy)?;
            }
            tx.commit()?;
            Ok(Some(cluster))
        })
        .await
    }

    /// Moves a cluster to `to` if the lifecycle lets `by` make that move from its current
    /// state, merging `outputs` into its own. Returns whether it moved: `false` means the
    /// cluster is no longer `by`'s to move (a delete overtook a deploy) and the caller
    /// should stand back.
    pub async fn transition(
        &self,
        id: ClusterId,
        by: Mover,
        to: ClusterState,
        reason: impl Into<String>,
        outputs: Option<Outputs>,
    ) -> Result<bool, StoreError> {
        self.move_if_mover(id, by, Some(to), reason.into(), outputs, None)
            .await
    }

    /// `transition` for a scale job, which moves the cluster only while the resize it
    /// carries out is still the latest: once a cancel recorded another (the resize
    /// back), `false`, and the job goes on with that one.
    pub async fn transition_resizing(
        &self,
        id: ClusterId,
        by: Mover,
        to: ClusterState,
        reason: impl Into<String>,
        outputs: Option<Outputs>,
        resize: Resize,
    ) -> Result<bool, StoreError> {
        self.move_if_mover(id, by, Some(to), reason.into(), outputs, Some(resize))
            .await
    }

    /// Changes only why a cluster waits in the state it is in, if that state is `by`'s;
    /// returns whether it did.
    pub async fn set_reason(
        &self,
        id: ClusterId,
        by: Mover,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.move_if_mover(id, by, None, reason.to_string(), None, None)
            .await
    }

    /// `transition` and `set_reason`: moves to `to` (`None`: the state it is in) if `by`
    /// may, and wakes whoever waits on the cluster when it did.
    async fn move_if_mover(
        &self,
        id: ClusterId,
        by: Mover,
        to: Option<ClusterState>,
        reason: String,
        outputs: Option<Outputs>,
        resizing: Option<Resize>,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_any_cluster(&tx, id)? else {
                return Ok(false);
            };
            let to = to.unwrap_or(cluster.state);
            if !cluster.state.can_move_to(to, by) {
                return Ok(false);
            }
            if let Some(resize) = resizing
                && latest_resize_in(&tx, id)? != Some(resize)
            {
                return Ok(false);
            }
            if let Some(outputs) = outputs {
                cluster.outputs.merge(outputs);
                tx.execute(
                    "UPDATE clusters SET outputs = ?2 WHERE id = ?1",
                    params![id.to_string(), to_json(&cluster.outputs)?],
                )?;
            }
            move_state(&tx, &cluster, to, &reason)?;
            tx.commit()?;
            Ok(true)
        })
        .await
        .inspect(|&moved| {
            if moved {
                self.changed(id)
            }
        })
    }

    /// Replaces what the provider keeps to act for the cluster's owner.
    pub async fn set_delegation(
        &self,
        id: ClusterId,
        delegation: &crate::cluster::Delegation,
    ) -> Result<(), StoreError> {
        let text = to_json(delegation)?;
        self.call(move |conn| {
            conn.execute(
                "UPDATE clusters SET delegation = ?2 WHERE id = ?1",
                params![id.to_string(), text],
            )?;
            Ok(())
        })
        .await
    }

    /// Keeps what a cluster's master reported of its outputs' files (`POST
    /// /disco/UUID/outputs`), over what it reported before; `false` when the cluster is
    /// deleted.
    pub async fn set_reported_files(
        &self,
        id: ClusterId,
        files: std::collections::BTreeMap<String, String>,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_cluster(&tx, None, id)? else {
                return Ok(false);
            };
            cluster.outputs.reported_files.extend(files);
            tx.execute(
                "UPDATE clusters SET outputs = ?2 WHERE id = ?1",
                params![id.to_string(), to_json(&cluster.outputs)?],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// A cluster's state changes, oldest first.
    pub async fn transitions(&self, id: ClusterId) -> Result<Vec<Transition>, StoreError> {
        self.read(move |conn| read_transitions(conn, id)).await
    }
}

/// A cluster's state changes, oldest first.
pub(super) fn read_transitions(conn: &Conn, id: ClusterId) -> Result<Vec<Transition>, StoreError> {
    let rows = conn.query_map(
        "SELECT from_state, to_state, reason, at, resize_from, resize_to, repair \
         FROM transitions WHERE cluster_id = ?1 ORDER BY id",
        params![id.to_string()],
        |row| {
            Ok((
                row.get::<Option<String>>(0)?,
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<Option<u16>>(4)?,
                row.get::<Option<u16>>(5)?,
                row.get::<Option<String>>(6)?,
            ))
        },
    )?;
    rows.into_iter()
        .map(|row| {
            let (from, to, reason, at, resize_from, resize_to, repair) = row;
            let corrupt = |problem: String| StoreError::Corrupt {
                id: id.to_string(),
                problem,
            };
            Ok(Transition {
                from: from
                    .as_deref()
                    .map(parse_state)
                    .transpose()
                    .map_err(corrupt)?,
                to: parse_state(&to).map_err(corrupt)?,
                reason,
                at: parse_time(&at).map_err(corrupt)?,
                resize: resize_from
                    .zip(resize_to)
                    .map(|(from, to)| Resize { from, to }),
                repair: repair
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|e| corrupt(format!("repair: {e}")))?,
            })
        })
        .collect()
}

/// Writes a move the caller checked the lifecycle allows; to the state the cluster is in,
/// only its reason changes and no transition is recorded.
pub(super) fn move_state(
    conn: &Conn,
    cluster: &Cluster,
    to: ClusterState,
    reason: &str,
) -> Result<(), StoreError> {
    move_state_resizing(conn, cluster, to, reason, None)
}

/// `move_state`, recording on the transition the resize it begins, if any.
fn move_state_resizing(
    conn: &Conn,
    cluster: &Cluster,
    to: ClusterState,
    reason: &str,
    resize: Option<Resize>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE clusters SET state = ?2, state_reason = ?3, updated_at = ?4 WHERE id = ?1",
        params![
            cluster.id.to_string(),
            to.as_str(),
            reason,
            timestamp(Utc::now())
        ],
    )?;
    if to == cluster.state {
        return Ok(());
    }
    // Whether it was in use before (a stop, a scale) says nothing of it now: its idle
    // clock starts again at this ready.
    if to == ClusterState::Ready {
        conn.execute(
            "UPDATE clusters SET activity = '' WHERE id = ?1",
            params![cluster.id.to_string()],
        )?;
    }
    record_transition(conn, cluster.id, Some(cluster.state), to, reason, resize)?;
    let moved = Cluster {
        state: to,
        state_reason: reason.to_string(),
        ..cluster.clone()
    };
    super::durations::record_run(conn, cluster.state, &moved)
}

fn record_transition(
    conn: &Conn,
    id: ClusterId,
    from: Option<ClusterState>,
    to: ClusterState,
    reason: &str,
    resize: Option<Resize>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO transitions (cluster_id, from_state, to_state, reason, at, resize_from, resize_to) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.to_string(),
            from.map(ClusterState::as_str),
            to.as_str(),
            reason,
            timestamp(Utc::now()),
            resize.map(|r| r.from),
            resize.map(|r| r.to),
        ],
    )?;
    Ok(())
}

/// The resize the cluster's latest transition that records one began.
fn latest_resize_in(conn: &Conn, id: ClusterId) -> Result<Option<Resize>, StoreError> {
    conn.query_opt(
        "SELECT resize_from, resize_to FROM transitions WHERE cluster_id = ?1 \
             AND resize_from IS NOT NULL ORDER BY id DESC LIMIT 1",
        params![id.to_string()],
        |row| {
            Ok(Resize {
                from: row.get(0)?,
                to: row.get(1)?,
            })
        },
    )
}

/// Moves the tenant's cluster to deleting with its delete job (its deploys made due, so
/// that they end first), in `tx`; asking again while a delete is queued changes nothing.
fn delete_in(
    tx: &Conn,
    tenant: &TenantId,
    id: ClusterId,
    because: Option<&str>,
) -> Result<Option<Cluster>, StoreError> {
    let Some(cluster) = find_cluster(tx, Some(tenant), id)? else {
        return Ok(None);
    };
    let delete_queued = job_queued(tx, id, JobKind::Delete)?;
    if cluster.state == ClusterState::Deleting && delete_queued {
        return Ok(Some(cluster));
    }
    if cluster
        .state
        .can_move_to(ClusterState::Deleting, Mover::DeleteRequest)
    {
        let reason = because.unwrap_or("delete requested");
        move_state(tx, &cluster, ClusterState::Deleting, reason)?;
    }
    make_due_now(tx, id, JobKind::Deploy)?;
    enqueue(tx, id, JobKind::Delete)?;
    find_cluster(tx, Some(tenant), id)
}

pub(super) fn find_cluster(
    conn: &Conn,
    tenant: Option<&TenantId>,
    id: ClusterId,
) -> Result<Option<Cluster>, StoreError> {
    let found = find_any_cluster(conn, id)?;
    Ok(found.filter(|cluster| {
        cluster.state != ClusterState::Deleted && tenant.is_none_or(|t| *t == cluster.tenant)
    }))
}

fn find_any_cluster(conn: &Conn, id: ClusterId) -> Result<Option<Cluster>, StoreError> {
    conn.query_opt(
        &format!("SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = ?1"),
        params![id.to_string()],
        read_row,
    )?
    .map(ClusterRow::into_cluster)
    .transpose()
}

/// What a user may ask of a running cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Stop,
    Start,
}

impl Operation {
    /// Who asks, the state the cluster moves to, the job that does it, and why it waits.
    fn request(self) -> (Mover, ClusterState, JobKind, &'static str) {
        match self {
            Operation::Stop => (
                Mover::StopRequest,
                ClusterState::Stopping,
                JobKind::Stop,
                "stop requested",
            ),
            Operation::Start => (
                Mover::StartRequest,
                ClusterState::Starting,
                JobKind::Start,
                "start requested",
            ),
        }
    }

    /// The state the operation starts from, as a refusal says it.
    fn needs(self) -> &'static str {
        match self {
            Operation::Stop => "ready (start a stopped cluster with ?action=start)",
            Operation::Start => "stopped (stop a ready cluster with ?action=stop)",
        }
    }
}
