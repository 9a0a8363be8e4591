//! The `disco` command line against the real server with the local provider: the tables
//! and the stream of a real deployment, in DTK's layouts; a cluster's health, and its
//! repair.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Output;
use std::time::{Duration, Instant};

use disco::domain::ProviderKind;
use nix::sys::signal::Signal;

use crate::helpers::{TestApp, spawn_app_with};
use crate::local::{KillOnDrop, local_dir, record_of, wait_ready};

async fn spawn_local_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
    })
    .await
}

/// Runs `disco ARGS` against the app, off the async runtime's threads.
pub(crate) async fn disco(app: &TestApp, args: &[&str]) -> Output {
    let url = app.address.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
            .arg("--url")
            .arg(url)
            .args(&args)
            .env_remove("OS_USERNAME")
            .env_remove("OS_PASSWORD")
            .env_remove("OS_PROJECT_NAME")
            .env_remove("OS_TOKEN")
            .output()
            .expect("disco runs")
    })
    .await
    .expect("joined")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and requires success; its stdout.
pub(crate) async fn ok(app: &TestApp, args: &[&str]) -> String {
    let output = disco(app, args).await;
    assert!(
        output.status.success(),
        "disco {args:?} failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The cells of a DTK table's row, trimmed.
fn cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

fn is_stream_time(text: &str) -> bool {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z").is_ok()
}

#[tokio::test]
async fn deploy_follow_list_and_delete_a_cluster_from_the_command_line() {
    let app = spawn_local_app().await;
    let created = ok(
        &app,
        &["deploy", "c1", "--components", "dask", "--slaves", "1"],
    )
    .await;
    assert!(created.contains("  cluster_name: c1\n"), "{created}");

    // Stream: blocks, prints each stage in DTK's layout, ends with the outcome.
    let stream = ok(&app, &["task-status", "c1", "-m", "stream"]).await;
    let lines: Vec<&str> = stream.lines().collect();
    let start = lines[0]
        .strip_prefix("========================= ")
        .and_then(|l| l.strip_suffix(" start 'cluster_converge' ========================="))
        .unwrap_or_else(|| panic!("first line: {stream}"));
    assert!(is_stream_time(start), "{start}");
    for block in [
        "============================================================\nSTAGE 1: create_nodes_stage\nTIME START: ",
        "OPERATION: CreateNodes\n  master\n  slaves:1\nSTATUS: succeeded\nDURATION: ",
        "STAGE 2: dask install\n",
        "COMPONENTS:\n  node-group:slaves/dask::install\n  master/dask::install\nSTATUS: succeeded\n",
        "STAGE 3: dask start\n",
        "STAGE 4: dask smoke\n",
        "ACTION: master/dask::smoke\nSTATUS: succeeded\n",
        "RESULTS:\nNODE: master\nRUN: dask/local/smoke.sh (script)\nRETURN CODE: 0\nSTDOUT:\n  dask: 1 workers; sum of squares 0..99 = 328350\n",
        "------------------------------------------------------------\n",
    ] {
        assert!(stream.contains(block), "{block:?} not in\n{stream}");
    }
    for line in lines.iter().filter_map(|l| l.strip_prefix("TIME START: ")) {
        assert!(is_stream_time(line), "{line}");
    }
    assert!(
        lines.last().is_some_and(
            |l| l.ends_with(" end 'cluster_converge' (succeeded) =========================")
        ),
        "{stream}"
    );
    // Started after the fact, it replays the finished stages the same way.
    let again = ok(&app, &["task-status", "c1", "-m", "stream"]).await;
    assert_eq!(again, stream);

    // Snapshot: the tree table.
    let snapshot = ok(&app, &["task-status", "c1"]).await;
    let rows: Vec<&str> = snapshot.lines().collect();
    assert_eq!(
        cells(rows[1]),
        [
            "TASK TYPE",
            "STATUS",
            "NODE",
            "DURATION",
            "EXPECTED",
            "STARTED AT",
            "ENDED AT"
        ]
    );
    let root = cells(rows[3]);
    assert_eq!(&root[..3], ["cluster_converge", "succeeded", ""]);
    assert!(root[3].ends_with('s'), "{root:?}");
    assert_eq!(cells(rows[4])[0], "1 create_nodes_stage");
    assert_eq!(
        cells(rows[5])[..3],
        ["1.1 create_node", "succeeded", "master"]
    );
    assert!(snapshot.ends_with("14 rows in set\n"), "{snapshot}");

    // Stage and converge a second cluster.
    ok(
        &app,
        &[
            "stage",
            "nb",
            "--components",
            "jupyter",
            "--slaves",
            "0",
            "--param",
            "jupyter.token=abc123",
        ],
    )
    .await;
    let listed = ok(&app, &["ls"]).await;
    let header = cells(listed.lines().nth(1).expect("header"));
    assert_eq!(
        header,
        [
            "ID",
            "NAME",
            "STATUS",
            "HEALTH",
            "LAST RUN",
            "TEMPLATE",
            "TARGET",
            "# NODES",
            "CREATED AT",
            "EXPIRES"
        ]
    );
    let row = |name: &str| {
        listed
            .lines()
            .map(cells)
            .find(|c| c.get(1).map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in\n{listed}"))
    };
    assert_eq!(row("c1")[2], "running");
    assert!(
        ["-", "healthy"].contains(&row("c1")[3].as_str()),
        "checked or not yet: {listed}"
    );
    assert_eq!(row("c1")[4..8], ["succeeded", "dask", "local", "2"]);
    assert_eq!(
        row("nb")[2..8],
        ["pending", "-", "", "jupyter", "local", "1"]
    );
    assert!(listed.ends_with("2 rows in set\n"), "{listed}");
    // The operator's default lifetime (a week), and an owner's change of it.
    assert_ne!(row("c1")[9], "-", "{listed}");
    // A staged cluster has no health to show, and says why.
    let none = disco(&app, &["health", "nb"]).await;
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains(
            "nb: no health: it is pending, and only a running cluster's health is checked"
        ),
        "{}",
        stderr(&none)
    );
    let extended = ok(
        &app,
        &["extend", "c1", "--max-age", "2h", "--on-expiry", "delete"],
    )
    .await;
    assert!(
        extended.starts_with("  c1: expires at ")
            && extended.contains("(its max_age of 2h was reached (created ")
            && extended.trim_end().ends_with("it is then deleted)"),
        "{extended}"
    );
    let refused = disco(&app, &["extend", "c1", "--max-age", "soon"]).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("400 icclab.disco.max_age: expected a duration"),
        "{said}"
    );
    ok(&app, &["converge", "nb"]).await;
    let waited = ok(&app, &["task-status", "nb", "--wait"]).await;
    assert!(waited.contains("| cluster_converge "), "{waited}");
    assert!(
        cells(waited.lines().nth(3).expect("root"))[1] == "succeeded",
        "{waited}"
    );

    // The key, to a file only its owner reads.
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("c1.key");
    ok(&app, &["key", "c1", "-o", key_file.to_str().expect("path")]).await;
    let key = std::fs::read_to_string(&key_file).expect("key");
    assert!(
        key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
        "{key}"
    );
    let mode = std::fs::metadata(&key_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!ok(&app, &["show", "c1"]).await.contains("PRIVATE KEY"));

    let log = ok(&app, &["logs", "c1", "--node", "slaves:1"]).await;
    assert!(
        log.contains(" slaves:1 dask start succeeded (rc 0)"),
        "{log}"
    );
    let components = ok(&app, &["components"]).await;
    assert!(
        components
            .lines()
            .map(cells)
            .any(|c| c[0] == "spark" && c[2] == "openstack,file,local"),
        "{components}"
    );

    // By name or UUID; an unknown one is an error that says so.
    let id = row("c1")[0].clone();
    ok(&app, &["delete", &id, "--wait"]).await;
    ok(&app, &["delete", "nb", "--wait"]).await;
    let gone = disco(&app, &["show", "c1"]).await;
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("no cluster named \"c1\""),
        "{}",
        stderr(&gone)
    );
    assert!(ok(&app, &["ls"]).await.ends_with("0 rows in set\n"));
}

#[tokio::test]
async fn a_failed_step_shows_its_return_code_and_stderr_in_snapshot_and_stream() {
    let app = spawn_local_app().await;
    ok(
        &app,
        &[
            "deploy",
            "bad",
            "--components",
            "spark",
            "--slaves",
            "0",
            "--param",
            "spark.version=0.0.1",
        ],
    )
    .await;
    let stream = disco(&app, &["task-status", "bad", "-m", "stream"]).await;
    assert!(!stream.status.success(), "a failed task fails the command");
    assert!(
        stderr(&stream).contains("the task failed: master: spark install failed"),
        "{}",
        stderr(&stream)
    );
    let text = stdout(&stream);
    for block in [
        "STAGE 2: spark install\n",
        "COMPONENT: master/spark::install\nSTATUS: failed\n",
        "RESULTS:\nNODE: master\nRUN: spark/local/install.sh (script)\nRETURN CODE: 1\n",
        "STDERR:\n",
        "pyspark==0.0.1",
    ] {
        assert!(text.contains(block), "{block:?} not in\n{text}");
    }
    assert!(
        text.trim_end()
            .ends_with("end 'cluster_converge' (failed) ========================="),
        "{text}"
    );

    let snapshot = disco(&app, &["task-status", "bad"]).await;
    assert!(!snapshot.status.success());
    let table = stdout(&snapshot);
    assert!(table.contains("| failed "), "{table}");
    assert!(
        table.contains("2.1 configure_node on master failed: spark/local/install.sh returned 1\n"),
        "{table}"
    );
    assert!(
        table.contains("STDERR:\n") && table.contains("pyspark==0.0.1"),
        "{table}"
    );
    ok(&app, &["delete", "bad", "--wait"]).await;
}

#[tokio::test]
async fn credentials_come_from_a_clouds_yaml_entry_and_flags_win() {
    let app = spawn_local_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        "clouds:\n  mine:\n    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      username: alice\n      password: secret\n      project_name: team-a\n",
    )
    .expect("clouds.yaml");
    let run = |args: Vec<String>| {
        let url = app.address.clone();
        let clouds = clouds.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
                    .arg("--url")
                    .arg(url)
                    .args(&args)
                    .env("OS_CLIENT_CONFIG_FILE", &clouds)
                    .env_remove("OS_USERNAME")
                    .env_remove("OS_PASSWORD")
                    .env_remove("OS_PROJECT_NAME")
                    .env_remove("OS_TOKEN")
                    .env_remove("OS_CLOUD")
                    .output()
                    .expect("disco runs")
            })
            .await
            .expect("joined")
        }
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let staged = run(args(&[
        "--os-cloud",
        "mine",
        "stage",
        "t1",
        "--components",
        "dask",
    ]))
    .await;
    assert!(staged.status.success(), "{}", stderr(&staged));
    // With auth none the project is the tenant label: team-a's cluster is not default's.
    let mine = run(args(&["--os-cloud", "mine", "ls"])).await;
    assert!(
        stdout(&mine).ends_with("1 row in set\n"),
        "{}",
        stdout(&mine)
    );
    let default = run(args(&["ls"])).await;
    assert!(
        stdout(&default).ends_with("0 rows in set\n"),
        "{}",
        stdout(&default)
    );
    let flag_wins = run(args(&[
        "--os-cloud",
        "mine",
        "--os-project-name",
        "team-b",
        "ls",
    ]))
    .await;
    assert!(
        stdout(&flag_wins).ends_with("0 rows in set\n"),
        "{}",
        stdout(&flag_wins)
    );
    let unknown = run(args(&["--os-cloud", "nope", "ls"])).await;
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no cloud named \"nope\""),
        "{}",
        stderr(&unknown)
    );
    let deleted = run(args(&["--os-cloud", "mine", "delete", "t1", "--wait"])).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
}

/// Runs `disco health NAME` until its first line says `status`; its output.
async fn health_until(app: &TestApp, name: &str, status: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = disco(app, &["health", name]).await;
        if stdout(&output).starts_with(&format!("{name}: {status} (")) {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "never {status}:\n{}\n{}",
            stdout(&output),
            stderr(&output)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The rows of `disco health`'s table (under its first line and the table's header).
fn check_rows(output: &Output) -> Vec<Vec<String>> {
    stdout(output)
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| NODE "))
        .map(cells)
        .collect()
}

#[tokio::test]
async fn health_shows_each_check_and_repair_wait_starts_a_killed_dask_worker_again() {
    let app = spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
        settings.jobs.watch_interval_secs = 1;
    })
    .await;
    let created = ok(
        &app,
        &[
            "deploy",
            "dk",
            "--components",
            "dask",
            "--slaves",
            "1",
            "--param",
            "dask.worker_threads=1",
        ],
    )
    .await;
    let id = created.lines().next().expect("the id").trim().to_string();
    let location = app.url(&format!("/disco/{id}"));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;

    let healthy = health_until(&app, "dk", "healthy").await;
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    let text = stdout(&healthy);
    let first = text.lines().next().expect("a first line");
    let checked = first
        .strip_prefix("dk: healthy (")
        .and_then(|rest| rest.split_once(" checks pass on every node), checked "))
        .map(|(_, at)| at)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(is_stream_time(checked), "{first}");
    assert_eq!(
        cells(text.lines().nth(2).expect("the header")),
        ["NODE", "COMPONENT", "CHECK", "STATUS", "SINCE", "OUTPUT"]
    );
    let rows = check_rows(&healthy);
    assert!(rows.iter().all(|r| r[3] == "passing"), "{text}");
    assert!(
        rows.iter()
            .any(|r| r[..4] == ["master", "dask", "tcp 8786", "passing"]),
        "{text}"
    );
    assert!(
        rows.iter()
            .any(|r| r[..4] == ["slaves:1", "dask", "process dask-worker", "passing"]),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("{} rows in set\n", rows.len())),
        "{text}"
    );
    let listed = ok(&app, &["ls"]).await;
    assert!(
        listed
            .lines()
            .map(cells)
            .any(|c| c.len() > 3 && c[1] == "dk" && c[3] == "healthy"),
        "{listed}"
    );
    // Nothing fails: the server's reason.
    let refused = disco(&app, &["repair", "dk", "--wait"]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("409 nothing to repair: the cluster is healthy ("),
        "{}",
        stderr(&refused)
    );

    let worker = local_dir(&app, &location).join("nodes/slave-1/pids/dask-worker");
    let killed = record_of(&worker);
    assert!(killed.signal_group(Signal::SIGKILL), "the worker ran");
    let degraded = health_until(&app, "dk", "degraded").await;
    assert!(
        !degraded.status.success(),
        "a degraded cluster fails the command"
    );
    assert!(
        stderr(&degraded).contains("dk is degraded"),
        "{}",
        stderr(&degraded)
    );
    let text = stdout(&degraded);
    let first = text.lines().next().expect("a first line");
    assert!(
        first.starts_with("dk: degraded (dask on slaves:1: ")
            && first.contains("process dask-worker failing since "),
        "{text}"
    );
    let rows = check_rows(&degraded);
    // Failing first, with since when and what the check said.
    assert_eq!(rows[0][3], "failing", "{text}");
    let failing = rows
        .iter()
        .find(|r| r[2] == "process dask-worker")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        failing[..4],
        ["slaves:1", "dask", "process dask-worker", "failing"],
        "{text}"
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(&failing[4], "%H:%M:%S %d/%m/%y").is_ok(),
        "{text}"
    );
    assert!(!failing[5].is_empty(), "its output: {text}");
    assert!(
        failing[5].chars().count() <= 60,
        "the output cut to fit a pipe's 60 characters: {text}"
    );
    assert!(
        rows.iter()
            .filter(|r| r[3] == "failing")
            .all(|r| r[0] == "slaves:1"),
        "only the slave's fail: {text}"
    );
    let listed = ok(&app, &["ls"]).await;
    assert!(
        listed
            .lines()
            .map(cells)
            .any(|c| c.len() > 3 && c[1] == "dk" && c[3] == "degraded"),
        "{listed}"
    );

    let repaired = ok(&app, &["repair", "dk", "--wait"]).await;
    assert_eq!(
        repaired,
        "  dk: ready (repaired: started again dask on slaves:1)\n"
    );
    let again = health_until(&app, "dk", "healthy").await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        check_rows(&again).iter().all(|r| r[3] == "passing"),
        "{}",
        stdout(&again)
    );
    assert_ne!(record_of(&worker).pid, killed.pid, "a new worker");
    let history = ok(&app, &["task-status", "dk", "--all"]).await;
    assert!(history.contains("| cluster_repair "), "{history}");

    // Stopped, it has no health to show.
    ok(&app, &["stop", "dk", "--wait"]).await;
    let stopped = disco(&app, &["health", "dk"]).await;
    assert!(!stopped.status.success());
    assert!(
        stderr(&stopped).contains("dk: no health: it is stopped"),
        "{}",
        stderr(&stopped)
    );
    ok(&app, &["delete", "dk", "--wait"]).await;
}
