//! The job queue: what is to be done to a cluster (deploy, delete), and how the worker
//! takes, retries and finishes it. On disk a job is queued, done, failed or cancelled;
//! a queued job that runs is held by one replica under a lease it renews, so a job is
//! ended only by its own run: a delete does not cancel its cluster's deploys (one may
//! be running), they end cancelled themselves when they find the cluster deleting. A
//! replica that dies holding leases loses them when they run out, and the jobs are
//! claimed again, by another replica or by its own next start.

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
    /// The replica whose lease on the job ran out before this one claimed it.
    pub taken_from: Option<String>,
    /// When an earlier attempt last asked the provider for the job's change (`asked`).
    pub asked_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Claims the oldest queued job that is due, for this replica, under a lease of
    /// `replica.lease` from now: a job of a cluster none of whose jobs another lease
    /// holds (a cluster runs one job at a time, so a delete never runs beside the deploy
    /// it overtook, and finds what that deploy made), not among `busy` (those with a
    /// job running here), and, for a local cluster, one whose processes run on this
    /// replica's machine (the first claim of one records this machine as its host).
    ///
    /// The claim is one write transaction, and writes are serialised (SQLite's one
    /// writer, PostgreSQL's write lock): two replicas never claim one job, and a job
    /// whose lease ran out is claimed by one replica only (`taken_from` says whose it was).
    pub async fn next_job(&self, busy: Vec<ClusterId>) -> Result<Option<Job>, StoreError> {
        let busy: Vec<String> = busy.iter().map(ClusterId::to_string).collect();
        let replica = std::sync::Arc::clone(&self.replica);
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let now = Utc::now();
            let rows = tx.rows(
                "SELECT j.id, j.cluster_id, j.kind, j.attempts, j.created_at, j.lease_owner, \
                        j.lease_until, c.provider, j.asked_at \
                 FROM jobs j JOIN clusters c ON c.id = j.cluster_id \
                 WHERE j.status = 'queued' AND j.run_after <= ?1 \
                   AND (c.provider <> 'local' OR c.host = '' OR c.host = ?2) \
                   AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.cluster_id = j.cluster_id \
                                   AND b.status = 'queued' AND b.lease_until > ?1) \
                 ORDER BY j.id",
                params![timestamp(now), replica.host.clone()],
            )?;
            let Some(row) = rows.into_iter().find(|row| {
                row.get::<String>(1)
                    .is_ok_and(|cluster| !busy.contains(&cluster))
            }) else {
                return Ok(None);
            };
            let id: i64 = row.get(0)?;
            let cluster: String = row.get(1)?;
            let kind: String = row.get(2)?;
            let created: String = row.get(4)?;
            let owner: String = row.get(5)?;
            let until: String = row.get(6)?;
            let provider: String = row.get(7)?;
            let asked: String = row.get(8)?;
            let corrupt = |problem: String| StoreError::Corrupt {
                id: cluster.clone(),
                problem,
            };
            let job = Job {
                id,
                cluster_id: cluster
                    .parse()
                    .map_err(|e: uuid::Error| corrupt(e.to_string()))?,
                kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
                attempts: row.get(3)?,
                created_at: parse_time(&created).map_err(corrupt)?,
                // A lease still set is one that ran out unrenewed: its replica died or
                // lost the database. (An ended or released lease is cleared.)
                taken_from: (!until.is_empty()).then_some(owner),
                asked_at: match asked.as_str() {
                    "" => None,
                    at => Some(parse_time(at).map_err(corrupt)?),
                },
            };
            tx.execute(
                "UPDATE jobs SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                params![id, replica.name.clone(), timestamp(now + replica.lease())],
            )?;
            if provider == crate::domain::ProviderKind::Local.as_str() {
                tx.execute(
                    "UPDATE clusters SET host = ?2 WHERE id = ?1 AND host = ''",
                    params![cluster.clone(), replica.host.clone()],
                )?;
            }
            tx.commit()?;
            Ok(Some(job))
        })
        .await
    }

    /// When the next job this replica could claim is due, if any: the worker sleeps
    /// until then. A job of a cluster another replica's lease holds is due when that
    /// lease runs out (to be taken over if it is not renewed); a job of a cluster among
    /// `busy` (running here) is not counted: it would wake the worker at once, again and
    /// again.
    pub async fn next_due(
        &self,
        busy: Vec<ClusterId>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let busy: Vec<String> = busy.iter().map(ClusterId::to_string).collect();
        let host = self.replica.host.clone();
        self.read(move |conn| {
            let rows = conn.rows(
                "SELECT j.cluster_id, j.run_after, \
                        (SELECT MAX(b.lease_until) FROM jobs b \
                         WHERE b.cluster_id = j.cluster_id AND b.status = 'queued') \
                 FROM jobs j JOIN clusters c ON c.id = j.cluster_id \
                 WHERE j.status = 'queued' \
                   AND (c.provider <> 'local' OR c.host = '' OR c.host = ?1)",
                params![host],
            )?;
            let mut next: Option<DateTime<Utc>> = None;
            for row in rows {
                let cluster: String = row.get(0)?;
                if busy.contains(&cluster) {
                    continue;
                }
                let due: String = row.get(1)?;
                let leased: Option<String> = row.get(2)?;
                let Ok(mut due) = parse_time(&due) else {
                    continue;
                };
                if let Some(until) = leased.as_deref().and_then(|t| parse_time(t).ok()) {
                    due = due.max(until);
                }
                next = Some(next.map_or(due, |next| next.min(due)));
            }
            Ok(next)
        })
        .await
    }

    /// Ends a job this replica holds, its lease with it (the job keeps the name of the
    /// replica that ran it); `LeaseLost` if another replica has taken it over meanwhile.
    pub async fn finish_job(
        &self,
        id: i64,
        outcome: JobOutcome,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        let owner = self.replica.name.clone();
        self.call(move |conn| {
            let ended = conn.execute(
                "UPDATE jobs SET status = ?2, last_error = ?3, updated_at = ?4, lease_until = '' \
                 WHERE id = ?1 AND lease_owner = ?5 AND status = 'queued'",
                params![id, outcome.as_str(), error, timestamp(Utc::now()), owner],
            )?;
            if ended == 0 {
                return Err(StoreError::LeaseLost(id));
            }
            Ok(())
        })
        .await
    }

    /// Records that the job is about to ask its provider for its change: a later
    /// attempt (after a crash or a takeover) reads it as `Job::asked_at`. `LeaseLost` as
    /// `finish_job`.
    pub async fn asked(&self, id: i64) -> Result<(), StoreError> {
        let owner = self.replica.name.clone();
        self.call(move |conn| {
            let marked = conn.execute(
                "UPDATE jobs SET asked_at = ?2 \
                 WHERE id = ?1 AND lease_owner = ?3 AND status = 'queued'",
                params![id, timestamp(Utc::now()), owner],
            )?;
            if marked == 0 {
                return Err(StoreError::LeaseLost(id));
            }
            Ok(())
        })
        .await
    }

    /// Leaves a job this replica holds queued for another attempt at `run_after`, by
    /// whichever replica claims it then; `LeaseLost` as `finish_job`.
    pub async fn retry_job(
        &self,
        id: i64,
        run_after: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        let owner = self.replica.name.clone();
        self.call(move |conn| {
            let left = conn.execute(
                "UPDATE jobs SET attempts = attempts + 1, run_after = ?2, last_error = ?3, \
                 updated_at = ?4, lease_until = '' \
                 WHERE id = ?1 AND lease_owner = ?5 AND status = 'queued'",
                params![
                    id,
                    timestamp(run_after),
                    error,
                    timestamp(Utc::now()),
                    owner
                ],
            )?;
            if left == 0 {
                return Err(StoreError::LeaseLost(id));
            }
            Ok(())
        })
        .await
    }

    /// Renews the leases of every job this replica holds, for `replica.lease` from now;
    /// the ids of those it still holds (a job it runs that is not among them was taken
    /// over: its lease ran out unrenewed, the database out of reach for that long).
    pub async fn renew_leases(&self) -> Result<Vec<i64>, StoreError> {
        let replica = std::sync::Arc::clone(&self.replica);
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let until = timestamp(Utc::now() + replica.lease());
            tx.execute(
                "UPDATE jobs SET lease_until = ?2 \
                 WHERE lease_owner = ?1 AND status = 'queued' AND lease_until <> ''",
                params![replica.name.clone(), until.clone()],
            )?;
            let held = tx.query_map(
                "SELECT id FROM jobs WHERE lease_owner = ?1 AND status = 'queued' AND lease_until = ?2",
                params![replica.name.clone(), until],
                |row| row.get(0),
            )?;
            tx.commit()?;
            Ok(held)
        })
        .await
    }

    /// Lets go of every lease this replica's name holds, for any replica to claim the
    /// jobs at once: at a shutdown, and at a start (the leases of this name's previous
    /// process, which died holding them). How many.
    pub async fn release_leases(&self) -> Result<usize, StoreError> {
        let owner = self.replica.name.clone();
        self.call(move |conn| {
            conn.execute(
                "UPDATE jobs SET lease_until = '' \
                 WHERE lease_owner = ?1 AND status = 'queued' AND lease_until <> ''",
                params![owner],
            )
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
