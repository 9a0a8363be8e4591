//! A cluster's health as the watcher last assessed it, the heartbeats its nodes send
//! (their checks' outcomes, on VMs), and the request that repairs it.

use super::db::params;
use chrono::{DateTime, Utc};

use super::clusters::{find_cluster, move_state};
use super::jobs::{JobKind, enqueue, job_queued};
use super::rows::{parse_time, timestamp, to_json};
use super::{Store, StoreError};
use crate::cluster::Cluster;
use crate::domain::activity::ComponentActivity;
use crate::domain::health::{CheckOutcome, RepairTarget};
use crate::domain::state::Mover;
use crate::domain::{ClusterId, ClusterState, Health, TenantId};

/// A node's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub node: String,
    pub at: DateTime<Utc>,
    pub checks: Vec<CheckOutcome>,
    /// What its components' activity steps said (the master's).
    pub activity: Vec<ComponentActivity>,
}

/// A heartbeat's `checks` column: its checks and activity (a bare list of checks
/// before activity was sent).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Beat {
    Full {
        checks: Vec<CheckOutcome>,
        #[serde(default)]
        activity: Vec<ComponentActivity>,
    },
    Checks(Vec<CheckOutcome>),
}

impl Store {
    /// Stores a ready (or repairing) cluster's health; `false`, storing nothing, in any
    /// other state (health is of running clusters). Event streams are told when what a
    /// user reads changed.
    pub async fn set_health(&self, id: ClusterId, health: Health) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, None, id)? else {
                return Ok((false, false));
            };
            if !matches!(cluster.state, ClusterState::Ready | ClusterState::Repairing) {
                return Ok((false, false));
            }
            let changed = cluster
                .health
                .as_ref()
                .is_none_or(|before| before.differs_from(&health));
            tx.execute(
                "UPDATE clusters SET health = ?2 WHERE id = ?1",
                params![id.to_string(), to_json(&health)?],
            )?;
            tx.commit()?;
            Ok((true, changed))
        })
        .await
        .map(|(stored, changed)| {
            if changed {
                self.changed(id);
            }
            stored
        })
    }

    /// Stores a ready cluster's activity; `false`, storing nothing, in any other state.
    pub async fn set_activity(
        &self,
        id: ClusterId,
        activity: crate::domain::activity::Activity,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            Ok(conn.execute(
                "UPDATE clusters SET activity = ?2 WHERE id = ?1 AND state = 'ready'",
                params![id.to_string(), to_json(&activity)?],
            )? == 1)
        })
        .await
    }

    /// Repairs a ready cluster: it moves to repairing with what the repair starts again
    /// recorded on that move, and the repair job is queued, in one transaction. `tenant`
    /// `None` is the watcher's autorepair. `None` when there is no such cluster (of the
    /// tenant); `WrongState`, changing nothing, when it is not ready.
    pub async fn request_repair(
        &self,
        tenant: Option<&TenantId>,
        id: ClusterId,
        targets: Vec<RepairTarget>,
        reason: String,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.cloned();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_cluster(&tx, tenant.as_ref(), id)? else {
                return Ok(None);
            };
            if !cluster
                .state
                .can_move_to(ClusterState::Repairing, Mover::RepairRequest)
                || job_queued(&tx, id, JobKind::Repair)?
            {
                return Err(StoreError::WrongState {
                    state: cluster.state,
                    action: "repair",
                    needed: "ready",
                });
            }
            move_state(&tx, &cluster, ClusterState::Repairing, &reason)?;
            tx.execute(
                "UPDATE transitions SET repair = ?2 \
                 WHERE id = (SELECT MAX(id) FROM transitions WHERE cluster_id = ?1)",
                params![id.to_string(), to_json(&targets)?],
            )?;
            enqueue(&tx, id, JobKind::Repair)?;
            let cluster = find_cluster(&tx, tenant.as_ref(), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
        .inspect(|_| self.changed(id))
    }

    /// What the cluster's latest move into repairing starts again.
    pub async fn latest_repair(
        &self,
        id: ClusterId,
    ) -> Result<Option<Vec<RepairTarget>>, StoreError> {
        Ok(self
            .transitions(id)
            .await?
            .into_iter()
            .rev()
            .find_map(|t| t.repair))
    }

    /// A node's heartbeat: its checks' outcomes now, replacing its last. The caller
    /// checked the token and the node.
    pub async fn record_heartbeat(
        &self,
        id: ClusterId,
        heartbeat: Heartbeat,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO heartbeats (cluster_id, node, at, checks) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (cluster_id, node) DO UPDATE SET at = excluded.at, checks = excluded.checks",
                params![
                    id.to_string(),
                    heartbeat.node,
                    timestamp(heartbeat.at),
                    to_json(&Beat::Full {
                        checks: heartbeat.checks,
                        activity: heartbeat.activity,
                    })?
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The last heartbeat of each of the cluster's nodes that sent one.
    pub async fn heartbeats(&self, id: ClusterId) -> Result<Vec<Heartbeat>, StoreError> {
        self.read(move |conn| {
            let rows = conn.query_map(
                "SELECT node, at, checks FROM heartbeats WHERE cluster_id = ?1 ORDER BY node",
                params![id.to_string()],
                |row| {
                    Ok((
                        row.get::<String>(0)?,
                        row.get::<String>(1)?,
                        row.get::<String>(2)?,
                    ))
                },
            )?;
            rows.into_iter()
                .map(|row| {
                    let (node, at, checks) = row;
                    let corrupt = |problem: String| StoreError::Corrupt {
                        id: id.to_string(),
                        problem,
                    };
                    let (checks, activity) = match serde_json::from_str(&checks)
                        .map_err(|e| corrupt(format!("heartbeat: {e}")))?
                    {
                        Beat::Full { checks, activity } => (checks, activity),
                        Beat::Checks(checks) => (checks, Vec::new()),
                    };
                    Ok(Heartbeat {
                        node,
                        at: parse_time(&at).map_err(corrupt)?,
                        checks,
                        activity,
                    })
                })
                .collect()
        })
        .await
    }

    /// Forgets the heartbeats of nodes the cluster no longer has (a scale-in).
    pub async fn forget_heartbeats_except(
        &self,
        id: ClusterId,
        nodes: Vec<String>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let kept = to_json(&nodes)?;
            conn.execute(
                &format!(
                    "DELETE FROM heartbeats WHERE cluster_id = ?1 AND node NOT IN ({})",
                    conn.json_texts(2)
                ),
                params![id.to_string(), kept],
            )?;
            Ok(())
        })
        .await
    }
}
