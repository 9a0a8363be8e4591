//! What `GET /metrics` reads from the store at scrape time: clusters by state and
//! provider and queued jobs by kind (one GROUP BY each), and the steps and deploys that
//! finished since the last scrape (rows after a high mark), so that each is observed
//! once, after its commit.

use super::db::{Conn, params};

use super::{Store, StoreError};

/// How far a scrape has read the tables whose rows are observed once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HighMarks {
    pub stage_duration: i64,
    pub transition: i64,
}

/// A finished step: its provider, component (empty: creating the nodes), phase, seconds.
pub struct StageSample {
    pub provider: String,
    pub component: String,
    pub phase: String,
    pub seconds: f64,
}

/// A finished deploy: its provider, how it ended (ready or failed), seconds.
pub struct DeploySample {
    pub provider: String,
    pub outcome: String,
    pub seconds: f64,
}

pub struct Census {
    /// (state, provider, how many).
    pub clusters: Vec<(String, String, i64)>,
    /// (job kind, how many queued).
    pub queued: Vec<(String, i64)>,
    pub stages: Vec<StageSample>,
    pub deploys: Vec<DeploySample>,
    /// Where the next scrape reads from.
    pub marks: HighMarks,
}

impl Store {
    /// Where the tables end now: a service counts what finishes after it started.
    pub async fn high_marks(&self) -> Result<HighMarks, StoreError> {
        self.read(|conn| high_marks(conn)).await
    }

    /// The counts now, and what finished after `since`.
    pub async fn census(&self, since: HighMarks) -> Result<Census, StoreError> {
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let marks = high_marks(&tx)?;
            let clusters = tx.query_map(
                "SELECT state, provider, COUNT(*) FROM clusters GROUP BY state, provider",
                params![],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            let queued = tx.query_map(
                "SELECT kind, COUNT(*) FROM jobs WHERE status = 'queued' GROUP BY kind",
                params![],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let stages = tx.query_map(
                "SELECT provider, component, phase, seconds FROM stage_durations \
                 WHERE id > ?1 AND id <= ?2 ORDER BY id",
                params![since.stage_duration, marks.stage_duration],
                |row| {
                    Ok(StageSample {
                        provider: row.get(0)?,
                        component: row.get(1)?,
                        phase: row.get(2)?,
                        seconds: row.get(3)?,
                    })
                },
            )?;
            // A deploy runs from the cluster's latest move into deploying to its move out
            // of deploying or installing into ready or failed.
            let deploys: Vec<(String, String, String, Option<String>)> = tx.query_map(
                "SELECT c.provider, t.to_state, t.at, \
                     (SELECT d.at FROM transitions d WHERE d.cluster_id = t.cluster_id \
                      AND d.to_state = 'deploying' AND d.id < t.id ORDER BY d.id DESC LIMIT 1) \
                     FROM transitions t JOIN clusters c ON c.id = t.cluster_id \
                     WHERE t.id > ?1 AND t.id <= ?2 \
                     AND t.from_state IN ('deploying', 'installing') \
                     AND t.to_state IN ('ready', 'failed') ORDER BY t.id",
                params![since.transition, marks.transition],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
            let deploys = deploys
                .into_iter()
                .filter_map(|(provider, outcome, ended, started)| {
                    let ended = super::rows::parse_time(&ended).ok()?;
                    let started = super::rows::parse_time(&started?).ok()?;
                    let seconds = (ended - started).num_milliseconds().max(0) as f64 / 1000.0;
                    Some(DeploySample {
                        provider,
                        outcome,
                        seconds,
                    })
                })
                .collect();
            Ok(Census {
                clusters,
                queued,
                stages,
                deploys,
                marks,
            })
        })
        .await
    }
}

fn high_marks(conn: &Conn) -> Result<HighMarks, StoreError> {
    let max = |table: &str| -> Result<i64, StoreError> {
        conn.query_row(
            &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
            params![],
            |row| row.get(0),
        )
    };
    Ok(HighMarks {
        stage_duration: max("stage_durations")?,
        transition: max("transitions")?,
    })
}
