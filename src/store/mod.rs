//! Persistence in one SQLite file: clusters, every state transition, and the job queue.
//!
//! A state change and the job that acts on it are written in one transaction, so after a
//! crash a cluster is never in a state with no job to move it on. Jobs on disk are only
//! queued, done, failed or cancelled: "running" lives in the worker's memory, so a job that
//! was running when the process died is simply queued and runs again.
//!
//! The connection is owned here and only used on tokio's blocking pool.
//!
//! `clusters` holds the clusters and their transitions, `jobs` the queue, `reports` what
//! nodes report, `durations` how long their steps took (for how long the next are
//! expected to); `templates` each tenant's cluster templates; `rows` is how their values
//! are written as text and read back; `notify` tells event streams, after a commit, which
//! cluster changed; `census` what `GET /metrics` counts; `purge` forgets clusters
//! deleted long ago.

pub mod census;
mod clusters;
mod durations;
mod health;
mod jobs;
mod migrations;
pub mod notify;
mod purge;
mod reports;
mod rows;
mod templates;
mod uses;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use self::clusters::Operation;
pub use self::health::Heartbeat;
pub use self::jobs::{Job, JobKind, JobOutcome};
pub use self::reports::Reported;

use crate::domain::ClusterState;

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
    #[error("a template named {0:?} exists already")]
    TemplateTaken(String),
    /// The provider takes one tenant's clusters, and another tenant has some.
    #[error("another tenant has clusters on the {0} provider")]
    OtherTenant(crate::domain::ProviderKind),
    #[error("cluster is {state}: {action} needs it {needed}")]
    WrongState {
        state: ClusterState,
        action: &'static str,
        needed: &'static str,
    },
    /// A cluster a create uses is no longer ready.
    #[error("{name} is {state}: a cluster can use only ready clusters")]
    UsedNotReady { name: String, state: ClusterState },
    /// A delete of a cluster others use, without cascade.
    #[error(
        "{} {} this cluster: delete {} first, or DELETE with ?cascade=true to delete {} and then this one",
        names.join(", "), if names.len() == 1 { "uses" } else { "use" },
        if names.len() == 1 { "it" } else { "them" }, if names.len() == 1 { "it" } else { "them" }
    )]
    InUse { names: Vec<String> },
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

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    notifier: notify::Notifier,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            if let Some(dir) = path.parent() {
                create_private_dir(dir)?;
            }
            create_private_file(&path)?;
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
            notifier: notify::Notifier::default(),
        })
    }

    /// Who waits for news of a cluster: signalled after each commit that changes what
    /// its event stream shows.
    pub fn notifier(&self) -> &notify::Notifier {
        &self.notifier
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
}

/// The database holds private keys and tokens: only its owner may read it, and its
/// journal files, which SQLite makes with the database's mode. (The data directory may
/// be open to search, for the local provider's cluster users to reach their own
/// directories in it.)
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let err = |source| StoreError::DataDir {
        path: path.display().to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(err)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The data directory holds private keys: only its owner may list or write it (others
/// may at most pass through it).
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
    if meta.permissions().mode() & 0o066 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
