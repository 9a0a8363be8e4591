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
