//! Task status over the API: node reports with the cluster's own token, the task tree,
//! the deployment log and the event stream, from a real local deploy; what a second
//! deploy of the same is expected to take, from the first.

use std::time::{Duration, Instant};

use disco::domain::ProviderKind;

use crate::helpers::{TestApp, spawn_app_with};

async fn spawn_local_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.stop_grace_secs = 5;
    })
    .await
}

async fn wait_state(app: &TestApp, location: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let state = app.attribute(location, "icclab.disco.state").await;
        if state.as_deref() == Some(wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "{location} stayed {state:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn report_with(app: &TestApp, location: &str, token: &str) -> u16 {
    app.client
        .post(format!("{location}/report"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(r#"{"stage": "spark install", "node": "master", "status": "succeeded", "rc": 0, "output": "forged"}"#)
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// The report token a cluster's node script was given.
fn token_of(app: &TestApp, location: &str) -> String {
    let id = location.rsplit('/').next().expect("id");
    let script = std::fs::read_to_string(
        app.settings
            .provider
            .local
            .dir
            .join(id)
            .join("nodes/master/node.sh"),
    )
    .expect("the master's script");
    script
        .lines()
        .find_map(|l| l.strip_prefix("export DISCO_REPORT_TOKEN='"))
        .map(|t| t.trim_end_matches('\'').to_string())
        .expect("a report token in the script")
}

#[tokio::test]
async fn a_deploy_reports_every_stage_and_only_its_own_token_is_accepted() {
    let app = spawn_local_app().await;
    let first = app
        .create_ok("icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1")
        .await;
    let second = app
        .create_ok("icclab.disco.dependencies.inject=\"{'dask': ''}\",icclab.disco.components.heat.slavecount=0,icclab.disco.name=\"other\"")
        .await;
    wait_state(&app, &first, "ready").await;
    wait_state(&app, &second, "ready").await;

    // The tree: every stage of the plan, finished, with times and return codes.
    let tree: serde_json::Value = app
        .client
        .get(format!("{first}/tasks"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(tree["status"], "succeeded", "{tree:#}");
    let stages: Vec<&str> = tree["children"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        stages,
        [
            "create_nodes_stage",
            "dask install",
            "dask start",
            "dask smoke"
        ]
    );
    let smoke = &tree["children"][3]["children"][0];
    assert_eq!(smoke["kind"], "action");
    assert_eq!(smoke["rc"], 0);
    assert_eq!(smoke["command"], "dask/local/smoke.sh");
    assert!(
        smoke["stdout"]
            .as_str()
            .is_some_and(|s| s.contains("sum of squares")),
        "{smoke:#}"
    );

    // The log of one node, from the same reports.
    let log = app
        .client
        .get(format!("{first}/logs?node=slaves:1"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        log.contains(" slaves:1 dask start succeeded (rc 0)"),
        "{log}"
    );
    assert!(!log.contains(" master "), "only the node asked for: {log}");
    let bad = app
        .client
        .get(format!("{first}/logs?node=slaves:7"))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .await
            .expect("text")
            .contains("node: expected one of master, slaves:1")
    );

    // Reports: the other cluster's token, none, and a deleted cluster's are refused.
    let (first_token, second_token) = (token_of(&app, &first), token_of(&app, &second));
    assert_ne!(first_token, second_token);
    assert_eq!(report_with(&app, &first, &second_token).await, 403);
    assert_eq!(report_with(&app, &first, "").await, 401);
    assert_eq!(report_with(&app, &first, &first_token).await, 204);
    let response = app.client.delete(&second).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.attribute(&second, "icclab.disco.state").await.is_some() {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(report_with(&app, &second, &second_token).await, 403);

    // The event stream replays the reports, then ends, the cluster being ready.
    let events = app
        .client
        .get(format!("{first}/events"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        events
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let body = tokio::time::timeout(Duration::from_secs(30), events.text())
        .await
        .expect("the stream ends")
        .expect("text");
    assert!(body.starts_with("event: report\ndata: {"), "{body}");
    assert!(body.contains("\"stage\":\"dask smoke\""), "{body}");
    assert!(body.contains("event: tasks\n"), "{body}");
    assert!(
        body.trim_end().ends_with("data: {\"state\":\"ready\"}"),
        "{body}"
    );

    let response = app.client.delete(&first).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    // Gone before the test ends: the server stops with it, and would leave the
    // cluster's processes behind.
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.attribute(&first, "icclab.disco.state").await.is_some() {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = first.rsplit('/').next().expect("id");
    assert!(disco::providers::local::process::processes_of(id, None).is_empty());
}

#[tokio::test]
async fn a_report_for_a_node_the_cluster_does_not_have_is_a_400_naming_its_nodes() {
    let app = crate::helpers::spawn_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['spark']\",\
             icclab.disco.components.heat.slavecount=\"2\",icclab.disco.stage=\"true\"",
        )
        .await;
    let id = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("a cluster id");
    let token = app.store.report_token(id).await.expect("token");
    let report = |node: &str| {
        app.client
            .post(format!("{location}/report"))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"stage": "spark install", "node": "{node}", "status": "executing"}}"#
            ))
            .send()
    };
    for stranger in ["slaves:65535", "slaves:01", "slaves:3"] {
        let response = report(stranger).await.expect("sent");
        assert_eq!(response.status(), 400, "{stranger}");
        let reason = response.text().await.expect("text");
        assert!(
            reason.contains("master, slaves:1, slaves:2"),
            "{stranger}: {reason}"
        );
    }
    for node in ["master", "slaves:2"] {
        assert_eq!(report(node).await.expect("sent").status(), 204, "{node}");
    }
    // A stranger's token learns nothing of the nodes.
    let forged = app
        .client
        .post(format!("{location}/report"))
        .header("Authorization", format!("Bearer {}", "0".repeat(64)))
        .header("Content-Type", "application/json")
        .body(r#"{"stage": "x", "node": "slaves:9", "status": "executing"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 403);
}

/// Every leaf of a task tree (JSON), with the name of its stage.
fn leaves(tree: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    fn walk<'a>(
        stage: &str,
        task: &'a serde_json::Value,
        out: &mut Vec<(String, &'a serde_json::Value)>,
    ) {
        match task["children"].as_array() {
            Some(children) => {
                for child in children {
                    walk(stage, child, out);
                }
            }
            None => out.push((stage.to_string(), task)),
        }
    }
    let mut out = Vec::new();
    for stage in tree["children"].as_array().expect("stages") {
        walk(stage["name"].as_str().expect("name"), stage, &mut out);
    }
    out
}

async fn tree_of(app: &TestApp, location: &str) -> serde_json::Value {
    app.client
        .get(format!("{location}/tasks"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_second_deploy_of_the_same_is_expected_to_take_what_the_first_took_stage_by_stage() {
    let app = spawn_local_app().await;
    let mut guard = crate::local::KillOnDrop(Vec::new());
    let dask = "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
                icclab.disco.components.heat.slavecount=1";
    let first = app
        .create_ok(&format!("{dask},icclab.disco.name=\"first\""))
        .await;
    guard.watch(&first);
    crate::local::wait_ready(&app.client, &first).await;
    // Finished: durations, nothing expected.
    let done = tree_of(&app, &first).await;
    assert!(!done.to_string().contains("expected_"), "{done:#}");
    let took: Vec<(String, String, f64)> = leaves(&done)
        .into_iter()
        .map(|(stage, leaf)| {
            let secs = |at: &str| {
                chrono::DateTime::parse_from_rfc3339(leaf[at].as_str().expect("a time"))
                    .expect("rfc 3339")
            };
            let ms = (secs("ended_at") - secs("started_at")).num_milliseconds();
            (
                stage,
                leaf["node"].as_str().expect("node").to_string(),
                ms as f64 / 1000.0,
            )
        })
        .collect();
    assert_eq!(
        took.len(),
        7,
        "2 nodes made, 2 installs, 2 starts, a smoke test: {took:?}"
    );

    // Staged: every step is expected to take what it took the first time (the median of
    // one run), and the whole what the slower node took.
    let second = app
        .create_ok(&format!(
            "{dask},icclab.disco.name=\"second\",icclab.disco.stage=true"
        ))
        .await;
    guard.watch(&second);
    let staged = tree_of(&app, &second).await;
    assert_eq!(staged["status"], "pending");
    let expected: Vec<(String, String, f64)> = leaves(&staged)
        .into_iter()
        .map(|(stage, leaf)| {
            (
                stage,
                leaf["node"].as_str().expect("node").to_string(),
                leaf["expected_secs"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{leaf:#}")),
            )
        })
        .collect();
    assert_eq!(expected, took);
    let slowest = ["master", "slaves:1"]
        .iter()
        .map(|node| {
            took.iter()
                .filter(|(_, n, _)| n == node)
                .map(|(_, _, secs)| secs)
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let total = staged["expected_secs"].as_f64().expect("the whole");
    assert!((total - slowest).abs() < 1e-6, "{total} against {slowest}");
    assert!(
        staged.get("expected_end").is_none(),
        "not started: {staged:#}"
    );

    // The command line's EXPECTED column.
    let output = crate::cli::disco(&app, &["task-status", "second"]).await;
    let table = crate::cli::stdout(&output);
    let rows: Vec<Vec<String>> = table
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows[0][4], "EXPECTED", "{table}");
    let install = rows
        .iter()
        .find(|r| r[0].ends_with("configure_node") && r[2] == "master")
        .unwrap_or_else(|| panic!("the master's install in\n{table}"));
    assert!(
        install[4].starts_with('~') && install[4].ends_with('s'),
        "{table}"
    );
    assert!(rows[1][4].starts_with('~'), "the whole task: {table}");

    // Deployed: while it runs, every tree its stream sends says what the steps left are
    // expected to take and when it should end.
    let events = app
        .client
        .get(format!("{second}/events"))
        .send()
        .await
        .expect("sent");
    let deploy = app
        .client
        .post(format!("{second}?action=deploy"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deploy.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(900), events.text())
        .await
        .expect("the stream ends once the cluster is ready")
        .expect("text");
    let trees: Vec<serde_json::Value> = body
        .split("\n\n")
        .filter_map(|block| block.strip_prefix("event: tasks\ndata: "))
        .map(|data| serde_json::from_str(data).expect("a tree"))
        .collect();
    let running: Vec<&serde_json::Value> = trees
        .iter()
        .filter(|tree| tree["status"] == "executing")
        .collect();
    assert!(!running.is_empty(), "{body}");
    for tree in &running {
        let end = tree["expected_end"]
            .as_str()
            .unwrap_or_else(|| panic!("{tree:#}"));
        let started = tree["started_at"].as_str().expect("started");
        assert!(end > started, "{tree:#}");
        for (stage, leaf) in leaves(tree) {
            let node = leaf["node"].as_str().expect("node");
            let finished = ["succeeded", "failed", "cancelled"]
                .contains(&leaf["status"].as_str().unwrap_or(""));
            let first_took = took
                .iter()
                .find(|(s, n, _)| *s == stage && n == node)
                .map(|(_, _, secs)| *secs);
            if finished {
                assert!(leaf.get("expected_secs").is_none(), "{leaf:#}");
            } else {
                assert_eq!(
                    leaf["expected_secs"].as_f64(),
                    first_took,
                    "{stage} on {node}"
                );
            }
        }
    }
    let last = trees.last().expect("a tree");
    assert_eq!(last["status"], "succeeded", "{body}");
    assert!(last.get("expected_end").is_none(), "{last:#}");

    for location in [&first, &second] {
        let response = app
            .client
            .delete(location.as_str())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for location in [&first, &second] {
        while app
            .attribute(location, "icclab.disco.state")
            .await
            .is_some()
        {
            assert!(Instant::now() < deadline, "never deleted");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
