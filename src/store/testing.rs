//! Stores for tests, on either database: SQLite in a temporary directory, or a fresh
//! PostgreSQL database made in the server `DISCO_TEST_POSTGRES_URL` names and dropped
//! after the test. Without that variable a PostgreSQL test fails and says how to get one
//! (tests/run.sh starts a server for the run): a suite that skipped half its tests
//! would look as green as one that ran them.

use super::url::PostgresUrl;
use super::{Backend, Location, Store};

pub(crate) const POSTGRES_VARIABLE: &str = "DISCO_TEST_POSTGRES_URL";

/// What a test store lives in; dropping it removes it.
#[expect(dead_code, reason = "held for what its drop removes")]
pub(crate) enum Scratch {
    Dir(tempfile::TempDir),
    Database(TestDatabase),
}

/// A store on `backend` that lives as long as the `Scratch` beside it, and where it is
/// (to open it again).
pub(crate) async fn store_on(backend: Backend) -> (Store, Scratch, Location) {
    let (scratch, location) = scratch_on(backend).await;
    let store = Store::connect(location.clone())
        .await
        .expect("open the store");
    (store, scratch, location)
}

/// An empty place for a store on `backend`, and its location.
pub(crate) async fn scratch_on(backend: Backend) -> (Scratch, Location) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("disco.db");
            (Scratch::Dir(dir), Location::Sqlite(path))
        }
        Backend::Postgres => {
            let database = TestDatabase::create().await;
            let location = Location::Postgres(database.url.clone());
            (Scratch::Database(database), location)
        }
    }
}

/// The server the PostgreSQL tests use.
pub(crate) fn server_url() -> PostgresUrl {
    let text = std::env::var(POSTGRES_VARIABLE).unwrap_or_default();
    assert!(
        !text.trim().is_empty(),
        "{POSTGRES_VARIABLE} is not set: the store's PostgreSQL tests need a server. Run \
         tests/run.sh, which starts one on loopback, or set {POSTGRES_VARIABLE} to a \
         server's URL (postgres://user@127.0.0.1:PORT/postgres) where the user may \
         create databases"
    );
    PostgresUrl::parse(&text).unwrap_or_else(|e| panic!("{POSTGRES_VARIABLE}: {e}"))
}

/// A database of its own for one test, dropped with it.
pub(crate) struct TestDatabase {
    pub(crate) url: PostgresUrl,
    name: String,
    server: PostgresUrl,
}

impl TestDatabase {
    pub(crate) async fn create() -> TestDatabase {
        let server = server_url();
        let name = format!("disco_test_{}", uuid::Uuid::new_v4().simple());
        let admin = server.clone();
        let created = name.clone();
        tokio::task::spawn_blocking(move || {
            let mut client = admin
                .config()
                .connect(postgres::NoTls)
                .unwrap_or_else(|e| panic!("connecting to {admin} ({POSTGRES_VARIABLE}): {e}"));
            client
                .batch_execute(&format!("CREATE DATABASE {created}"))
                .expect("create the test database");
        })
        .await
        .expect("create");
        TestDatabase {
            url: server.with_database(&name),
            name,
            server,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // The synchronous client may not run on the test's executor thread.
        let dropped = std::thread::spawn(move || {
            let mut client = server.config().connect(postgres::NoTls)?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("dropping the test database: {e}");
        }
    }
}

/// Each test named, an `async fn(Backend)`, as two `#[tokio::test]`s: one in a module
/// `sqlite`, one in `postgres`.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::store::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test($crate::store::Backend::Postgres).await
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;
