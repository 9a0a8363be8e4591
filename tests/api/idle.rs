//! Idle expiry (`icclab.disco.max_idle`) on real local clusters: a running Spark
//! application keeps a cluster alive, the idle time after it ends expires it with the
//! reason; the countdown is computed from stored times, so a restart of the service in
//! the middle of it expires the cluster when it would have been without the restart.
//! The shortest `max_idle` is lowered for the tests (`jobs.shortest_max_idle`), so that
//! they wait seconds, not the 5 minutes users are held to.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use disco::domain::Span;

use crate::helpers::{CATEGORY, ServerProcess, location};
use crate::local::{
    KillOnDrop, get_attributes, spawn_local_app_with, value, venv, wait_ready, wait_state,
};

/// A Spark application that holds the cluster for `argv[2]` seconds.
const LONG_SPARK_JOB: &str = r#"
import sys, time
from pyspark.sql import SparkSession
spark = (SparkSession.builder.appName("disco-idle-test").master(sys.argv[1])
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.executor.memory", "512m")
         .config("spark.executor.cores", "1")
         .getOrCreate())
print("started", flush=True)
seconds = float(sys.argv[2])
spark.sparkContext.parallelize(range(2), 2).map(lambda x: time.sleep(seconds) or x).collect()
spark.stop()
print("ended", flush=True)
"#;

fn time_of(attributes: &[(String, String)], name: &str) -> DateTime<Utc> {
    value(attributes, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name}: {attributes:?}"))
}

#[tokio::test]
async fn a_running_spark_application_keeps_the_cluster_and_its_end_starts_the_idle_countdown() {
    let app = spawn_local_app_with(|s| {
        s.jobs.watch_interval_secs = 1;
        s.jobs.shortest_max_idle = Span::from_secs(1);
    })
    .await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1,\
             icclab.disco.max_idle=\"60s\",icclab.disco.on_expiry=\"stop\"",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let ready = wait_ready(&app.client, &location).await;
    let master = value(&ready, "external_ip");
    assert_eq!(value(&ready, "icclab.disco.max_idle"), "1m");

    // An application that runs for 70 s: longer than max_idle.
    let spark_venv = venv(&app, "spark-3.5.3");
    let spark_home = crate::local::python(
        &spark_venv,
        "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        &[],
        &[],
    )
    .trim()
    .to_string();
    let client_conf = crate::local::local_dir(&app, &location).join("shared/spark/client");
    let mut job = Command::new(spark_venv.join("bin/python"))
        .args([
            "-c",
            LONG_SPARK_JOB,
            &format!("spark://{master}:7077"),
            "50",
        ])
        .env("SPARK_HOME", &spark_home)
        .env("PYSPARK_PYTHON", spark_venv.join("bin/python"))
        .env("SPARK_CONF_DIR", &client_conf)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python runs");
    // Busy while it runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attributes = get_attributes(&app.client, &location)
            .await
            .expect("exists");
        if value(&attributes, "icclab.disco.activity") == "spark: 1 running applications" {
            assert_eq!(value(&attributes, "icclab.disco.idle_since"), "");
            break;
        }
        assert!(Instant::now() < deadline, "never busy: {attributes:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let busy_from = Instant::now();
    let ended = loop {
        if let Some(status) = job.try_wait().expect("the job") {
            assert!(status.success(), "the application failed");
            break Utc::now();
        }
        // Past max_idle since the cluster was ready, and still ready: it is in use.
        let attributes = get_attributes(&app.client, &location)
            .await
            .expect("exists");
        assert_eq!(
            value(&attributes, "icclab.disco.state"),
            "ready",
            "expired while an application ran: {attributes:?}"
        );
        assert!(
            busy_from.elapsed() < Duration::from_secs(120),
            "the job never ended"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Idle from the application's end, and stopped a minute later, saying why.
    let stopped = wait_state(&app.client, &location, "stopped").await;
    let reason = value(&stopped, "icclab.disco.state_reason");
    assert!(
        reason.starts_with("stopped (expired, it was idle for its max_idle of 1m since"),
        "{reason}"
    );
    assert!(
        reason.contains("(spark: 0 running applications)"),
        "{reason}"
    );
    // Its stop began when the idle time was up (it ends a few seconds later). The idle
    // time counts from the application's end as Spark's master records it, which comes
    // before the driver's process exits (its JVM shuts down after): some seconds under
    // load.
    let stop_at = time_of(&stopped, "icclab.disco.updated");
    let idle = stop_at - ended;
    assert!(
        idle >= chrono::Duration::seconds(50) && idle <= chrono::Duration::seconds(85),
        "stopped {idle} after the application ended"
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_an_idle_countdown_expires_the_cluster_on_time() {
    let dir = tempfile::tempdir().expect("dir");
    let env = [
        ("DISCO_PROVIDER__DEFAULT", "local"),
        ("DISCO_JOBS__WATCH_INTERVAL_SECS", "1"),
        ("DISCO_JOBS__SHORTEST_MAX_IDLE", "1s"),
    ];
    let mut first = ServerProcess::start(dir.path(), &env);
    let client = crate::helpers::client();
    let response = client
        .post(first.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1,icclab.disco.max_idle=\"25s\",\
             icclab.disco.on_expiry=\"stop\"",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&url);
    wait_ready(&client, &url).await;
    // Once its activity was looked at, it says when it expires.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (expires, idle_since) = loop {
        let attributes = get_attributes(&client, &url).await.expect("exists");
        if !value(&attributes, "icclab.disco.idle_since").is_empty() {
            break (
                time_of(&attributes, "icclab.disco.expires_at"),
                time_of(&attributes, "icclab.disco.idle_since"),
            );
        }
        assert!(Instant::now() < deadline, "never idle: {attributes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(expires - idle_since, chrono::Duration::seconds(25));
    assert!(
        value(
            &get_attributes(&client, &url).await.expect("exists"),
            "icclab.disco.activity"
        )
        .contains("dask: 0 clients connected, 0 tasks processing")
    );
    // Down for 8 s in the middle of the countdown.
    first.kill();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let second = ServerProcess::start(dir.path(), &env);
    let url = url.replace(&first.address, &second.address);
    let after = get_attributes(&client, &url).await.expect("exists");
    assert_eq!(
        time_of(&after, "icclab.disco.expires_at"),
        expires,
        "the restart neither lost nor reset the countdown"
    );
    let stopped = wait_state(&client, &url, "stopped").await;
    let reason = value(&stopped, "icclab.disco.state_reason");
    assert!(
        reason.contains("it was idle for its max_idle of 25s since"),
        "{reason}"
    );
    let stopped_at = time_of(&stopped, "icclab.disco.updated");
    assert!(
        stopped_at >= expires && stopped_at - expires <= chrono::Duration::seconds(15),
        "expired at {stopped_at}, due at {expires}"
    );
}

#[tokio::test]
async fn max_idle_below_the_shortest_or_malformed_is_refused_naming_it() {
    let app = spawn_local_app_with(|_| {}).await;
    for (given, expected) in [
        (
            "1m",
            "icclab.disco.max_idle: expected at least 5m (the shortest this service allows), got 1m",
        ),
        (
            "soon",
            "icclab.disco.max_idle: expected a duration such as 90s",
        ),
        (
            "-5m",
            "icclab.disco.max_idle: expected a duration such as 90s",
        ),
    ] {
        let response = app
            .create(&format!(
                "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.max_idle=\"{given}\""
            ))
            .await;
        assert_eq!(response.status(), 400, "{given}");
        let body = response.text().await.expect("body");
        assert!(body.contains(expected), "{given}: {body}");
    }
    assert!(app.listing().await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn a_kernel_executing_a_long_cell_keeps_a_jupyter_cluster_and_an_idle_kernel_does_not() {
    let app = spawn_local_app_with(|s| {
        s.jobs.watch_interval_secs = 1;
        s.jobs.shortest_max_idle = Span::from_secs(1);
    })
    .await;
    let token = "idle-token-0123456789";
    let location = app
        .create_ok(&format!(
            "icclab.disco.dependencies.inject=\"{{'jupyter': {{'token': '{token}'}}}}\",\
             icclab.disco.components.heat.slavecount=0,icclab.disco.max_idle=\"20s\",\
             icclab.disco.on_expiry=\"stop\""
        ))
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let ready = wait_ready(&app.client, &location).await;
    let master = value(&ready, "external_ip");
    let environment = std::fs::read_dir(&app.settings.provider.local.venv_dir)
        .expect("environments")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("jupyter-"))
                && path.is_dir()
        })
        .expect("the jupyter environment");
    // A cell that runs for 35 s: longer than max_idle.
    let mut cell = Command::new(environment.join("bin/python"))
        .args([
            "-c",
            crate::isolation::RUN_CELL,
            &format!("{master}:8888"),
            token,
            "import time\ntime.sleep(35)\nprint('slept')",
        ])
        .env("no_proxy", "127.0.0.0/8")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attributes = get_attributes(&app.client, &location)
            .await
            .expect("exists");
        if value(&attributes, "icclab.disco.activity") == "jupyter: 1 of 1 kernels busy" {
            break;
        }
        assert!(Instant::now() < deadline, "never busy: {attributes:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ended = loop {
        if let Some(status) = cell.try_wait().expect("the cell") {
            assert!(status.success(), "the cell failed");
            break Utc::now();
        }
        let attributes = get_attributes(&app.client, &location)
            .await
            .expect("exists");
        assert_eq!(
            value(&attributes, "icclab.disco.state"),
            "ready",
            "expired while a cell ran: {attributes:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The kernel is still there, idle: that is not work.
    let stopped = wait_state(&app.client, &location, "stopped").await;
    let reason = value(&stopped, "icclab.disco.state_reason");
    assert!(
        reason.contains("it was idle for its max_idle of 20s since")
            && reason.contains("(jupyter: 0 of 1 kernels busy)"),
        "{reason}"
    );
    let idle = time_of(&stopped, "icclab.disco.updated") - ended;
    assert!(
        idle >= chrono::Duration::seconds(17) && idle <= chrono::Duration::seconds(45),
        "stopped {idle} after the cell ended"
    );
}
