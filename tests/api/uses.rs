//! Clusters built on clusters: what a ready cluster exports (`GET /disco/UUID/outputs`),
//! a create that uses another cluster (`icclab.disco.uses`, OCCI links), its plan saying
//! who serves each dependency, notebooks driving the used cluster for real, and deletes
//! that mind who uses whom.

use std::collections::BTreeSet;
use std::process::Command;

use crate::helpers::{TestApp, location, spawn_app};
use crate::local::{
    KillOnDrop, cluster_id, get_attributes, local_dir, spawn_local_app, value, wait_ready,
};

/// The cluster's outputs as JSON, secrets too when asked.
async fn outputs(app: &TestApp, location: &str, secrets: bool) -> serde_json::Value {
    let url = if secrets {
        format!("{location}/outputs?secrets=true")
    } else {
        format!("{location}/outputs")
    };
    let response = app.client.get(url).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn plan(app: &TestApp, location: &str) -> serde_json::Value {
    let response = app
        .client
        .get(format!("{location}/plan"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Runs a notebook cell in the JupyterLab at `address` with the jupyter environment's
/// Python; what it printed.
fn run_cell(app: &TestApp, address: &str, token: &str, code: &str) -> String {
    let environment = std::fs::read_dir(&app.settings.provider.local.venv_dir)
        .expect("environments")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("jupyter-"))
                && path.is_dir()
        })
        .expect("the jupyter environment");
    let output = Command::new(environment.join("bin/python"))
        .args(["-c", crate::isolation::RUN_CELL, address, token, code])
        .env("no_proxy", "127.0.0.0/8")
        .output()
        .expect("python runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the cell failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

const SPARK_CELL: &str = r#"
import os
from operator import add
from pyspark.sql import SparkSession
spark = (SparkSession.builder.appName("disco-uses-test").master(os.environ["DISCO_SPARK_MASTER"])
         .config("spark.executor.memory", "512m").config("spark.executor.cores", "1")
         .config("spark.ui.showConsoleProgress", "false")
         .getOrCreate())
sc = spark.sparkContext
print("total", sc.parallelize(range(1, 1001), 8).reduce(add))
hosts = sc.parallelize(range(64), 64).map(lambda _: os.environ.get("SPARK_LOCAL_IP", "?")).distinct().collect()
print("hosts", " ".join(sorted(hosts)))
spark.stop()
"#;

#[tokio::test]
async fn a_notebook_of_a_cluster_using_a_spark_cluster_runs_on_its_workers_and_a_cascade_deletes_both()
 {
    let app = spawn_local_app().await;
    let spark = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2,\
             icclab.disco.name=\"shared-spark\"",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&spark);
    let ready = wait_ready(&app.client, &spark).await;
    let master = value(&ready, "external_ip");
    let prefix = master.trim_end_matches(".10").to_string();

    // What it exports: the master's URL shown everywhere, its drivers' secret only where
    // asked.
    assert_eq!(
        value(&ready, "icclab.disco.outputs.spark.master_url"),
        format!("spark://{master}:7077")
    );
    assert!(
        !ready.iter().any(|(name, _)| name.contains("client_conf")),
        "{ready:?}"
    );
    let shown = outputs(&app, &spark, false).await;
    let conf = &shown["components"]["spark"]["client_conf"];
    assert_eq!(conf["secret"], true, "{shown}");
    assert!(
        conf.get("value").is_none(),
        "a secret shown unasked: {shown}"
    );
    assert_eq!(shown["cluster"]["external_ip"], master.as_str());
    let with_secrets = outputs(&app, &spark, true).await;
    let secret_conf = with_secrets["components"]["spark"]["client_conf"]["value"]
        .as_str()
        .expect("the client configuration");
    assert!(
        secret_conf.contains("spark.authenticate.secret "),
        "{secret_conf}"
    );

    let token = "notebook-token-1";
    let notebooks = app
        .create_ok(&format!(
            "icclab.disco.dependencies.inject=\"{{'jupyter': {{'token': '{token}'}}}}\",\
             icclab.disco.components.heat.slavecount=0,icclab.disco.uses=\"shared-spark\",\
             icclab.disco.name=\"notebooks\""
        ))
        .await;
    guard.watch(&notebooks);
    // Its plan: jupyter alone here, its spark served by the Spark cluster.
    let planned = plan(&app, &notebooks).await;
    let components: Vec<&str> = planned["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(components, ["jupyter"], "{planned}");
    assert_eq!(
        planned["components"][0]["dependencies"][0],
        serde_json::json!({"component": "spark", "served_by": cluster_id(&spark)})
    );
    assert_eq!(
        planned["uses"][0],
        serde_json::json!({"cluster": cluster_id(&spark), "name": "shared-spark", "serves": ["spark"]})
    );
    let ready = wait_ready(&app.client, &notebooks).await;
    assert_eq!(value(&ready, "icclab.disco.uses"), "shared-spark");
    let address = format!("{}:8888", value(&ready, "external_ip"));
    // The template shows the used cluster's master, never its secret.
    let template = app
        .client
        .get(format!("{notebooks}/template"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        template.contains(&format!(
            "DISCO_USES_SPARK_MASTER_URL='spark://{master}:7077'"
        )),
        "{template}"
    );
    let secret = secret_conf
        .lines()
        .find_map(|l| l.strip_prefix("spark.authenticate.secret "))
        .expect("the secret");
    assert!(!template.contains(secret), "the template shows the secret");

    let printed = run_cell(&app, &address, token, SPARK_CELL);
    assert!(
        printed.lines().any(|l| l == "total 500500"),
        "wrong result: {printed}"
    );
    let hosts: BTreeSet<&str> = printed
        .lines()
        .find_map(|l| l.strip_prefix("hosts "))
        .expect("hosts line")
        .split(' ')
        .collect();
    let workers: BTreeSet<String> = [format!("{prefix}.11"), format!("{prefix}.12")].into();
    assert_eq!(
        hosts,
        workers.iter().map(String::as_str).collect(),
        "the notebook's tasks ran on {hosts:?}"
    );

    // The Spark cluster is in use: a delete names who uses it, and changes nothing.
    let refused = app.client.delete(&spark).send().await.expect("sent");
    assert_eq!(refused.status(), 409);
    let why = refused.text().await.expect("body");
    assert!(
        why.contains("notebooks uses this cluster") && why.contains("cascade=true"),
        "{why}"
    );
    let after = get_attributes(&app.client, &spark)
        .await
        .expect("still there");
    assert_eq!(value(&after, "icclab.disco.state"), "ready");

    let spark_dir = local_dir(&app, &spark);
    let notebooks_dir = local_dir(&app, &notebooks);
    let cascade = app
        .client
        .delete(format!("{spark}?cascade=true"))
        .send()
        .await
        .expect("sent");
    assert_eq!(cascade.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while get_attributes(&app.client, &spark).await.is_some()
        || get_attributes(&app.client, &notebooks).await.is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the cascade did not delete both"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    for (location, dir) in [(&spark, &spark_dir), (&notebooks, &notebooks_dir)] {
        let left = disco::providers::local::process::processes_of(&cluster_id(location), None);
        assert!(left.is_empty(), "processes left: {left:?}");
        assert!(!dir.exists(), "{} is still there", dir.display());
    }
}

const DASK_CELL: &str = r#"
import os
from dask.distributed import Client
with Client(os.environ["DISCO_DASK_SCHEDULER"], timeout="60s") as client:
    print("address", client.scheduler.address)
    print("squares", sum(client.gather(client.map(lambda x: x * x, range(10)))))
    print("workers", len(client.scheduler_info()["workers"]))
"#;

#[tokio::test]
async fn a_notebook_of_a_cluster_using_a_dask_cluster_computes_on_it_over_tls_and_is_degraded_while_it_is_stopped()
 {
    let app = crate::local::spawn_local_app_with(|s| s.jobs.watch_interval_secs = 1).await;
    let dask = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1,\
             icclab.disco.name=\"shared-dask\"",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&dask);
    let ready = wait_ready(&app.client, &dask).await;
    let scheduler = value(&ready, "icclab.disco.outputs.dask.scheduler_address");
    assert_eq!(
        scheduler,
        format!("tls://{}:8786", value(&ready, "external_ip"))
    );

    let token = "notebook-token-2";
    // Used by its UUID, through an OCCI link.
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header("Content-Type", "text/occi")
        .header(
            "Link",
            format!(
                "</disco/{}>; rel=\"http://schemas.cloudcomplab.ch/occi/sm#uses\"",
                cluster_id(&dask)
            ),
        )
        .header(
            "X-OCCI-Attribute",
            format!(
                "icclab.disco.dependencies.inject=\"{{'jupyter': {{'token': '{token}'}}}}\",\
                 icclab.disco.components.heat.slavecount=0"
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let notebooks = location(response.headers());
    guard.watch(&notebooks);
    let ready = wait_ready(&app.client, &notebooks).await;
    let printed = run_cell(
        &app,
        &format!("{}:8888", value(&ready, "external_ip")),
        token,
        DASK_CELL,
    );
    assert!(
        printed.lines().any(|l| l == format!("address {scheduler}")),
        "{printed}"
    );
    assert!(printed.lines().any(|l| l == "squares 285"), "{printed}");
    assert!(printed.lines().any(|l| l == "workers 1"), "{printed}");

    // The Dask cluster stopped: the notebooks' cluster is degraded, saying why, and
    // healthy again once it is started.
    // (A health round that ran while the Dask cluster was stopping says "stopping"
    // until the next round: the reason is waited for too.)
    let health_saying = |wanted: &'static str, reason: Option<&'static str>| {
        let app = &app;
        let notebooks = &notebooks;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            loop {
                let attributes = get_attributes(&app.client, notebooks).await.expect("there");
                let said = value(&attributes, "icclab.disco.health_reason");
                if value(&attributes, "icclab.disco.health") == wanted
                    && reason.is_none_or(|reason| said == reason)
                {
                    return said;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "never {wanted}: {attributes:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
    };
    let health = |wanted: &'static str| health_saying(wanted, None);
    health("healthy").await;
    for (action, state) in [("stop", "stopped"), ("start", "ready")] {
        let response = app
            .client
            .post(format!("{dask}?action={action}"))
            .header("Category", crate::helpers::CATEGORY)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{action}");
        crate::local::wait_state(&app.client, &dask, state).await;
        if action == "stop" {
            health_saying("degraded", Some("uses shared-dask, which is stopped")).await;
        }
    }
    health("healthy").await;

    // The dependent first, then the used cluster: no cascade needed.
    for location in [&notebooks, &dask] {
        let response = app.client.delete(location).send().await.expect("sent");
        assert_eq!(response.status(), 200);
        app.wait_for(location, None).await;
    }
}

/// A ready cluster of the file provider, named.
async fn ready_file_cluster(
    app: &TestApp,
    inject: &str,
    name: &str,
    tenant: Option<&str>,
) -> String {
    let response = app
        .create_as(
            &format!("icclab.disco.dependencies.inject=\"{inject}\",icclab.disco.name=\"{name}\""),
            tenant,
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = location(response.headers());
    if tenant.is_none() {
        app.wait_for(&location, Some("ready")).await;
    }
    location
}

#[tokio::test]
async fn a_create_that_uses_what_it_cannot_is_refused_naming_why_and_stores_nothing() {
    let app = spawn_app().await;
    let spark = ready_file_cluster(&app, "['spark']", "some-spark", None).await;
    let _theirs = ready_file_cluster(&app, "['spark']", "their-spark", Some("other")).await;
    let staged = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.name=\"staged-dask\",\
             icclab.disco.stage=true",
        )
        .await;
    let before = app.listing().await;
    for (attributes, status, expected) in [
        (
            "icclab.disco.uses=\"nowhere\"",
            404,
            "icclab.disco.uses: you have no cluster \"nowhere\"",
        ),
        (
            "icclab.disco.uses=\"their-spark\"",
            404,
            "you have no cluster \"their-spark\"",
        ),
        (
            "icclab.disco.uses=\"staged-dask\"",
            409,
            "icclab.disco.uses: staged-dask is pending: a cluster can use only ready clusters",
        ),
        (
            "icclab.disco.uses=\"Bad Name!\"",
            400,
            "icclab.disco.uses: expected names or UUIDs",
        ),
    ] {
        let response = app
            .create(&format!(
                "icclab.disco.dependencies.inject=\"['jupyter']\",{attributes}"
            ))
            .await;
        assert_eq!(response.status(), status, "{attributes}");
        let body = response.text().await.expect("body");
        assert!(body.contains(expected), "{attributes}: {body}");
    }
    // A cluster whose components take nothing the used one has.
    let response = app
        .create("icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.uses=\"some-spark\"")
        .await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(
        body.contains(
            "icclab.disco.uses: no component of this cluster takes anything some-spark has"
        ),
        "{body}"
    );
    // A link of another relation, and one to no cluster.
    for (link, expected) in [
        (
            format!("<{spark}>; rel=\"http://example.org/occi#other\""),
            "Link: relation \"http://example.org/occi#other\" is not offered here",
        ),
        (
            "</disco/nope>; rel=\"http://schemas.cloudcomplab.ch/occi/sm#uses\"".to_string(),
            "Link: target \"/disco/nope\" is not a cluster's location",
        ),
    ] {
        let response = app
            .client
            .post(app.url("/disco/"))
            .header("Category", crate::helpers::CATEGORY)
            .header("Content-Type", "text/occi")
            .header("Link", link)
            .header(
                "X-OCCI-Attribute",
                "icclab.disco.dependencies.inject=\"['jupyter']\"",
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400);
        let body = response.text().await.expect("body");
        assert!(body.contains(expected), "{body}");
    }
    assert_eq!(
        app.listing().await,
        before,
        "a refused create stored something"
    );

    // Accepted, it is recorded: the used cluster's delete is refused, and ?cascade=maybe
    // is a 400.
    let dependent = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['jupyter']\",icclab.disco.uses=\"some-spark\",\
             icclab.disco.name=\"some-notebooks\"",
        )
        .await;
    app.wait_for(&dependent, Some("ready")).await;
    let response = app
        .client
        .delete(format!("{spark}?cascade=maybe"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("cascade: expected true or false")
    );
    let response = app.client.delete(&spark).send().await.expect("sent");
    assert_eq!(response.status(), 409);
    assert_eq!(
        app.attribute(&spark, "icclab.disco.state").await.as_deref(),
        Some("ready")
    );
    let response = app
        .client
        .delete(format!("{spark}?cascade=true"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    app.wait_for(&dependent, None).await;
    app.wait_for(&spark, None).await;
    let _ = staged;
}

/// On the real Heat: the cluster that uses another is created on its network, its group
/// admits the other's and the other's admits it (a rule of the new stack), and a cascade
/// deletes both stacks.
#[tokio::test]
async fn on_heat_a_cluster_using_another_joins_its_network_and_groups_and_a_cascade_leaves_no_stack()
 {
    use crate::heat::cloud;
    use crate::openstack::{
        HEAT_GATE, nodes, rendering, spawn_openstack_app, stack_name, token_for, wait_for_state,
        wait_until_gone,
    };
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let spark = location(response.headers());
    let spark_stack = stack_name(&spark);
    wait_for_state(&app.client, &spark, &token, "installing").await;
    // The standalone master reports its URL, as its start step writes it.
    report_outputs_as_master(
        &app,
        &spark,
        &[("spark-master-url", "spark://10.0.0.5:7077\n")],
        "spark-master-url",
    )
    .await;
    cloud
        .play_nodes(&spark_stack, &nodes(1), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &spark, &token, "ready").await;
    let attributes = &ready["attributes"];
    let network = attributes["icclab.disco.network"]
        .as_str()
        .expect("network");
    let group = attributes["icclab.disco.security_group"]
        .as_str()
        .expect("security group");
    assert!(!network.is_empty() && !group.is_empty(), "{attributes}");
    // What its master reported (the stand-in servers boot nothing to write it).
    let spark_master = "10.0.0.5";
    assert_eq!(
        attributes["icclab.disco.outputs.spark.master_url"],
        format!("spark://{spark_master}:7077").as_str()
    );
    let name = attributes["occi.core.title"].as_str().expect("name");

    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            format!(
                "icclab.disco.dependencies.inject=\"['jupyter']\",\
                 icclab.disco.components.heat.slavecount=0,icclab.disco.uses=\"{name}\""
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let notebooks = location(response.headers());
    let stack = stack_name(&notebooks);
    wait_for_state(&app.client, &notebooks, &token, "installing").await;
    let stacks = cloud.stacks_named(&stack).await;
    let id = stacks[0]["id"].as_str().expect("id");
    let (status, template) = cloud.get(&format!("/stacks/{stack}/{id}/template")).await;
    assert_eq!(status, 200);
    assert_eq!(template["parameters"]["network_name"]["default"], network);
    assert!(
        template["resources"].get("network").is_none(),
        "a network of its own"
    );
    let admitted = &template["resources"]["admitted_by_used_0"];
    assert_eq!(admitted["type"], "OS::Neutron::SecurityGroupRule");
    assert_eq!(admitted["properties"]["security_group"], group);
    assert_eq!(
        admitted["properties"]["remote_group"],
        serde_json::json!({"get_resource": "security_group"})
    );
    let rules = template["resources"]["security_group"]["properties"]["rules"]
        .as_array()
        .expect("rules");
    assert!(
        rules.iter().any(|r| r["remote_group_id"] == group),
        "its group admits the used one's: {rules:?}"
    );
    cloud
        .play_nodes(&stack, &nodes(0), "SUCCESS", "installed")
        .await;
    wait_for_state(&app.client, &notebooks, &token, "ready").await;
    let shown = app
        .client
        .get(format!("{notebooks}/template"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        shown.contains(&format!(
            "DISCO_USES_SPARK_MASTER_URL='spark://{spark_master}:7077'"
        )),
        "{shown}"
    );

    let refused = app
        .client
        .delete(&spark)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 409);
    let cascade = app
        .client
        .delete(format!("{spark}?cascade=true"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(cascade.status(), 200);
    let (_, used) = rendering(&app.client, &spark, &token).await;
    assert_eq!(used["attributes"]["icclab.disco.state"], "deleting");
    wait_until_gone(&app.client, &notebooks, &token, "the dependent stayed").await;
    wait_until_gone(&app.client, &spark, &token, "the used cluster stayed").await;
    assert!(cloud.stacks_named(&stack).await.is_empty());
    assert!(cloud.stacks_named(&spark_stack).await.is_empty());
}

/// The CLI, as a user runs it: `disco deploy --uses`, `disco outputs`, `disco delete
/// --cascade` (the file provider: no processes needed to check what goes over the wire).
#[tokio::test]
async fn disco_deploy_uses_disco_outputs_shows_what_it_offers_and_disco_delete_cascade_deletes_both()
 {
    use crate::cli::{disco, stderr, stdout};
    let app = spawn_app().await;
    let made = disco(
        &app,
        &[
            "deploy",
            "cli-dask",
            "--components",
            "dask",
            "--slaves",
            "1",
        ],
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let used = app
        .listing()
        .await
        .into_iter()
        .next()
        .expect("the dask cluster");
    app.wait_for(&used, Some("ready")).await;
    let made = disco(
        &app,
        &[
            "deploy",
            "cli-notebooks",
            "--components",
            "jupyter",
            "--slaves",
            "0",
            "--uses",
            "cli-dask",
        ],
    )
    .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let listing = app.listing().await;
    let dependent = listing
        .iter()
        .find(|l| **l != used)
        .expect("the dependent")
        .clone();
    assert_eq!(
        app.attribute(&dependent, "icclab.disco.uses")
            .await
            .as_deref(),
        Some("cli-dask")
    );
    app.wait_for(&dependent, Some("ready")).await;

    let shown = disco(&app, &["outputs", "cli-dask"]).await;
    let table = stdout(&shown);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(table.contains("dask.scheduler_address"), "{table}");
    assert!(table.contains("dask.dashboard_url"), "{table}");

    let refused = disco(&app, &["delete", "cli-dask"]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("409 cli-notebooks uses this cluster"),
        "{}",
        stderr(&refused)
    );
    let cascade = disco(&app, &["delete", "cli-dask", "--cascade", "--wait"]).await;
    assert!(cascade.status.success(), "{}", stderr(&cascade));
    app.wait_for(&dependent, None).await;
    assert!(app.listing().await.is_empty());
}

/// The dashboard's create page offers the caller's ready clusters to use; the chosen one
/// is used (no script needed: a plain multiple select).
#[tokio::test]
async fn the_dashboard_s_create_page_offers_ready_clusters_to_use_and_the_chosen_one_is_used() {
    let app = spawn_app().await;
    let used = ready_file_cluster(&app, "['spark']", "page-spark", None).await;
    let response = app
        .client
        .get(app.url("/dashboard/new"))
        .send()
        .await
        .expect("sent");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_string();
    let page = response.text().await.expect("html");
    assert!(
        page.contains("<select id=\"uses\" name=\"uses\" multiple>")
            && page.contains("<option value=\"page-spark\">page-spark (spark)</option>"),
        "{page}"
    );
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token")
        .to_string();
    let created = app
        .client
        .post(app.url("/dashboard/new"))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "page-notebooks"),
            ("component", "jupyter"),
            ("slaves", "0"),
            ("uses", "page-spark"),
        ])
        .send()
        .await
        .expect("sent");
    assert!(created.status().is_success(), "{}", created.status());
    let dependent = app
        .listing()
        .await
        .into_iter()
        .find(|l| *l != used)
        .expect("the new cluster");
    assert_eq!(
        app.attribute(&dependent, "icclab.disco.uses")
            .await
            .as_deref(),
        Some("page-spark")
    );
    let planned = plan(&app, &dependent).await;
    assert_eq!(planned["uses"][0]["name"], "page-spark", "{planned}");
    app.wait_for(&dependent, Some("ready")).await;

    // Each page links the other; the used one's delete offers the cascade, which
    // deletes both.
    let page_of = |location: &str| {
        let url = app.url(&format!("/dashboard/clusters/{}", cluster_id(location)));
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("html")
        }
    };
    let used_page = page_of(&used).await;
    assert!(
        used_page.contains(&format!(
            "<dd id=\"used-by\"><a href=\"/dashboard/clusters/{}\">page-notebooks</a>",
            cluster_id(&dependent)
        )) && used_page.contains("name=\"cascade\" value=\"true\""),
        "{used_page}"
    );
    let dependent_page = page_of(&dependent).await;
    assert!(
        dependent_page.contains(&format!(
            "<dd id=\"uses\"><a href=\"/dashboard/clusters/{}\">page-spark</a>",
            cluster_id(&used)
        )),
        "{dependent_page}"
    );
    let deleted = app
        .client
        .post(app.url(&format!("/dashboard/clusters/{}/delete", cluster_id(&used))))
        .header("Cookie", &cookie)
        .form(&[("csrf", token.as_str()), ("cascade", "true")])
        .send()
        .await
        .expect("sent");
    assert!(
        deleted.status().is_success() || deleted.status().is_redirection(),
        "{}",
        deleted.status()
    );
    app.wait_for(&dependent, None).await;
    app.wait_for(&used, None).await;
}

/// On the real Heat: a VM master reports its outputs' files (the node library's
/// `disco_report_outputs`, run here as the master's script runs it), and the ready
/// cluster exports them: a swarm's join token, secret.
#[tokio::test]
async fn on_heat_the_master_reports_its_outputs_files_and_the_swarm_s_join_token_is_a_secret_output()
 {
    use crate::heat::cloud;
    use crate::openstack::{
        HEAT_GATE, nodes, spawn_openstack_app, stack_name, token_for, wait_for_state,
    };
    let _heat = HEAT_GATE.read().await;
    let app = spawn_openstack_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header("X-Auth-Token", &token)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['swarm']\",icclab.disco.components.heat.slavecount=0",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    wait_for_state(&app.client, &url, &token, "installing").await;
    let template = app
        .client
        .get(format!("{url}/template?node=master"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("script");
    assert!(
        template.contains("export DISCO_OUTPUT_FILES='swarm/www/worker-token'"),
        "{template}"
    );

    let report_token = report_outputs_as_master(
        &app,
        &url,
        &[("swarm/www/worker-token", "SWMTKN-1-test-join-token\n")],
        "swarm/www/worker-token\nswarm/not-there",
    )
    .await;
    // Only the plan's files, only with the cluster's token.
    let bad = app
        .client
        .post(format!("{url}/outputs"))
        .bearer_auth(&report_token)
        .json(&serde_json::json!({"files": {"etc/passwd": "x"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .await
            .expect("body")
            .contains("read from swarm/www/worker-token")
    );
    let stranger = app
        .client
        .post(format!("{url}/outputs"))
        .bearer_auth("not-the-token")
        .json(&serde_json::json!({"files": {"swarm/www/worker-token": "x"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(stranger.status(), 403);

    cloud
        .play_nodes(&stack_name(&url), &nodes(0), "SUCCESS", "installed")
        .await;
    let ready = wait_for_state(&app.client, &url, &token, "ready").await;
    let master = ready["attributes"]["icclab.disco.master_private_ip"]
        .as_str()
        .expect("master");
    assert_eq!(
        ready["attributes"]["icclab.disco.outputs.swarm.manager_address"],
        format!("{master}:2377").as_str()
    );
    assert!(
        ready["attributes"]
            .get("icclab.disco.outputs.swarm.join_token")
            .is_none(),
        "a secret among the attributes"
    );
    let with_secrets = app
        .client
        .get(format!("{url}/outputs?secrets=true"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(
        with_secrets["components"]["swarm"]["join_token"]["value"], "SWMTKN-1-test-join-token",
        "the file's content, its trailing line break dropped"
    );
    let deleted = app
        .client
        .delete(&url)
        .header("X-Auth-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    crate::openstack::wait_until_gone(&app.client, &url, &token, "the swarm stayed").await;
}

/// Runs the node library's `disco_report_outputs` as a VM master's script does, with
/// `files` (path under `$DISCO_HOME`, content) in a home of its own and
/// `DISCO_OUTPUT_FILES` = `listed`; the cluster's report token.
async fn report_outputs_as_master(
    app: &TestApp,
    url: &str,
    files: &[(&str, &str)],
    listed: &str,
) -> String {
    let id: disco::domain::ClusterId = url.rsplit('/').next().expect("id").parse().expect("uuid");
    let report_token = app.store.report_token(id).await.expect("token");
    let home = tempfile::tempdir().expect("home");
    for (path, content) in files {
        let path = home.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, content).expect("file");
    }
    let lib =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("heat-templates/node-lib.sh");
    let reported = Command::new("bash")
        .args([
            "-c",
            "set -u; source \"$1\" && disco_report_outputs",
            "bash",
        ])
        .arg(&lib)
        .env("DISCO_HOME", home.path())
        .env("DISCO_LOG_DIR", home.path())
        .env("DISCO_NODE", "master")
        .env("DISCO_REPORT_URL", format!("{url}/report"))
        .env("DISCO_REPORT_TOKEN", &report_token)
        .env("DISCO_OUTPUT_FILES", listed)
        .output()
        .expect("bash runs");
    assert!(
        reported.status.success(),
        "{}",
        String::from_utf8_lossy(&reported.stderr)
    );
    let errors = std::fs::read_to_string(home.path().join("report-errors.log")).unwrap_or_default();
    assert!(errors.is_empty(), "{errors}");
    report_token
}

/// A staged cluster that uses another by an OCCI link, with init actions: a change of
/// its slave count keeps both (the link's cluster shown in icclab.disco.uses, the uses
/// recorded, the actions whole), and a template saved from it keeps the actions.
#[tokio::test]
async fn a_staged_cluster_using_another_by_link_keeps_it_and_its_init_actions_through_a_change() {
    let app = spawn_app().await;
    let used = ready_file_cluster(&app, "['spark']", "linked-spark", None).await;
    let init = r#"[{"name": "hello", "script": "echo hi"}]"#;
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", crate::helpers::CATEGORY)
        .header("Content-Type", "text/occi")
        .header(
            "Link",
            format!(
                "</disco/{}>; rel=\"http://schemas.cloudcomplab.ch/occi/sm#uses\"",
                cluster_id(&used)
            ),
        )
        .header(
            "X-OCCI-Attribute",
            format!(
                "icclab.disco.dependencies.inject=\"['jupyter']\",icclab.disco.stage=true,\
                 icclab.disco.name=\"staged-notebooks\",icclab.disco.init={}",
                serde_json::to_string(init).expect("quoted")
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let staged = location(response.headers());
    assert_eq!(
        app.attribute(&staged, "icclab.disco.uses").await.as_deref(),
        Some("linked-spark")
    );
    let changed = app
        .client
        .post(&staged)
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=3",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        changed.status(),
        200,
        "{}",
        changed.text().await.unwrap_or_default()
    );
    let planned = plan(&app, &staged).await;
    assert_eq!(planned["node_groups"][1]["count"], 3, "{planned}");
    assert_eq!(planned["uses"][0]["name"], "linked-spark", "{planned}");
    assert_eq!(planned["init"][0]["name"], "hello", "{planned}");
    // Still recorded: the used cluster is not deleted under it.
    let refused = app.client.delete(&used).send().await.expect("sent");
    assert_eq!(refused.status(), 409);

    let saved = app
        .client
        .post(format!("{staged}?action=save_template"))
        .header("Category", crate::helpers::CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.template_name=\"notebooks-with-init\"",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        saved.status(),
        201,
        "{}",
        saved.text().await.unwrap_or_default()
    );
    let template: serde_json::Value = app
        .client
        .get(app.url("/disco/templates/notebooks-with-init"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let attributes = &template["attributes"];
    assert!(attributes.get("icclab.disco.uses").is_none(), "{template}");
    let kept: serde_json::Value = serde_json::from_str(
        attributes["icclab.disco.init"]
            .as_str()
            .expect("init as JSON"),
    )
    .expect("JSON");
    assert_eq!(kept[0]["name"], "hello", "{template}");
}
