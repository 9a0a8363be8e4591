//! A PostgreSQL database of its own for one test, made in the server
//! `DISCO_TEST_POSTGRES_URL` names and dropped after it: the store's and lifecycle's
//! unit tests and the integration tests (with `DISCO_TEST_STORE=postgres`) use it.
//! Without that variable a PostgreSQL test fails and says how to get one (tests/run.sh
//! starts a server for the run): a suite that skipped half its tests would look as green
//! as one that ran them.

use super::url::PostgresUrl;

pub const POSTGRES_VARIABLE: &str = "DISCO_TEST_POSTGRES_URL";

/// The server the PostgreSQL tests use.
pub fn server_url() -> PostgresUrl {
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
pub struct TestDatabase {
    pub url: PostgresUrl,
    name: String,
    server: PostgresUrl,
}

impl TestDatabase {
    /// The database's URL as text, password included (for a command's `--to`).
    pub fn url_text(&self) -> String {
        let text = std::env::var(POSTGRES_VARIABLE).unwrap_or_default();
        let mut url = url::Url::parse(text.trim()).expect("checked by server_url");
        url.set_path(&self.name);
        url.to_string()
    }
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
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
