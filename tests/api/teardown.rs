//! Nothing of a cluster outlives its delete, even when the DELETE races the deploy it
//! overtakes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use disco::domain::ProviderKind;
use disco::providers::local::process::processes_of;

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
