//! Persistence in one SQLite file: clusters, every state transition, and the job queue.
//!
//! A state change and the job that acts on it are written in one transaction, so after a
//! crash a cluster is never in a state with no job to move it on. Jobs on disk are only
//! queued, done, failed or cancelled: "running" lives in the worker's memory, so a job that
//! was running when the process died is simply queued and runs again.
//!
//! The connection is owned here and only used on tokio's blocking pool.

mod migrations;

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use secrecy::{ExposeSecret, SecretString};

use crate::cluster::keys::KeyPair;
use crate::cluster::{Cluster, ClusterSpec, Outputs};
use crate::domain::{ClusterId, ClusterState, TenantId, Transition};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database row of cluster {id} is unreadable: {problem}")]
    Corrupt { id: String, problem: String },
    #[error("the tenant already has a cluster named {0:?}")]
    NameTaken(String),
    #[error("cluster is {state}: {action} needs it {needed}")]
    WrongState {
        state: ClusterState,
        action: &'static str,
        needed: &'static str,
    },
    #[error("encoding a stored value: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("database worker stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("creating the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// What a job does to its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Deploy,
    Delete,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Deploy => "deploy",
            JobKind::Delete => "delete",
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    Failed,
    /// Superseded: its cluster moved on without it (a delete overtook a deploy).
    Cancelled,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Done => "done",
            JobOutcome::Failed => "failed",
            JobOutcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub cluster_id: ClusterId,
    pub kind: JobKind,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

const CLUSTER_COLUMNS: &str = "id, tenant, state, state_reason, spec, outputs, key_name, \
     public_key, private_key, created_at, updated_at, plan, delegation";

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            if let Some(dir) = path.parent() {
                create_private_dir(dir)?;
            }
            let mut conn = Connection::open(&path)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            migrations::migrations().to_latest(&mut conn)?;
            Ok(conn)
        })
        .await??;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-written transaction
            // (SQLite rolls it back), so a poisoned lock is safe to take over.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await?
    }

    /// Stores a new cluster, pending, with its deploy job unless it is staged.
    pub async fn insert_cluster(&self, cluster: Cluster) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
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
            record_transition(&tx, cluster.id, None, cluster.state, &cluster.state_reason)?;
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
        self.call(move |conn| find_cluster(conn, tenant.as_ref(), id))
            .await
    }

    /// The tenant's clusters that are not deleted, oldest first.
    pub async fn clusters(&self, tenant: &TenantId) -> Result<Vec<Cluster>, StoreError> {
        let tenant = tenant.clone();
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE tenant = ?1 AND state <> 'deleted' \
                 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map(params![tenant.as_str()], read_row)?;
            rows.map(|row| row?.into_cluster()).collect()
        })
        .await
    }

    /// The token a cluster's nodes report with: made on first use, then the same for the
    /// cluster's life.
    pub async fn report_token(&self, id: ClusterId) -> Result<String, StoreError> {
        self.call(move |conn| {
            let token = crate::auth::tokens::random_token();
            conn.execute(
                "INSERT OR IGNORE INTO report_tokens (cluster_id, token) VALUES (?1, ?2)",
                params![id.to_string(), token],
            )?;
            Ok(conn.query_row(
                "SELECT token FROM report_tokens WHERE cluster_id = ?1",
                params![id.to_string()],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// Appends a node's report if `token` is the cluster's and the cluster is not
    /// deleted; `false` (nothing stored) otherwise.
    pub async fn add_report(
        &self,
        id: ClusterId,
        token: String,
        report: crate::domain::Report,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let stored: Option<(String, String)> = conn
                .query_row(
                    "SELECT t.token, c.state FROM report_tokens t JOIN clusters c ON c.id = t.cluster_id \
                     WHERE t.cluster_id = ?1",
                    params![id.to_string()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((expected, state)) = stored else {
                return Ok(false);
            };
            if state == ClusterState::Deleted.as_str()
                || !crate::auth::tokens::tokens_match(&expected, &token)
            {
                return Ok(false);
            }
            conn.execute(
                "INSERT INTO reports (cluster_id, at, node, stage, status, rc, output, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id.to_string(),
                    timestamp(report.at),
                    report.node,
                    report.stage,
                    report.status.as_str(),
                    report.rc,
                    report.output,
                    report.error,
                ],
            )?;
            Ok(true)
        })
        .await
    }

    /// A cluster's reports after the one numbered `after` (0: all), oldest first, with
    /// their numbers.
    pub async fn reports(
        &self,
        id: ClusterId,
        after: i64,
    ) -> Result<Vec<(i64, crate::domain::Report)>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, at, node, stage, status, rc, output, error FROM reports \
                 WHERE cluster_id = ?1 AND id > ?2 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id.to_string(), after], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                ))
            })?;
            let mut reports = Vec::new();
            for row in rows {
                let (number, at, node, stage, status, rc, output, error) = row?;
                let corrupt = |problem: String| StoreError::Corrupt {
                    id: id.to_string(),
                    problem,
                };
                reports.push((
                    number,
                    crate::domain::Report {
                        at: parse_time(&at).map_err(corrupt)?,
                        node,
                        stage,
                        status: crate::domain::ReportStatus::parse(&status)
                            .ok_or_else(|| corrupt(format!("report status {status:?}")))?,
                        rc,
                        output,
                        error,
                    },
                ));
            }
            Ok(reports)
        })
        .await
    }

    /// Every tenant's clusters in `state`, oldest first: for the lifecycle's checks.
    pub async fn clusters_in_state(&self, state: ClusterState) -> Result<Vec<Cluster>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE state = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map(params![state.as_str()], read_row)?;
            rows.map(|row| row?.into_cluster()).collect()
        })
        .await
    }

    /// Starts tearing a cluster down: it becomes deleting, queued deploys are cancelled and
    /// a delete job is queued. Asking again while a delete is queued changes nothing.
    /// `None` when the tenant has no such cluster.
    pub async fn request_delete(
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
            let delete_queued: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM jobs WHERE cluster_id = ?1 AND kind = 'delete' AND status = 'queued')",
                params![id.to_string()],
                |row| row.get(0),
            )?;
            if cluster.state == ClusterState::Deleting && delete_queued {
                return Ok(Some(cluster));
            }
            if cluster.state != ClusterState::Deleting {
                move_state(&tx, &cluster, ClusterState::Deleting, "delete requested")?;
            }
            tx.execute(
                "UPDATE jobs SET status = 'cancelled', updated_at = ?2 \
                 WHERE cluster_id = ?1 AND kind = 'deploy' AND status = 'queued'",
                params![id.to_string(), timestamp(Utc::now())],
            )?;
            enqueue(&tx, id, JobKind::Delete)?;
            let cluster = find_cluster(&tx, Some(&tenant), id)?;
            tx.commit()?;
            Ok(cluster)
        })
        .await
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
            let queued: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM jobs WHERE cluster_id = ?1 AND kind = 'deploy' AND status = 'queued')",
                params![id.to_string()],
                |row| row.get(0),
            )?;
            if !queued {
                enqueue(&tx, id, JobKind::Deploy)?;
            }
            tx.commit()?;
            Ok(Some(cluster))
        })
        .await
    }

    /// Moves a cluster to `to` if the lifecycle allows it from its current state, merging
    /// `outputs` into its own. Returns whether it moved: `false` means another writer moved
    /// it first (a delete overtook a deploy) and the caller should stand back.
    pub async fn transition(
        &self,
        id: ClusterId,
        to: ClusterState,
        reason: impl Into<String>,
        outputs: Option<Outputs>,
    ) -> Result<bool, StoreError> {
        let reason = reason.into();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(mut cluster) = find_any_cluster(&tx, id)? else {
                return Ok(false);
            };
            if cluster.state != to && !cluster.state.can_move_to(to) {
                return Ok(false);
            }
            if let Some(outputs) = outputs {
                cluster.outputs.merge(outputs);
                tx.execute(
                    "UPDATE clusters SET outputs = ?2 WHERE id = ?1",
                    params![id.to_string(), to_json(&cluster.outputs)?],
                )?;
            }
            if cluster.state == to {
                tx.execute(
                    "UPDATE clusters SET state_reason = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id.to_string(), reason, timestamp(Utc::now())],
                )?;
            } else {
                move_state(&tx, &cluster, to, &reason)?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Moves a ready cluster to failed; `false` (nothing changed) when it is no longer
    /// ready, say because a delete started meanwhile.
    pub async fn fail_if_ready(&self, id: ClusterId, reason: &str) -> Result<bool, StoreError> {
        let reason = reason.to_string();
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let Some(cluster) = find_any_cluster(&tx, id)? else {
                return Ok(false);
            };
            if cluster.state != ClusterState::Ready {
                return Ok(false);
            }
            move_state(&tx, &cluster, ClusterState::Failed, &reason)?;
            tx.commit()?;
            Ok(true)
        })
        .await
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

    /// Changes only a cluster's reason: why it waits in the state it is in.
    pub async fn set_reason(&self, id: ClusterId, reason: &str) -> Result<(), StoreError> {
        let reason = reason.to_string();
        self.call(move |conn| {
            conn.execute(
                "UPDATE clusters SET state_reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.to_string(), reason, timestamp(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    /// A cluster's state changes, oldest first.
    pub async fn transitions(&self, id: ClusterId) -> Result<Vec<Transition>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT from_state, to_state, reason, at FROM transitions WHERE cluster_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id.to_string()], |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.map(|row| {
                let (from, to, reason, at) = row?;
                let corrupt = |problem: String| StoreError::Corrupt {
                    id: id.to_string(),
                    problem,
                };
                Ok(Transition {
                    from: from.as_deref().map(parse_state).transpose().map_err(corrupt)?,
                    to: parse_state(&to).map_err(corrupt)?,
                    reason,
                    at: parse_time(&at).map_err(corrupt)?,
                })
            })
            .collect()
        })
        .await
    }

    /// The oldest queued job that is due and not among `running`.
    pub async fn next_job(&self, running: Vec<i64>) -> Result<Option<Job>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, cluster_id, kind, attempts, created_at FROM jobs \
                 WHERE status = 'queued' AND run_after <= ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query(params![timestamp(Utc::now())])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                if running.contains(&id) {
                    continue;
                }
                let cluster: String = row.get(1)?;
                let kind: String = row.get(2)?;
                let created: String = row.get(4)?;
                let corrupt = |problem: String| StoreError::Corrupt {
                    id: cluster.clone(),
                    problem,
                };
                return Ok(Some(Job {
                    id,
                    cluster_id: cluster
                        .parse()
                        .map_err(|e: uuid::Error| corrupt(e.to_string()))?,
                    kind: match kind.as_str() {
                        "deploy" => JobKind::Deploy,
                        "delete" => JobKind::Delete,
                        other => return Err(corrupt(format!("job kind {other:?}"))),
                    },
                    attempts: row.get(3)?,
                    created_at: parse_time(&created).map_err(corrupt)?,
                }));
            }
            Ok(None)
        })
        .await
    }

    /// When the next queued job is due, if any: the worker sleeps until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.call(|conn| {
            let due: Option<String> = conn.query_row(
                "SELECT MIN(run_after) FROM jobs WHERE status = 'queued'",
                [],
                |row| row.get(0),
            )?;
            Ok(due.and_then(|due| parse_time(&due).ok()))
        })
        .await
    }

    pub async fn finish_job(
        &self,
        id: i64,
        outcome: JobOutcome,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        self.call(move |conn| {
            conn.execute(
                "UPDATE jobs SET status = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, outcome.as_str(), error, timestamp(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    /// Leaves a job queued for another attempt at `run_after`.
    pub async fn retry_job(
        &self,
        id: i64,
        run_after: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        self.call(move |conn| {
            conn.execute(
                "UPDATE jobs SET attempts = attempts + 1, run_after = ?2, last_error = ?3, updated_at = ?4 \
                 WHERE id = ?1",
                params![id, timestamp(run_after), error, timestamp(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether the cluster has a queued job of this kind (for tests and reconciling).
    pub async fn has_queued_job(&self, id: ClusterId, kind: JobKind) -> Result<bool, StoreError> {
        self.call(move |conn| {
            Ok(conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM jobs WHERE cluster_id = ?1 AND kind = ?2 AND status = 'queued')",
                params![id.to_string(), kind.as_str()],
                |row| row.get(0),
            )?)
        })
        .await
    }
}

/// The data directory holds private keys: only its owner may read it.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let err = |source| StoreError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    let meta = std::fs::metadata(dir).map_err(err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

fn enqueue(conn: &Connection, id: ClusterId, kind: JobKind) -> Result<(), StoreError> {
    let now = timestamp(Utc::now());
    conn.execute(
        "INSERT INTO jobs (cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at) \
         VALUES (?1, ?2, 'queued', 0, ?3, '', ?3, ?3)",
        params![id.to_string(), kind.as_str(), now],
    )?;
    Ok(())
}

fn move_state(
    conn: &Connection,
    cluster: &Cluster,
    to: ClusterState,
    reason: &str,
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
    record_transition(conn, cluster.id, Some(cluster.state), to, reason)
}

fn record_transition(
    conn: &Connection,
    id: ClusterId,
    from: Option<ClusterState>,
    to: ClusterState,
    reason: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO transitions (cluster_id, from_state, to_state, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            from.map(ClusterState::as_str),
            to.as_str(),
            reason,
            timestamp(Utc::now())
        ],
    )?;
    Ok(())
}

fn find_cluster(
    conn: &Connection,
    tenant: Option<&TenantId>,
    id: ClusterId,
) -> Result<Option<Cluster>, StoreError> {
    let found = find_any_cluster(conn, id)?;
    Ok(found.filter(|cluster| {
        cluster.state != ClusterState::Deleted && tenant.is_none_or(|t| *t == cluster.tenant)
    }))
}

fn find_any_cluster(conn: &Connection, id: ClusterId) -> Result<Option<Cluster>, StoreError> {
    conn.query_row(
        &format!("SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = ?1"),
        params![id.to_string()],
        read_row,
    )
    .optional()?
    .map(ClusterRow::into_cluster)
    .transpose()
}

/// A row as SQLite gives it, before its text columns are parsed.
struct ClusterRow {
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
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<ClusterRow> {
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
    })
}

impl ClusterRow {
    fn into_cluster(self) -> Result<Cluster, StoreError> {
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
        })
    }
}

fn parse_state(s: &str) -> Result<ClusterState, String> {
    ClusterState::parse(s).ok_or_else(|| format!("unknown state {s:?}"))
}

/// Timestamps are stored as fixed-width RFC 3339 text, so they sort as they compare.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("time {s:?}: {e}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

#[cfg(test)]
mod tests;
