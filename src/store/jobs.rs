//! The job queue: what is to be done to a cluster (deploy, delete), and how the worker
//! takes, retries and finishes it. On disk a job is queued, done, failed or cancelled;
//! which jobs are running only the worker knows, so a job is ended only by its own run:
//! a delete does not cancel its cluster's deploys (one may be running), they end
//! cancelled themselves when they find the cluster deleting.

use super::db::{Conn, params};
use chrono::{DateTime, Utc};

use super::rows::{parse_time, timestamp};
use super::{Store, StoreError};
use crate::domain::ClusterId;
use crate::domain::state::Mover;

/// What a job does to its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Deploy,
    Delete,
    Stop,
    Start,
    Scale,
    Repair,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Deploy,
        JobKind::Delete,
        JobKind::Stop,
        JobKind::Start,
        JobKind::Scale,
        JobKind::Repair,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Deploy => "deploy",
            JobKind::Delete => "delete",
            JobKind::Stop => "stop",
            JobKind::Start => "start",
            JobKind::Scale => "scale",
            JobKind::Repair => "repair",
        }
    }

    fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Who the job is when it moves its cluster: it moves it only from states of its own.
    pub fn mover(self) -> Mover {
        match self {
            JobKind::Deploy => Mover::Deploy,
            JobKind::Delete => Mover::Delete,
            JobKind::Stop => Mover::Stop,
            JobKind::Start => Mover::Start,
            JobKind::Scale => Mover::Scale,
            JobKind::Repair => Mover::Repair,
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

impl Store {
    /// The oldest queued job that is due, of a cluster not among `busy` (those with a job
    /// running: a cluster runs one job at a time, so a delete never runs beside the deploy
    /// it overtook, and finds what that deploy made).
    pub async fn next_job(&self, busy: Vec<ClusterId>) -> Result<Option<Job>, StoreError> {
        let busy: Vec<String> = busy.iter().map(ClusterId::to_string).collect();
        self.read(move |conn| {
            let rows = conn.rows(
                "SELECT id, cluster_id, kind, attempts, created_at FROM jobs \
                 WHERE status = 'queued' AND run_after <= ?1 ORDER BY id",
                params![timestamp(Utc::now())],
            )?;
            for row in rows {
                let id: i64 = row.get(0)?;
                let cluster: String = row.get(1)?;
                if busy.contains(&cluster) {
                    continue;
                }
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
                    kind: JobKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
                    attempts: row.get(3)?,
                    created_at: parse_time(&created).map_err(corrupt)?,
                }));
            }
            Ok(None)
        })
        .await
    }

    /// When the next queued job of a cluster not among `busy` is due, if any: the worker
    /// sleeps until then. A running job is still queued on disk, and the jobs waiting for
    /// it may be overdue: counting them would wake the worker at once, again and again.
    pub async fn next_due(
        &self,
        busy: Vec<ClusterId>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let busy: Vec<String> = busy.iter().map(ClusterId::to_string).collect();
        self.read(move |conn| {
            let rows = conn.rows(
                "SELECT cluster_id, run_after FROM jobs WHERE status = 'queued' ORDER BY run_after",
                params![],
            )?;
            for row in rows {
                let cluster: String = row.get(0)?;
                if !busy.contains(&cluster) {
                    let due: String = row.get(1)?;
                    return Ok(parse_time(&due).ok());
                }
            }
            Ok(None)
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
        self.read(move |conn| job_queued(conn, id, kind)).await
    }
}

/// Whether the cluster has a job of this kind waiting to run.
pub(super) fn job_queued(conn: &Conn, id: ClusterId, kind: JobKind) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM jobs WHERE cluster_id = ?1 AND kind = ?2 AND status = 'queued')",
        params![id.to_string(), kind.as_str()],
        |row| row.get(0),
    )
}

pub(super) fn enqueue(conn: &Conn, id: ClusterId, kind: JobKind) -> Result<(), StoreError> {
    let now = timestamp(Utc::now());
    conn.execute(
        "INSERT INTO jobs (cluster_id, kind, status, attempts, run_after, last_error, created_at, updated_at) \
         VALUES (?1, ?2, 'queued', 0, ?3, '', ?3, ?3)",
        params![id.to_string(), kind.as_str(), now],
    )?;
    Ok(())
}

/// Makes the cluster's queued jobs of this kind due now: they are to end soon.
pub(super) fn make_due_now(conn: &Conn, id: ClusterId, kind: JobKind) -> Result<(), StoreError> {
    let now = timestamp(Utc::now());
    conn.execute(
        "UPDATE jobs SET run_after = ?3, updated_at = ?3 \
         WHERE cluster_id = ?1 AND kind = ?2 AND status = 'queued' AND run_after > ?3",
        params![id.to_string(), kind.as_str(), now],
    )?;
    Ok(())
}
