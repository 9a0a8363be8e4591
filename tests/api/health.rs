//! Continuous health on the local provider, with real Dask processes: a worker killed
//! makes the ready cluster `degraded` (it stays ready), a repair starts the worker again
//! and the cluster is `healthy`; the scheduler killed makes it `unhealthy`; with
//! `icclab.disco.autorepair` the cluster repairs itself.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::helpers::TestApp;
use crate::local::{
    DASK_JOB, KillOnDrop, delete_and_check_nothing_left, get_attributes, local_dir, python,
    record_of, spawn_local_app_with, value, venv, wait_ready,
};

async fn spawn() -> TestApp {
    spawn_local_app_with(|settings| settings.jobs.watch_interval_secs = 1).await
}

/// Polls until the cluster's health is `wanted`; its attributes then.
async fn wait_health(app: &TestApp, location: &str, wanted: &str) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let attributes = get_attributes(&app.client, location)
            .await
            .expect("the cluster exists");
        if value(&attributes, "icclab.disco.health") == wanted
            && value(&attributes, "icclab.disco.state") == "ready"
        {
            return attributes;
        }
        assert!(
            Instant::now() < deadline,
            "never {wanted}: {} ({}), state {} ({})",
            value(&attributes, "icclab.disco.health"),
            value(&attributes, "icclab.disco.health_reason"),
            value(&attributes, "icclab.disco.state"),
            value(&attributes, "icclab.disco.state_reason"),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn repair(app: &TestApp, location: &str) -> (u16, String) {
    let response = app
        .client
        .post(format!("{location}?action=repair"))
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn kill_service(record: &std::path::Path) -> i32 {
    let process = record_of(record);
    assert!(process.signal_group(Signal::SIGKILL), "the service ran");
    process.pid
}

#[tokio::test]
async fn a_killed_dask_worker_degrades_the_ready_cluster_and_a_repair_starts_it_again() {
    let app = spawn().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_ready(&app.client, &location).await;
    let master = value(&attributes, "external_ip");
    let healthy = wait_health(&app, &location, "healthy").await;
    assert!(
        value(&healthy, "icclab.disco.health_reason").contains("checks pass on every node"),
        "{healthy:?}"
    );
    // Nothing fails: nothing to repair.
    let (status, body) = repair(&app, &location).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("nothing to repair: the cluster is healthy"),
        "{body}"
    );

    let dir = local_dir(&app, &location);
    let worker = dir.join("nodes/slave-1/pids/dask-worker");
    let killed = kill_service(&worker);
    let degraded = wait_health(&app, &location, "degraded").await;
    let reason = value(&degraded, "icclab.disco.health_reason");
    assert!(
        reason.contains("dask on slaves:1: process dask-worker failing since"),
        "{reason}"
    );
    // Every check, failing first, for `disco health`.
    let health: serde_json::Value = app
        .client
        .get(format!("{location}/health"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let checks = health["health"]["checks"].as_array().expect("checks");
    let failing: Vec<_> = checks.iter().filter(|c| c["passing"] == false).collect();
    assert!(
        failing.iter().all(|c| c["node"] == "slaves:1"),
        "only the slave's fail: {health}"
    );
    assert!(
        failing
            .iter()
            .any(|c| c["check"] == "process dask-worker" && c["component"] == "dask"),
        "{health}"
    );
    assert_eq!(checks[0]["passing"], false, "failing first: {health}");
    assert!(
        checks
            .iter()
            .any(|c| c["node"] == "master" && c["check"] == "tcp 8786" && c["passing"] == true),
        "{health}"
    );

    let (status, body) = repair(&app, &location).await;
    assert_eq!(status, 200, "{body}");
    let repaired = wait_health(&app, &location, "healthy").await;
    let reason = value(&repaired, "icclab.disco.state_reason");
    assert_eq!(reason, "repaired: started again dask on slaves:1");
    let restarted = record_of(&worker);
    assert_ne!(restarted.pid, killed, "a new worker");
    assert!(restarted.is_alive());
    // The cluster computes again, on the worker that came back.
    let output = python(
        &venv(&app, "dask-2025.12.0"),
        DASK_JOB,
        &[&format!("tls://{master}:8786")],
        &[(
            "DASK_CONFIG",
            dir.join("shared/dask/config").display().to_string(),
        )],
    );
    assert!(output.lines().any(|l| l == "total 20540"), "{output}");
    // The repair is a task of its own: the worker's start and the smoke test, on
    // slaves:1 alone.
    let tree = app
        .client
        .get(format!("{location}/tasks"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(tree.contains("cluster_repair"), "{tree}");
    assert!(
        tree.lines()
            .any(|l| l.contains("dask start") && l.contains("succeeded")),
        "{tree}"
    );
    assert!(
        !tree.lines().any(|l| l.contains("master")),
        "the master was not touched: {tree}"
    );

    // The scheduler killed: the master's checks fail.
    kill_service(&dir.join("nodes/master/pids/dask-scheduler"));
    let unhealthy = wait_health(&app, &location, "unhealthy").await;
    let reason = value(&unhealthy, "icclab.disco.health_reason");
    assert!(reason.contains("dask on master"), "{reason}");
    assert_eq!(value(&unhealthy, "icclab.disco.state"), "ready");
    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}

#[tokio::test]
async fn with_autorepair_a_killed_worker_comes_back_by_itself() {
    let app = spawn().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1,icclab.disco.autorepair=true",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    wait_health(&app, &location, "healthy").await;
    let dir = local_dir(&app, &location);
    let worker = dir.join("nodes/slave-1/pids/dask-worker");
    let killed = kill_service(&worker);
    // Degraded first, then repaired by the watcher: no request.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let attributes = get_attributes(&app.client, &location)
            .await
            .expect("the cluster exists");
        let reason = value(&attributes, "icclab.disco.state_reason");
        if reason == "repaired: started again dask on slaves:1"
            && value(&attributes, "icclab.disco.health") == "healthy"
        {
            break;
        }
        assert!(Instant::now() < deadline, "not repaired: {attributes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restarted = record_of(&worker);
    assert_ne!(restarted.pid, killed);
    assert!(restarted.is_alive());
    // The attempt is in the history, and says it was the watcher's.
    let history: serde_json::Value = app
        .client
        .get(format!("{location}/tasks?all=true"))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let text = history.to_string();
    assert!(text.contains("cluster_repair"), "{text}");
    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}

#[tokio::test]
async fn a_repair_of_one_component_leaves_the_node_s_other_services_running() {
    let app = spawn().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}, 'jupyter': ''}\",\
             icclab.disco.components.heat.slavecount=0",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    wait_health(&app, &location, "healthy").await;
    let pids = local_dir(&app, &location).join("nodes/master/pids");
    let scheduler = record_of(&pids.join("dask-scheduler"));
    let killed = kill_service(&pids.join("jupyter"));
    let unhealthy = wait_health(&app, &location, "unhealthy").await;
    assert!(
        value(&unhealthy, "icclab.disco.health_reason").contains("jupyter on master"),
        "{unhealthy:?}"
    );
    let (status, body) = repair(&app, &location).await;
    assert_eq!(status, 200, "{body}");
    let repaired = wait_health(&app, &location, "healthy").await;
    assert_eq!(
        value(&repaired, "icclab.disco.state_reason"),
        "repaired: started again jupyter on master"
    );
    let jupyter = record_of(&pids.join("jupyter"));
    assert_ne!(jupyter.pid, killed);
    assert!(jupyter.is_alive());
    // Dask on the same node was not touched: the same scheduler runs.
    assert_eq!(record_of(&pids.join("dask-scheduler")).pid, scheduler.pid);
    assert!(scheduler.is_alive(), "the scheduler was left alone");
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}
