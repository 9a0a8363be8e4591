//! Nothing of a cluster outlives its delete: not when the DELETE races the deploy it
//! overtakes, and not when something was left behind anyway (the watcher finds it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use disco::domain::ProviderKind;
use disco::providers::local::addresses::Claims;
use disco::providers::local::process::{CLUSTER_VARIABLE, processes_of};

use crate::helpers::{TestApp, spawn_app_with};
use crate::local::{KillOnDrop, cluster_id, local_dir};

/// Rounds of the race. Before deletes waited for the deploy they overtake, about one
/// round in eight that sent the DELETE as the deploy began was lost.
const ROUNDS: u32 = 50;

/// A dask master alone: the cheapest cluster whose deploy starts processes at once.
const STAGED_DASK: &str = "icclab.disco.dependencies.inject=\"['dask']\",\
     icclab.disco.components.heat.slavecount=0,icclab.disco.stage=true";

async fn spawn_local_app(watch_interval_secs: u64) -> TestApp {
    spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
        settings.jobs.watch_interval_secs = watch_interval_secs;
    })
    .await
}

/// The blocks claimed in the name of the cluster's directory.
fn claims_of(app: &TestApp, cluster_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(&app.settings.provider.local.claims_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|claim| {
            std::fs::read(claim.path())
                .is_ok_and(|owner| owner == cluster_dir.as_os_str().as_encoded_bytes())
        })
        .map(|claim| claim.path())
        .collect()
}

/// Waits until the cluster is deleted; panics with its state and reason if it is not
/// within half a minute (a delete swallowed by the deploy it overtook leaves it failed).
async fn wait_deleted(app: &TestApp, location: &str, when: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(attributes) = app.attributes(location).await {
        let get = |name: &str| {
            attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert!(
            Instant::now() < deadline,
            "{when}: {location} is {}: {}",
            get("icclab.disco.state"),
            get("icclab.disco.state_reason")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nothing of the cluster is left: no process marked with it, no claim, no directory.
fn assert_nothing_left(app: &TestApp, location: &str, when: &str) {
    let left = processes_of(&cluster_id(location), None);
    assert!(
        left.is_empty(),
        "{when}: processes of {location} left: {left:?}"
    );
    let dir = local_dir(app, location);
    let claims = claims_of(app, &dir);
    assert!(
        claims.is_empty(),
        "{when}: {location} still claims {claims:?}"
    );
    assert!(!dir.exists(), "{when}: {} is still there", dir.display());
}

#[tokio::test]
async fn a_delete_racing_the_deploy_of_a_staged_cluster_always_leaves_nothing_running() {
    // The watcher would clean up after a lost race; here the race itself must be won.
    let app = spawn_local_app(3600).await;
    let mut guard = KillOnDrop(Vec::new());
    let mut deleted = Vec::new();
    let started = Instant::now();
    let mut deploys_accepted = 0;
    for round in 0..ROUNDS {
        let location = app.create_ok(STAGED_DASK).await;
        guard.watch(&location);
        // The DELETE at once in one round of four; in the others the moment the deploy
        // shows it has begun, when the provider is about to make the nodes.
        let deploy = app.client.post(format!("{location}?action=deploy")).send();
        let delete = async {
            if round % 4 != 0 {
                let deadline = Instant::now() + Duration::from_millis(500);
                while app
                    .attribute(&location, "icclab.disco.state")
                    .await
                    .as_deref()
                    == Some("pending")
                    && Instant::now() < deadline
                {}
            }
            app.client.delete(&location).send().await
        };
        let (deploy, delete) = tokio::join!(deploy, delete);
        let deploy = deploy.expect("deploy sent").status();
        // The delete came first: 409 while the cluster is deleting, 404 once deleted.
        assert!(
            [200, 409, 404].contains(&deploy.as_u16()),
            "round {round}: deploy {deploy}"
        );
        deploys_accepted += u32::from(deploy == 200);
        assert_eq!(delete.expect("delete sent").status(), 200, "round {round}");
        let when = format!("round {round}");
        wait_deleted(&app, &location, &when).await;
        assert_nothing_left(&app, &location, &when);
        deleted.push(location);
    }
    // A deploy still running when its cluster was deleted would start its nodes late.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for location in &deleted {
        assert_nothing_left(&app, location, "two seconds after the last round");
    }
    eprintln!(
        "{ROUNDS} rounds ({deploys_accepted} deploys accepted) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A process such as a node script starts: marked with the cluster and its node's
/// directory.
fn node_process(cluster: &str, node_dir: &Path) -> Child {
    Command::new("sleep")
        .arg("600")
        .env(CLUSTER_VARIABLE, cluster)
        .env("DISCO_NODE", "master")
        .env("DISCO_NODE_DIR", node_dir)
        .spawn()
        .expect("sleep starts")
}

/// What a deploy leaves of a cluster: its directory, the block it claimed and a process.
fn leave_behind(app: &TestApp, cluster: &str) -> Child {
    let dir = app.settings.provider.local.dir.join(cluster);
    let node_dir = dir.join("nodes/master");
    std::fs::create_dir_all(node_dir.join("pids")).expect("node directory");
    let allocation = Claims::new(&app.settings.provider.local.claims_dir)
        .claim(&dir)
        .expect("a block");
    std::fs::write(
        dir.join("allocation.json"),
        serde_json::to_vec(&allocation).expect("json"),
    )
    .expect("allocation");
    node_process(cluster, &node_dir)
}

/// Whether the child ended (and is reaped, so that it is no zombie still marked).
fn ended(child: &mut Child) -> bool {
    child.try_wait().expect("wait").is_some()
}

#[tokio::test]
async fn the_watcher_stops_and_frees_what_deleted_and_unknown_clusters_left_behind() {
    let app = spawn_local_app(1).await;
    let mut guard = KillOnDrop(Vec::new());
    // Deleted while staged, its delete found nothing; then something of it appears, as
    // when a deploy that lost the race to the delete started its nodes.
    let deleted = app.create_ok(STAGED_DASK).await;
    guard.watch(&deleted);
    let response = app.client.delete(&deleted).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    wait_deleted(&app, &deleted, "deleted while staged").await;
    let mut deleted_process = leave_behind(&app, &cluster_id(&deleted));
    // One this server's store never had (say its database was restored from a backup).
    let unknown = format!("{}/disco/{}", app.address, uuid::Uuid::new_v4());
    guard.watch(&unknown);
    let mut unknown_process = leave_behind(&app, &cluster_id(&unknown));
    // Not the watcher's: a cluster that is still pending, and one of another server.
    let pending = app.create_ok(STAGED_DASK).await;
    guard.watch(&pending);
    let mut pending_process = leave_behind(&app, &cluster_id(&pending));
    let elsewhere = tempfile::tempdir().expect("dir");
    let other = uuid::Uuid::new_v4().to_string();
    guard.0.push(other.clone());
    let mut other_process = node_process(&other, &elsewhere.path().join(&other));

    let deadline = Instant::now() + Duration::from_secs(20);
    while !(ended(&mut deleted_process) && ended(&mut unknown_process)) {
        assert!(
            Instant::now() < deadline,
            "the watcher left the processes of a deleted and an unknown cluster running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its claims and directories go with the processes, in the same round of the watcher
    // (the directory first, then the claim: looked at until both are gone).
    let deadline = Instant::now() + Duration::from_secs(5);
    while [&deleted, &unknown].iter().any(|location| {
        let dir = local_dir(&app, location);
        dir.exists() || !claims_of(&app, &dir).is_empty()
    }) {
        assert!(Instant::now() < deadline, "directories or claims left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_nothing_left(&app, &deleted, "after the watcher");
    assert_nothing_left(&app, &unknown, "after the watcher");
    assert!(!ended(&mut pending_process), "a pending cluster's process");
    assert_eq!(claims_of(&app, &local_dir(&app, &pending)).len(), 1);
    assert!(!ended(&mut other_process), "another server's process");
}
