//! Which clusters use which (`icclab.disco.uses`): recorded with the cluster that uses,
//! read by deletes (a used cluster is not deleted under its dependents) and by lookups of
//! a used cluster by name or UUID.

use super::db::{Conn, params};

use super::clusters::find_cluster;
use super::rows::{CLUSTER_COLUMNS, read_row};
use super::{Store, StoreError};
use crate::cluster::Cluster;
use crate::domain::{ClusterId, ClusterState, TenantId};

impl Store {
    /// The tenant's cluster that is not deleted named `reference`, or whose UUID it is.
    pub async fn cluster_by_reference(
        &self,
        tenant: &TenantId,
        reference: &str,
    ) -> Result<Option<Cluster>, StoreError> {
        let tenant = tenant.clone();
        let reference = reference.to_string();
        self.read(move |conn| {
            if let Ok(id) = reference.parse::<ClusterId>() {
                return find_cluster(conn, Some(&tenant), id);
            }
            conn.query_opt(
                &format!(
                    "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE tenant = ?1 AND name = ?2 AND state <> 'deleted'"
                ),
                params![tenant.as_str(), reference],
                read_row,
            )?
            .map(|row| row.into_cluster())
            .transpose()
        })
        .await
    }

    /// The clusters that use `id` and are not deleted, as (id, name), oldest first.
    pub async fn dependents(&self, id: ClusterId) -> Result<Vec<(ClusterId, String)>, StoreError> {
        self.read(move |conn| dependents(conn, id)).await
    }
}

pub(super) fn dependents(
    conn: &Conn,
    id: ClusterId,
) -> Result<Vec<(ClusterId, String)>, StoreError> {
    dependents_but(conn, id, &["deleted", "cancelled"])
}

/// The dependents that are not already on their way out: those a plain delete of `id`
/// waits for (the others go by themselves, and its delete job waits for them).
pub(super) fn staying_dependents(
    conn: &Conn,
    id: ClusterId,
) -> Result<Vec<(ClusterId, String)>, StoreError> {
    dependents_but(conn, id, &["deleted", "cancelled", "deleting"])
}

fn dependents_but(
    conn: &Conn,
    id: ClusterId,
    states: &[&str],
) -> Result<Vec<(ClusterId, String)>, StoreError> {
    // The states are this module's own words, never a request's.
    let excluded = states
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = conn.query_map(
        &format!(
            "SELECT c.id, c.name FROM uses u JOIN clusters c ON c.id = u.cluster_id \
             WHERE u.used_id = ?1 AND c.state NOT IN ({excluded}) ORDER BY c.created_at, c.id"
        ),
        params![id.to_string()],
        |row| Ok((row.get::<String>(0)?, row.get::<String>(1)?)),
    )?;
    let mut found = Vec::new();
    for row in rows {
        let (id, name) = row;
        let id = id.parse().map_err(|_| StoreError::Corrupt {
            id: id.clone(),
            problem: "a dependent's id is not a UUID".to_string(),
        })?;
        found.push((id, name));
    }
    Ok(found)
}

/// `UsedNotReady` unless each of the tenant's clusters `used` is ready now.
pub(super) fn check_ready(
    conn: &Conn,
    tenant: &TenantId,
    used: &[ClusterId],
) -> Result<(), StoreError> {
    for id in used {
        let Some(found) = find_cluster(conn, Some(tenant), *id)? else {
            return Err(StoreError::UsedNotReady {
                name: id.to_string(),
                state: ClusterState::Deleted,
            });
        };
        if found.state != ClusterState::Ready {
            return Err(StoreError::UsedNotReady {
                name: found.spec.request.name.to_string(),
                state: found.state,
            });
        }
    }
    Ok(())
}

/// Records that the tenant's cluster `user` uses `used` (and no other), each of which
/// must be ready now.
pub(super) fn record_uses(
    tx: &Conn,
    tenant: &TenantId,
    user: ClusterId,
    used: &[ClusterId],
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM uses WHERE cluster_id = ?1",
        params![user.to_string()],
    )?;
    check_ready(tx, tenant, used)?;
    for id in used {
        tx.execute(
            "INSERT INTO uses (cluster_id, used_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![user.to_string(), id.to_string()],
        )?;
    }
    Ok(())
}
