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
