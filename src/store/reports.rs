//! What a cluster's nodes report as they run their tasks, and the token they report
//! with: one per cluster, made on first use.

use super::db::{Conn, params};

use super::rows::{parse_time, timestamp};
use super::{Store, StoreError};
use crate::domain::{ClusterId, ClusterState};
use crate::frameworks::plan::Plan;

/// What became of a node's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    Stored,
    /// The token is not the cluster's, or the cluster is deleted (or unknown).
    NotThisCluster,
    /// The cluster has no such node: these are its nodes.
    NoSuchNode(Vec<String>),
}

impl Store {
    /// The token a cluster's nodes report with: made on first use, then the same for the
    /// cluster's life.
    pub async fn report_token(&self, id: ClusterId) -> Result<String, StoreError> {
        self.call(move |conn| {
            let token = crate::auth::tokens::random_token();
            conn.execute(
                "INSERT INTO report_tokens (cluster_id, token) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![id.to_string(), token],
            )?;
            conn.query_row(
                "SELECT token FROM report_tokens WHERE cluster_id = ?1",
                params![id.to_string()],
                |row| row.get(0),
            )
        })
        .await
    }

    /// Whether `token` is the cluster's report token.
    pub async fn is_report_token(&self, id: ClusterId, token: String) -> Result<bool, StoreError> {
        self.read(move |conn| {
            let expected: Option<String> = conn.query_opt(
                "SELECT token FROM report_tokens WHERE cluster_id = ?1",
                params![id.to_string()],
                |row| row.get(0),
            )?;
            Ok(expected
                .is_some_and(|expected| crate::auth::tokens::tokens_match(&expected, &token)))
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
    ) -> Result<Reported, StoreError> {
        self.call(move |conn| {
            // One transaction: the checks below and the insert see the same cluster (a
            // delete or a purge between them would store a report it refuses).
            let conn = conn.transaction()?;
            // With the slave count the latest resize began from: while a cluster is
            // scaled in, its leaving slaves report their decommission steps.
            let stored: Option<(String, String, String, Option<u16>)> = conn.query_opt(
                "SELECT t.token, c.state, c.plan, \
                     (SELECT resize_from FROM transitions r WHERE r.cluster_id = c.id \
                      AND r.resize_from IS NOT NULL ORDER BY r.id DESC LIMIT 1) \
                     FROM report_tokens t \
                     JOIN clusters c ON c.id = t.cluster_id WHERE t.cluster_id = ?1",
                params![id.to_string()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
            let Some((expected, state, plan, resized_from)) = stored else {
                return Ok(Reported::NotThisCluster);
            };
            if state == ClusterState::Deleted.as_str()
                || !crate::auth::tokens::tokens_match(&expected, &token)
            {
                return Ok(Reported::NotThisCluster);
            }
            // Only once the token is the cluster's does the answer say what it has.
            let plan: Plan = serde_json::from_str(&plan).map_err(|e| StoreError::Corrupt {
                id: id.to_string(),
                problem: format!("plan: {e}"),
            })?;
            let mut nodes = plan.node_names();
            if state == ClusterState::Scaling.as_str()
                && let Some(from) = resized_from
            {
                nodes.extend((plan.slave_count()..from).map(crate::domain::node::slave_name));
            }
            if !nodes.contains(&report.node) {
                return Ok(Reported::NoSuchNode(nodes));
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
            conn.commit()?;
            Ok(Reported::Stored)
        })
        .await
        .inspect(|reported| {
            if *reported == Reported::Stored {
                self.changed(id)
            }
        })
    }

    /// A cluster's reports after the one numbered `after` (0: all), oldest first, with
    /// their numbers.
    pub async fn reports(
        &self,
        id: ClusterId,
        after: i64,
    ) -> Result<Vec<(i64, crate::domain::Report)>, StoreError> {
        self.read(move |conn| read_reports(conn, id, after)).await
    }
}

/// A cluster's reports after the one numbered `after` (0: all), oldest first, with their
/// numbers.
pub(super) fn read_reports(
    conn: &Conn,
    id: ClusterId,
    after: i64,
) -> Result<Vec<(i64, crate::domain::Report)>, StoreError> {
    let rows = conn.query_map(
        "SELECT id, at, node, stage, status, rc, output, error FROM reports \
         WHERE cluster_id = ?1 AND id > ?2 ORDER BY id",
        params![id.to_string(), after],
        |row| {
            Ok((
                row.get::<i64>(0)?,
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<String>(4)?,
                row.get::<Option<i64>>(5)?,
                row.get::<String>(6)?,
                row.get::<String>(7)?,
            ))
        },
    )?;
    let mut reports = Vec::new();
    for row in rows {
        let (number, at, node, stage, status, rc, output, error) = row;
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
}
