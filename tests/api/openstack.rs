//! The OpenStack provider against the real Keystone and Heat of the test bed: DISCO is
//! driven as users drive it, and the tests play the booted nodes, signalling the stack's
//! wait condition through Heat as the node scripts would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use disco::config::{AuthMode, Settings};
use disco::domain::ProviderKind;
use serde_json::{Value, json};

use crate::heat::{Cloud, cloud};
use crate::helpers::{CATEGORY, ServerProcess, TestApp, location, spawn_app_with};
use crate::seed::{readme_block, response_headers, run_with};

/// Tests that use Heat hold this shared; the one that stops Heat holds it alone, so that
/// its outage does not reach the others.
pub static HEAT_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

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
    openstack.auth_url = Some(
        std::env::var("OS_AUTH_URL")
            .expect("OS_AUTH_URL: run tests/run.sh")
            .parse()
            .expect("OS_AUTH_URL is a URL"),
    );
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

    /// The stacks of the demo project with this name that are not deleted (Heat may list
    /// a stack as DELETE_COMPLETE for a moment before it drops it).
    pub async fn stacks_named(&self, name: &str) -> Vec<Value> {
        let (_, body) = self.get(&format!("/stacks?name={name}")).await;
        body["stacks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["stack_status"] != "DELETE_COMPLETE")
            .cloned()
            .collect()
    }

    /// Creates a one-resource stack by hand; Heat's status code.
    pub async fn create_stack(&self, name: &str, tags: &str) -> u16 {
        let template = json!({"heat_template_version": "2018-08-31",
            "resources": {"nothing": {"type": "OS::Heat::None"}}});
        self.client
            .post(format!("{}/stacks", self.heat))
            .header("X-Auth-Token", &self.token)
            .json(
                &json!({"stack_name": name, "template": template, "tags": tags, "timeout_mins": 5}),
            )
            .send()
            .await
            .expect("Heat answers")
            .status()
            .as_u16()
    }

    /// Deletes the stacks of this name and waits until Heat no longer lists them.
    pub async fn delete_stacks_named(&self, name: &str) {
        for stack in self.stacks_named(name).await {
            let id = stack["id"].as_str().expect("id");
            self.client
                .delete(format!("{}/stacks/{name}/{id}", self.heat))
                .header("X-Auth-Token", &self.token)
                .send()
                .await
                .expect("Heat answers");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.stacks_named(name).await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the stacks named {name} never went"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Signals the stack's wait conditions once per node, as each node's script would:
    /// the master its own handle, the slaves theirs.
    pub async fn play_nodes(&self, stack: &str, nodes: &[String], status: &str, reason: &str) {
        self.play_stack(stack, None, nodes, status, reason).await
    }

    /// As `play_nodes`, on the stack of this id (or the first of the name).
    pub async fn play_stack(
        &self,
        stack: &str,
        id: Option<&str>,
        nodes: &[String],
        status: &str,
        reason: &str,
    ) {
        for node in nodes {
            let (endpoint, token) = match node.strip_prefix("slaves:") {
                None => self.signal_url(stack, id, "wait_handle").await,
                // Each slave is a member stack of the slaves' group, with its own handle.
                Some(number) => {
                    let index: u16 = number.parse().expect("a slave number");
                    let (member, member_id) = self.member_stack(stack, id, index - 1).await;
                    self.signal_url(&member, Some(&member_id), "wait_handle")
                        .await
                }
            };
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

    /// The name and id of the slave of this index's member stack in the slaves' group
    /// (waits for it to exist).
    async fn member_stack(&self, stack: &str, id: Option<&str>, index: u16) -> (String, String) {
        let nested = |body: &Value| -> Option<(String, String)> {
            let href = body["resource"]["links"]
                .as_array()?
                .iter()
                .find(|l| l["rel"] == "nested")?["href"]
                .as_str()?
                .to_string();
            let mut parts = href.rsplit('/');
            let nested_id = parts.next()?.to_string();
            let nested_name = parts.next()?.to_string();
            Some((nested_name, nested_id))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let id = match id {
                Some(id) => Some(id.to_string()),
                None => self
                    .stacks_named(stack)
                    .await
                    .first()
                    .and_then(|s| s["id"].as_str().map(str::to_string)),
            };
            if let Some(id) = id {
                let (_, group) = self
                    .get(&format!("/stacks/{stack}/{id}/resources/slaves"))
                    .await;
                if let Some((group_name, group_id)) = nested(&group) {
                    let (_, member) = self
                        .get(&format!(
                            "/stacks/{group_name}/{group_id}/resources/{index}"
                        ))
                        .await;
                    if let Some(found) = nested(&member) {
                        return found;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "slave {index} of {stack} never appeared"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Where, and with which token, a wait condition handle takes signals (its curl_cli).
    async fn signal_url(&self, stack: &str, id: Option<&str>, handle: &str) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let id = match id {
                Some(id) => Some(id.to_string()),
                None => self
                    .stacks_named(stack)
                    .await
                    .first()
                    .and_then(|s| s["id"].as_str().map(str::to_string)),
            };
            let (code, body) = match id {
                Some(id) => {
                    self.get(&format!(
                        "/stacks/{stack}/{id}/resources/{handle}?with_attr=curl_cli"
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
                return (endpoint.to_string(), token);
            }
            assert!(
                Instant::now() < deadline,
                "the {handle} of {stack} never appeared: {body}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
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
pub async fn rendering(client: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let response = client
        .get(url)
        .header("Accept", "application/occi+json")
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

pub async fn wait_for_state(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = rendering(client, url, token).await;
        if body["attributes"]["icclab.disco.state"] == state {
            return body;
        }
        let attributes = &body["attributes"];
        assert!(
            Instant::now() < deadline,
            "{url} never became {state}: it is {} ({}), stack {} {}",
            attributes["icclab.disco.state"],
            attributes["icclab.disco.state_reason"],
            attributes["stack_status"],
            attributes["stack_status_reason"],
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls until the cluster is gone (404), or panics with `what` at the deadline.
pub async fn wait_until_gone(client: &reqwest::Client, url: &str, token: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while rendering(client, url, token).await.0 != 404 {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asks for a scale of the cluster at `url` to `slaves`: the answer's status.
pub(crate) async fn scale_to(client: &reqwest::Client, url: &str, token: &str, slaves: u16) -> u16 {
    client
        .post(format!("{url}?action=scale"))
        .header("Category", CATEGORY)
        .header("X-Auth-Token", token)
        .header(
            "X-OCCI-Attribute",
            format!("icclab.disco.components.heat.slavecount={slaves}"),
        )
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

pub fn stack_name(url: &str) -> String {
    let id = url.rsplit('/').next().expect("id").replace('-', "");
    format!("disco-{}", &id[..8])
}

pub(crate) async fn create(app: &TestApp, token: &str, attributes: &str) -> reqwest::Response {
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
    let _heat = HEAT_GATE.read().await;
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

    let deploying = wait_for_state(&app.client, &url, &token, "installing").await;
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
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
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
    wait_until_gone(
        &app.client,
        &url,
        &token,
        "the cluster never left the listing",
    )
    .await;
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "the stack is gone from Heat"
    );
}

/// `disco show NAME` with a Keystone token, as a user runs it: its (attribute, value) rows.
/// What `disco ARGS` prints to stdout, run with the user's token as `OS_TOKEN` alone;
/// it must succeed.
pub(crate) async fn disco_as(app: &TestApp, token: &str, args: &[&str]) -> String {
    let mut argv = vec!["--url".to_string(), app.address.clone()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let token = token.to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
            .args(&argv)
            .env("OS_TOKEN", token)
            .env_remove("OS_USERNAME")
            .env_remove("OS_PASSWORD")
            .env_remove("OS_PROJECT_NAME")
            .env_remove("OS_CLOUD")
            .output()
            .expect("disco runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "disco {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn disco_show(app: &TestApp, token: &str, name: &str) -> Vec<(String, String)> {
    let stdout = disco_as(app, token, &["show", name]).await;
    stdout
        .lines()
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| {
            let mut cells = line.trim_matches('|').split('|').map(str::trim);
            Some((cells.next()?.to_string(), cells.next()?.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn the_stacks_addresses_and_web_ui_outputs_are_shown_once_it_is_complete() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark', 'jupyter']\",\
         icclab.disco.components.heat.slavecount=2,icclab.disco.name=\"outputs1\"",
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

    // Before the stack is complete its outputs are not taken: nothing half-resolved.
    let installing = wait_for_state(&app.client, &url, &token, "installing").await;
    let attributes = installing["attributes"].as_object().expect("attributes");
    assert_eq!(attributes["icclab.disco.master_private_ip"], "");
    assert_eq!(attributes["icclab.disco.slave_ips"], "");
    assert!(
        !attributes
            .keys()
            .any(|k| k.starts_with("icclab.disco.web_ui.")),
        "no web UI before the stack is complete: {attributes:?}"
    );

    cloud
        .play_nodes(&stack, &nodes(2), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    let attributes = ready["attributes"].as_object().expect("attributes");
    let id = attributes["stackid"].as_str().expect("stack id");
    // Heat's own answer, output by output (not the stack show DISCO reads).
    let output = |key: String| {
        let cloud = &cloud;
        let stack = &stack;
        async move {
            let (status, body) = cloud
                .get(&format!("/stacks/{stack}/{id}/outputs/{key}"))
                .await;
            assert_eq!(status, 200, "output {key}: {body}");
            body["output"]["output_value"].clone()
        }
    };

    let master = output("master_private_ip".into())
        .await
        .as_str()
        .expect("master_private_ip is text")
        .to_string();
    assert!(
        master.parse::<std::net::Ipv4Addr>().is_ok(),
        "master_private_ip is an address: {master}"
    );
    assert_eq!(attributes["icclab.disco.master_private_ip"], master);
    let slaves: Vec<String> = output("slave_ips".into())
        .await
        .as_array()
        .expect("slave_ips is a list")
        .iter()
        .map(|ip| ip.as_str().expect("an address").to_string())
        .collect();
    assert_eq!(slaves.len(), 2, "{slaves:?}");
    assert_eq!(attributes["icclab.disco.slave_ips"], slaves.join(","));

    let (_, listed) = cloud.get(&format!("/stacks/{stack}/{id}/outputs")).await;
    let mut web_uis = Vec::new();
    for key in listed["outputs"]
        .as_array()
        .expect("Heat lists the outputs")
        .iter()
        .filter_map(|o| o["output_key"].as_str())
        .filter_map(|k| k.strip_prefix("web_ui_"))
    {
        let value = output(format!("web_ui_{key}")).await;
        assert_eq!(
            attributes[&format!("icclab.disco.web_ui.{key}")],
            value,
            "web_ui_{key}"
        );
        web_uis.push(key.to_string());
    }
    web_uis.sort();
    assert_eq!(
        web_uis,
        [
            "jupyter_jupyterlab",
            "spark_spark_history_server",
            "spark_spark_master"
        ]
    );
    let external_ip = attributes["external_ip"].as_str().expect("external_ip");
    assert_eq!(
        attributes["icclab.disco.web_ui.spark_spark_master"],
        format!("http://{external_ip}:8080/")
    );
    assert_eq!(
        attributes["icclab.disco.web_ui.jupyter_jupyterlab"],
        format!("http://{external_ip}:8888/lab")
    );

    // The text rendering and the command line show the same.
    let shown = app
        .client
        .get(&url)
        .header("Accept", "text/occi")
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    let headers: Vec<String> = shown
        .headers()
        .get_all("x-occi-attribute")
        .iter()
        .map(|v| v.to_str().expect("text").to_string())
        .collect();
    for expected in [
        format!("icclab.disco.master_private_ip=\"{master}\""),
        format!("icclab.disco.slave_ips=\"{}\"", slaves.join(",")),
        format!("icclab.disco.web_ui.spark_spark_master=\"http://{external_ip}:8080/\""),
    ] {
        assert!(headers.contains(&expected), "{expected} not in {headers:?}");
    }
    let rows = disco_show(&app, &token, "outputs1").await;
    let row = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} not in disco show: {rows:?}"))
    };
    assert_eq!(row("icclab.disco.master_private_ip"), master);
    assert_eq!(row("icclab.disco.slave_ips"), slaves.join(","));
    assert_eq!(
        row("icclab.disco.web_ui.jupyter_jupyterlab"),
        format!("http://{external_ip}:8888/lab")
    );

    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster never went").await;
}

/// Heat checks a name before it stores the stack, so creates in flight together can both
/// land: what a create sent just before a crash does with the restart's own. The cluster
/// follows one stack, deletes the others before it is ready, and delete leaves none.
#[tokio::test]
async fn a_second_stack_made_by_racing_creates_is_deleted_before_the_cluster_is_ready() {
    // Heat's stack table is held for a moment: no other test may use Heat meanwhile.
    let _alone = HEAT_GATE.write().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    let tags = format!(
        "disco,disco-cluster-{}",
        url.rsplit('/').next().expect("id")
    );
    // Creates made while Heat's stack table is read-locked all pass the name check and
    // then wait to be stored, as creates racing each other do.
    let mut landed = 0;
    for _ in 0..5 {
        let frozen = StackTable::freeze().await;
        let creates =
            futures_util::future::join_all((0..4).map(|_| cloud.create_stack(&stack, &tags)));
        let thaw = async {
            frozen.thaw_once_waited_on(2).await;
        };
        tokio::join!(creates, thaw);
        landed = cloud.stacks_named(&stack).await.len();
        if landed >= 2 {
            break;
        }
        cloud.delete_stacks_named(&stack).await;
    }
    assert!(landed >= 2, "racing creates never made two stacks");

    let deployed = app
        .client
        .post(format!("{url}?action=deploy"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deployed.status(), 200);
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    let stacks = cloud.stacks_named(&stack).await;
    assert_eq!(stacks.len(), 1, "one stack left when ready: {stacks:?}");
    assert_eq!(ready["attributes"]["stackid"], stacks[0]["id"]);

    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
    assert!(cloud.stacks_named(&stack).await.is_empty(), "no stack left");
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
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let demo = token_for("demo", "demopass", "demo").await;
    let other = token_for("other", "otherpass", "other").await;
    let response = create(
        &app,
        &demo,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true",
    )
    .await;
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(status, 201, "{}", response.text().await.unwrap_or_default());
    let url = location(&headers);
    assert_eq!(rendering(&app.client, &url, &other).await.0, 404);
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
    let (status, body) = rendering(&app.client, &url, &demo).await;
    assert_eq!(status, 200);
    assert_eq!(body["attributes"]["icclab.disco.state"], "pending");
}

#[tokio::test]
async fn a_node_that_fails_its_install_fails_the_cluster_with_heats_reason() {
    let _heat = HEAT_GATE.read().await;
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
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(
            &stack_name(&url),
            &["slaves:1".to_string()],
            "FAILURE",
            "slaves:1: dask start failed with return code 3",
        )
        .await;
    let failed = wait_for_state(&app.client, &url, &token, "failed").await;
    let reason = failed["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .expect("reason");
    // What the node said, as Heat recorded it, and why that fails the cluster.
    assert!(
        reason.starts_with("slaves:1 failed: dask start failed with return code 3; 1 of 1 slaves failed and every one must come up"),
        "{reason}"
    );
    assert_eq!(failed["attributes"]["stack_status"], "CREATE_FAILED");
    assert!(
        failed["attributes"]["stack_status_reason"]
            .as_str()
            .is_some_and(|heat| heat.contains("dask start failed with return code 3")),
        "{failed}"
    );
}

#[tokio::test]
async fn a_stack_heat_cannot_create_fails_the_cluster_with_heats_words() {
    let _heat = HEAT_GATE.read().await;
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
    let failed = wait_for_state(&app.client, &url, &token, "failed").await;
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
    wait_until_gone(
        &app.client,
        &url,
        &token,
        "the failed cluster was never deleted",
    )
    .await;
}

#[tokio::test]
async fn the_readme_walk_through_works_with_keystone_credentials_sent_as_the_seed_sends_them() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let port: u16 = app
        .address
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("number");
    let token = token_for("demo", "demopass", "demo").await;
    // The user's shell: openrc sourced, and a token in TOKEN.
    let shell = [
        ("OS_USERNAME", "demo"),
        ("OS_PASSWORD", "demopass"),
        ("OS_TENANT_NAME", "demo"),
        ("OS_REGION_NAME", "RegionOne"),
        ("TOKEN", token.as_str()),
    ];
    let verbose = run_with(&readme_block("create"), port, &shell).await;
    assert!(verbose.contains("HTTP/1.1 201 Created"), "{verbose}");
    let created = response_headers(&verbose);
    let url = created
        .iter()
        .find_map(|h| h.strip_prefix("location: "))
        .expect("Location")
        .to_string();
    let uuid = url.rsplit('/').next().expect("uuid").to_string();
    let stack = stack_name(&url);

    let listed = response_headers(&run_with(&readme_block("list"), port, &shell).await);
    assert!(
        listed.contains(&format!("x-occi-location: {url}")),
        "password auth sees it: {listed:?}"
    );

    wait_for_state(&app.client, &url, &token, "installing").await;
    assert_eq!(
        cloud.stacks_named(&stack).await.len(),
        1,
        "the stack is in Heat"
    );
    cloud
        .play_nodes(&stack, &nodes(2), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;

    let show = readme_block("show").replace("/disco/UUID ", &format!("/disco/{uuid} "));
    let shown = response_headers(&run_with(&show, port, &shell).await);
    for expected in [
        "x-occi-attribute: icclab.disco.state=\"ready\"",
        "x-occi-attribute: stack_status=\"CREATE_COMPLETE\"",
    ] {
        assert!(
            shown.contains(&expected.to_string()),
            "{expected} not in {shown:?}"
        );
    }
    for name in [
        "external_ip",
        "ssh_key_name",
        "ssh_public_key",
        "ssh_private_key",
    ] {
        let line = shown
            .iter()
            .find(|h| h.starts_with(&format!("x-occi-attribute: {name}=")))
            .unwrap_or_else(|| panic!("{name} not shown"));
        assert!(!line.ends_with("=\"\""), "{name} has a value: {line}");
    }

    let mut env = shell.to_vec();
    env.push(("UUID", uuid.as_str()));
    let deleted = run_with(&readme_block("delete"), port, &env).await;
    assert!(deleted.contains("HTTP/1.1 200 OK"), "{deleted}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listed = response_headers(&run_with(&readme_block("list"), port, &shell).await);
        if !listed.iter().any(|h| h.starts_with("x-occi-location")) {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {listed:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "the stack is gone from Heat"
    );
}

#[tokio::test]
async fn keystone_unreachable_is_a_503_that_says_so() {
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.openstack.auth_url = Some("http://127.0.0.1:9/v3".parse().expect("URL"));
        s.openstack.request_timeout_secs = 2;
    })
    .await;
    let response = app
        .client
        .get(app.url("/disco/"))
        .header("X-Auth-Token", "any-token")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = response.text().await.expect("body");
    assert!(body.starts_with("Keystone is unreachable"), "{body}");
}

/// The real `disco` serving from `dir` on the test bed, as an operator would run it.
fn openstack_server(dir: &std::path::Path) -> ServerProcess {
    let auth_url = std::env::var("OS_AUTH_URL").expect("OS_AUTH_URL");
    let environment = heat_environment("fake-env.yaml");
    ServerProcess::start_with(
        dir,
        &[
            ("DISCO_AUTH__MODE", "keystone"),
            ("DISCO_OPENSTACK__AUTH_URL", auth_url.as_str()),
            ("DISCO_JOBS__POLL_INTERVAL_SECS", "1"),
        ],
        &[
            "--provider",
            "openstack",
            "--heat-environment",
            environment.to_str().expect("utf-8 path"),
        ],
    )
}

#[tokio::test]
async fn sigkill_with_five_clusters_in_flight_then_restart_gives_five_ready_clusters_and_five_stacks()
 {
    let _heat = HEAT_GATE.read().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut first = openstack_server(dir.path());
    let mut urls = Vec::new();
    for i in 0..5 {
        let response = client
            .post(first.url("/disco/"))
            .header("Category", CATEGORY)
            .header("X-Auth-Token", &token)
            .header(
                "X-OCCI-Attribute",
                format!("icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount={}", i % 2),
            )
            .send()
            .await
            .expect("sent");
        let status = response.status();
        let headers = response.headers().clone();
        assert_eq!(status, 201, "{}", response.text().await.unwrap_or_default());
        urls.push(location(&headers));
    }
    first.kill(); // SIGKILL while the deploys are being started

    let second = openstack_server(dir.path());
    let urls: Vec<String> = urls
        .iter()
        .map(|u| u.replace(&first.address, &second.address))
        .collect();
    for (i, url) in urls.iter().enumerate() {
        // A create in flight at the kill can land after the restart made its own stack:
        // the nodes that report are those of the stack the cluster follows.
        let installing = wait_for_state(&client, url, &token, "installing").await;
        let followed = installing["attributes"]["stackid"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        cloud
            .play_stack(
                &stack_name(url),
                followed.as_deref(),
                &nodes(i % 2),
                "SUCCESS",
                "installed",
            )
            .await;
    }
    for url in &urls {
        let ready = wait_for_state(&client, url, &token, "ready").await;
        let stacks = cloud.stacks_named(&stack_name(url)).await;
        assert_eq!(stacks.len(), 1, "one stack, no duplicate, for {url}");
        assert_eq!(ready["attributes"]["stackid"], stacks[0]["id"]);
    }
    for url in &urls {
        let deleted = client
            .delete(url)
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("sent");
        assert_eq!(deleted.status(), 200);
    }
    for url in &urls {
        wait_until_gone(&client, url, &token, &format!("{url} was never deleted")).await;
        assert!(
            cloud.stacks_named(&stack_name(url)).await.is_empty(),
            "no orphan stack"
        );
    }
}

/// How many times Heat began each action on the stack, from its stack-level events
/// (`UPDATE_IN_PROGRESS`, `SUSPEND_IN_PROGRESS`, ...).
async fn stack_actions(cloud: &Cloud, stack: &str, id: &str, status: &str) -> usize {
    let (_, body) = cloud
        .get(&format!(
            "/stacks/{stack}/{id}/events?resource_name={stack}&limit=200"
        ))
        .await;
    body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["resource_status"] == status && e["physical_resource_id"] == id)
        .count()
}

/// How many requests `method` to the stack's own path plus `tail` Heat's API took, by its
/// log: what DISCO asked of Heat, whether or not Heat went on to act.
fn heat_requests(method: &str, stack: &str, id: &str, tail: &str) -> usize {
    let dir =
        std::env::var("DISCO_TESTBED_DIR").unwrap_or_else(|_| "/var/tmp/disco-testbed".into());
    let log =
        std::fs::read_to_string(format!("{dir}/run/logs/heat-api.log")).expect("heat-api's log");
    let path = format!("/stacks/{stack}/{id}{tail}");
    log.lines()
        .filter_map(|line| line.split_once(&format!("Processing request: {method} ")))
        .filter(|(_, url)| url.ends_with(&path))
        .count()
}

/// `kill -9` of the server during a scale-out and during a stop: after each restart the
/// operation finishes, and Heat updated or suspended the stack once. The scale's update
/// is held in Heat (its stack table locked) when the server dies and is stored only
/// after the restarted server first looked, as an update in flight at a crash is: the
/// stack shows no sign of it then, and the server must not send it again.
#[tokio::test]
async fn a_scale_and_a_stop_cut_short_by_sigkill_finish_after_the_restart_with_one_heat_action_each()
 {
    let mut heat = Some(HEAT_GATE.read().await);
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut server = openstack_server(dir.path());
    let response = client
        .post(server.url("/disco/"))
        .header("Category", CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let mut url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack, &nodes(1), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&client, &url, &token, "ready").await;
    let id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    // Restarts on the same data directory, at another address.
    let restart = |server: &mut ServerProcess, url: &mut String| {
        server.kill();
        let next = openstack_server(dir.path());
        *url = url.replace(&server.address, &next.address);
        *server = next;
    };

    // Heat stores no stack meanwhile: no other test may be waiting on it.
    drop(heat.take());
    let alone = HEAT_GATE.write().await;
    let frozen = StackTable::freeze().await;
    assert_eq!(scale_to(&client, &url, &token, 2).await, 200);
    assert!(
        frozen.waited_on(1).await,
        "the server's update reached Heat, which waits to store it"
    );
    restart(&mut server, &mut url);
    let scaling = wait_for_state(&client, &url, &token, "scaling").await;
    // The restarted server looks at the stack a few times while it shows the old shape.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, before) = cloud.get(&format!("/stacks/{stack}/{id}")).await;
    assert_eq!(
        before["stack"]["parameters"]["slave_count"], "1",
        "Heat has not stored the update yet: {scaling}"
    );
    frozen.thaw().await;
    drop(alone);
    heat = Some(HEAT_GATE.read().await);
    cloud
        .play_nodes(&stack, &["slaves:2".to_string()], "SUCCESS", "installed")
        .await;
    let grown = wait_for_state(&client, &url, &token, "ready").await;
    assert_eq!(
        grown["attributes"]["icclab.disco.slave_ips"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .count(),
        2,
        "{grown}"
    );
    assert_eq!(
        heat_requests("PATCH", &stack, &id, ""),
        1,
        "Heat was asked for the update once"
    );
    assert_eq!(
        stack_actions(&cloud, &stack, &id, "UPDATE_IN_PROGRESS").await,
        1,
        "the stack was updated once"
    );

    let stopped = client
        .post(format!("{url}?action=stop"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(stopped.status(), 200);
    wait_for_state(&client, &url, &token, "stopping").await;
    restart(&mut server, &mut url);
    wait_for_state(&client, &url, &token, "stopped").await;
    assert_eq!(
        heat_requests("POST", &stack, &id, "/actions"),
        1,
        "Heat was asked to suspend the stack once"
    );
    assert_eq!(
        stack_actions(&cloud, &stack, &id, "SUSPEND_IN_PROGRESS").await,
        1,
        "the stack was suspended once"
    );
    let (_, body) = cloud.get(&format!("/stacks/{stack}/{id}")).await;
    assert_eq!(body["stack"]["stack_status"], "SUSPEND_COMPLETE");

    let deleted = client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&client, &url, &token, "the cluster was never deleted").await;
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "no orphan stack"
    );
    drop(heat);
}

/// A read lock on Heat's `stack` table, held by a MariaDB session of the test bed:
/// Heat can still look stacks up, but storing one waits until the lock is released.
struct StackTable {
    session: tokio::process::Child,
}

impl StackTable {
    fn my_cnf() -> String {
        let dir =
            std::env::var("DISCO_TESTBED_DIR").unwrap_or_else(|_| "/var/tmp/disco-testbed".into());
        format!("--defaults-file={dir}/run/mysql/my.cnf")
    }

    async fn freeze() -> StackTable {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let mut session = tokio::process::Command::new("mariadb")
            .args([&Self::my_cnf(), "-N", "-B", "--unbuffered", "heat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the test bed's mariadb client");
        let stdin = session.stdin.as_mut().expect("stdin");
        stdin
            .write_all(b"LOCK TABLES stack READ;\nSELECT 'locked';\n")
            .await
            .expect("write");
        stdin.flush().await.expect("flush");
        let mut lines = tokio::io::BufReader::new(session.stdout.take().expect("stdout")).lines();
        let said = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the lock is taken in time")
            .expect("read");
        assert_eq!(said.as_deref(), Some("locked"));
        StackTable { session }
    }

    /// Whether `waiting` sessions wait for the lock within 20 s.
    async fn waited_on(&self, waiting: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let output = tokio::process::Command::new("mariadb")
                .args([&Self::my_cnf(), "-N", "-B", "-e"])
                .arg("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table%'")
                .output()
                .await
                .expect("mariadb");
            let count: usize = String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            if count >= waiting {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Releases the lock once `waiting` sessions wait for it (or after 20 s).
    async fn thaw_once_waited_on(self, waiting: usize) {
        self.waited_on(waiting).await;
        self.thaw().await;
    }

    /// Releases the lock: what waited for it is stored.
    async fn thaw(mut self) {
        use tokio::io::AsyncWriteExt;
        let mut stdin = self.session.stdin.take().expect("stdin");
        stdin.write_all(b"UNLOCK TABLES;\n").await.expect("write");
        drop(stdin);
        self.session.wait().await.expect("the session ends");
    }
}

/// Stops (SIGSTOP) every process of the test bed's heat-api; resumes them when dropped,
/// whatever the test's outcome.
struct HeatOutage {
    group: String,
}

impl HeatOutage {
    fn start() -> HeatOutage {
        let dir =
            std::env::var("DISCO_TESTBED_DIR").unwrap_or_else(|_| "/var/tmp/disco-testbed".into());
        let pid = std::fs::read_to_string(format!("{dir}/run/pids/heat-api.pid"))
            .expect("heat-api's pid");
        let group = pid.split_whitespace().next().expect("pid").to_string();
        let status = std::process::Command::new("kill")
            .args(["-STOP", "--", &format!("-{group}")])
            .status()
            .expect("kill");
        assert!(status.success(), "heat-api stopped");
        HeatOutage { group }
    }
}

impl Drop for HeatOutage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", "--", &format!("-{}", self.group)])
            .status();
    }
}

#[tokio::test]
async fn heat_stopped_for_30_seconds_during_a_create_and_the_cluster_still_completes() {
    let _alone = HEAT_GATE.write().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.openstack.request_timeout_secs = 3;
    })
    .await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\"",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    wait_for_state(&app.client, &url, &token, "installing").await;

    let outage = HeatOutage::start();
    let stopped = Instant::now();
    let mut felt = String::new();
    while stopped.elapsed() < Duration::from_secs(30) {
        let (_, body) = rendering(&app.client, &url, &token).await;
        let reason = body["attributes"]["icclab.disco.state_reason"]
            .as_str()
            .unwrap_or_default();
        if reason.contains("Heat is unavailable") {
            felt = reason.to_string();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(outage);
    assert!(
        felt.starts_with("retrying in"),
        "DISCO noticed the outage: {felt:?}"
    );
    let (_, during) = rendering(&app.client, &url, &token).await;
    assert_eq!(
        during["attributes"]["icclab.disco.state"], "installing",
        "not failed by the outage"
    );

    cloud
        .play_nodes(&stack_name(&url), &nodes(2), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
}

/// A Spark cluster of one slave made ready on the test bed, its nodes played: its URL,
/// its stack's name and its rendering once ready.
pub(crate) async fn ready_spark_cluster(
    app: &TestApp,
    cloud: &Cloud,
    token: &str,
) -> (String, String, Value) {
    let response = create(
        app,
        token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, token, "installing").await;
    cloud
        .play_nodes(&stack, &nodes(1), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &url, token, "ready").await;
    (url, stack, ready)
}

/// A slave whose node signals failure, while `minslaves` holds: DISCO removes it with a
/// stack update (the group's count less it, its member name in `removed_slaves`) and the
/// cluster becomes ready without it; so in a create and in a scale-out.
#[tokio::test]
async fn a_slave_that_fails_while_minslaves_holds_is_removed_and_the_cluster_is_ready() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2,\
         icclab.disco.components.heat.minslaves=1",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(
            &stack,
            &["slaves:2".to_string()],
            "FAILURE",
            "slaves:2: spark install failed with return code 100: no space left on device",
        )
        .await;
    // DISCO removes the failed slave while the others still install.
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        let (_, shown) = rendering(&app.client, &url, &token).await;
        let reason = shown["attributes"]["icclab.disco.state_reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if reason.contains("slaves:2 failed and was stopped") {
            assert_eq!(shown["attributes"]["icclab.disco.state"], "installing");
            break shown["attributes"]["stackid"]
                .as_str()
                .expect("stack id")
                .to_string();
        }
        assert!(Instant::now() < deadline, "never gave slave 2 up: {shown}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let in_heat = || {
        let (cloud, path) = (&cloud, format!("/stacks/{stack}/{id}"));
        async move {
            let (_, body) = cloud.get(&path).await;
            let parameter = |name: &str| {
                body["stack"]["parameters"][name]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            (
                body["stack"]["stack_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                parameter("slave_count"),
                parameter("removed_slaves"),
            )
        }
    };
    cloud
        .play_nodes(
            &stack,
            &["master".to_string(), "slaves:1".to_string()],
            "SUCCESS",
            "installed",
        )
        .await;
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    let reason = ready["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.starts_with(
            "ready with 1 of 2 slaves (icclab.disco.components.heat.minslaves allows it): \
             slaves:2 failed: spark install failed with return code 100: no space left on device"
        ),
        "{reason}"
    );
    assert_eq!(
        ready["attributes"]["icclab.disco.failed_slaves"],
        "slaves:2"
    );
    assert_eq!(
        in_heat().await,
        ("UPDATE_COMPLETE".into(), "1".into(), "1".into())
    );
    let slave_ips = ready["attributes"]["icclab.disco.slave_ips"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(slave_ips.split(',').count(), 1, "{slave_ips}");

    let scale = |slaves: u16| scale_to(&app.client, &url, &token, slaves);
    // A scale-out: Heat adds member 2 (slaves:3), never member 1 again.
    assert_eq!(scale(3).await, 200);
    wait_for_state(&app.client, &url, &token, "scaling").await;
    cloud
        .play_nodes(&stack, &["slaves:3".to_string()], "SUCCESS", "installed")
        .await;
    let grown = wait_for_state(&app.client, &url, &token, "ready").await;
    let reason = grown["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.starts_with("ready with 2 of 3 slaves"), "{reason}");
    assert_eq!(
        in_heat().await,
        ("UPDATE_COMPLETE".into(), "2".into(), "1".into())
    );
    // A scale-out whose new slave fails: removed too, and the cluster ready with two.
    assert_eq!(scale(4).await, 200);
    wait_for_state(&app.client, &url, &token, "scaling").await;
    cloud
        .play_nodes(
            &stack,
            &["slaves:4".to_string()],
            "FAILURE",
            "slaves:4: spark start failed with return code 1",
        )
        .await;
    let degraded = wait_for_state(&app.client, &url, &token, "ready").await;
    let reason = degraded["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.starts_with("ready with 2 of 4 slaves"), "{reason}");
    assert!(
        reason.contains("slaves:4 failed: spark start failed with return code 1"),
        "{reason}"
    );
    assert_eq!(
        degraded["attributes"]["icclab.disco.failed_slaves"],
        "slaves:2,slaves:4"
    );
    assert_eq!(
        in_heat().await,
        ("UPDATE_COMPLETE".into(), "2".into(), "1,3".into())
    );
    let response = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    wait_until_gone(
        &app.client,
        &url,
        &token,
        "the degraded cluster was never deleted",
    )
    .await;
}

#[tokio::test]
async fn stop_and_start_are_heats_suspend_and_resume_of_the_cluster_s_stack() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, stack, ready) = ready_spark_cluster(&app, &cloud, &token).await;
    let address = ready["attributes"]["external_ip"].clone();
    let id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    let heat_status = || {
        let (cloud, path) = (&cloud, format!("/stacks/{stack}/{id}"));
        async move {
            let (_, body) = cloud.get(&path).await;
            body["stack"]["stack_status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let act = |term: &'static str| {
        let (app, url, token) = (&app, &url, &token);
        async move {
            app.client
                .post(format!("{url}?action={term}"))
                .header("Category", CATEGORY)
                .header("X-Auth-Token", token)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    };

    assert_eq!(act("stop").await, 200);
    let stopped = wait_for_state(&app.client, &url, &token, "stopped").await;
    assert_eq!(heat_status().await, "SUSPEND_COMPLETE", "in Heat's own API");
    assert_eq!(stopped["attributes"]["mcn.service.state"], "suspended");
    assert_eq!(act("stop").await, 409, "stopped already");

    assert_eq!(act("start").await, 200);
    let started = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(heat_status().await, "RESUME_COMPLETE", "in Heat's own API");
    assert_eq!(started["attributes"]["stack_status"], "RESUME_COMPLETE");
    assert_eq!(
        started["attributes"]["external_ip"], address,
        "the same address"
    );
    assert_eq!(
        cloud.stacks_named(&stack).await.len(),
        1,
        "the same one stack"
    );

    let history = app
        .client
        .get(format!("{url}/tasks?all=true"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("json");
    let types: Vec<&str> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["cluster_converge", "cluster_stop", "cluster_start"]);
    assert!(
        history
            .as_array()
            .expect("list")
            .iter()
            .all(|t| t["status"] == "succeeded"),
        "{history}"
    );

    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster never went").await;
    assert!(cloud.stacks_named(&stack).await.is_empty());
}

#[tokio::test]
async fn a_scale_is_a_heat_update_of_slave_count_that_waits_for_the_new_slaves_only() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, stack, ready) = ready_spark_cluster(&app, &cloud, &token).await;
    let id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    let in_heat = || {
        let (cloud, path) = (&cloud, format!("/stacks/{stack}/{id}"));
        async move {
            let (_, body) = cloud.get(&path).await;
            (
                body["stack"]["stack_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                body["stack"]["parameters"]["slave_count"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    let scale = |slaves: u16| scale_to(&app.client, &url, &token, slaves);

    // Out: the update waits for the two new slaves, not the first one again.
    assert_eq!(scale(3).await, 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_heat().await != ("UPDATE_IN_PROGRESS".to_string(), "3".to_string()) {
        assert!(
            Instant::now() < deadline,
            "Heat never took the update: {:?}",
            in_heat().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let scaling = wait_for_state(&app.client, &url, &token, "scaling").await;
    assert_eq!(scaling["attributes"]["icclab.disco.state"], "scaling");
    cloud
        .play_nodes(
            &stack,
            &["slaves:2".into(), "slaves:3".into()],
            "SUCCESS",
            "installed",
        )
        .await;
    let grown = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(
        in_heat().await,
        ("UPDATE_COMPLETE".to_string(), "3".to_string())
    );
    let slave_ips = grown["attributes"]["icclab.disco.slave_ips"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(slave_ips.split(',').count(), 3, "{slave_ips}");

    // In: the highest-numbered slaves go.
    assert_eq!(scale(1).await, 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = rendering(&app.client, &url, &token).await;
        if body["attributes"]["icclab.disco.state"] == "ready"
            && in_heat().await == ("UPDATE_COMPLETE".to_string(), "1".to_string())
        {
            let ips = body["attributes"]["icclab.disco.slave_ips"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert_eq!(
                ips,
                slave_ips.split(',').next().unwrap_or_default(),
                "slave 1 stays"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scale-in never completed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let history = app
        .client
        .get(format!("{url}/tasks?all=true"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("json");
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

    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster never went").await;
    assert!(cloud.stacks_named(&stack).await.is_empty());
}

#[tokio::test]
async fn heat_stopped_for_30_seconds_during_a_scale_and_the_scale_still_completes() {
    let _alone = HEAT_GATE.write().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.openstack.request_timeout_secs = 3;
    })
    .await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, stack, _) = ready_spark_cluster(&app, &cloud, &token).await;
    assert_eq!(scale_to(&app.client, &url, &token, 2).await, 200);
    let scaling = wait_for_state(&app.client, &url, &token, "scaling").await;
    let id = scaling["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    // Heat has taken the update before it goes away.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = cloud.get(&format!("/stacks/{stack}/{id}")).await;
        if body["stack"]["stack_status"] == "UPDATE_IN_PROGRESS" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Heat never took the update: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let outage = HeatOutage::start();
    let stopped = Instant::now();
    let mut felt = String::new();
    while stopped.elapsed() < Duration::from_secs(30) {
        let (_, body) = rendering(&app.client, &url, &token).await;
        let reason = body["attributes"]["icclab.disco.state_reason"]
            .as_str()
            .unwrap_or_default();
        if reason.contains("Heat is unavailable") {
            felt = reason.to_string();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(outage);
    assert!(
        felt.starts_with("retrying in"),
        "DISCO noticed the outage: {felt:?}"
    );
    let (_, during) = rendering(&app.client, &url, &token).await;
    assert_eq!(
        during["attributes"]["icclab.disco.state"], "scaling",
        "not failed by the outage"
    );

    cloud
        .play_nodes(&stack, &["slaves:2".to_string()], "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(
        ready["attributes"]["icclab.disco.slave_ips"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .count(),
        2
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
}

/// Heat stopped for 30 s while DISCO asks it to suspend the stack, then again while it
/// asks it to resume: each is retried until Heat answers, and neither fails the cluster.
#[tokio::test]
async fn heat_stopped_for_30_seconds_during_a_stop_and_a_start_and_both_still_complete() {
    let _alone = HEAT_GATE.write().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.openstack.request_timeout_secs = 3;
    })
    .await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, stack, ready) = ready_spark_cluster(&app, &cloud, &token).await;
    let id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    for (action, working, done, in_heat) in [
        ("stop", "stopping", "stopped", "SUSPEND_COMPLETE"),
        ("start", "starting", "ready", "RESUME_COMPLETE"),
    ] {
        let outage = HeatOutage::start();
        let response = app
            .client
            .post(format!("{url}?action={action}"))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{action}");
        let stopped = Instant::now();
        let mut felt = String::new();
        while stopped.elapsed() < Duration::from_secs(30) {
            let (_, body) = rendering(&app.client, &url, &token).await;
            assert_eq!(
                body["attributes"]["icclab.disco.state"], working,
                "{action}: not failed by the outage: {body}"
            );
            let reason = body["attributes"]["icclab.disco.state_reason"]
                .as_str()
                .unwrap_or_default();
            if reason.contains("Heat is unavailable") {
                felt = reason.to_string();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop(outage);
        assert!(
            felt.starts_with("retrying in"),
            "{action}: DISCO noticed the outage: {felt:?}"
        );
        wait_for_state(&app.client, &url, &token, done).await;
        let (_, body) = cloud.get(&format!("/stacks/{stack}/{id}")).await;
        assert_eq!(body["stack"]["stack_status"], in_heat, "{action}");
    }
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}

/// A scale-in on OpenStack: the leaving slave, asking DISCO as its agent does, is given
/// its decommission steps; Heat's group shrinks only once the slave reported them done.
/// (The test plays the slave's agent, as it plays the nodes' wait conditions.)
#[tokio::test]
async fn a_scale_in_waits_for_the_leaving_slave_to_decommission_before_heat_removes_it() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=2",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack, &nodes(2), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    let stack_id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    let id: disco::domain::ClusterId = url.rsplit('/').next().expect("id").parse().expect("uuid");
    let report_token = app.store.report_token(id).await.expect("token");
    let report_url = format!("{url}/report");
    let ask = |node: &'static str| {
        let (app, report_url, report_token) = (&app, &report_url, &report_token);
        async move {
            let response = app
                .client
                .get(report_url)
                .query(&[("node", node)])
                .bearer_auth(report_token)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("json")
        }
    };
    let heat_count = || {
        let (cloud, path) = (&cloud, format!("/stacks/{stack}/{stack_id}"));
        async move {
            let (_, body) = cloud.get(&path).await;
            body["stack"]["parameters"]["slave_count"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(
        ask("slaves:2").await["decommission"],
        Value::Null,
        "nothing to do yet"
    );
    // Its agent said it runs, as the node script has it say once installed.
    let response = app
        .client
        .post(&report_url)
        .bearer_auth(&report_token)
        .json(&json!({"stage": "agent ready", "node": "slaves:2", "status": "succeeded", "rc": 0}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 204);
    assert_eq!(scale_to(&app.client, &url, &token, 1).await, 200);
    wait_for_state(&app.client, &url, &token, "scaling").await;
    // The leaving slave is told to go, with the steps to run first; the other is not.
    let answer = ask("slaves:2").await;
    let script = answer["decommission"]["script"]
        .as_str()
        .unwrap_or_default();
    assert!(script.contains("retire_workers"), "{answer}");
    assert!(
        script.contains("disco_run_step dask decommission"),
        "{script}"
    );
    assert!(!script.contains("__DISCO_"), "every placeholder filled in");
    assert_eq!(ask("slaves:1").await["decommission"], Value::Null);
    // Heat is not asked to shrink the group while the slave has not said it is done.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(heat_count().await, "2");
    let (_, shown) = rendering(&app.client, &url, &token).await;
    let reason = shown["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("waiting for slaves:2 to run their decommission steps"),
        "{reason}"
    );
    // The slave reports its steps as its script would.
    for (stage, status) in [
        ("dask decommission", "executing"),
        ("dask decommission", "succeeded"),
        ("node ready", "succeeded"),
    ] {
        let response = app
            .client
            .post(&report_url)
            .bearer_auth(&report_token)
            .json(&json!({"stage": stage, "node": "slaves:2", "status": status, "rc": 0}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 204, "{stage} {status}");
    }
    let shrunk = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(heat_count().await, "1");
    assert_eq!(
        shrunk["attributes"]["icclab.disco.slave_ips"]
            .as_str()
            .unwrap_or_default()
            .split(',')
            .count(),
        1
    );
    let tree = app
        .client
        .get(format!("{url}/tasks"))
        .header("X-Auth-Token", &token)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        tree.lines().any(|l| l.contains("decommission_node")
            && l.contains("slaves:2")
            && l.contains("succeeded")),
        "{tree}"
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}

/// Runs the node library's health reporter (`disco_health_report`, as each VM's timer
/// runs it) as node `node`, with its checks, against the cluster's report URL.
fn send_heartbeat(report_url: &str, token: &str, node: &str, checks: &str) {
    if let Err(e) = send_heartbeat_with(report_url, token, node, checks, None) {
        panic!("{e}");
    }
}

/// `send_heartbeat`, with Spark's activity step answering `activity` (a stand-in for the
/// step, which asks a Spark master this machine does not run).
fn send_heartbeat_with(
    report_url: &str,
    token: &str,
    node: &str,
    checks: &str,
    activity: Option<&str>,
) -> Result<(), String> {
    let logs = tempfile::tempdir().expect("tempdir");
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("heat-templates/node-lib.sh");
    let output = std::process::Command::new("bash")
        .arg("-c")
        // As the reporter runs it: `set -u`, and a step function as the node script
        // composes one (its parameters exported from variables the reporter has not).
        .arg(
            "set -u; source \"$1\" && step_spark_activity() ( \
             export PARAM_WORKER_CORES=\"${DISCO_PARAM_SPARK_WORKER_CORES-}\"; \
             printf '%s\\n' \"$DISCO_TEST_ANSWER\" ) && disco_health_report",
        )
        .arg("bash")
        .arg(&lib)
        .env("DISCO_LOG_DIR", logs.path())
        .env("DISCO_HOME", logs.path())
        .env("DISCO_SERVICES_DIR", logs.path().join("services"))
        .env("DISCO_REPORT_URL", report_url)
        .env("DISCO_REPORT_TOKEN", token)
        .env("DISCO_NODE", node)
        .env("DISCO_NODE_ADDRESS", "127.0.0.1")
        .env("DISCO_HEALTH_CHECKS", checks)
        .env(
            "DISCO_ACTIVITY_STEPS",
            if activity.is_some() {
                "spark:step_spark_activity"
            } else {
                ""
            },
        )
        .env("DISCO_TEST_ANSWER", activity.unwrap_or_default())
        .output()
        .expect("bash runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the reporter failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Polls until the cluster's `icclab.disco.health` is `wanted`; its attributes then.
async fn wait_for_health(app: &TestApp, url: &str, token: &str, wanted: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body: Value = app
            .client
            .get(url)
            .header("X-Auth-Token", token)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if body["attributes"]["icclab.disco.health"] == wanted {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {wanted}: {}",
            body["attributes"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// On VMs the nodes report their own checks: each node's health reporter sends its
/// heartbeat with the cluster's token; a failing check on a slave is `degraded`, one on
/// the master `unhealthy`, and no heartbeat for `heartbeat_timeout_secs` is `unknown`.
#[tokio::test]
async fn the_nodes_heartbeats_set_a_vm_cluster_s_health_and_their_silence_makes_it_unknown() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.jobs.watch_interval_secs = 1;
        s.jobs.health.heartbeat_timeout_secs = 4;
    })
    .await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, _stack, _) = ready_spark_cluster(&app, &cloud, &token).await;
    let id: disco::domain::ClusterId = url.rsplit('/').next().expect("id").parse().expect("uuid");
    let report_token = app.store.report_token(id).await.expect("token");
    let report_url = format!("{url}/report");
    // A service that answers, on the "VM" (this machine), and a port nothing listens on.
    let up = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let up = up.local_addr().expect("address").port();
    let down = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        probe.local_addr().expect("address").port()
    };
    let beat = |node: &str, port: u16| {
        send_heartbeat(
            &report_url,
            &report_token,
            node,
            &format!("spark tcp {port}"),
        )
    };
    beat("master", up);
    beat("slaves:1", up);
    let healthy = wait_for_health(&app, &url, &token, "healthy").await;
    assert!(
        healthy["attributes"]["icclab.disco.health_reason"]
            .as_str()
            .is_some_and(|r| r.contains("checks pass on every node")),
        "{healthy}"
    );
    // The slave's check fails: degraded, naming it; the cluster stays ready.
    beat("slaves:1", down);
    let degraded = wait_for_health(&app, &url, &token, "degraded").await;
    let reason = degraded["attributes"]["icclab.disco.health_reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.contains(&format!("spark on slaves:1: tcp {down} failing since")),
        "{reason}"
    );
    assert_eq!(degraded["attributes"]["icclab.disco.state"], "ready");
    beat("master", down);
    wait_for_health(&app, &url, &token, "unhealthy").await;
    // Only the cluster's token, nodes and components are taken.
    let refused = app
        .client
        .post(format!("{url}/health"))
        .bearer_auth("not-the-token")
        .json(&json!({"node": "master", "checks": []}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 403);
    let refused = app
        .client
        .post(format!("{url}/health"))
        .bearer_auth(&report_token)
        .json(&json!({"node": "slaves:9", "checks": []}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let body = refused.text().await.expect("body");
    assert!(
        body.contains("heartbeat node: this cluster's nodes are master, slaves:1"),
        "{body}"
    );
    let refused = app
        .client
        .post(format!("{url}/health"))
        .bearer_auth(&report_token)
        .json(&json!({"node": "master", "checks": [
            {"component": "hadoop", "check": "tcp 1", "passing": true}]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    // Silence: no heartbeat for 4 s.
    let unknown = wait_for_health(&app, &url, &token, "unknown").await;
    let reason = unknown["attributes"]["icclab.disco.health_reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.starts_with("no health report from the nodes since"),
        "{reason}"
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}

/// A cancel during install: Heat deletes the stack, the cluster is kept as cancelled,
/// its task tree readable.
#[tokio::test]
async fn a_deploy_cancelled_during_install_leaves_no_stack_and_keeps_the_record_cancelled() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, &token, "installing").await;
    assert_eq!(cloud.stacks_named(&stack).await.len(), 1);
    let cancelled = app
        .client
        .post(format!("{url}?action=cancel"))
        .header("X-Auth-Token", &token)
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    assert_eq!(cancelled.status(), 200);
    let record = wait_for_state(&app.client, &url, &token, "cancelled").await;
    let reason = record["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .expect("reason");
    assert!(
        reason.starts_with("cancelled: the deploy was cancelled"),
        "{reason}"
    );
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "the stack is gone from Heat"
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}

/// Idle expiry on VMs: the master's health reporter sends what the activity steps say; a
/// cluster in use past its max_idle stays, and one idle for it is deleted, stack and all.
#[tokio::test]
async fn a_vm_cluster_busy_by_its_heartbeats_stays_and_idle_for_max_idle_is_deleted() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.jobs.watch_interval_secs = 1;
        s.jobs.shortest_max_idle = disco::domain::Span::from_secs(1);
    })
    .await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = create(
        &app,
        &token,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=0,\
         icclab.disco.max_idle=\"8s\"",
    )
    .await;
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack, &nodes(0), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    let id: disco::domain::ClusterId = url.rsplit('/').next().expect("id").parse().expect("uuid");
    let report_token = app.store.report_token(id).await.expect("token");
    let report_url = format!("{url}/report");
    let beat =
        |answer: &str| send_heartbeat_with(&report_url, &report_token, "master", "", Some(answer));
    // Busy for 14 s, heartbeat after heartbeat: past max_idle, and still there.
    let busy_until = std::time::Instant::now() + Duration::from_secs(14);
    while std::time::Instant::now() < busy_until {
        beat(r#"{"busy": true, "what": "1 running applications"}"#).expect("a heartbeat");
        let body: Value = app
            .client
            .get(&url)
            .header("X-Auth-Token", &token)
            .header("Accept", "application/json")
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(body["attributes"]["icclab.disco.state"], "ready", "{body}");
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let body: Value = app
        .client
        .get(&url)
        .header("X-Auth-Token", &token)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["attributes"]["icclab.disco.activity"],
        "spark: 1 running applications"
    );
    // Idle from now: deleted about 8 s later, its stack with it.
    let idle_from = std::time::Instant::now();
    let deadline = idle_from + Duration::from_secs(60);
    loop {
        let status = app
            .client
            .get(&url)
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("sent")
            .status();
        if status == 404 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never expired");
        // Deleted meanwhile, its token is refused: the next look sees it gone.
        let _ = beat(r#"{"busy": false, "what": "0 running applications"}"#);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert!(
        idle_from.elapsed() >= Duration::from_secs(6),
        "deleted {:?} after it went idle",
        idle_from.elapsed()
    );
    assert!(
        cloud.stacks_named(&stack).await.is_empty(),
        "the stack is gone from Heat"
    );
}

/// A repair on VMs: each node's agent asks DISCO for the steps to run; the failing slave's
/// gets the start and smoke steps of its failing component only, the master nothing; the
/// repair ends once that slave reported them done. Without an agent there is nothing to
/// run them, and the repair is refused saying so.
#[tokio::test]
async fn a_vm_repair_is_run_by_the_failing_node_s_agent_and_ends_when_it_reports_done() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_app_with(|s| {
        on_the_test_bed(s, "fake-env.yaml");
        s.jobs.watch_interval_secs = 1;
    })
    .await;
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
    let stack = stack_name(&url);
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack, &nodes(1), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    let id: disco::domain::ClusterId = url.rsplit('/').next().expect("id").parse().expect("uuid");
    let report_token = app.store.report_token(id).await.expect("token");
    let report_url = format!("{url}/report");
    let report = |node: &'static str, stage: &'static str| {
        let (app, report_url, report_token) = (&app, &report_url, &report_token);
        async move {
            let response = app
                .client
                .post(report_url)
                .bearer_auth(report_token)
                .json(&json!({"stage": stage, "node": node, "status": "succeeded", "rc": 0}))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 204);
        }
    };
    let repair = || async {
        app.client
            .post(format!("{url}?action=repair"))
            .header("X-Auth-Token", &token)
            .header("Category", crate::helpers::CATEGORY)
            .send()
            .await
            .expect("sent")
    };
    let ask = |node: &'static str| {
        let (app, url, report_token) = (&app, &url, &report_token);
        async move {
            let response = app
                .client
                .get(format!("{url}/health/repair"))
                .query(&[("node", node)])
                .bearer_auth(report_token)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.expect("json")["repair"].clone()
        }
    };
    // The worker on slaves:1 fails its check; the master's pass.
    send_heartbeat(&report_url, &report_token, "master", "");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("listener")
        .local_addr()
        .expect("address")
        .port();
    send_heartbeat(
        &report_url,
        &report_token,
        "slaves:1",
        &format!("dask tcp {closed}"),
    );
    wait_for_health(&app, &url, &token, "degraded").await;
    // No agent said it runs: nothing would run the steps.
    let refused = repair().await;
    assert_eq!(refused.status(), 409);
    let body = refused.text().await.expect("body");
    assert!(
        body.contains("repair needs DISCO's agent on slaves:1"),
        "{body}"
    );
    assert_eq!(ask("slaves:1").await, Value::Null, "nothing to run");

    report("slaves:1", "agent ready").await;
    report("master", "agent ready").await;
    assert_eq!(repair().await.status(), 200);
    wait_for_state(&app.client, &url, &token, "repairing").await;
    assert_eq!(ask("master").await, Value::Null, "the master's checks pass");
    let given = ask("slaves:1").await;
    let script = given["script"].as_str().expect("a script");
    assert!(
        script.contains("export DISCO_ONLY_COMPONENTS='dask'"),
        "{script}"
    );
    assert!(
        script.contains("disco_run_step dask start step_dask_start"),
        "{script}"
    );
    assert!(
        !script.contains("disco_run_step dask install"),
        "start and smoke only"
    );
    assert!(!given["id"].as_str().expect("an id").is_empty());
    // The agent runs it: its steps report, and it ends with node ready.
    report("slaves:1", "node started").await;
    report("slaves:1", "dask start").await;
    report("slaves:1", "node ready").await;
    let repaired = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(
        repaired["attributes"]["icclab.disco.state_reason"],
        "repaired: started again dask on slaves:1"
    );
    assert_eq!(
        ask("slaves:1").await,
        Value::Null,
        "done: nothing more to run"
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}

/// A scale-out cancelled while Heat waits for the new slaves: DISCO updates the stack
/// back to the old count (Heat's convergence engine takes an update in progress), and the
/// cluster is ready again with its old slaves, the scale cancelled in its history.
#[tokio::test]
async fn a_scale_out_cancelled_while_heat_waits_updates_the_stack_back() {
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let (url, stack, ready) = ready_spark_cluster(&app, &cloud, &token).await;
    let id = ready["attributes"]["stackid"]
        .as_str()
        .expect("stack id")
        .to_string();
    let in_heat = || {
        let (cloud, path) = (&cloud, format!("/stacks/{stack}/{id}"));
        async move {
            let (_, body) = cloud.get(&path).await;
            (
                body["stack"]["stack_status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                body["stack"]["parameters"]["slave_count"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    assert_eq!(scale_to(&app.client, &url, &token, 3).await, 200);
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_heat().await != ("UPDATE_IN_PROGRESS".to_string(), "3".to_string()) {
        assert!(Instant::now() < deadline, "Heat never took the update");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cancelled = app
        .client
        .post(format!("{url}?action=cancel"))
        .header("X-Auth-Token", &token)
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    assert_eq!(cancelled.status(), 200);
    let back = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(
        back["attributes"]["icclab.disco.state_reason"],
        "scale cancelled: back to 1 slaves; the new ones were removed"
    );
    let (status, count) = in_heat().await;
    assert_eq!(count, "1", "{status}");
    assert!(status.ends_with("_COMPLETE"), "{status}");
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    wait_until_gone(&app.client, &url, &token, "the cluster was never deleted").await;
}
