//! Moving a store to another database (`disco migrate-store`): every row of every
//! table, ids kept, read in one snapshot of the source and written in one transaction
//! to a target that must be empty, so that a copy is whole or not made at all.

use super::db::{Backend, Conn, Value, params};
use super::{Store, StoreError};

/// The tables, parents before the tables that refer to them, each with the columns it
/// is ordered by (its key).
const TABLES: &[(&str, &str)] = &[
    ("clusters", "id"),
    ("transitions", "id"),
    ("jobs", "id"),
    ("report_tokens", "cluster_id"),
    ("reports", "id"),
    ("heartbeats", "cluster_id, node"),
    ("stage_durations", "id"),
    ("templates", "tenant, name"),
    ("uses", "cluster_id, used_id"),
    ("dashboard_sessions", "id_hash"),
];

/// The tables whose `id` the database numbers: after a copy, it numbers on from the
/// copied ones.
const NUMBERED: &[&str] = &["transitions", "jobs", "reports", "stage_durations"];

/// Rows read and written at a time.
const PAGE: i64 = 500;

/// How many rows of each table a copy wrote, in `TABLES`' order.
pub type Copied = Vec<(&'static str, usize)>;

impl Store {
    /// Copies every row of this store into `target`, which must hold none.
    pub async fn copy_into(&self, target: &Store) -> Result<Copied, StoreError> {
        let (source, target) = (self.readers.clone(), target.writer.clone());
        tokio::task::spawn_blocking(move || {
            let from = source.get()?;
            let to = target.get()?;
            to.set_writes(true);
            copy(&from, &to)
        })
        .await?
    }
}

fn copy(from: &Conn, to: &Conn) -> Result<Copied, StoreError> {
    let snapshot = from.transaction()?;
    let tx = to.transaction()?;
    for (table, _) in TABLES {
        let rows: i64 =
            tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), params![], |row| {
                row.get(0)
            })?;
        if rows > 0 {
            return Err(StoreError::TargetNotEmpty { table, rows });
        }
    }
    let mut copied = Vec::with_capacity(TABLES.len());
    for (table, key) in TABLES {
        let columns = columns(&snapshot, table)?.join(", ");
        let placeholders = (1..=columns.split(", ").count())
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {table} ({columns}) VALUES ({placeholders})");
        let select = format!("SELECT {columns} FROM {table} ORDER BY {key} LIMIT ?1 OFFSET ?2");
        let mut count = 0usize;
        loop {
            let page = snapshot.rows(&select, params![PAGE, count as i64])?;
            for row in &page {
                let values: Vec<Value> = (0..columns.split(", ").count())
                    .map(|i| row.get::<Value>(i))
                    .collect::<Result<_, _>>()?;
                let params: Vec<&dyn super::db::Param> =
                    values.iter().map(|v| v as &dyn super::db::Param).collect();
                tx.execute(&insert, &params)?;
            }
            count += page.len();
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        copied.push((*table, count));
    }
    if tx.backend() == Backend::Postgres {
        for table in NUMBERED {
            tx.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                ),
                params![],
                |row| row.get::<i64>(0),
            )?;
        }
    }
    tx.commit()?;
    Ok(copied)
}

/// A table's columns, in the order the database keeps them.
fn columns(conn: &Conn, table: &str) -> Result<Vec<String>, StoreError> {
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    conn.query_map(sql, params![table], |row| row.get(0))
}

/// Every row of every table, in key order (for tests that compare two stores).
#[cfg(test)]
pub(super) async fn dump(store: &Store) -> Vec<(&'static str, Vec<Vec<Value>>)> {
    store
        .read(|conn| {
            let mut tables = Vec::new();
            for (table, key) in TABLES {
                let mut names = columns(conn, table)?;
                names.sort();
                let rows = conn.query_map(
                    &format!("SELECT {} FROM {table} ORDER BY {key}", names.join(", ")),
                    params![],
                    |row| {
                        (0..names.len())
                            .map(|i| row.get::<Value>(i))
                            .collect::<Result<Vec<_>, _>>()
                    },
                )?;
                tables.push((*table, rows));
            }
            Ok(tables)
        })
        .await
        .expect("dump")
}
