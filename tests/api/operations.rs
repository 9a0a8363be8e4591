//! Stopping and starting a running cluster through the API, on the file provider (which
//! runs nothing, so the bookkeeping is all there is): the state machine, the refusals,
//! the actions each state offers, and the task history.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{CATEGORY, TestApp, spawn_app};

const SPARK: &str = "icclab.disco.dependencies.inject=\"['spark']\"";

async fn action(app: &TestApp, location: &str, term: &str, tenant: Option<&str>) -> (u16, String) {
    let mut request = app
        .client
        .post(format!("{location}?action={term}"))
        .header("Category", CATEGORY);
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Name", tenant);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn json(app: &TestApp, url: &str) -> (u16, Value) {
    let response = app
        .client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn state_of(app: &TestApp, location: &str) -> String {
    let attributes = app.attributes(location).await.expect("the cluster");
    attributes
        .iter()
        .find(|(name, _)| name == "icclab.disco.state")
        .map(|(_, value)| value.clone())
        .expect("a state")
}

async fn wait_for(app: &TestApp, location: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = state_of(app, location).await;
        if now == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{location} stayed {now}, not {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The actions a cluster's rendering offers.
async fn offered(app: &TestApp, location: &str) -> Vec<String> {
    let (_, body) = json(app, location).await;
    body["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            a.as_str()
                .map(|s| s.rsplit(['=', '#']).next().unwrap_or(s).to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_ready_cluster_stops_and_starts_again_and_each_is_a_task_of_its_history() {
    let app = spawn_app().await;
    let location = app.create_ok(SPARK).await;
    wait_for(&app, &location, "ready").await;
    assert_eq!(offered(&app, &location).await, vec!["stop", "scale"]);

    let (status, body) = action(&app, &location, "stop", None).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&app, &location, "stopped").await;
    assert_eq!(offered(&app, &location).await, vec!["start"]);
    let (status, body) = action(&app, &location, "stop", None).await;
    assert_eq!(
        status, 409,
        "a stopped cluster is not stopped again: {body}"
    );
    assert!(
        body.contains("stopped") && body.contains("?action=start"),
        "{body}"
    );

    let (status, body) = action(&app, &location, "start", None).await;
    assert_eq!(status, 200, "{body}");
    wait_for(&app, &location, "ready").await;

    let (status, history) = json(&app, &format!("{location}/tasks?all=true")).await;
    assert_eq!(status, 200);
    let rows: Vec<(String, String)> = history
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap_or_default().to_string(),
                t["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = ["cluster_converge", "cluster_stop", "cluster_start"]
        .iter()
        .map(|t| (t.to_string(), "succeeded".to_string()))
        .collect();
    assert_eq!(rows, expected);
    for task in history.as_array().expect("list") {
        assert!(task["duration_secs"].as_f64().is_some(), "{task}");
    }

    // The latest task is the start; the stop is task 2, with its nodes' stage.
    let (_, latest) = json(&app, &format!("{location}/tasks")).await;
    assert_eq!(latest["name"], "cluster_start");
    let (_, stop) = json(&app, &format!("{location}/tasks?task=2")).await;
    assert_eq!(stop["name"], "cluster_stop");
    assert_eq!(stop["children"][0]["name"], "stop_nodes_stage");
    assert_eq!(stop["children"][0]["children"][0]["node"], "master");
    assert_eq!(stop["children"][0]["children"][0]["status"], "succeeded");
    let table = app
        .client
        .get(format!("{location}/tasks?all=true"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        table.contains("cluster_stop") && table.contains("3 rows in set"),
        "{table}"
    );
    for bad in ["?task=4", "?task=0", "?task=x", "?all=maybe"] {
        let (status, body) = json(&app, &format!("{location}/tasks{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // Stopped clusters are deleted as any other.
    let (status, _) = action(&app, &location, "stop", None).await;
    assert_eq!(status, 200);
    wait_for(&app, &location, "stopped").await;
    let deleted = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(deleted.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.attributes(&location).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the stopped cluster was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_refused_operation_says_why_and_changes_nothing() {
    let app = spawn_app().await;
    let staged = app
        .create_ok(&format!("{SPARK},icclab.disco.stage=true"))
        .await;
    let id: disco::domain::ClusterId = staged.rsplit('/').next().expect("id").parse().expect("id");
    let before = app.store.transitions(id).await.expect("transitions").len();
    for term in ["stop", "start"] {
        let (status, body) = action(&app, &staged, term, None).await;
        assert_eq!(status, 409, "{term} of a pending cluster: {body}");
        assert!(body.contains("pending"), "{body}");
    }
    let (status, body) = action(&app, &staged, "scale-sideways", None).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("deploy") && body.contains("stop") && body.contains("start"),
        "the valid actions are named: {body}"
    );
    // Another tenant's cluster is no cluster.
    let (status, _) = action(&app, &staged, "stop", Some("someone-else")).await;
    assert_eq!(status, 404);
    assert_eq!(
        app.store.transitions(id).await.expect("transitions").len(),
        before,
        "nothing stored changed"
    );
    assert_eq!(state_of(&app, &staged).await, "pending");
    assert!(
        !app.store
            .has_queued_job(id, disco::store::JobKind::Stop)
            .await
            .expect("jobs")
    );

    // The query interface lists the actions on the kind.
    let query = app
        .client
        .get(app.url("/-/"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    for term in ["deploy", "stop", "start", "scale"] {
        assert!(
            query.contains(&format!("action#{term}")),
            "{term} not in the query interface:\n{query}"
        );
    }
    let scale = query
        .lines()
        .find(|l| l.starts_with("Category: scale;"))
        .expect("the scale action");
    assert!(
        scale.contains("attributes=\"icclab.disco.components.heat.slavecount\""),
        "the scale action names its attribute: {scale}"
    );
}

async fn scale(app: &TestApp, location: &str, attributes: &str, action: bool) -> (u16, String) {
    let url = if action {
        format!("{location}?action=scale")
    } else {
        location.to_string()
    };
    let response = app
        .client
        .post(url)
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", attributes)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn slaves_of(app: &TestApp, location: &str) -> String {
    app.attributes(location)
        .await
        .expect("the cluster")
        .into_iter()
        .find(|(name, _)| name == "icclab.disco.components.heat.slavecount")
        .map(|(_, value)| value)
        .expect("a slave count")
}

const SLAVES: &str = "icclab.disco.components.heat.slavecount";

#[tokio::test]
async fn a_ready_cluster_scales_within_its_bounds_by_action_or_partial_update() {
    let app = spawn_app().await;
    let location = app
        .create_ok(&format!(
            "{SPARK},{SLAVES}=2,icclab.disco.components.heat.minslaves=1,icclab.disco.components.heat.maxslaves=4"
        ))
        .await;
    wait_for(&app, &location, "ready").await;
    assert!(
        offered(&app, &location)
            .await
            .contains(&"scale".to_string())
    );
    let id: disco::domain::ClusterId = location
        .rsplit('/')
        .next()
        .expect("id")
        .parse()
        .expect("id");
    let transitions = app.store.transitions(id).await.expect("transitions").len();

    for (attributes, status, words) in [
        (
            format!("{SLAVES}=5"),
            400,
            "at most 4 slaves (icclab.disco.components.heat.maxslaves), got 5",
        ),
        (
            format!("{SLAVES}=0"),
            400,
            "at least 1 slaves (icclab.disco.components.heat.minslaves), got 0",
        ),
        (format!("{SLAVES}=-1"), 400, SLAVES),
        (format!("{SLAVES}=1000000"), 400, SLAVES),
        (
            format!("{SLAVES}=\"3\""),
            400,
            "an integer number of slaves",
        ),
        (format!("{SLAVES}=2.5"), 400, "an integer number of slaves"),
        (
            format!("{SLAVES}=3,icclab.disco.components.heat.masterimage=\"other\""),
            400,
            "only icclab.disco.components.heat.slavecount changes",
        ),
    ] {
        let (got, body) = scale(&app, &location, &attributes, true).await;
        assert_eq!(got, status, "{attributes}: {body}");
        assert!(body.contains(words), "{attributes}: {body}");
    }
    let (got, body) = action(&app, &location, "scale", None).await;
    assert_eq!(got, 400, "a scale without a count: {body}");
    assert!(body.contains(SLAVES), "{body}");
    let (got, body) = scale(&app, &location, &format!("{SLAVES}=3"), true).await;
    let _ = body;
    assert_eq!(got, 200);
    wait_for(&app, &location, "ready").await;
    assert_eq!(slaves_of(&app, &location).await, "3");
    let (_, plan) = json(&app, &format!("{location}/plan")).await;
    let slaves = plan["node_groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == "slaves")
        .map(|g| g["count"].clone());
    assert_eq!(slaves, Some(serde_json::json!(3)));
    assert!(
        app.store.transitions(id).await.expect("transitions").len() > transitions,
        "the refusals changed nothing, the scale moved it"
    );

    // A partial update of the cluster carrying the new count is a scale too.
    let (got, body) = scale(&app, &location, &format!("{SLAVES}=4"), false).await;
    assert_eq!(got, 200, "{body}");
    wait_for(&app, &location, "ready").await;
    assert_eq!(slaves_of(&app, &location).await, "4");
    // Any other attribute changes only while the cluster is staged: a 409 naming its state.
    let (got, body) = scale(&app, &location, "icclab.disco.name=\"renamed\"", false).await;
    assert_eq!(got, 409, "{body}");
    assert!(body.contains("cluster is ready"), "{body}");

    let (_, history) = json(&app, &format!("{location}/tasks?all=true")).await;
    let types: Vec<&str> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        ["cluster_converge", "cluster_scale", "cluster_scale"]
    );
    let (_, grow) = json(&app, &format!("{location}/tasks?task=2")).await;
    assert_eq!(grow["children"][0]["name"], "create_nodes_stage");
    let made: Vec<&str> = grow["children"][0]["children"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["node"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(made, ["slaves:3"], "only the new slave is made");

    // Another tenant's cluster is none; a stopped one waits for its start.
    let response = app
        .client
        .post(format!("{location}?action=scale"))
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", format!("{SLAVES}=2"))
        .header("X-Tenant-Name", "someone-else")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 404);
    let (got, _) = action(&app, &location, "stop", None).await;
    assert_eq!(got, 200);
    wait_for(&app, &location, "stopped").await;
    let (got, body) = scale(&app, &location, &format!("{SLAVES}=2"), true).await;
    assert_eq!(got, 409, "{body}");
    assert!(body.contains("stopped") && body.contains("ready"), "{body}");
    assert_eq!(slaves_of(&app, &location).await, "4");
}

#[tokio::test]
async fn bounds_that_contradict_themselves_or_the_count_are_refused_at_create() {
    let app = spawn_app().await;
    for (attributes, words) in [
        (
            format!(
                "{SPARK},icclab.disco.components.heat.minslaves=3,icclab.disco.components.heat.maxslaves=2"
            ),
            "icclab.disco.components.heat.maxslaves",
        ),
        (
            format!("{SPARK},{SLAVES}=5,icclab.disco.components.heat.maxslaves=4"),
            "at most 4 slaves",
        ),
        (
            format!("{SPARK},{SLAVES}=1,icclab.disco.components.heat.minslaves=2"),
            "at least 2 slaves",
        ),
    ] {
        let response = app.create(&attributes).await;
        assert_eq!(response.status(), 400, "{attributes}");
        let body = response.text().await.expect("body");
        assert!(body.contains(words), "{attributes}: {body}");
    }
    assert!(app.listing().await.is_empty());
}
