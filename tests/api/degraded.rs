//! Degraded but usable: a slave that fails to come up, during a create or a scale-out,
//! does not fail the cluster while `minslaves` holds. The cluster becomes ready with the
//! slaves that are up, says which failed and why, and stops the failed ones. Below
//! `minslaves` the cluster fails as before. Here on the local provider, with a slave
//! whose node script dies (SIGKILL, as a node that crashes) while it installs.

use std::path::Path;
use std::time::{Duration, Instant};

use disco::providers::local::process::processes_of;
use nix::sys::signal::Signal;

use crate::local::{
    DASK_JOB, KillOnDrop, cluster_id, delete_and_check_nothing_left, local_dir, python, record_of,
    spawn_local_app, value, venv, wait_ready, wait_state,
};

/// Kills the node script of the node in `node_dir` as soon as it starts, with what it
/// started: the node crashed while it installed.
async fn crash_when_started(node_dir: &Path) {
    let record = node_dir.join("script");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !record.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never started",
            node_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Written whole after the start: an empty read is a start under way.
    let script = loop {
        if let Ok(text) = std::fs::read_to_string(&record)
            && !text.trim().is_empty()
        {
            break record_of(&record);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        script.signal_group(Signal::SIGKILL),
        "the script was killed"
    );
}

async fn scale(app: &crate::helpers::TestApp, location: &str, slaves: u16) {
    let response = app
        .client
        .post(format!("{location}?action=scale"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            format!("icclab.disco.components.heat.slavecount={slaves}"),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

async fn tasks_text(app: &crate::helpers::TestApp, location: &str) -> String {
    app.client
        .get(format!("{location}/tasks"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn a_slave_that_dies_while_minslaves_holds_leaves_a_ready_cluster_without_it() {
    let app = spawn_local_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=2,icclab.disco.components.heat.minslaves=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let dir = local_dir(&app, &location);
    let id = cluster_id(&location);
    crash_when_started(&dir.join("nodes/slave-2")).await;

    // Ready with the slave that is up; the master's smoke test waited for one worker,
    // not two, because DISCO told it slave 2 was given up on.
    let attributes = wait_ready(&app.client, &location).await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(reason.starts_with("ready with 1 of 2 slaves"), "{reason}");
    assert!(
        reason.contains("slaves:2 failed: its node script ended without finishing"),
        "{reason}"
    );
    assert_eq!(value(&attributes, "icclab.disco.failed_slaves"), "slaves:2");
    let master = value(&attributes, "external_ip");
    let prefix = master.trim_end_matches(".10");
    assert_eq!(
        value(&attributes, "icclab.disco.slave_ips"),
        format!("{prefix}.11")
    );
    let left = processes_of(&id, Some(&dir.join("nodes/slave-2")));
    assert!(left.is_empty(), "the failed slave was stopped: {left:?}");
    // The cluster computes, on the worker that is up.
    let dask = venv(&app, "dask-2025.12.0");
    let config = dir.join("shared/dask/config");
    let run_job = || {
        python(
            &dask,
            DASK_JOB,
            &[&format!("tls://{master}:8786")],
            &[("DASK_CONFIG", config.display().to_string())],
        )
    };
    let output = run_job();
    assert!(output.lines().any(|l| l == "total 20540"), "{output}");
    assert!(
        output
            .lines()
            .any(|l| l == format!("workers tls://{prefix}.11:8788")),
        "{output}"
    );
    // The task tree says which slave failed; the deploy succeeded.
    let tree = tasks_text(&app, &location).await;
    let failed_rows: Vec<&str> = tree.lines().filter(|l| l.contains("slaves:2")).collect();
    assert!(failed_rows.iter().any(|l| l.contains("failed")), "{tree}");
    assert!(
        failed_rows
            .iter()
            .all(|l| !l.contains("executing") && !l.contains("pending")),
        "{tree}"
    );
    assert!(
        tree.lines()
            .any(|l| l.contains("| cluster_converge ") && l.contains("succeeded")),
        "{tree}"
    );

    // A scale-out: slave 3 comes up and joins; slave 2 stays given up on.
    scale(&app, &location, 3).await;
    wait_state(&app.client, &location, "scaling").await;
    let attributes = wait_ready(&app.client, &location).await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(reason.starts_with("ready with 2 of 3 slaves"), "{reason}");
    assert_eq!(
        value(&attributes, "icclab.disco.slave_ips"),
        format!("{prefix}.11,{prefix}.13")
    );
    // A scale-out whose new slave dies: still ready (one slave suffices).
    scale(&app, &location, 4).await;
    crash_when_started(&dir.join("nodes/slave-4")).await;
    let attributes = wait_ready(&app.client, &location).await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(reason.starts_with("ready with 2 of 4 slaves"), "{reason}");
    assert_eq!(
        value(&attributes, "icclab.disco.failed_slaves"),
        "slaves:2,slaves:4"
    );
    let scale_tree = tasks_text(&app, &location).await;
    assert!(
        scale_tree
            .lines()
            .any(|l| l.contains("| cluster_scale ") && l.contains("succeeded")),
        "{scale_tree}"
    );
    assert!(
        scale_tree
            .lines()
            .any(|l| l.contains("slaves:4") && l.contains("failed")),
        "{scale_tree}"
    );

    // Stopped and started, the slaves given up on stay so: nothing of them runs again.
    let stop = app
        .client
        .post(format!("{location}?action=stop"))
        .send()
        .await
        .expect("sent");
    assert_eq!(stop.status(), 200);
    wait_state(&app.client, &location, "stopped").await;
    let start = app
        .client
        .post(format!("{location}?action=start"))
        .send()
        .await
        .expect("sent");
    assert_eq!(start.status(), 200);
    wait_state(&app.client, &location, "starting").await;
    let attributes = wait_ready(&app.client, &location).await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(reason.starts_with("ready with 2 of 4 slaves"), "{reason}");
    for lost in ["slave-2", "slave-4"] {
        let left = processes_of(&id, Some(&dir.join("nodes").join(lost)));
        assert!(left.is_empty(), "{lost} runs again: {left:?}");
    }
    let output = run_job();
    assert!(
        output
            .lines()
            .any(|l| l == format!("workers tls://{prefix}.11:8788 tls://{prefix}.13:8788")),
        "{output}"
    );
    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}

#[tokio::test]
async fn a_slave_that_dies_below_minslaves_fails_the_cluster_saying_so() {
    let app = spawn_local_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['dask']\",\
             icclab.disco.components.heat.slavecount=2,icclab.disco.components.heat.minslaves=2",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let dir = local_dir(&app, &location);
    crash_when_started(&dir.join("nodes/slave-1")).await;
    let attributes = wait_state(&app.client, &location, "failed").await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(
        reason.contains("slaves:1 failed: its node script ended"),
        "{reason}"
    );
    assert!(
        reason.contains("1 of 2 slaves failed and at least 2 must come up (icclab.disco.components.heat.minslaves)"),
        "{reason}"
    );
    assert!(
        processes_of(&cluster_id(&location), None).is_empty(),
        "a failed cluster leaves nothing running"
    );
    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}
