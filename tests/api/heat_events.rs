//! Heat's own events in the task tree, against the real Keystone and Heat of the test
//! bed: a stand-in server set to fail (the `fake_server_fail_names` knob) fails its
//! node's `create_node` with Heat's reason, `GET .../events?source=heat` lists the
//! stack's events, and a good deploy's `create_node` rows take their times from them.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::heat::cloud;
use crate::helpers::{TestApp, location, spawn_app, spawn_app_with};
use crate::openstack::{
    HEAT_GATE, create, disco_as, nodes, on_the_test_bed, scale_to, stack_name, token_for,
    wait_for_state, wait_until_gone,
};

/// A cluster name no other test uses (the knob fails servers by name).
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("{prefix}{nanos:x}")
}

/// An app on the test bed whose Heat environment adds `parameter_defaults` (test knobs)
/// to the stand-ins'; the directory holds the extra environment file.
async fn app_with_knobs(knobs: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let extra = dir.path().join("knobs.yaml");
    std::fs::write(&extra, format!("parameter_defaults:\n{knobs}")).expect("knobs written");
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.openstack.heat_environment.push(extra);
    })
    .await;
    (app, dir)
}

/// Creates a cluster that must be accepted: its location.
async fn create_ok(app: &TestApp, token: &str, attributes: &str) -> String {
    let response = create(app, token, attributes).await;
    let status = response.status();
    let url = location(response.headers());
    assert_eq!(status, 201, "{}", response.text().await.unwrap_or_default());
    url
}

async fn get_json(app: &TestApp, url: &str, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(url)
        .header("X-Auth-Token", token)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    // A refusal's body may be text: kept as a string.
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The deploy's `create_node` rows, by node.
fn create_nodes(tree: &Value) -> Vec<Value> {
    tree["children"][0]["children"]
        .as_array()
        .expect("create_nodes_stage has rows")
        .clone()
}

fn row<'a>(rows: &'a [Value], node: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["node"] == node)
        .unwrap_or_else(|| panic!("no create_node for {node}: {rows:?}"))
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

async fn delete(app: &TestApp, url: &str, token: &str) {
    let deleted = app
        .client
        .delete(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, url, token, "the cluster was never deleted").await;
}

#[tokio::test]
async fn a_server_heat_fails_fails_its_create_node_with_heats_reason_and_the_others_do_not() {
    let _heat = HEAT_GATE.read().await;
    let name = unique("hevfail");
    // The second slave's server (slave names count from 0 in Heat).
    let (app, _dir) =
        app_with_knobs(&format!("  fake_server_fail_names: ['{name}-slave-1']\n")).await;
    let token = token_for("demo", "demopass", "demo").await;
    let url = create_ok(
        &app,
        &token,
        &format!(
            "icclab.disco.name=\"{name}\",icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2"
        ),
    )
    .await;
    let failed = wait_for_state(&app.client, &url, &token, "failed").await;
    let reason = failed["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("slaves:2"), "{reason}");

    let (status, tree) = get_json(&app, &format!("{url}/tasks"), &token).await;
    assert_eq!(status, 200, "{tree}");
    let rows = create_nodes(&tree);
    let slave = row(&rows, "slaves:2");
    assert_eq!(slave["status"], "failed", "{slave}");
    let why = slave["stderr"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("server: ") && why.contains("Test Resource failed"),
        "create_node slaves:2 says Heat's reason: {why}"
    );
    assert!(time(&slave["ended_at"]) >= time(&slave["started_at"]));
    for node in ["master", "slaves:1"] {
        let other = row(&rows, node);
        assert_ne!(other["status"], "failed", "{other}");
        assert!(other["stderr"].is_null(), "{other}");
    }
    assert_eq!(tree["children"][0]["status"], "failed");

    let (status, listing) = get_json(&app, &format!("{url}/events?source=heat"), &token).await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["stack_id"], failed["attributes"]["stackid"]);
    let events = listing["events"].as_array().expect("events");
    let server_failed = events
        .iter()
        .find(|e| {
            e["node"] == "slaves:2" && e["resource"] == "server" && e["status"] == "CREATE_FAILED"
        })
        .unwrap_or_else(|| panic!("no CREATE_FAILED of slaves:2's server: {listing}"));
    assert_eq!(server_failed["type"], "OS::Nova::Server");
    assert!(
        server_failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Test Resource failed")),
        "{server_failed}"
    );
    assert!(
        !events.iter().any(|e| e["node"] != "slaves:2"
            && e["type"] == "OS::Nova::Server"
            && e["status"] == "CREATE_FAILED"),
        "only slaves:2's server failed: {listing}"
    );
    // Oldest first.
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| time(&e["time"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // `disco events NAME` prints them: the failed server's row with Heat's reason.
    // (Not on a terminal, a reason is cut to 60 characters: its start is there.)
    let printed = disco_as(&app, &token, &["events", &name]).await;
    println!("{printed}");
    let start: String = server_failed["reason"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(30)
        .collect();
    assert!(
        printed.lines().any(|line| line.contains("| slaves:2 ")
            && line.contains("| server ")
            && line.contains("CREATE_FAILED")
            && line.contains(&start)),
        "{printed}"
    );
    delete(&app, &url, &token).await;
}

#[tokio::test]
async fn a_good_deploys_and_a_scale_outs_create_node_rows_take_their_times_from_heats_events() {
    let _heat = HEAT_GATE.read().await;
    let (app, _dir) = app_with_knobs("  fake_server_boot_seconds: 2\n").await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let url = create_ok(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1",
    )
    .await;
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack_name(&url), &nodes(1), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    let (_, listing) = get_json(&app, &format!("{url}/events?source=heat"), &token).await;
    let events = listing["events"].as_array().expect("events").clone();
    let (_, tree) = get_json(&app, &format!("{url}/tasks"), &token).await;
    let rows = create_nodes(&tree);
    for (node, resource) in [("master", "master"), ("slaves:1", "server")] {
        let made = events
            .iter()
            .find(|e| {
                e["node"] == node && e["resource"] == resource && e["status"] == "CREATE_COMPLETE"
            })
            .unwrap_or_else(|| panic!("no CREATE_COMPLETE of {node}'s server: {listing}"));
        let row = row(&rows, node);
        assert_eq!(row["status"], "succeeded", "{row}");
        // It ended when Heat made the server, which took the stand-in's 2 s boot.
        assert_eq!(time(&row["ended_at"]), time(&made["time"]), "{row} {made}");
        let took = (time(&row["ended_at"]) - time(&row["started_at"])).num_milliseconds();
        assert!(took >= 1000, "create_node {node} took {took} ms: {row}");
    }
    // The master's port and floating IP are the master's too.
    for resource in ["master_port", "master_floating_ip"] {
        assert!(
            events.iter().any(|e| e["resource"] == resource
                && e["node"] == "master"
                && e["status"] == "CREATE_COMPLETE"),
            "{resource}: {listing}"
        );
    }

    // A scale-out's create_node for the new slave: from its server's events too.
    assert_eq!(scale_to(&app.client, &url, &token, 2).await, 200);
    wait_for_state(&app.client, &url, &token, "scaling").await;
    cloud
        .play_nodes(
            &stack_name(&url),
            &["slaves:2".to_string()],
            "SUCCESS",
            "installed",
        )
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    let (_, listing) = get_json(&app, &format!("{url}/events?source=heat"), &token).await;
    let made = listing["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| {
            e["node"] == "slaves:2" && e["resource"] == "server" && e["status"] == "CREATE_COMPLETE"
        })
        .unwrap_or_else(|| panic!("no CREATE_COMPLETE of slaves:2's server: {listing}"))
        .clone();
    let (_, scale) = get_json(&app, &format!("{url}/tasks"), &token).await;
    assert_eq!(scale["kind"], "cluster_scale", "{scale}");
    let rows = create_nodes(&scale);
    let new = row(&rows, "slaves:2");
    assert_eq!(new["status"], "succeeded", "{new}");
    assert_eq!(time(&new["ended_at"]), time(&made["time"]), "{new} {made}");
    delete(&app, &url, &token).await;
}

#[tokio::test]
async fn heat_events_are_refused_with_a_reason_for_a_cluster_without_a_stack_a_stranger_or_a_bad_source()
 {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_app_with(|s| on_the_test_bed(s, "fake-env.yaml")).await;
    let demo = token_for("demo", "demopass", "demo").await;
    let other = token_for("other", "otherpass", "other").await;
    let url = create_ok(
        &app,
        &demo,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true",
    )
    .await;
    let (status, body) = get_json(&app, &format!("{url}/events?source=heat"), &demo).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("no Heat stack yet"), "{body}");
    let (status, _) = get_json(&app, &format!("{url}/events?source=heat"), &other).await;
    assert_eq!(status, 404, "another project's cluster is not there");
    let (status, body) = get_json(&app, &format!("{url}/events?source=nova"), &demo).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("source: expected heat"), "{body}");
    delete(&app, &url, &demo).await;

    // A cluster of a provider that makes no stack.
    let local = spawn_app().await;
    let url = local
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=true")
        .await;
    let response = local
        .client
        .get(format!("{url}/events?source=heat"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap_or_default();
    assert!(body.contains("makes no Heat stack"), "{body}");
}
