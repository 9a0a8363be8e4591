//! How a cluster sits in its row: the columns read, their text decoded into a
//! `Cluster`, and the text forms of the values other tables share (times, states, JSON).

use super::db::Row;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::SecretString;

use super::StoreError;
use crate::cluster::keys::KeyPair;
use crate::cluster::{Cluster, ClusterSpec, Outputs};
use crate::domain::{ClusterState, TenantId};

/// The columns `read_row` expects, in its order.
pub(super) const CLUSTER_COLUMNS: &str = "id, tenant, state, state_reason, spec, outputs, key_name, \
     public_key, private_key, created_at, updated_at, plan, delegation, health, activity";

/// A row as SQLite gives it, before its text columns are parsed.
pub(super) struct ClusterRow {
    id: String,
    tenant: String,
    state: String,
    state_reason: String,
    spec: String,
    outputs: String,
    key_name: String,
    public_key: String,
    private_key: String,
    created_at: String,
    updated_at: String,
    plan: String,
    delegation: String,
    health: String,
    activity: String,
}

pub(super) fn read_row(row: &Row) -> Result<ClusterRow, StoreError> {
    Ok(ClusterRow {
        id: row.get(0)?,
        tenant: row.get(1)?,
        state: row.get(2)?,
        state_reason: row.get(3)?,
        spec: row.get(4)?,
        outputs: row.get(5)?,
        key_name: row.get(6)?,
        public_key: row.get(7)?,
        private_key: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        plan: row.get(11)?,
        delegation: row.get(12)?,
        health: row.get(13)?,
        activity: row.get(14)?,
    })
}

impl ClusterRow {
    pub(super) fn into_cluster(self) -> Result<Cluster, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            id: self.id.clone(),
            problem,
        };
        let spec: ClusterSpec =
            serde_json::from_str(&self.spec).map_err(|e| corrupt(format!("spec: {e}")))?;
        let outputs: Outputs =
            serde_json::from_str(&self.outputs).map_err(|e| corrupt(format!("outputs: {e}")))?;
        let plan = serde_json::from_str(&self.plan).map_err(|e| corrupt(format!("plan: {e}")))?;
        let delegation = serde_json::from_str(&self.delegation)
            .map_err(|e| corrupt(format!("delegation: {e}")))?;
        let activity = match self.activity.as_str() {
            "" => None,
            text => {
                Some(serde_json::from_str(text).map_err(|e| corrupt(format!("activity: {e}")))?)
            }
        };
        let health = match self.health.as_str() {
            "" => None,
            text => Some(serde_json::from_str(text).map_err(|e| corrupt(format!("health: {e}")))?),
        };
        Ok(Cluster {
            id: self
                .id
                .parse()
                .map_err(|e: uuid::Error| corrupt(e.to_string()))?,
            tenant: TenantId::parse(&self.tenant)
                .map_err(|why| corrupt(format!("tenant {why}")))?,
            state: parse_state(&self.state).map_err(corrupt)?,
            state_reason: self.state_reason.clone(),
            spec,
            plan,
            delegation,
            outputs,
            keys: KeyPair {
                name: self.key_name.clone(),
                public_key: self.public_key.clone(),
                private_key: SecretString::from(self.private_key.as_str()),
            },
            created_at: parse_time(&self.created_at).map_err(corrupt)?,
            updated_at: parse_time(&self.updated_at).map_err(corrupt)?,
            health,
            activity,
        })
    }
}

pub(super) fn parse_state(s: &str) -> Result<ClusterState, String> {
    ClusterState::parse(s).ok_or_else(|| format!("unknown state {s:?}"))
}

/// Timestamps are stored as fixed-width RFC 3339 text, so they sort as they compare.
pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("time {s:?}: {e}"))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}
