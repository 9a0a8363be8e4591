//! `?action=cancel`: a deploy in flight stops, what it made is removed (no process,
//! address or directory is left; on OpenStack, no stack), and the cluster stays as
//! `cancelled` with its task tree and deployment log until its owner deletes it.

use std::time::{Duration, Instant};

use disco::providers::local::process::processes_of;

use crate::local::{
    KillOnDrop, cluster_id, get_attributes, local_dir, spawn_local_app, spawn_local_app_with,
    value, wait_state,
};

/// An app whose Dask deploys stay in flight (a copy of the catalogue whose master smoke
/// step waits an hour), so that a cancel always finds one; `dir` holds the copy.
async fn spawn_with_a_deploy_that_waits(dir: &std::path::Path) -> crate::helpers::TestApp {
    let copy = dir.join("frameworks");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks"))
        .arg(&copy)
        .status()
        .expect("cp runs");
    assert!(status.success());
    std::fs::write(
        copy.join("dask/local/smoke.sh"),
        "# dask smoke that waits (a test's)\nsleep 3600\n",
    )
    .expect("write");
    spawn_local_app_with(|s| s.catalogue.frameworks_dir = copy).await
}

async fn cancel(client: &reqwest::Client, location: &str) -> (u16, String) {
    let response = client
        .post(format!("{location}?action=cancel"))
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_deploy_cancelled_while_installing_leaves_nothing_running_and_keeps_its_record() {
    let dir = tempfile::tempdir().expect("dir");
    let app = spawn_with_a_deploy_that_waits(dir.path()).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let id = cluster_id(&location);
    let dir = local_dir(&app, &location);
    wait_state(&app.client, &location, "installing").await;
    // Its node scripts run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_of(&id, None).is_empty() {
        assert!(Instant::now() < deadline, "the nodes never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, body) = cancel(&app.client, &location).await;
    assert_eq!(status, 200, "{body}");
    let cancelled = wait_state(&app.client, &location, "cancelled").await;
    let reason = value(&cancelled, "icclab.disco.state_reason");
    assert!(
        reason.starts_with("cancelled: the deploy was cancelled by its owner while installing"),
        "{reason}"
    );
    let left = processes_of(&id, None);
    assert!(left.is_empty(), "processes left: {left:?}");
    assert!(!dir.exists(), "{} is still there", dir.display());
    // Listed, and its task tree readable: the deploy cancelled, the tear-down done.
    assert!(app.listing().await.contains(&location));
    let tasks: serde_json::Value = app
        .client
        .get(format!("{location}/tasks?all=true"))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let text = tasks.to_string();
    assert!(text.contains("\"cluster_converge\""), "{text}");
    assert_eq!(tasks[0]["status"], "cancelled", "{text}");
    assert_eq!(tasks[1]["status"], "succeeded", "{text}");
    let logs = app
        .client
        .get(format!("{location}/logs"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(logs.contains("node started"), "{logs}");

    // Nothing in flight any more: a 409 naming the state; the record is untouched.
    let (status, body) = cancel(&app.client, &location).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("cluster is cancelled: cancel needs it deploying"),
        "{body}"
    );
    let again = get_attributes(&app.client, &location).await.expect("kept");
    assert_eq!(value(&again, "icclab.disco.state"), "cancelled");
    // Its owner deletes it.
    let deleted = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(deleted.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_attributes(&app.client, &location).await.is_some() {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_ready_or_staged_cluster_has_nothing_to_cancel() {
    let app = spawn_local_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true")
        .await;
    let (status, body) = cancel(&app.client, &location).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("cluster is pending: cancel needs it deploying"),
        "{body}"
    );
    let attributes = get_attributes(&app.client, &location).await.expect("kept");
    assert_eq!(value(&attributes, "icclab.disco.state"), "pending");
    let (status, _) = cancel(
        &app.client,
        &format!("{}/disco/00000000-0000-4000-8000-000000000000", app.address),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn disco_cancel_wait_ends_a_deploy_and_disco_ls_shows_it_cancelled() {
    use crate::cli::ok;
    let dir = tempfile::tempdir().expect("dir");
    let app = spawn_with_a_deploy_that_waits(dir.path()).await;
    ok(
        &app,
        &["deploy", "doomed", "--components", "dask", "--slaves", "1"],
    )
    .await;
    let location = app.listing().await.into_iter().next().expect("the cluster");
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_state(&app.client, &location, "installing").await;
    let said = ok(&app, &["cancel", "doomed", "--wait"]).await;
    assert!(said.contains("doomed: cancelled"), "{said}");
    assert!(processes_of(&cluster_id(&location), None).is_empty());
    let listing = ok(&app, &["ls"]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.contains("doomed") && l.contains("cancelled")),
        "{listing}"
    );
}

#[tokio::test]
async fn a_scale_out_cancelled_removes_its_new_slaves_and_the_cluster_is_ready_as_before() {
    // A catalogue whose Dask slaves never finish starting: a scale-out stays in flight.
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("frameworks");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks"))
        .arg(&copy)
        .status()
        .expect("cp runs");
    assert!(status.success());
    std::fs::write(
        copy.join("dask/local/start-slave.sh"),
        "# dask start that waits (a test's)\nsleep 3600\n",
    )
    .expect("write");
    let app = spawn_local_app_with(|s| s.catalogue.frameworks_dir = copy).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=0",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    crate::local::wait_ready(&app.client, &location).await;
    let cluster_dir = local_dir(&app, &location);
    let scheduler = crate::local::record_of(&cluster_dir.join("nodes/master/pids/dask-scheduler"));
    let scaled = app
        .client
        .post(format!("{location}?action=scale"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=2",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(scaled.status(), 200);
    let id = cluster_id(&location);
    let slave = cluster_dir.join("nodes/slave-2");
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_of(&id, Some(&slave)).is_empty() {
        assert!(Instant::now() < deadline, "the new slaves never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // `disco cancel --wait`, by the cluster's id.
    let said = crate::cli::ok(&app, &["cancel", &id, "--wait"]).await;
    assert!(said.contains(": ready"), "{said}");
    let ready = wait_state(&app.client, &location, "ready").await;
    assert_eq!(
        value(&ready, "icclab.disco.state_reason"),
        "scale cancelled: back to 0 slaves; the new ones were removed"
    );
    assert_eq!(
        value(&ready, "icclab.disco.components.heat.slavecount"),
        "0"
    );
    for n in 1..=2 {
        let node = cluster_dir.join(format!("nodes/slave-{n}"));
        assert!(
            processes_of(&id, Some(&node)).is_empty(),
            "slave {n} runs on"
        );
        assert!(!node.exists(), "{} is still there", node.display());
    }
    // The master was not touched, and the scale is cancelled in the history.
    assert!(scheduler.is_alive(), "the scheduler runs on");
    let tasks: serde_json::Value = app
        .client
        .get(format!("{location}/tasks?all=true"))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let last = tasks
        .as_array()
        .and_then(|t| t.last())
        .expect("tasks")
        .clone();
    assert_eq!(last["status"], "cancelled", "{tasks}");
    // A scale-in is not cancelled: it hands its slaves' data over.
    let (status, body) = cancel(&app.client, &location).await;
    assert_eq!(status, 409, "{body}");
}
