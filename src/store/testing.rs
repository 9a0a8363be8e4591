//! Stores for tests, on either database: SQLite in a temporary directory, or a fresh
//! PostgreSQL database (`scratch::TestDatabase`).

pub(crate) use super::scratch::TestDatabase;
use super::{Backend, Location, Store};

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

/// A PostgreSQL URL, with a password, on a loopback port where nothing listens (one just
/// given up): connecting is refused.
pub(crate) fn unreachable_postgres() -> super::url::PostgresUrl {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    super::url::PostgresUrl::parse(&format!(
        "postgres://disco:s3cret-pw@127.0.0.1:{port}/disco?connect_timeout=2"
    ))
    .expect("a URL")
}

/// A pool of connections to `unreachable_postgres` that waits 200 ms for one.
fn unreachable_pool() -> r2d2::Pool<super::db::Manager> {
    let manager = super::db::Manager::Postgres(Box::new(unreachable_postgres().config().clone()));
    r2d2::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_millis(200))
        .build_unchecked(manager)
}

/// What that pool answers once it waited out its timeout: a real `r2d2::Error`, as the
/// store gives it.
pub(crate) fn pool_timeout() -> super::StoreError {
    match unreachable_pool().get() {
        Err(error) => super::StoreError::Pool(error),
        Ok(_) => panic!("a connection to a port where nothing listens"),
    }
}

/// A store whose database is not there: every query fails as `pool_timeout` does.
pub(crate) fn unreachable_store() -> Store {
    let pool = unreachable_pool();
    Store {
        writer: pool.clone(),
        readers: pool,
        backend: Backend::Postgres,
        notifier: super::notify::Notifier::default(),
        location: std::sync::Arc::new(Location::Postgres(unreachable_postgres())),
        replica: std::sync::Arc::new(super::Replica::this_machine()),
        writes: super::Writes::default(),
    }
}
