//! The quota pre-flight and dry runs. On the test bed, each test that lowers a quota does
//! it on a project of its own (made through Keystone's admin API, with a member user,
//! removed after), never on demo or other, which other tests use at the same time. Nova's
//! quotas are the real Nova API's (`os-quota-sets`); Neutron's the stand-in's
//! (fake_neutron.py), set through the API a real Neutron has.

use serde_json::{Value, json};

use crate::heat::Cloud;
use crate::helpers::{CATEGORY, TestApp, location, spawn_app};
use crate::openstack::{
    HEAT_GATE, nodes, spawn_openstack_app, stack_name, token_for, wait_for_state,
};

const SPARK: &str = "icclab.disco.dependencies.inject=\"['spark']\"";

fn auth_url() -> String {
    std::env::var("OS_AUTH_URL")
        .expect("OS_AUTH_URL: eval \"$(tests/testbed/openstack.sh env)\"")
        .trim_end_matches('/')
        .to_string()
}

/// A token of Keystone's admin, scoped to the system (Keystone's admin API) or to the
/// admin project (Nova's and Neutron's), and its catalog.
async fn admin_token(scope: Value) -> (String, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/tokens", auth_url()))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": "adminpass"}}},
            "scope": scope}}))
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status(), 201, "Keystone accepts the admin");
    let token = response.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_string();
    let body: Value = response.json().await.expect("json");
    (token, body["token"]["catalog"].clone())
}

/// The public endpoint of the catalog's service of type `kind`.
fn endpoint(catalog: &Value, kind: &str) -> String {
    catalog
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["type"] == kind)
        .and_then(|s| {
            s["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["interface"] == "public")?["url"]
                .as_str()
        })
        .unwrap_or_else(|| panic!("no public {kind} endpoint in {catalog}"))
        .trim_end_matches('/')
        .to_string()
}

/// A project of the test's own with a member user; removed (its quotas, user and
/// project) when dropped, even when the test fails.
struct Scratch {
    name: String,
    project_id: String,
    user_id: String,
    password: String,
    http: reqwest::Client,
    keystone_admin: String,
    admin: String,
    nova: String,
    neutron: String,
}

impl Scratch {
    async fn new(tag: &str) -> Scratch {
        let http = reqwest::Client::new();
        let (keystone_admin, _) = admin_token(json!({"system": {"all": true}})).await;
        let (admin, catalog) =
            admin_token(json!({"project": {"name": "admin", "domain": {"id": "default"}}})).await;
        let name = format!(
            "quota-{tag}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let password = uuid::Uuid::new_v4().to_string();
        let post = |path: &str, body: Value| {
            http.post(format!("{}{path}", auth_url()))
                .header("X-Auth-Token", &keystone_admin)
                .json(&body)
                .send()
        };
        let made: Value = post(
            "/projects",
            json!({"project": {"name": name, "domain_id": "default", "description": "a DISCO quota test's"}}),
        )
        .await
        .expect("Keystone answers")
        .json()
        .await
        .expect("json");
        let project_id = made["project"]["id"]
            .as_str()
            .expect("project id")
            .to_string();
        let made: Value = post(
            "/users",
            json!({"user": {"name": name, "domain_id": "default", "password": password,
                "default_project_id": project_id}}),
        )
        .await
        .expect("Keystone answers")
        .json()
        .await
        .expect("json");
        let user_id = made["user"]["id"].as_str().expect("user id").to_string();
        let roles: Value = http
            .get(format!("{}/roles?name=member", auth_url()))
            .header("X-Auth-Token", &keystone_admin)
            .send()
            .await
            .expect("Keystone answers")
            .json()
            .await
            .expect("json");
        let member = roles["roles"][0]["id"].as_str().expect("the member role");
        let granted = http
            .put(format!(
                "{}/projects/{project_id}/users/{user_id}/roles/{member}",
                auth_url()
            ))
            .header("X-Auth-Token", &keystone_admin)
            .send()
            .await
            .expect("Keystone answers");
        assert_eq!(granted.status(), 204, "the member role is granted");
        Scratch {
            name,
            project_id,
            user_id,
            password,
            nova: endpoint(&catalog, "compute"),
            neutron: endpoint(&catalog, "network"),
            http,
            keystone_admin,
            admin,
        }
    }

    /// A token of the project's user.
    async fn token(&self) -> String {
        token_for(&self.name, &self.password, &self.name).await
    }

    /// Sets the project's Nova quotas (`{"instances": 2, "cores": 4}`) as an admin does.
    async fn nova_quota(&self, quota: Value) {
        let response = self
            .http
            .put(format!("{}/os-quota-sets/{}", self.nova, self.project_id))
            .header("X-Auth-Token", &self.admin)
            .json(&json!({ "quota_set": quota }))
            .send()
            .await
            .expect("Nova answers");
        let status = response.status();
        assert_eq!(
            status,
            200,
            "Nova sets the quota: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Sets the project's Neutron quotas (`{"floatingip": 0}`) as an admin does.
    async fn neutron_quota(&self, quota: Value) {
        let response = self
            .http
            .put(format!("{}/v2.0/quotas/{}", self.neutron, self.project_id))
            .header("X-Auth-Token", &self.admin)
            .json(&json!({ "quota": quota }))
            .send()
            .await
            .expect("Neutron answers");
        assert_eq!(response.status(), 200, "Neutron sets the quota");
    }

    /// The project's stacks in Heat, as its user sees them.
    async fn cloud(&self) -> Cloud {
        let response = self
            .http
            .post(format!("{}/auth/tokens", auth_url()))
            .json(&json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": self.name, "domain": {"id": "default"}, "password": self.password}}},
                "scope": {"project": {"id": self.project_id}}}}))
            .send()
            .await
            .expect("Keystone answers");
        let token = response.headers()["x-subject-token"]
            .to_str()
            .expect("token")
            .to_string();
        let body: Value = response.json().await.expect("json");
        Cloud {
            client: self.http.clone(),
            heat: endpoint(&body["token"]["catalog"], "orchestration"),
            token,
        }
    }

    /// Nothing of a cluster is in the cloud: no stack in the project, no application
    /// credential of its user.
    async fn assert_nothing_made(&self) {
        let cloud = self.cloud().await;
        let (status, stacks) = cloud.get("/stacks").await;
        assert_eq!(status, 200);
        assert_eq!(stacks["stacks"], json!([]), "no stack in Heat");
        let credentials: Value = self
            .http
            .get(format!(
                "{}/users/{}/application_credentials",
                auth_url(),
                self.user_id
            ))
            .header("X-Auth-Token", &cloud.token)
            .send()
            .await
            .expect("Keystone answers")
            .json()
            .await
            .expect("json");
        assert_eq!(
            credentials["application_credentials"],
            json!([]),
            "no application credential in Keystone"
        );
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (keystone_admin, admin) = (self.keystone_admin.clone(), self.admin.clone());
        let urls = [
            (
                format!("{}/os-quota-sets/{}", self.nova, self.project_id),
                admin.clone(),
            ),
            (
                format!("{}/v2.0/quotas/{}", self.neutron, self.project_id),
                admin,
            ),
            (
                format!("{}/users/{}", auth_url(), self.user_id),
                keystone_admin.clone(),
            ),
            (
                format!("{}/projects/{}", auth_url(), self.project_id),
                keystone_admin,
            ),
        ];
        // Drop cannot await: a runtime of its own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            // A client of its own: the test's is tied to the runtime this thread blocks.
            let http = reqwest::Client::new();
            runtime.block_on(async {
                for (url, token) in urls {
                    let _ = http.delete(url).header("X-Auth-Token", token).send().await;
                }
            });
        })
        .join();
    }
}

async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    attributes: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", attributes);
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    request.send().await.expect("sent")
}

/// The clusters the caller has, as `GET /disco/` lists them.
async fn listed(app: &TestApp, token: Option<&str>) -> Vec<Value> {
    let mut request = app
        .client
        .get(app.url("/disco/"))
        .header("Accept", "application/occi+json");
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    let body: Value = request
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    body["resources"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_create_beyond_novas_quota_is_a_409_naming_the_shortfall_and_makes_nothing() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("nova").await;
    scratch
        .nova_quota(json!({"instances": 2, "cores": 3}))
        .await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    // A master (m1.medium: 2 vCPUs, 4 GiB) and 2 slaves (m1.small: 1 vCPU, 2 GiB each).
    let response = post(
        &app,
        "/disco/",
        Some(&token),
        &format!("{SPARK},icclab.disco.components.heat.slavecount=2"),
    )
    .await;
    assert_eq!(response.status(), 409);
    let body = response.text().await.expect("body");
    assert!(
        body.contains(&format!(
            "needs 3 instances, 4 vCPUs, 8 GiB RAM; project {} has 2 instances and 3 vCPUs left",
            scratch.name
        )),
        "{body}"
    );
    assert_eq!(
        listed(&app, Some(&token)).await,
        Vec::<Value>::new(),
        "no cluster"
    );
    scratch.assert_nothing_made().await;
}

#[tokio::test]
async fn a_create_beyond_neutrons_quota_is_a_409_naming_the_floating_ips() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("neutron").await;
    scratch.neutron_quota(json!({"floatingip": 0})).await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let response = post(&app, "/disco/", Some(&token), SPARK).await;
    assert_eq!(response.status(), 409);
    let body = response.text().await.expect("body");
    assert!(
        body.contains(&format!("project {} has 0 floating IPs left", scratch.name))
            && body.contains("needs 1 floating IP, 1 network, 1 subnet, 1 router, 5 ports"),
        "{body}"
    );
    assert_eq!(listed(&app, Some(&token)).await, Vec::<Value>::new());
    scratch.assert_nothing_made().await;
}

#[tokio::test]
async fn a_flavor_the_cloud_does_not_have_is_a_400_naming_the_attribute() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("flavor").await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let response = post(
        &app,
        "/disco/",
        Some(&token),
        &format!("{SPARK},icclab.disco.components.heat.slaveflavor=\"m9.huge\""),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("icclab.disco.components.heat.slaveflavor: no flavor \"m9.huge\"")
            && body.contains("m1.small"),
        "{body}"
    );
    scratch.assert_nothing_made().await;
}

#[tokio::test]
async fn a_dry_run_on_openstack_shows_the_plan_the_needs_and_what_is_left_and_makes_nothing() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("dry").await;
    scratch.nova_quota(json!({"instances": 7})).await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let attributes = format!("{SPARK},icclab.disco.components.heat.slavecount=2");
    let response = post(&app, "/disco/?dry_run=true", Some(&token), &attributes).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["provider"], "openstack");
    assert_eq!(body["plan"]["components"][0]["name"], "spark");
    let needs = &body["resources"];
    assert_eq!(needs["instances"], 3);
    assert_eq!(needs["vcpus"], 4);
    assert_eq!(needs["ram_mb"], 8192);
    // A port per node, the router interface's and the subnet's DHCP port.
    assert_eq!(needs["ports"], 5);
    assert_eq!(needs["floating_ips"], 1);
    assert_eq!(needs["networks"], 1);
    assert_eq!(needs["security_groups"], 1);
    assert_eq!(body["project"], scratch.name.as_str());
    assert_eq!(body["left"]["instances"], 7, "{body}");
    assert_eq!(body["left"]["floating_ips"], 50, "Neutron's default");
    assert_eq!(listed(&app, Some(&token)).await, Vec::<Value>::new());
    scratch.assert_nothing_made().await;

    // The CLI's --dry-run says the same.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
        .args([
            "--url",
            &app.address,
            "deploy",
            "dry",
            "--components",
            "spark",
        ])
        .args(["--slaves", "2", "--dry-run"])
        .env("OS_TOKEN", &token)
        .env_remove("OS_USERNAME")
        .env_remove("OS_PASSWORD")
        .env_remove("OS_PROJECT_NAME")
        .env_remove("OS_CLOUD")
        .output()
        .expect("disco runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("dry run: nothing was made"), "{stdout}");
    assert!(
        stdout.contains("needs: 3 instances, 4 vCPUs, 8 GiB RAM, 1 floating IP"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("project {} has left: 7 instances", scratch.name)),
        "{stdout}"
    );
    assert_eq!(listed(&app, Some(&token)).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_dry_run_on_local_shows_the_needs_and_stores_nothing_and_bad_input_is_the_creates_400() {
    let app = spawn_app().await;
    let attributes = format!(
        "{SPARK},icclab.disco.provider=\"local\",icclab.disco.components.heat.slavecount=1"
    );
    let response = post(&app, "/disco/?dry_run=true", None, &attributes).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["provider"], "local");
    assert_eq!(body["resources"]["instances"], 2);
    assert_eq!(body["resources"].get("vcpus"), None, "no flavors on local");
    assert_eq!(body.get("left"), Some(&Value::Null), "no project");
    assert_eq!(
        listed(&app, None).await,
        Vec::<Value>::new(),
        "nothing stored"
    );

    let bad = format!("{SPARK},icclab.disco.components.heat.slavecount=-1");
    let dry = post(&app, "/disco/?dry_run=true", None, &bad).await;
    let real = post(&app, "/disco/", None, &bad).await;
    assert_eq!((dry.status().as_u16(), real.status().as_u16()), (400, 400));
    assert_eq!(
        dry.text().await.expect("body"),
        real.text().await.expect("body"),
        "the same refusal"
    );
}

#[tokio::test]
async fn a_scale_out_beyond_the_quota_is_a_409_and_the_cluster_stays_as_it_was() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("scale").await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let cloud = scratch.cloud().await;
    let (url, stack, _) = crate::openstack::ready_spark_cluster(&app, &cloud, &token).await;
    // The test bed's Nova counts no usage (it has no compute): 2 slaves more need 2.
    scratch.nova_quota(json!({"instances": 1})).await;
    let response = app
        .client
        .post(format!("{url}?action=scale"))
        .header("Category", CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=3",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 409);
    let body = response.text().await.expect("body");
    assert!(
        body.contains(&format!(
            "needs 2 instances, 2 vCPUs, 4 GiB RAM; project {} has 1 instance left",
            scratch.name
        )),
        "{body}"
    );
    let shown = wait_for_state(&app.client, &url, &token, "ready").await;
    assert_eq!(
        shown["attributes"]["icclab.disco.components.heat.slavecount"], 1,
        "untouched"
    );
    let stacks = cloud.stacks_named(&stack).await;
    assert_eq!(stacks.len(), 1);
    assert_eq!(
        stacks[0]["stack_status"], "CREATE_COMPLETE",
        "no update sent"
    );
    delete_and_wait(&app, &url, &token).await;
}

#[tokio::test]
async fn a_create_within_the_quota_is_accepted() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("enough").await;
    // Exactly what a master and one slave take (ports: theirs, the router interface's
    // and the subnet's DHCP port).
    scratch
        .nova_quota(json!({"instances": 2, "cores": 3, "ram": 6144}))
        .await;
    scratch
        .neutron_quota(json!({"floatingip": 1, "port": 4, "router": 1}))
        .await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let cloud = scratch.cloud().await;
    let response = post(
        &app,
        "/disco/",
        Some(&token),
        &format!("{SPARK},icclab.disco.components.heat.slavecount=1"),
    )
    .await;
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let url = location(response.headers());
    wait_for_state(&app.client, &url, &token, "installing").await;
    cloud
        .play_nodes(&stack_name(&url), &nodes(1), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &url, &token, "ready").await;
    delete_and_wait(&app, &url, &token).await;
}

/// Deletes the cluster and waits until it and its stack are gone, before the project goes.
async fn delete_and_wait(app: &TestApp, url: &str, token: &str) {
    let response = app
        .client
        .delete(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
    crate::openstack::wait_until_gone(&app.client, url, token, "the cluster never went").await;
}

#[tokio::test]
async fn a_staged_cluster_is_checked_again_when_changed_and_at_its_deploy() {
    let _heat = HEAT_GATE.read().await;
    let scratch = Scratch::new("staged").await;
    // Room for a master and one slave.
    scratch.nova_quota(json!({"instances": 2})).await;
    let app = spawn_openstack_app().await;
    let token = scratch.token().await;
    let response = post(
        &app,
        "/disco/",
        Some(&token),
        &format!("{SPARK},icclab.disco.components.heat.slavecount=1,icclab.disco.stage=\"true\""),
    )
    .await;
    assert_eq!(response.status(), 201, "staged within the quota");
    let url = location(response.headers());

    // Raising its slaves beyond the quota is refused as a create would be.
    let changed = app
        .client
        .post(&url)
        .header("Category", CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=3",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(changed.status(), 409);
    let body = changed.text().await.expect("body");
    assert!(
        body.contains(&format!(
            "needs 4 instances, 5 vCPUs, 10 GiB RAM; project {} has 2 instances left",
            scratch.name
        )),
        "{body}"
    );
    let shown = wait_for_state(&app.client, &url, &token, "pending").await;
    assert_eq!(
        shown["attributes"]["icclab.disco.components.heat.slavecount"], 1,
        "unchanged"
    );

    // The project has less left by its deploy: the deploy is checked again.
    scratch.nova_quota(json!({"instances": 1})).await;
    let deploy = app
        .client
        .post(format!("{url}?action=deploy"))
        .header("Category", CATEGORY)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deploy.status(), 409);
    let body = deploy.text().await.expect("body");
    assert!(
        body.contains(&format!("project {} has 1 instance left", scratch.name)),
        "{body}"
    );
    let shown = wait_for_state(&app.client, &url, &token, "pending").await;
    assert_eq!(
        shown["attributes"]["icclab.disco.components.heat.slavecount"],
        1
    );
    // Its application credential is made at its create; no stack is.
    let (status, stacks) = scratch.cloud().await.get("/stacks").await;
    assert_eq!(
        (status, &stacks["stacks"]),
        (200, &json!([])),
        "no stack in Heat"
    );
    delete_and_wait(&app, &url, &token).await;
}
