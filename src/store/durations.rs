//! How long steps took (`stage_durations`): the samples a run leaves, written in the
//! transaction of the move that ends it, so that a run counts once however often the
//! service restarts; and a cluster's expectations, read back in one query.
//!
//! The samples are taken from the run's task tree, as `task-status` shows it, rather
//! than from each report as it comes: one rule for when a step started and ended (the
//! tree's), the node stages too (a node's creation has no report of its own, it ends at
//! the node's first), and only reports of the run itself.

use super::db::{Conn, params};

use super::clusters::read_transitions;
use super::reports::read_reports;
use super::rows::{parse_time, timestamp};
use super::{Store, StoreError};
use crate::cluster::Cluster;
use crate::domain::{ClusterState, ProviderKind, Report};
use crate::frameworks::catalogue::NodeGroup;
use crate::tasks::eta::{Expectations, RUNS_KEPT, Sample, Shape, StageKey};

impl Store {
    /// What the steps of `cluster` are expected to take, from the latest runs of the
    /// same steps on its provider: one query, on the table's index.
    pub async fn expectations(&self, cluster: &Cluster) -> Result<Expectations, StoreError> {
        let plan = cluster.plan.clone();
        self.read(move |conn| {
            let mut components: Vec<&str> = plan.component_names();
            // The node stages.
            components.push("");
            let history = read_samples(conn, plan.provider, &components)?;
            Ok(Expectations::from_history(
                &history,
                plan.provider,
                |group| Shape::of(&plan, group),
            ))
        })
        .await
    }
}

/// Whether a move from `from` to `to` ends a run: an operation's state, into one where
/// nothing runs.
fn ends_a_run(from: ClusterState, to: ClusterState) -> bool {
    use ClusterState::*;
    matches!(
        from,
        Deploying | Installing | Stopping | Starting | Scaling | Repairing | Deleting
    ) && matches!(to, Ready | Failed | Stopped | Deleted | Cancelled)
}

/// After `cluster` moved from `from` to its state, recorded: the samples of the run the
/// move ended, if it ended one, the oldest of each key beyond `RUNS_KEPT` dropped.
pub(super) fn record_run(
    conn: &Conn,
    from: ClusterState,
    cluster: &Cluster,
) -> Result<(), StoreError> {
    if !ends_a_run(from, cluster.state) {
        return Ok(());
    }
    let transitions = read_transitions(conn, cluster.id)?;
    let reports: Vec<Report> = read_reports(conn, cluster.id, 0)?
        .into_iter()
        .map(|(_, report)| report)
        .collect();
    let task = crate::tasks::latest_task(cluster, &transitions, &reports);
    for sample in crate::tasks::eta::samples(cluster, &task) {
        conn.execute(
            "INSERT INTO stage_durations \
             (provider, component, phase, node_group, flavor, image, cluster_id, seconds, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                sample.provider.as_str(),
                sample.key.component,
                sample.key.phase,
                sample.key.group.as_str(),
                sample.shape.flavor,
                sample.shape.image,
                cluster.id.to_string(),
                sample.seconds,
                timestamp(sample.at),
            ],
        )?;
        conn.execute(
            &format!(
                "DELETE FROM stage_durations WHERE id IN (SELECT id FROM stage_durations \
                 WHERE provider = ?1 AND component = ?2 AND phase = ?3 AND node_group = ?4 \
                 AND flavor = ?5 AND image = ?6 ORDER BY at DESC, id DESC {} OFFSET ?7)",
                conn.no_limit()
            ),
            params![
                sample.provider.as_str(),
                sample.key.component,
                sample.key.phase,
                sample.key.group.as_str(),
                sample.shape.flavor,
                sample.shape.image,
                RUNS_KEPT as i64,
            ],
        )?;
    }
    Ok(())
}

/// The samples of `provider` for these components (`""`: the node stages), newest first.
fn read_samples(
    conn: &Conn,
    provider: ProviderKind,
    components: &[&str],
) -> Result<Vec<Sample>, StoreError> {
    let components = serde_json::to_string(components)?;
    let rows = conn.query_map(
        &format!(
            "SELECT component, phase, node_group, flavor, image, seconds, at FROM stage_durations \
             WHERE provider = ?1 AND component IN ({}) ORDER BY at DESC, id DESC",
            conn.json_texts(2)
        ),
        params![provider.as_str(), components],
        |row| {
            Ok((
                row.get::<String>(0)?,
                row.get::<String>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<String>(4)?,
                row.get::<f64>(5)?,
                row.get::<String>(6)?,
            ))
        },
    )?;
    let mut samples = Vec::new();
    for row in rows {
        let (component, phase, group, flavor, image, seconds, at) = row;
        let corrupt = |problem: String| StoreError::Corrupt {
            id: format!("stage_durations of {component} {phase}"),
            problem,
        };
        let group = match group.as_str() {
            "master" => NodeGroup::Master,
            "slaves" => NodeGroup::Slaves,
            other => return Err(corrupt(format!("node group {other:?}"))),
        };
        let at = parse_time(&at).map_err(corrupt)?;
        samples.push(Sample {
            key: StageKey {
                component,
                phase,
                group,
            },
            provider,
            shape: Shape { flavor, image },
            seconds,
            at,
        });
    }
    Ok(samples)
}
