//! Forgetting deleted clusters (`store.keep_deleted_days`): a cluster deleted before a
//! time goes with every row that names it (its transitions, jobs, report token, reports,
//! heartbeats, step durations and what it used), in one transaction; its GET stays 404.

use super::db::params;
use chrono::{DateTime, Utc};

use super::rows::timestamp;
use super::{Store, StoreError};

/// The tables whose rows name a cluster in `cluster_id`, children before `clusters`.
/// A table added with such a column belongs here: the foreign key refuses the purge
/// otherwise, which the store's test of the purge finds.
const CLUSTER_TABLES: &[&str] = &[
    "transitions",
    "jobs",
    "report_tokens",
    "reports",
    "heartbeats",
    "stage_durations",
    "uses",
];

impl Store {
    /// Removes the clusters deleted before `before`, with their rows in every table;
    /// how many clusters went.
    pub async fn purge_deleted(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let before = timestamp(before);
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let purged = "SELECT id FROM clusters WHERE state = 'deleted' AND updated_at < ?1";
            for table in CLUSTER_TABLES {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE cluster_id IN ({purged})"),
                    params![before],
                )?;
            }
            // What others used of it: nothing live may use a deleted cluster, so only the
            // records of deleted dependents remain.
            tx.execute(
                &format!("DELETE FROM uses WHERE used_id IN ({purged})"),
                params![before],
            )?;
            let count = tx.execute(
                "DELETE FROM clusters WHERE state = 'deleted' AND updated_at < ?1",
                params![before],
            )?;
            tx.commit()?;
            Ok(count)
        })
        .await
    }
}
