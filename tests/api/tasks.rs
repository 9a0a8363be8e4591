//! Task status over the API: node reports with the cluster's own token, the task tree,
//! the deployment log and the event stream, from a real local deploy.

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
