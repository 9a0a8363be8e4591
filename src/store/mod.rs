//! Persistence: clusters, every state transition, and the job queue, in one SQLite file
//! (the default) or a PostgreSQL database (`store.url`), the same queries on both.
//!
//! A state change and the job that acts on it are written in one transaction, so after a
//! crash a cluster is never in a state with no job to move it on. Jobs on disk are only
//! queued, done, failed or cancelled: "running" lives in the worker's memory, so a job that
//! was running when the process died is simply queued and runs again.
//!
//! The connections are owned here, pooled, and only used on tokio's blocking pool:
//! `call` runs a closure that may write, `read` one that only reads (on SQLite, beside
//! the writer, on a reader connection of its own).
//!
//! `clusters` holds the clusters and their transitions, `jobs` the queue, `reports` what
//! nodes report, `durations` how long their steps took (for how long the next are
//! expected to); `templates` each tenant's cluster templates; `rows` is how their values
//! are written as text and read back; `notify` tells event streams, after a commit, which
//! cluster changed; `census` what `GET /metrics` counts; `purge` forgets clusters
//! deleted long ago. `db` is how a query reaches either database, `url` where the
//! store is, `copy` what `disco migrate-store` moves between them.

pub mod census;
mod clusters;
mod copy;
pub(crate) mod db;
mod durations;
mod health;
mod jobs;
mod migrations;
pub mod news;
pub mod notify;
mod purge;
pub mod replica;
mod reports;
mod rows;
pub mod scratch;
mod sessions;
mod templates;
pub mod url;
mod uses;

use std::path::{Path, PathBuf};

use self::db::{Conn, Manager};

pub use self::clusters::Operation;
pub use self::copy::Copied;
pub use self::db::Backend;
pub use self::health::Heartbeat;
pub use self::jobs::{Job, JobKind, JobOutcome};
pub use self::replica::{NameHeld, Replica, SoleServer};
pub use self::reports::Reported;
pub use self::sessions::StoredSession;

use crate::domain::ClusterState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("database connections: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(
        "database schema: version {found} is newer than this build's {known}: run a newer disco"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database column {index}: {problem}")]
    Column { index: usize, problem: String },
    #[error("database: no row from {0}")]
    NoRow(String),
    #[error(
        "the target store is not empty (its {table} table has {rows} rows): a store is copied \
         only into an empty database"
    )]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error(
        "another live process is replica {0:?} of this store: give each replica its own \
         replica.name"
    )]
    ReplicaNameTaken(String),
    #[error(
        "another disco serve uses the SQLite store {0}: a SQLite store has one server; \
         replicas share a PostgreSQL store (store.url)"
    )]
    SqliteInUse(String),
    /// A job's lease ran out and another replica took the job over: what this one did
    /// with it is not recorded.
    #[error("job {0}: its lease ran out and another replica took it over")]
    LeaseLost(i64),
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

impl StoreError {
    /// The database could not be reached, or was too busy to answer in time: what
    /// trying again shortly may cure, rather than a query it refused or a bug (the API
    /// answers it 503 with `Retry-After`, not 500). That is every pool error (r2d2's
    /// only one is waiting out the pool's timeout for a connection: none was free and
    /// none could be made), PostgreSQL's failures to connect or to keep a connection
    /// (`postgres_unavailable`), and SQLite's file locked or busy past the busy timeout.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Pool(_) => true,
            StoreError::Postgres(error) => postgres_unavailable(error),
            StoreError::Sqlite(error) => matches!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// Whether PostgreSQL was not reached or the connection was lost: the server said so
/// (SQLSTATE class 08, connection exception; 57P01-57P03, shutting down or not yet
/// accepting connections; 53300, too many connections), or the client found it closed,
/// could not connect, could not read or write it, or timed out connecting. The client's
/// kinds of error are private; a non-server error is told by its `Display`, which
/// names the kind (`tests` pins the texts on a refused and a dropped connection).
fn postgres_unavailable(error: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    if let Some(code) = error.code() {
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code);
    }
    error.is_closed()
        || matches!(
            error.to_string().as_str(),
            "error connecting to server"
                | "error communicating with the server"
                | "timeout waiting for server"
        )
}

/// Where the store is: a SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(url::PostgresUrl),
}

/// What PostgreSQL or its client said: the client's own `Display` leaves out the cause
/// ("error connecting to server", without "Connection refused").
fn postgres_message(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

/// Where it is, for logs and errors (a URL's password as `***`).
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "SQLite at {}", path.display()),
            Location::Postgres(url) => write!(f, "PostgreSQL at {url}"),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    /// The connection that writes (SQLite: the only one; PostgreSQL: the pool).
    writer: r2d2::Pool<Manager>,
    /// The connections that only read (PostgreSQL: the same pool).
    readers: r2d2::Pool<Manager>,
    backend: Backend,
    notifier: notify::Notifier,
    location: std::sync::Arc<Location>,
    /// Who holds the leases of the jobs this process claims.
    replica: std::sync::Arc<Replica>,
    /// How many write calls have ended through this store (and its clones).
    writes: Writes,
}

/// A count of the write calls that have ended, each counted once its closure is done
/// (its commits with it), whether it succeeded, failed or panicked: what was read before
/// the count moved may be out of date, what was read after it may not.
#[derive(Clone, Default)]
pub(crate) struct Writes(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Writes {
    fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Counts a write call when dropped, after its closure: on unwinding too.
struct Counted(Writes);

impl Drop for Counted {
    fn drop(&mut self) {
        (self.0).0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// SQLite's readers refuse to write (`PRAGMA query_only`): every write goes through the
/// writer, where `Store::writes` counts it.
#[derive(Debug)]
struct ReadOnly;

impl r2d2::CustomizeConnection<Conn, StoreError> for ReadOnly {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), StoreError> {
        conn.batch("PRAGMA query_only = ON")
    }
}

/// SQLite's connections that read beside the writer; PostgreSQL's pool.
const SQLITE_READERS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 10;

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up
    /// to date.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Store::connect(Location::Sqlite(path.to_path_buf())).await
    }

    /// Opens the store at `location` and brings its schema up to date; processes that
    /// open one store at once migrate it once (under a lock), the others wait for it.
    pub async fn connect(location: Location) -> Result<Store, StoreError> {
        tokio::task::spawn_blocking(move || match location {
            Location::Sqlite(path) => Store::open_sqlite(path),
            Location::Postgres(url) => Store::open_postgres(&url),
        })
        .await?
    }

    fn open_sqlite(path: PathBuf) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        create_private_file(&path)?;
        let location = std::sync::Arc::new(Location::Sqlite(path.clone()));
        let manager = || Manager::Sqlite { path: path.clone() };
        {
            let _lock = migrations::SqliteLock::take(&path)?;
            let mut conn = r2d2::ManageConnection::connect(&manager())?;
            migrations::to_latest_sqlite(&mut conn)?;
        }
        // The journal files exist now (WAL): only the owner may read them either.
        create_private_file(&path)?;
        let writer = r2d2::Pool::builder()
            .max_size(1)
            .min_idle(Some(1))
            .build(manager())?;
        let readers = r2d2::Pool::builder()
            .max_size(SQLITE_READERS)
            .min_idle(Some(1))
            .connection_customizer(Box::new(ReadOnly))
            .build(manager())?;
        Ok(Store {
            writer,
            readers,
            backend: Backend::Sqlite,
            notifier: notify::Notifier::default(),
            location,
            replica: std::sync::Arc::new(Replica::this_machine()),
            writes: Writes::default(),
        })
    }

    fn open_postgres(url: &url::PostgresUrl) -> Result<Store, StoreError> {
        let pool = r2d2::Pool::builder()
            .max_size(POSTGRES_CONNECTIONS)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(Manager::Postgres(Box::new(url.config().clone())))?;
        let conn = pool.get()?;
        conn.set_writes(true);
        migrations::to_latest_postgres(&conn)?;
        drop(conn);
        Ok(Store {
            writer: pool.clone(),
            readers: pool,
            backend: Backend::Postgres,
            notifier: notify::Notifier::default(),
            location: std::sync::Arc::new(Location::Postgres(url.clone())),
            replica: std::sync::Arc::new(Replica::this_machine()),
            writes: Writes::default(),
        })
    }

    /// The store as replica `replica` uses it: the jobs it claims are leased in its name.
    pub fn for_replica(mut self, replica: Replica) -> Store {
        self.replica = std::sync::Arc::new(replica);
        self
    }

    /// Who this process is among the store's replicas.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Which database the store is in.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Who waits for news of a cluster: signalled after each commit that changes what
    /// its event stream shows.
    pub fn notifier(&self) -> &notify::Notifier {
        &self.notifier
    }

    /// Runs `f`, which may write, with the writing connection on the blocking pool; the
    /// write is counted (`writes`) once `f` is done, even if the caller stopped waiting.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let counted = Counted(self.writes.clone());
        Store::run(self.writer.clone(), true, move |conn| {
            let _counted = counted;
            f(conn)
        })
        .await
    }

    /// How many write calls have ended through this store: a reader that takes it
    /// before it reads knows its read is current for as long as the count stays. It
    /// counts this process's writes only: see `hold_sole_server`.
    pub fn writes(&self) -> u64 {
        self.writes.get()
    }

    /// Runs `f`, which only reads, with a reading connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        Store::run(self.readers.clone(), false, f).await
    }

    async fn run<T, F>(pool: r2d2::Pool<Manager>, writes: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            // A panic in `f` cannot leave a half-written transaction: its `Tx` rolls
            // back as it unwinds, and the pool takes the connection back.
            let mut conn = pool.get()?;
            conn.set_writes(writes);
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
pub(crate) mod testing;
#[cfg(test)]
mod tests;
