//! The `disco` command line against the real server with the local provider: the tables
//! and the stream of a real deployment, in DTK's layouts.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Output;

use disco::domain::ProviderKind;

use crate::helpers::{TestApp, spawn_app_with};

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
    assert_eq!(
        row("c1")[2..7],
        ["running", "succeeded", "dask", "local", "2"]
    );
    assert_eq!(row("nb")[2..7], ["pending", "", "jupyter", "local", "1"]);
    assert!(listed.ends_with("2 rows in set\n"), "{listed}");
    // The operator's default lifetime (a week), and an owner's change of it.
    assert_ne!(row("c1")[8], "-", "{listed}");
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
