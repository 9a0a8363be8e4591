//! Who this process is among the replicas that share a store: the name its leases on
//! running jobs are held in, the machine it runs on (a local cluster's jobs are taken
//! only on its machine), and how long a lease lasts unrenewed.
//!
//! A name is held by one live process at a time ([`Store::hold_replica_name`]): a
//! replica that starts takes back the leases its name held (its own, from before a
//! restart) at once, which is safe only if no other live process goes by that name.

use std::time::Duration;

use super::db::Manager;
use super::{Location, Store, StoreError};

/// This process, as the job queue knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// Unique among the live processes on the store (`replica.name`).
    pub name: String,
    /// The machine this process runs on (`replica.host`).
    pub host: String,
    /// How long a lease lasts from its last renewal (`jobs.lease_secs`).
    pub lease: Duration,
}

/// The lease of a replica that was not told otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

impl Replica {
    /// The machine's host name, as `gethostname` tells it ("localhost" if it cannot).
    pub fn host_name() -> String {
        nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }

    /// This machine's replica named after it, with the default lease.
    pub fn this_machine() -> Replica {
        let host = Replica::host_name();
        Replica {
            name: host.clone(),
            host,
            lease: DEFAULT_LEASE,
        }
    }

    /// The lease as the store counts it.
    pub(super) fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }
}

/// A replica name held: by a file lock beside a SQLite database, by a session advisory
/// lock on a connection of its own on PostgreSQL. Let go when dropped.
pub struct NameHeld {
    _held: Held,
}

enum Held {
    File(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>),
    Session(#[allow(dead_code)] Box<super::db::Conn>),
}

/// The class of the two-key advisory locks that hold replica names ("DISC").
const NAME_LOCKS: i32 = 0x4449_5343;

impl Store {
    /// Holds this store's replica name for as long as the result lives, or says that
    /// another live process holds it.
    pub async fn hold_replica_name(&self) -> Result<NameHeld, StoreError> {
        let location = (*self.location).clone();
        let name = self.replica.name.clone();
        tokio::task::spawn_blocking(move || match location {
            Location::Sqlite(path) => hold_file(&path, &name),
            Location::Postgres(url) => {
                let conn = r2d2::ManageConnection::connect(&Manager::Postgres(Box::new(
                    url.config().clone(),
                )))?;
                let held: bool = conn.query_row(
                    &format!("SELECT pg_try_advisory_lock({NAME_LOCKS}, hashtext(?1))"),
                    super::db::params![name.clone()],
                    |row| row.get(0),
                )?;
                if !held {
                    return Err(StoreError::ReplicaNameTaken(name));
                }
                Ok(NameHeld {
                    _held: Held::Session(Box::new(conn)),
                })
            }
        })
        .await?
    }
}

/// The one server of a SQLite store, for as long as it lives: it alone writes the store,
/// so what it read stays current until its own next write (`Store::writes`).
pub struct SoleServer {
    _held: nix::fcntl::Flock<std::fs::File>,
}

impl Store {
    /// On SQLite: holds the store for this process as its only server, or says that
    /// another live `disco serve` uses it. `None` on PostgreSQL, which replicas share.
    pub async fn hold_sole_server(&self) -> Result<Option<SoleServer>, StoreError> {
        let Location::Sqlite(database) = (*self.location).clone() else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || {
            let path = format!("{}.server", database.display());
            match lock_file(&path)? {
                Some(held) => Ok(Some(SoleServer { _held: held })),
                None => Err(StoreError::SqliteInUse(database.display().to_string())),
            }
        })
        .await?
    }
}

/// An exclusive lock on the file at `path` (made, private, if need be); `None` while
/// another process holds it.
fn lock_file(path: &str) -> Result<Option<nix::fcntl::Flock<std::fs::File>>, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| StoreError::DataDir {
        path: path.to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(file) => Ok(Some(file)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(err(std::io::Error::from(errno))),
    }
}

fn hold_file(database: &std::path::Path, name: &str) -> Result<NameHeld, StoreError> {
    // The name as a file name: what is not a letter, digit, '.' or '-' becomes '_'.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = format!("{}.replica-{safe}", database.display());
    match lock_file(&path)? {
        Some(file) => Ok(NameHeld {
            _held: Held::File(file),
        }),
        None => Err(StoreError::ReplicaNameTaken(name.to_string())),
    }
}
