//! The local provider, for real: clusters of processes on loopback addresses, with
//! Spark, Dask and JupyterLab installed from PyPI (into the shared virtual environments,
//! so only the first run downloads), used the way a user would, then deleted with
//! nothing left behind.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use disco::domain::ProviderKind;
use disco::providers::local::process::{ProcessRecord, processes_of};

use crate::helpers::{ServerProcess, TestApp, location, plain_attributes, spawn_app_with};

/// Long enough for a first install from PyPI (pyspark: a 300 MB download) on a slow
/// machine; a warm run takes seconds.
const READY_WITHIN: Duration = Duration::from_secs(900);

pub(crate) async fn spawn_local_app() -> TestApp {
    spawn_local_app_with(|_| {}).await
}

/// `spawn_local_app`, with more settings adjusted.
pub(crate) async fn spawn_local_app_with(
    adjust: impl FnOnce(&mut disco::config::Settings),
) -> TestApp {
    spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
        adjust(settings);
    })
    .await
}

/// Polls until the cluster is ready; panics with its reason if it fails.
pub(crate) async fn wait_ready(client: &reqwest::Client, location: &str) -> Vec<(String, String)> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let attributes = get_attributes(client, location)
            .await
            .expect("the cluster exists");
        let state = value(&attributes, "icclab.disco.state");
        match state.as_str() {
            "ready" => return attributes,
            "failed" => panic!(
                "{location} failed: {}",
                value(&attributes, "icclab.disco.state_reason")
            ),
            _ => {}
        }
        assert!(Instant::now() < deadline, "{location} stayed {state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn wait_state(
    client: &reqwest::Client,
    location: &str,
    wanted: &str,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let attributes = get_attributes(client, location)
            .await
            .expect("the cluster exists");
        if value(&attributes, "icclab.disco.state") == wanted {
            return attributes;
        }
        assert!(
            Instant::now() < deadline,
            "{location} never {wanted}: {attributes:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_gone(client: &reqwest::Client, location: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while get_attributes(client, location).await.is_some() {
        assert!(Instant::now() < deadline, "{location} was never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn get_attributes(
    client: &reqwest::Client,
    location: &str,
) -> Option<Vec<(String, String)>> {
    let response = client
        .get(location)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent");
    if response.status() == 404 {
        return None;
    }
    assert_eq!(response.status(), 200);
    Some(plain_attributes(&response.text().await.expect("body")))
}

pub(crate) fn value(attributes: &[(String, String)], name: &str) -> String {
    attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

pub(crate) fn cluster_id(location: &str) -> String {
    location.rsplit('/').next().expect("uuid").to_string()
}

/// Every process record the provider keeps for a cluster: node scripts and services.
fn recorded_processes(cluster_dir: &Path) -> Vec<(PathBuf, ProcessRecord)> {
    let mut records = Vec::new();
    let nodes = std::fs::read_dir(cluster_dir.join("nodes")).expect("nodes");
    for node in nodes.flatten() {
        let mut files = vec![node.path().join("script")];
        if let Ok(pids) = std::fs::read_dir(node.path().join("pids")) {
            files.extend(pids.flatten().map(|e| e.path()));
        }
        for file in files {
            // A stopped node has no script record.
            if !file.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("record");
            let record = ProcessRecord::parse(&text)
                .unwrap_or_else(|| panic!("{}: not a record: {text:?}", file.display()));
            records.push((file, record));
        }
    }
    records
}

/// Deletes the cluster and checks, through /proc, that none of its recorded processes
/// and no process marked with it is left, and that its directory is gone.
pub(crate) async fn delete_and_check_nothing_left(
    app_client: &reqwest::Client,
    location: &str,
    cluster_dir: &Path,
) {
    let recorded = recorded_processes(cluster_dir);
    let response = app_client.delete(location).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    wait_gone(app_client, location).await;
    for (file, record) in &recorded {
        assert!(
            !record.is_alive(),
            "{} (pid {}) still runs after the delete",
            file.display(),
            record.pid
        );
    }
    let left = processes_of(&cluster_id(location), None);
    assert!(left.is_empty(), "processes of the cluster left: {left:?}");
    assert!(
        !cluster_dir.exists(),
        "{} is still there",
        cluster_dir.display()
    );
}

/// Kills what is left of the clusters when a test ends, passed or not, so that a failed
/// test leaves no process bound to an address the next one gets.
pub(crate) struct KillOnDrop(pub(crate) Vec<String>);

impl KillOnDrop {
    pub(crate) fn watch(&mut self, location: &str) {
        self.0.push(cluster_id(location));
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        use disco::providers::local::users;
        let with_users = users::clusters_with_users();
        for id in &self.0 {
            disco::providers::local::process::signal_each(
                &processes_of(id, None),
                nix::sys::signal::Signal::SIGKILL,
            );
            // A test that failed before its delete leaves no system user behind either.
            if let Ok(cluster) = id.parse::<disco::domain::ClusterId>()
                && with_users.contains(&cluster)
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let _ = Command::new("userdel")
                    .arg(users::cluster_user(cluster))
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

pub(crate) fn local_dir(app: &TestApp, location: &str) -> PathBuf {
    app.settings.provider.local.dir.join(cluster_id(location))
}

pub(crate) fn venv(app: &TestApp, name: &str) -> PathBuf {
    app.settings.provider.local.venv_dir.join(name)
}

/// Runs a Python program with a venv's interpreter; its stdout, or a panic with both
/// streams.
pub(crate) fn python(venv: &Path, program: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let mut command = Command::new(venv.join("bin/python"));
    command.arg("-c").arg(program).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the program failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const SPARK_JOB: &str = r#"
import os, sys
from operator import add
from pyspark.sql import SparkSession
spark = (SparkSession.builder.appName("disco-local-test").master(sys.argv[1])
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.executor.memory", "512m")
         .config("spark.executor.cores", "1")
         .getOrCreate())
sc = spark.sparkContext
total = sc.parallelize(range(1, 100001), 8).map(lambda x: x * 2).reduce(add)
hosts = sc.parallelize(range(64), 64).map(lambda _: os.environ.get("SPARK_LOCAL_IP", "?")).distinct().collect()
print("total", total)
print("hosts", " ".join(sorted(hosts)))
spark.stop()
"#;

#[tokio::test]
async fn spark_with_two_slaves_runs_a_job_on_both_workers_and_leaves_nothing_after_delete() {
    let app = spawn_local_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_ready(&app.client, &location).await;
    let master = value(&attributes, "external_ip");
    assert!(
        master.starts_with("127.0.") && master.ends_with(".10"),
        "{master}"
    );
    assert!(!value(&attributes, "ssh_public_key").is_empty());
    let prefix = master.trim_end_matches(".10");

    let spark_venv = venv(&app, "spark-3.5.3");
    let spark_home = python(
        &spark_venv,
        "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        &[],
        &[],
    )
    .trim()
    .to_string();
    // A driver without the cluster's secret is turned away at its first message.
    let client_conf = local_dir(&app, &location).join("shared/spark/client");
    let conf = std::fs::read_to_string(client_conf.join("spark-defaults.conf"))
        .expect("the client configuration");
    assert!(conf.contains("spark.authenticate true"), "{conf}");
    let mode = std::fs::metadata(client_conf.join("spark-defaults.conf"))
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the secret is for this user alone");
    let environment = [
        ("SPARK_HOME", spark_home.clone()),
        (
            "PYSPARK_PYTHON",
            spark_venv.join("bin/python").display().to_string(),
        ),
    ];
    let stranger = Command::new("timeout")
        .arg("30")
        .arg(spark_venv.join("bin/python"))
        .args(["-c", SPARK_JOB, &format!("spark://{master}:7077")])
        .envs(environment.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut with_secret = environment.to_vec();
    with_secret.push(("SPARK_CONF_DIR", client_conf.display().to_string()));
    let output = python(
        &spark_venv,
        SPARK_JOB,
        &[&format!("spark://{master}:7077")],
        &with_secret,
    );
    let refused = stranger.wait_with_output().expect("the stranger ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !said.lines().any(|l| l.starts_with("total")),
        "a driver without the secret ran its job: {said}"
    );
    assert!(
        said.contains("SASL"),
        "the driver without the secret was refused for want of authentication: {said}"
    );
    assert!(
        output.lines().any(|l| l == "total 10000100000"),
        "wrong result: {output}"
    );
    let hosts: BTreeSet<&str> = output
        .lines()
        .find_map(|l| l.strip_prefix("hosts "))
        .expect("hosts line")
        .split(' ')
        .collect();
    let workers: BTreeSet<String> = [format!("{prefix}.11"), format!("{prefix}.12")].into();
    assert_eq!(
        hosts,
        workers.iter().map(String::as_str).collect(),
        "the job's tasks ran on {hosts:?}"
    );

    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

pub(crate) const DASK_JOB: &str = r#"
import sys, time
from dask.distributed import Client
with Client(sys.argv[1], timeout="60s") as client:
    futures = client.map(lambda x: (time.sleep(0.05), x * x)[1], range(40))
    total = client.submit(sum, futures).result()
    holders = set()
    for workers in client.who_has(futures).values():
        holders.update(workers)
    print("total", total)
    print("workers", " ".join(sorted(holders)))
"#;

/// Tries to run something on a scheduler: "refused ..." when it cannot.
const DASK_STRANGER: &str = r#"
import sys
from dask.distributed import Client
try:
    with Client(sys.argv[1], timeout="10s") as client:
        print("ran", client.submit(lambda: 6 * 7).result(timeout=10))
except Exception as e:
    print("refused", type(e).__name__, e)
"#;

#[tokio::test]
async fn dask_with_two_slaves_computes_on_both_workers() {
    let app = spawn_local_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",icclab.disco.components.heat.slavecount=2",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_ready(&app.client, &location).await;
    let master = value(&attributes, "external_ip");
    let prefix = master.trim_end_matches(".10");
    // Where the nodes are, as an OpenStack cluster's stack outputs say it.
    assert_eq!(value(&attributes, "icclab.disco.master_private_ip"), master);
    assert_eq!(
        value(&attributes, "icclab.disco.slave_ips"),
        format!("{prefix}.11,{prefix}.12")
    );
    assert_eq!(
        value(&attributes, "icclab.disco.web_ui.dask_dask_dashboard"),
        format!("http://{master}:8787/status")
    );
    let dask = venv(&app, "dask-2025.12.0");
    let config = local_dir(&app, &location).join("shared/dask/config");
    let output = python(
        &dask,
        DASK_JOB,
        &[&format!("tls://{master}:8786")],
        &[("DASK_CONFIG", config.display().to_string())],
    );
    assert!(
        output.lines().any(|l| l == "total 20540"),
        "wrong result: {output}"
    );
    let workers = output
        .lines()
        .find_map(|l| l.strip_prefix("workers "))
        .expect("workers line");
    assert_eq!(
        workers,
        format!("tls://{prefix}.11:8788 tls://{prefix}.12:8788"),
        "tasks did not run on both workers"
    );

    // Without the cluster's key nobody gets in: not in the clear, and not with TLS and a
    // certificate of one's own, even trusting the cluster's (certificates are not secret).
    let stranger = tempfile::tempdir().expect("dir");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=stranger"])
        .arg("-keyout")
        .arg(stranger.path().join("key.pem"))
        .arg("-out")
        .arg(stranger.path().join("cert.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let own = stranger.path().display();
    std::fs::write(
        stranger.path().join("dask.yaml"),
        format!(
            "distributed:\n  comm:\n    tls:\n      ca-file: {}\n      client: {{cert: {own}/cert.pem, key: {own}/key.pem}}\n",
            local_dir(&app, &location).join("shared/dask/cert.pem").display()
        ),
    )
    .expect("config");
    for (address, config) in [
        (format!("tcp://{master}:8786"), None),
        (
            format!("tls://{master}:8786"),
            Some(stranger.path().display().to_string()),
        ),
    ] {
        let env: Vec<(&str, String)> = config.into_iter().map(|c| ("DASK_CONFIG", c)).collect();
        let said = python(&dask, DASK_STRANGER, &[&address], &env);
        // Turned away by the scheduler (the connection closed on it: reset in the clear,
        // an unknown-CA alert or EOF in the handshake), not a timeout or a client that
        // could not even start.
        assert!(
            said.starts_with("refused") && said.contains("CommClosedError"),
            "a client without the cluster's certificate at {address}: {said}"
        );
    }
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

/// `/api/status` of a JupyterLab: the status with the token, and without.
async fn jupyter_status(master: &str, token: &str) -> (u16, u16) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://{master}:8888/api/status");
    let with = client
        .get(&url)
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .expect("jupyter answers");
    let without = client.get(&url).send().await.expect("jupyter answers");
    (with.status().as_u16(), without.status().as_u16())
}

#[tokio::test]
async fn two_jupyter_clusters_at_once_get_their_own_addresses_and_tokens() {
    let app = spawn_local_app().await;
    let create = |token: &'static str| {
        let app = &app;
        async move {
            app.create_ok(&format!(
                "icclab.disco.dependencies.inject=\"{{'jupyter': {{'token': '{token}'}}}}\",icclab.disco.components.heat.slavecount=0"
            ))
            .await
        }
    };
    let (first, second) = tokio::join!(create("first-token"), create("second-token"));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&first);
    guard.watch(&second);
    let (a, b) = tokio::join!(
        wait_ready(&app.client, &first),
        wait_ready(&app.client, &second)
    );
    let (a, b) = (value(&a, "external_ip"), value(&b, "external_ip"));
    assert_ne!(a, b, "two clusters on one address");
    assert_eq!(jupyter_status(&a, "first-token").await, (200, 403));
    assert_eq!(jupyter_status(&b, "second-token").await, (200, 403));
    assert_eq!(jupyter_status(&a, "second-token").await.0, 403);

    // The token is a secret: in no rendering of the cluster, and on no command line.
    let shown = app
        .client
        .get(&first)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(!shown.contains("first-token"), "{shown}");
    for record in recorded_processes(&local_dir(&app, &first)) {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", record.1.pid)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&cmdline).contains("first-token"));
    }

    delete_and_check_nothing_left(&app.client, &first, &local_dir(&app, &first)).await;
    delete_and_check_nothing_left(&app.client, &second, &local_dir(&app, &second)).await;
}

#[tokio::test]
async fn what_the_local_provider_cannot_run_is_refused_at_create_saying_why() {
    let app = spawn_local_app().await;
    let response = app
        .create("icclab.disco.dependencies.inject=\"['hadoop', 'spark']\"")
        .await;
    assert_eq!(response.status(), 400);
    let reason = response.text().await.expect("body");
    assert!(
        reason.contains("icclab.disco.provider")
            && reason.contains("hadoop cannot run on provider local")
            && reason.contains("PyPI"),
        "{reason}"
    );
    let response = app
        .create("icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=17")
        .await;
    assert_eq!(response.status(), 400);
    let reason = response.text().await.expect("body");
    assert!(
        reason.contains("icclab.disco.components.heat.slavecount") && reason.contains("at most 16"),
        "{reason}"
    );
    assert!(app.listing().await.is_empty(), "nothing is stored");
}

#[tokio::test]
async fn a_failing_step_fails_the_cluster_with_its_reason_and_stops_its_processes() {
    let app = spawn_local_app().await;
    // No pyspark 0.0.1 on PyPI: the install step fails on every node.
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'spark': {'version': '0.0.1'}}\",icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_state(&app.client, &location, "failed").await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(
        reason.contains("spark install failed with return code"),
        "{reason}"
    );
    assert!(
        processes_of(&cluster_id(&location), None).is_empty(),
        "a failed cluster leaves nothing running"
    );
    // The failing node's step log is kept (the other node may have been stopped first).
    let nodes = std::fs::read_dir(local_dir(&app, &location).join("nodes")).expect("nodes");
    let logs: Vec<String> = nodes
        .flatten()
        .filter_map(|n| std::fs::read_to_string(n.path().join("logs/spark-install.err")).ok())
        .collect();
    assert!(
        logs.iter().any(|log| log.contains("pyspark==0.0.1")),
        "{logs:?}"
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

/// A dask cluster with one slave, created on a server process; its location.
async fn create_dask_on(client: &reqwest::Client, server: &ServerProcess) -> String {
    let response = client
        .post(server.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    location(response.headers())
}

#[tokio::test]
async fn a_cluster_installing_when_the_service_is_killed_is_adopted_after_the_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("DISCO_PROVIDER__DEFAULT", "local")];
    let mut first = ServerProcess::start(dir.path(), &env);
    let client = crate::helpers::client();
    let location = create_dask_on(&client, &first).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_state(&client, &location, "installing").await;
    first.kill(); // SIGKILL: the node scripts go on without it

    let id = cluster_id(&location);
    let second = ServerProcess::start(dir.path(), &env);
    let location = second.url(&format!("/disco/{id}"));
    let attributes = wait_ready(&client, &location).await;
    assert!(value(&attributes, "external_ip").ends_with(".10"));
    let cluster_dir = dir.path().join("local").join(&id);
    let scripts: Vec<_> = std::fs::read_dir(cluster_dir.join("nodes"))
        .expect("nodes")
        .flatten()
        .map(|node| std::fs::read_to_string(node.path().join("node.sh")).expect("script"))
        .collect();
    assert_eq!(scripts.len(), 2, "one script per node, none started twice");
    delete_and_check_nothing_left(&client, &location, &cluster_dir).await;
}

#[tokio::test]
async fn a_cluster_whose_scheduler_died_with_the_machine_is_unhealthy_after_the_restart_until_repaired()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("DISCO_PROVIDER__DEFAULT", "local"),
        ("DISCO_JOBS__WATCH_INTERVAL_SECS", "1"),
    ];
    let mut first = ServerProcess::start(dir.path(), &env);
    let client = crate::helpers::client();
    let location = create_dask_on(&client, &first).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&client, &location).await;
    let id = cluster_id(&location);
    let cluster_dir = dir.path().join("local").join(&id);
    first.kill();
    // As if the machine had rebooted: the scheduler is gone, the worker still runs.
    let record = cluster_dir.join("nodes/master/pids/dask-scheduler");
    let scheduler =
        ProcessRecord::parse(&std::fs::read_to_string(&record).expect("record")).expect("record");
    assert!(scheduler.signal_group(nix::sys::signal::Signal::SIGKILL));

    // Still ready (its data and worker are there), and unhealthy, naming what stopped.
    let second = ServerProcess::start(dir.path(), &env);
    let location = second.url(&format!("/disco/{id}"));
    let health = |attributes: &[(String, String)]| {
        (
            value(attributes, "icclab.disco.state"),
            value(attributes, "icclab.disco.health"),
            value(attributes, "icclab.disco.health_reason"),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let reason = loop {
        let attributes = get_attributes(&client, &location).await.expect("exists");
        let (state, status, reason) = health(&attributes);
        assert_eq!(state, "ready", "{attributes:?}");
        if status == "unhealthy" {
            break reason;
        }
        assert!(Instant::now() < deadline, "{attributes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        reason.contains("dask on master: process dask-scheduler failing since"),
        "{reason}"
    );
    let repaired = client
        .post(format!("{location}?action=repair"))
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    assert_eq!(repaired.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let attributes = get_attributes(&client, &location).await.expect("exists");
        let (state, status, _) = health(&attributes);
        if state == "ready" && status == "healthy" {
            break;
        }
        assert!(Instant::now() < deadline, "{attributes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(record_of(&record).is_alive(), "a scheduler runs again");
    delete_and_check_nothing_left(&client, &location, &cluster_dir).await;
}

#[tokio::test]
async fn a_stopped_spark_cluster_runs_nothing_and_starts_again_on_its_addresses() {
    use crate::cli::ok;
    let app = spawn_local_app().await;
    ok(
        &app,
        &["deploy", "sparky", "--components", "spark", "--slaves", "1"],
    )
    .await;
    let location = app.listing().await.into_iter().next().expect("the cluster");
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let before = wait_ready(&app.client, &location).await;
    let master = value(&before, "external_ip");
    let dir = local_dir(&app, &location);
    let running = recorded_processes(&dir);
    assert!(!running.is_empty());

    let stopped = ok(&app, &["stop", "sparky", "--wait"]).await;
    assert!(stopped.contains("sparky: stopped"), "{stopped}");
    for (file, record) in &running {
        assert!(!record.is_alive(), "{} still runs", file.display());
    }
    assert!(processes_of(&cluster_id(&location), None).is_empty());
    let listing = ok(&app, &["ls"]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.contains("sparky") && l.contains("| stopped")),
        "{listing}"
    );
    // Kept: its directory, block and secret.
    assert!(dir.join("shared/spark/secret").exists());
    assert!(dir.join("allocation.json").exists());

    let started = ok(&app, &["start", "sparky", "--wait"]).await;
    assert!(started.contains("sparky: ready"), "{started}");
    let after = wait_ready(&app.client, &location).await;
    assert_eq!(value(&after, "external_ip"), master, "the same addresses");
    // Its services run again (the node scripts have ended, as after a deploy).
    let services: Vec<_> = recorded_processes(&dir)
        .into_iter()
        .filter(|(file, _)| file.parent().is_some_and(|p| p.ends_with("pids")))
        .collect();
    assert_eq!(services.len(), 2, "master and worker: {services:?}");
    assert!(
        services.iter().all(|(_, record)| record.is_alive()),
        "{services:?}"
    );

    // A job runs on the worker again, with the secret made at the deploy.
    let spark_venv = venv(&app, "spark-3.5.3");
    let spark_home = python(
        &spark_venv,
        "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        &[],
        &[],
    )
    .trim()
    .to_string();
    let output = python(
        &spark_venv,
        SPARK_JOB,
        &[&format!("spark://{master}:7077")],
        &[
            ("SPARK_HOME", spark_home),
            (
                "PYSPARK_PYTHON",
                spark_venv.join("bin/python").display().to_string(),
            ),
            (
                "SPARK_CONF_DIR",
                dir.join("shared/spark/client").display().to_string(),
            ),
        ],
    );
    assert!(
        output.lines().any(|l| l == "total 10000100000"),
        "wrong result: {output}"
    );
    let worker = format!("{}.11", master.trim_end_matches(".10"));
    assert!(
        output.lines().any(|l| l == format!("hosts {worker}")),
        "{output}"
    );

    // The history: deploy, stop, start, the start with the components' start steps.
    let history = ok(&app, &["task-status", "sparky", "--all"]).await;
    for task in ["cluster_converge", "cluster_stop", "cluster_start"] {
        assert!(history.contains(task), "{task} not in\n{history}");
    }
    let start = ok(&app, &["task-status", "sparky"]).await;
    assert!(
        start.contains("cluster_start")
            && start.contains("spark start")
            && start.contains("spark smoke"),
        "{start}"
    );
    assert!(
        !start.contains("spark install"),
        "nothing is installed again:\n{start}"
    );

    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}

#[tokio::test]
async fn a_stop_a_start_and_a_scale_cut_short_by_sigkill_finish_after_the_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("DISCO_PROVIDER__DEFAULT", "local")];
    let client = crate::helpers::client();
    let act = |location: String, term: &'static str| {
        let client = client.clone();
        async move {
            let response = client
                .post(format!("{location}?action={term}"))
                .header("Category", crate::helpers::CATEGORY)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 200, "{term}");
        }
    };
    let mut first = ServerProcess::start(dir.path(), &env);
    let location = create_dask_on(&client, &first).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&client, &location).await;
    let id = cluster_id(&location);
    act(location.clone(), "stop").await;
    first.kill();

    let mut second = ServerProcess::start(dir.path(), &env);
    let location = second.url(&format!("/disco/{id}"));
    wait_state(&client, &location, "stopped").await;
    assert!(
        processes_of(&id, None).is_empty(),
        "a stopped cluster runs nothing"
    );
    act(location.clone(), "start").await;
    wait_state(&client, &location, "starting").await;
    second.kill();

    let mut third = ServerProcess::start(dir.path(), &env);
    let location = third.url(&format!("/disco/{id}"));
    let attributes = wait_ready(&client, &location).await;
    assert!(value(&attributes, "external_ip").ends_with(".10"));

    // A scale-out cut short too: the new slave starts once.
    let response = client
        .post(format!("{location}?action=scale"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=2",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    third.kill();
    let fourth = ServerProcess::start(dir.path(), &env);
    let location = fourth.url(&format!("/disco/{id}"));
    let attributes = wait_ready(&client, &location).await;
    let slaves = value(&attributes, "icclab.disco.slave_ips");
    assert_eq!(slaves.split(',').count(), 2, "{slaves}");
    let workers = processes_of(&id, None)
        .into_iter()
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.iter().any(|a| a.ends_with(b"/dask")) && args.contains(&b"worker".as_slice())
        })
        .count();
    assert_eq!(workers, 2, "a worker per slave, none started twice");
    // Each service once: no node was started twice.
    let schedulers = processes_of(&id, None)
        .into_iter()
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.pid)).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.iter().any(|a| a.ends_with(b"/dask")) && args.contains(&b"scheduler".as_slice())
        })
        .count();
    assert_eq!(schedulers, 1, "one scheduler");
    let cluster_dir = dir.path().join("local").join(&id);
    delete_and_check_nothing_left(&client, &location, &cluster_dir).await;
}

/// The workers the Spark master lists as ALIVE, by host.
async fn alive_spark_workers(master: &str) -> BTreeSet<String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let state: serde_json::Value = client
        .get(format!("http://{master}:8080/json/"))
        .send()
        .await
        .expect("the Spark master answers")
        .json()
        .await
        .expect("json");
    state["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["state"] == "ALIVE")
        .filter_map(|w| w["host"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_spark_cluster_scaled_out_runs_on_every_new_worker_and_scaled_in_leaves_none_behind() {
    use crate::cli::ok;
    let app = spawn_local_app().await;
    ok(
        &app,
        &[
            "deploy",
            "elastic",
            "--components",
            "spark",
            "--slaves",
            "1",
        ],
    )
    .await;
    let location = app.listing().await.into_iter().next().expect("the cluster");
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let before = wait_ready(&app.client, &location).await;
    let master = value(&before, "external_ip");
    let prefix = master.trim_end_matches(".10").to_string();
    let dir = local_dir(&app, &location);
    let first_worker = record_of(&dir.join("nodes/slave-1/pids/spark-worker"));

    let scaled = ok(&app, &["scale", "elastic", "--slaves", "3", "--wait"]).await;
    assert!(scaled.contains("elastic: ready"), "{scaled}");
    let workers: BTreeSet<String> = (11..=13).map(|i| format!("{prefix}.{i}")).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive_spark_workers(&master).await != workers {
        assert!(
            Instant::now() < deadline,
            "the master never listed {workers:?} ALIVE"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        first_worker.is_alive(),
        "the first worker ran on, untouched"
    );
    let after = wait_ready(&app.client, &location).await;
    assert_eq!(
        value(&after, "icclab.disco.slave_ips").split(',').count(),
        3
    );

    let spark_venv = venv(&app, "spark-3.5.3");
    let spark_home = python(
        &spark_venv,
        "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        &[],
        &[],
    )
    .trim()
    .to_string();
    let environment = [
        ("SPARK_HOME", spark_home),
        (
            "PYSPARK_PYTHON",
            spark_venv.join("bin/python").display().to_string(),
        ),
        (
            "SPARK_CONF_DIR",
            dir.join("shared/spark/client").display().to_string(),
        ),
    ];
    let output = python(
        &spark_venv,
        SPARK_JOB,
        &[&format!("spark://{master}:7077")],
        &environment,
    );
    let hosts: BTreeSet<String> = output
        .lines()
        .find_map(|l| l.strip_prefix("hosts "))
        .expect("hosts line")
        .split(' ')
        .map(str::to_string)
        .collect();
    assert_eq!(hosts, workers, "the job's tasks ran on every worker");
    let leaving: Vec<ProcessRecord> = ["slave-2", "slave-3"]
        .iter()
        .map(|node| record_of(&dir.join(format!("nodes/{node}/pids/spark-worker"))))
        .collect();

    // In, through the API: the highest-numbered slaves go.
    let response = app
        .client
        .post(format!("{location}?action=scale"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    // The answer came once the cluster was scaling: ready now means scaled.
    let after = wait_ready(&app.client, &location).await;
    assert_eq!(
        value(&after, "icclab.disco.slave_ips"),
        format!("{prefix}.11")
    );
    for record in &leaving {
        assert!(!record.is_alive(), "a removed slave's worker runs on");
    }
    assert!(!dir.join("nodes/slave-2").exists() && !dir.join("nodes/slave-3").exists());
    assert!(first_worker.is_alive(), "the slave that stays runs on");
    let one: BTreeSet<String> = [format!("{prefix}.11")].into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive_spark_workers(&master).await != one {
        assert!(
            Instant::now() < deadline,
            "the master still lists the removed workers ALIVE"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let history = ok(&app, &["task-status", "elastic", "--all"]).await;
    assert_eq!(history.matches("cluster_scale").count(), 2, "{history}");
    let shrink = ok(&app, &["task-status", "elastic"]).await;
    assert!(
        shrink.contains("decommission_nodes_stage") && shrink.contains("slaves:3"),
        "{shrink}"
    );

    delete_and_check_nothing_left(&app.client, &location, &dir).await;
}

pub(crate) fn record_of(path: &Path) -> ProcessRecord {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ProcessRecord::parse(&text).expect("a record")
}

/// Holds data on one worker, waits for a line on stdin, then says where the data is
/// and whether it is whole.
const DASK_HOLDER: &str = r#"
import sys
from dask.distributed import Client
scheduler, worker = sys.argv[1], sys.argv[2]
with Client(scheduler, timeout="60s") as client:
    [held] = client.scatter([list(range(100000))], workers=[worker])
    print("held", sorted(client.who_has([held])[held.key]), flush=True)
    sys.stdin.readline()
    print("after", sum(held.result(timeout=60)), sorted(client.who_has([held])[held.key]), flush=True)
"#;

#[tokio::test]
async fn a_dask_cluster_scaled_in_keeps_the_data_its_leaving_worker_held() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let app = spawn_local_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=2",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_ready(&app.client, &location).await;
    let master = value(&attributes, "external_ip");
    let prefix = master.trim_end_matches(".10");
    let leaving = format!("tls://{prefix}.12:8788");
    let staying = format!("tls://{prefix}.11:8788");
    let dask_venv = std::fs::read_dir(&app.settings.provider.local.venv_dir)
        .expect("environments")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("dask-"))
        })
        .expect("the dask environment");
    let config = local_dir(&app, &location).join("shared/dask/config");
    let mut holder = tokio::process::Command::new(dask_venv.join("bin/python"))
        .args(["-c", DASK_HOLDER, &format!("tls://{master}:8786"), &leaving])
        .env("DASK_CONFIG", &config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let mut lines = tokio::io::BufReader::new(holder.stdout.take().expect("stdout")).lines();
    let held = lines.next_line().await.expect("read").expect("a line");
    assert_eq!(
        held,
        format!("held ['{leaving}']"),
        "the data is on the leaving worker"
    );

    let response = app
        .client
        .post(format!("{location}?action=scale"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    wait_state(&app.client, &location, "scaling").await;
    wait_ready(&app.client, &location).await;
    assert!(!local_dir(&app, &location).join("nodes/slave-2").exists());

    let mut stdin = holder.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").await.expect("write");
    let after = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("the holder answers")
        .expect("read")
        .expect("a line");
    assert_eq!(
        after,
        format!("after 4999950000 ['{staying}']"),
        "the data moved to the worker that stays"
    );
    let shrink = app
        .client
        .get(format!("{location}/tasks"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        shrink.contains("dask decommission") && shrink.contains("slaves:2"),
        "{shrink}"
    );
    drop(stdin);
    let _ = holder.wait().await;
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}
