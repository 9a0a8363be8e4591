//! Replicas of the service on one PostgreSQL database, as an operator runs them: real
//! `disco serve` processes sharing the store and, for the local provider, the machine's
//! data directory. Any replica answers for any cluster; a replica killed while its job
//! deploys loses the job's lease, and another replica takes the job over and adopts the
//! processes the dead one started; a second live process cannot take a replica's name.

use disco::store::scratch::TestDatabase;

use crate::helpers::{CATEGORY, ServerProcess, client};
use crate::local::{
    KillOnDrop, cluster_id, delete_and_check_nothing_left, get_attributes, value, wait_ready,
    wait_state,
};

/// A replica's settings: the shared store, its name, a short lease, the local provider.
fn replica_env<'a>(store: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DISCO_PROVIDER__DEFAULT", "local"),
        ("DISCO_STORE__URL", store),
        ("DISCO_REPLICA__NAME", name),
        ("DISCO_JOBS__LEASE_SECS", "3"),
        ("DISCO_JOBS__POLL_INTERVAL_SECS", "1"),
    ]
}

/// Each node's script process record (its pid and start time), by node.
fn node_scripts(cluster_dir: &std::path::Path) -> Vec<(String, String)> {
    let mut scripts: Vec<(String, String)> = std::fs::read_dir(cluster_dir.join("nodes"))
        .expect("nodes")
        .flatten()
        .filter_map(|node| {
            let record = std::fs::read_to_string(node.path().join("script")).ok()?;
            Some((node.file_name().to_string_lossy().into_owned(), record))
        })
        .collect();
    scripts.sort();
    scripts
}

#[tokio::test]
async fn a_replica_killed_during_a_dask_deploy_loses_it_to_another_which_adopts_its_processes() {
    let database = TestDatabase::create().await;
    let store = database.url_text();
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client();

    // Replica a alone takes the deploy: it is the only one running when it is queued.
    let mut a = ServerProcess::start(dir.path(), &replica_env(&store, "a"));
    let response = client
        .post(a.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let id = cluster_id(&crate::helpers::location(response.headers()));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&id);
    let b = ServerProcess::start(dir.path(), &replica_env(&store, "b"));

    // Either replica answers for the cluster, from the one store.
    let on_a = a.url(&format!("/disco/{id}"));
    let on_b = b.url(&format!("/disco/{id}"));
    wait_state(&client, &on_a, "installing").await;
    let seen_by_b = get_attributes(&client, &on_b).await.expect("b knows it");
    assert_eq!(value(&seen_by_b, "icclab.disco.state"), "installing");

    let cluster_dir = dir.path().join("local").join(&id);
    let started = node_scripts(&cluster_dir);
    assert_eq!(started.len(), 2, "a node script per node: {started:?}");
    a.kill(); // SIGKILL, while its job deploys: the node scripts go on without it
    let attributes = wait_ready(&client, &on_b).await;
    assert!(value(&attributes, "external_ip").ends_with(".10"));
    assert!(
        b.logs_soon("taking over a job whose replica's lease ran out")
            .await,
        "{}",
        b.log_text()
    );
    let metrics = client
        .get(b.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("disco_job_lease_takeovers_total 1"),
        "{metrics}"
    );
    // Adopted, not deployed again: the node scripts a started are the ones that ran.
    assert_eq!(
        node_scripts(&cluster_dir),
        started,
        "the same node scripts, once"
    );
    delete_and_check_nothing_left(&client, &on_b, &cluster_dir).await;
}

#[tokio::test]
async fn a_second_live_process_with_a_replica_s_name_refuses_to_start() {
    let database = TestDatabase::create().await;
    let store = database.url_text();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ServerProcess::start(dir.path(), &replica_env(&store, "only"));
    let other = tempfile::tempdir().expect("tempdir");
    let env: Vec<(String, String)> = replica_env(&store, "only")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let data_dir = other.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .envs(env)
            .output()
            .expect("disco runs")
    })
    .await
    .expect("joined");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("replica \"only\""), "{said}");
    assert!(said.contains("replica.name"), "{said}");
    // The first goes on serving.
    let health = client().get(first.url("/-/")).send().await.expect("sent");
    assert_eq!(health.status(), 200);
}
