//! `disco migrate-store` as an operator runs it: the binary, on a service's SQLite data
//! directory, into an empty PostgreSQL database (of the server DISCO_TEST_POSTGRES_URL
//! names); then the same service's clusters read from there, and a second copy refused.

use disco::domain::TenantId;
use disco::store::scratch::TestDatabase;
use disco::store::{Location, Store};

use crate::helpers::spawn_app_with;

const STAGED: &str = "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true";

/// Runs `disco migrate-store --data-dir DIR` with `DISCO_MIGRATE_TO=to`.
async fn migrate(data_dir: &std::path::Path, to: String) -> std::process::Output {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
            .args(["migrate-store", "--data-dir"])
            .arg(&data_dir)
            .env("DISCO_MIGRATE_TO", to)
            .env_remove("DISCO_STORE__URL")
            .output()
            .expect("disco runs")
    })
    .await
    .expect("joined")
}

#[tokio::test]
async fn migrate_store_copies_a_sqlite_store_into_postgres_and_refuses_a_second_copy() {
    let app = spawn_app_with(|settings| settings.store.url = None).await;
    for _ in 0..3 {
        app.create_ok(STAGED).await;
    }
    let tenant = TenantId::default_tenant();
    let before = app.store.clusters(&tenant).await.expect("list");
    assert_eq!(before.len(), 3);

    let database = TestDatabase::create().await;
    // tests/run.sh's server takes a password of the run's; a server that trusts loopback
    // takes any, and one is put in: either way it is there to be hidden.
    let mut to = url::Url::parse(&database.url_text()).expect("url");
    if to.password().is_none() {
        to.set_password(Some("not-to-be-shown")).expect("password");
    }
    let password = to.password().expect("a password").to_string();
    let out = migrate(&app.settings.data_dir, to.to_string()).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["3", "clusters"])),
        "{stdout}"
    );
    assert!(stdout.contains("***@"), "{stdout}");
    assert!(!format!("{stdout}{stderr}").contains(&password));

    let target = Store::connect(Location::Postgres(database.url.clone()))
        .await
        .expect("open the copy");
    let after = target.clusters(&tenant).await.expect("list the copy");
    let ids = |clusters: &[disco::cluster::Cluster]| -> Vec<_> {
        clusters
            .iter()
            .map(|c| (c.id, c.spec.clone(), c.state))
            .collect()
    };
    assert_eq!(ids(&after), ids(&before));

    let again = migrate(&app.settings.data_dir, to.to_string()).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("not empty"), "{stderr}");
    assert!(!stderr.contains(&password), "{stderr}");
}
