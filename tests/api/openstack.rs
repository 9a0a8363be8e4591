//! The OpenStack provider against the real Keystone and Heat of the test bed: DISCO is
//! driven as users drive it, and the tests play the booted nodes, signalling the stack's
//! wait condition through Heat as the node scripts would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use disco::cluster::ProviderKind;
use disco::config::{AuthMode, Settings};
use serde_json::{Value, json};

use crate::heat::{Cloud, cloud};
use crate::helpers::{CATEGORY, TestApp, location, spawn_app_with};

pub fn heat_environment(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testbed/heat-env")
        .join(name)
}

/// Settings for DISCO on the test bed: Keystone auth, the openstack provider by default,
/// the stand-in environment for Nova and Neutron.
pub fn on_the_test_bed(settings: &mut Settings, environment: &str) {
    settings.auth.mode = AuthMode::Keystone;
    settings.provider.default = ProviderKind::Openstack;
    let openstack = &mut settings.openstack;
    openstack.auth_url = std::env::var("OS_AUTH_URL").expect("OS_AUTH_URL: run tests/run.sh");
    openstack.region = String::new();
    openstack.heat_environment = vec![heat_environment(environment)];
    openstack.stack_timeout_mins = 10;
}

pub async fn spawn_openstack_app() -> TestApp {
    spawn_app_with(|s| on_the_test_bed(s, "fake-env.yaml")).await
}

/// A token for a test bed user.
pub async fn token_for(user: &str, password: &str, project: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/auth/tokens",
            std::env::var("OS_AUTH_URL").expect("OS_AUTH_URL")
        ))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}))
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status(), 201);
    response.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_string()
}

impl Cloud {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.heat))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .expect("Heat answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// The stacks of the demo project with this name (not deleted).
    pub async fn stacks_named(&self, name: &str) -> Vec<Value> {
        let (_, body) = self.get(&format!("/stacks?name={name}")).await;
        body["stacks"].as_array().cloned().unwrap_or_default()
    }

    /// Signals the stack's wait condition once per node, as each node's script would.
    pub async fn play_nodes(&self, stack: &str, nodes: &[String], status: &str, reason: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (endpoint, token) = loop {
            let id = self
                .stacks_named(stack)
                .await
                .first()
                .and_then(|s| s["id"].as_str().map(str::to_string));
            let (code, body) = match id {
                Some(id) => {
                    self.get(&format!(
                        "/stacks/{stack}/{id}/resources/wait_handle?with_attr=curl_cli"
                    ))
                    .await
                }
                None => (404, Value::Null),
            };
            let curl = body["resource"]["attributes"]["curl_cli"]
                .as_str()
                .unwrap_or_default();
            if code == 200 && !curl.is_empty() {
                let token = curl
                    .split("X-Auth-Token: ")
                    .nth(1)
                    .and_then(|rest| rest.split('\'').next())
                    .expect("a token in curl_cli")
                    .to_string();
                let endpoint = curl
                    .split_whitespace()
                    .last()
                    .expect("a URL")
                    .trim_matches('\'');
                break (endpoint.to_string(), token);
            }
            assert!(
                Instant::now() < deadline,
                "the wait handle of {stack} never appeared: {body}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        for node in nodes {
            let response = self
                .client
                .post(&endpoint)
                .header("X-Auth-Token", &token)
                .json(&json!({"status": status, "reason": reason, "data": node, "id": node}))
                .send()
                .await
                .expect("Heat answers the signal");
            assert!(
                response.status().is_success(),
                "signal {node}: {}",
                response.status()
            );
        }
    }
}

/// The node ids of a cluster with `slaves` slaves.
pub fn nodes(slaves: usize) -> Vec<String> {
    std::iter::once("master".to_string())
        .chain((1..=slaves).map(|i| format!("slaves:{i}")))
        .collect()
}

/// The cluster's JSON rendering, as its owner sees it.
pub async fn rendering(app: &TestApp, url: &str, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(url)
        .header("Accept", "application/occi+json")
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub async fn wait_for_state(app: &TestApp, url: &str, token: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = rendering(app, url, token).await;
        if body["attributes"]["icclab.disco.state"] == state {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never became {state}: {}",
            body["attributes"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn stack_name(url: &str) -> String {
    let id = url.rsplit('/').next().expect("id").replace('-', "");
    format!("disco-{}", &id[..8])
}

async fn create(app: &TestApp, token: &str, attributes: &str) -> reqwest::Response {
    app.client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header("X-Auth-Token", token)
        .header("X-OCCI-Attribute", attributes)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_cluster_becomes_a_heat_stack_that_is_ready_once_its_nodes_signal_and_is_deleted() {
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2",
    )
    .await;
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let url = location(response.headers());
    let stack = stack_name(&url);

    let deploying = wait_for_state(&app, &url, &token, "installing").await;
    assert_eq!(
        deploying["attributes"]["stack_status"],
        "CREATE_IN_PROGRESS"
    );
    let stacks = cloud.stacks_named(&stack).await;
    assert_eq!(stacks.len(), 1, "one stack in Heat's own listing");
    assert_eq!(deploying["attributes"]["stackid"], stacks[0]["id"]);

    cloud
        .play_nodes(&stack, &nodes(2), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app, &url, &token, "ready").await;
    let attributes = &ready["attributes"];
    assert_eq!(attributes["stack_status"], "CREATE_COMPLETE");
    assert_eq!(attributes["mcn.service.state"], "ready");
    assert!(
        attributes["external_ip"]
            .as_str()
            .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()),
        "external_ip from the stack's outputs: {}",
        attributes["external_ip"]
    );
    assert!(
        attributes["ssh_private_key"]
            .as_str()
            .is_some_and(|k| k.contains("PRIVATE KEY"))
    );
    let (_, outputs) = cloud
        .get(&format!(
            "/stacks/{stack}/{}/outputs/ssh_public_key",
            stacks[0]["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        outputs["output"]["output_value"], attributes["ssh_public_key"],
        "the stack has our key"
    );

    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    while rendering(&app, &url, &token).await.0 != 404 {
        assert!(
            Instant::now() < deadline,
            "the cluster never left the listing"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "the stack is gone from Heat"
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_401_with_keystones_reason_and_a_literal_variable_is_named() {
    let app = spawn_openstack_app().await;
    let response = app
        .client
        .get(app.url("/disco/"))
        .header("X-User-Name", "demo")
        .header("X-Password", "not-the-password")
        .header("X-Tenant-Name", "demo")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
    let body = response.text().await.expect("body");
    assert!(
        body.starts_with("Keystone refused the credentials: "),
        "{body}"
    );
    assert!(!body.contains("not-the-password"));

    let response = app
        .client
        .get(app.url("/disco/"))
        .header("X-User-Name", "demo")
        .header("X-Password", "$OS_PASSWORD")
        .header("X-Tenant-Name", "demo")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("X-Password is the literal text \"$OS_PASSWORD\""),
        "{body}"
    );

    let response = app
        .client
        .get(app.url("/disco/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401, "no credentials at all");
}

#[tokio::test]
async fn another_projects_token_cannot_see_or_delete_a_cluster_even_by_uuid() {
    let app = spawn_openstack_app().await;
    let demo = token_for("demo", "demopass", "demo").await;
    let other = token_for("other", "otherpass", "other").await;
    let response = create(
        &app,
        &demo,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    assert_eq!(rendering(&app, &url, &other).await.0, 404);
    let delete = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &other)
        .send()
        .await
        .expect("sent");
    assert_eq!(delete.status(), 404);
    let listing = app
        .client
        .get(app.url("/disco/"))
        .header("Accept", "text/uri-list")
        .header("X-Auth-Token", &other)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(listing.is_empty(), "{listing}");
    let (status, body) = rendering(&app, &url, &demo).await;
    assert_eq!(status, 200);
    assert_eq!(body["attributes"]["icclab.disco.state"], "pending");
}

#[tokio::test]
async fn a_node_that_fails_its_install_fails_the_cluster_with_heats_reason() {
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    wait_for_state(&app, &url, &token, "installing").await;
    cloud
        .play_nodes(
            &stack_name(&url),
            &["slaves:1".to_string()],
            "FAILURE",
            "slaves:1: dask start failed with return code 3",
        )
        .await;
    let failed = wait_for_state(&app, &url, &token, "failed").await;
    let reason = failed["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.contains("dask start failed with return code 3"),
        "{reason}"
    );
    assert_eq!(failed["attributes"]["stack_status"], "CREATE_FAILED");
    assert_eq!(
        failed["attributes"]["stack_status_reason"].as_str(),
        Some(reason)
    );
}

#[tokio::test]
async fn a_stack_heat_cannot_create_fails_the_cluster_with_heats_words() {
    let app = spawn_app_with(|s| on_the_test_bed(s, "fake-env-failing.yaml")).await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\"",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let failed = wait_for_state(&app, &url, &token, "failed").await;
    let reason = failed["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .expect("reason");
    assert!(reason.contains("Test Resource failed"), "{reason}");
    // A failed cluster can still be deleted, stack and all.
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    while rendering(&app, &url, &token).await.0 != 404 {
        assert!(
            Instant::now() < deadline,
            "the failed cluster was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
