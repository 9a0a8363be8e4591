//! Cluster templates (DTK's assemblies): the operator's files listed as OCCI mixins and
//! by `disco templates`, a create from one with its Category or attribute under the
//! request's own attributes, tenants' templates saved through the API and from a
//! cluster, and a staged cluster changed before its deploy.

use serde_json::{Value, json};

use crate::cli::{ok, stdout};
use crate::helpers::{CATEGORY, TestApp, location, spawn_app};

const TEMPLATE_SCHEME: &str = "http://schemas.cloudcomplab.ch/occi/sm/templates#";

fn template_category(name: &str) -> String {
    format!("{name}; scheme=\"{TEMPLATE_SCHEME}\"; class=\"mixin\"")
}

/// POST /disco/ with the kind and the template's Category and these attributes.
async fn create_from(app: &TestApp, template: &str, attributes: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header("Category", template_category(template))
        .header("Content-Type", "text/occi");
    if !attributes.is_empty() {
        request = request.header("X-OCCI-Attribute", attributes);
    }
    request.send().await.expect("sent")
}

async fn plan(app: &TestApp, location: &str) -> Value {
    let response = app
        .client
        .get(format!("{location}/plan"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

fn components(plan: &Value) -> Vec<String> {
    let mut names: Vec<String> = plan["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

fn slaves(plan: &Value) -> u64 {
    plan["node_groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == "slaves")
        .and_then(|g| g["count"].as_u64())
        .unwrap_or(0)
}

async fn save_as(app: &TestApp, tenant: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/disco/templates/"))
        .header("X-Tenant-Name", tenant)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn get_as(app: &TestApp, tenant: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("X-Tenant-Name", tenant)
        .send()
        .await
        .expect("sent")
}

/// A partial update of a cluster: POST with the attributes and no action.
async fn update(app: &TestApp, location: &str, attributes: &str) -> (u16, String) {
    let response = app
        .client
        .post(location)
        .header("Content-Type", "text/occi")
        .header("X-OCCI-Attribute", attributes)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_operators_spark_notebook_is_a_mixin_of_the_query_interface_and_listed_by_disco_templates()
 {
    let app = spawn_app().await;
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
    let line = query
        .lines()
        .find(|l| l.contains(&format!("spark-notebook; scheme=\"{TEMPLATE_SCHEME}\"")))
        .unwrap_or_else(|| panic!("no spark-notebook mixin in\n{query}"));
    assert!(line.contains("class=\"mixin\""), "{line}");
    assert!(
        line.contains("title=\"Spark with a Jupyter notebook server"),
        "{line}"
    );
    assert!(
        line.contains("icclab.disco.components.heat.slavecount")
            && line.contains("icclab.disco.dependencies.inject"),
        "the attributes it fixes: {line}"
    );

    let json: Value = app
        .client
        .get(app.url("/-/"))
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let mixin = json["mixins"]
        .as_array()
        .expect("mixins")
        .iter()
        .find(|m| m["term"] == "spark-notebook")
        .unwrap_or_else(|| panic!("no spark-notebook mixin in {json}"));
    assert_eq!(mixin["scheme"], TEMPLATE_SCHEME);

    let table = ok(&app, &["templates"]).await;
    let header = table
        .lines()
        .find(|l| l.contains("NAME"))
        .expect("a header");
    let columns: Vec<&str> = header.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(columns, vec!["ID", "NAME", "NODES", "DESCRIPTION"]);
    let row = table
        .lines()
        .find(|l| l.contains("spark-notebook"))
        .unwrap_or_else(|| panic!("no spark-notebook in\n{table}"));
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells[1], "spark-notebook");
    assert_eq!(cells[2], "3", "a master and 2 slaves");
    assert!(cells[3].starts_with("Spark with a Jupyter"), "{row}");
}

#[tokio::test]
async fn a_create_with_the_templates_category_applies_it_under_the_requests_own_attributes() {
    let app = spawn_app().await;
    let response = create_from(
        &app,
        "spark-notebook",
        "icclab.disco.components.heat.slavecount=1,icclab.disco.stage=true",
    )
    .await;
    assert_eq!(response.status(), 201);
    let cluster = location(response.headers());
    let planned = plan(&app, &cluster).await;
    assert_eq!(components(&planned), vec!["jupyter", "spark"]);
    assert_eq!(
        slaves(&planned),
        1,
        "the request's count wins over the template's 2"
    );
    assert_eq!(
        app.attribute(&cluster, "icclab.disco.template")
            .await
            .as_deref(),
        Some("spark-notebook"),
        "the cluster says which template it came from"
    );

    // The attribute does as the Category does; the template's count applies.
    let cluster = app
        .create_ok("icclab.disco.template=\"dask-notebook\",icclab.disco.stage=true")
        .await;
    let planned = plan(&app, &cluster).await;
    assert_eq!(components(&planned), vec!["dask", "jupyter"]);
    assert_eq!(slaves(&planned), 2);
    let dask = planned["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "dask")
        .expect("dask");
    assert_eq!(
        dask["params"]["worker_threads"], 2,
        "the template's parameter"
    );

    // The request's components replace the template's, and the template's parameter of
    // dask, no longer asked for, goes with it.
    let cluster = app
        .create_ok(
            "icclab.disco.template=\"dask-notebook\",icclab.disco.dependencies.inject=\"['spark']\",\
             icclab.disco.stage=true",
        )
        .await;
    let planned = plan(&app, &cluster).await;
    assert_eq!(components(&planned), vec!["spark"]);
    assert_eq!(slaves(&planned), 2, "the template's count still applies");
}

#[tokio::test]
async fn an_unknown_template_is_a_400_naming_it_and_the_known_ones_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = create_from(&app, "spark-notebok", "").await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("icclab.disco.template: unknown template \"spark-notebok\"")
            && body.contains("spark-notebook")
            && body.contains("dask-notebook"),
        "{body}"
    );
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header("Category", template_category("spark-notebook"))
        .header("Category", template_category("dask-notebook"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400, "two templates at once");
    let response = create_from(
        &app,
        "spark-notebook",
        "icclab.disco.template=\"dask-notebook\"",
    )
    .await;
    assert_eq!(
        response.status(),
        400,
        "a Category and an attribute that disagree"
    );
    assert!(app.listing().await.is_empty());
}

#[tokio::test]
async fn a_template_saved_from_a_cluster_makes_its_like_and_holds_no_secret() {
    let app = spawn_app().await;
    let cluster = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'jupyter': {'token': 'sekrit-token'}, 'dask': ''}\",\
             icclab.disco.components.heat.slavecount=3,icclab.disco.components.dask.worker_memory=\"2GB\",\
             icclab.disco.deployer.password=\"hunter2\",icclab.disco.name=\"original\",icclab.disco.stage=true",
        )
        .await;
    let response = app
        .client
        .post(format!("{cluster}?action=save_template"))
        .header("Content-Type", "text/occi")
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.template_name=\"mine\",icclab.disco.template_description=\"my notebooks\"",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    assert!(
        response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.ends_with("/disco/templates/mine"))
    );
    let shown = app
        .client
        .get(app.url("/disco/templates/mine"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    for secret in ["sekrit-token", "hunter2", "password", "token", "original"] {
        assert!(!shown.contains(secret), "{secret} in the template: {shown}");
    }
    let template: Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(template["nodes"], 4);
    assert_eq!(template["origin"], "tenant");
    assert_eq!(template["description"], "my notebooks");

    let copy = app
        .create_ok("icclab.disco.template=\"mine\",icclab.disco.stage=true")
        .await;
    let planned = plan(&app, &copy).await;
    assert_eq!(components(&planned), vec!["dask", "jupyter"]);
    assert_eq!(slaves(&planned), 3);
    let dask = planned["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "dask")
        .expect("dask");
    assert_eq!(dask["params"]["worker_memory"], "2GB");

    // Listed with the operator's; a second of the name is a conflict.
    let listed: Value = app
        .client
        .get(app.url("/disco/templates/"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = listed["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"mine") && names.contains(&"spark-notebook"),
        "{names:?}"
    );
    let again = app
        .client
        .post(format!("{cluster}?action=save_template"))
        .header("X-OCCI-Attribute", "icclab.disco.template_name=\"mine\"")
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn another_tenants_template_is_a_404_and_not_theirs_to_use_or_delete() {
    let app = spawn_app().await;
    let saved = save_as(
        &app,
        "alpha",
        &json!({
            "name": "alpha-spark",
            "description": "alpha's spark",
            "components": {"spark": {"worker_cores": 2}},
            "attributes": {"icclab.disco.components.heat.slavecount": 1}
        }),
    )
    .await;
    assert_eq!(
        saved.status(),
        201,
        "{}",
        saved.text().await.unwrap_or_default()
    );
    assert_eq!(
        get_as(&app, "alpha", "/disco/templates/alpha-spark")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, "beta", "/disco/templates/alpha-spark")
            .await
            .status(),
        404
    );
    let listed = get_as(&app, "beta", "/disco/templates/")
        .await
        .text()
        .await
        .expect("body");
    assert!(!listed.contains("alpha-spark"), "{listed}");
    let query = app
        .client
        .get(app.url("/-/"))
        .header("X-Tenant-Name", "beta")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        !query.contains("alpha-spark"),
        "beta's query interface: {query}"
    );
    let query = app
        .client
        .get(app.url("/-/"))
        .header("X-Tenant-Name", "alpha")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        query.contains("alpha-spark"),
        "alpha's query interface lists its own"
    );

    let response = app
        .create_as("icclab.disco.template=\"alpha-spark\"", Some("beta"))
        .await;
    assert_eq!(response.status(), 400);
    assert!(app.listing_as(Some("beta")).await.is_empty());
    let response = app
        .create_as(
            "icclab.disco.template=\"alpha-spark\",icclab.disco.stage=true",
            Some("alpha"),
        )
        .await;
    assert_eq!(response.status(), 201);

    let delete = |tenant: &'static str, name: &'static str| {
        app.client
            .delete(app.url(&format!("/disco/templates/{name}")))
            .header("X-Tenant-Name", tenant)
            .send()
    };
    assert_eq!(
        delete("beta", "alpha-spark").await.expect("sent").status(),
        404
    );
    assert_eq!(
        delete("alpha", "spark-notebook")
            .await
            .expect("sent")
            .status(),
        403
    );
    assert_eq!(
        delete("alpha", "alpha-spark").await.expect("sent").status(),
        204
    );
    assert_eq!(
        get_as(&app, "alpha", "/disco/templates/alpha-spark")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_template_naming_an_unknown_component_or_parameter_is_a_400_at_save_and_not_stored() {
    let app = spawn_app().await;
    for (body, named) in [
        (
            json!({"name": "t1", "components": {"sparky": ""}}),
            "unknown component \"sparky\"",
        ),
        (
            json!({"name": "t2", "components": "{'spark': {'cores': 4}}"}),
            "icclab.disco.components.spark.cores",
        ),
        (
            json!({"name": "t3", "components": {"spark": ""},
                   "attributes": {"icclab.disco.components.heat.slavecont": 2}}),
            "icclab.disco.components.heat.slavecont",
        ),
        (
            json!({"name": "t4", "components": {"spark": ""},
                   "attributes": {"icclab.disco.deployer.password": "hunter2"}}),
            "icclab.disco.deployer.password",
        ),
        (
            json!({"name": "Not A Slug", "components": {"spark": ""}}),
            "name:",
        ),
        (json!({"components": {"spark": ""}}), "name: missing"),
        (
            json!({"name": "t5", "components": {"spark": ""}, "flavor": "x"}),
            "unknown field",
        ),
        (
            json!({"name": "t6", "components": 5}),
            "components: expected an inject literal",
        ),
    ] {
        let response = save_as(&app, "alpha", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.expect("body");
        assert!(text.contains(named), "{body}: {text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let clash = save_as(
        &app,
        "alpha",
        &json!({"name": "spark-notebook", "components": {"spark": ""}}),
    )
    .await;
    assert_eq!(clash.status(), 409, "the operator's name");
    let listed: Value = get_as(&app, "alpha", "/disco/templates/")
        .await
        .json()
        .await
        .expect("json");
    assert!(
        listed["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .all(|t| t["origin"] == "operator"),
        "{listed}"
    );
}

#[tokio::test]
async fn a_bad_operator_template_stops_the_start_naming_its_file() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let templates = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        templates.path().join("broken.toml"),
        "[components]\nspark = { cores = 4 }\n",
    )
    .expect("write");
    let mut settings = disco::config::Settings::load(&disco::config::Overrides {
        listen: Some("127.0.0.1:0".parse().expect("address")),
        data_dir: Some(data_dir.path().to_path_buf()),
        ..Default::default()
    })
    .expect("settings");
    settings.openstack.auth_url = None;
    settings.provider.default = disco::domain::ProviderKind::File;
    settings.catalogue.cluster_templates_dir = templates.path().to_path_buf();
    let Err(error) = disco::startup::Application::build(settings).await else {
        panic!("started with a bad template");
    };
    let text = format!("{error:#}");
    assert!(
        text.contains("broken.toml") && text.contains("icclab.disco.components.spark.cores"),
        "{text}"
    );
}

#[tokio::test]
async fn a_staged_cluster_changed_before_its_deploy_deploys_what_was_changed() {
    let app = spawn_app().await;
    let cluster = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=1,\
             icclab.disco.stage=true,icclab.disco.name=\"staged\"",
        )
        .await;
    let before = plan(&app, &cluster).await;

    // A bad change is a 400 naming it, and changes nothing.
    for (bad, named) in [
        (
            "icclab.disco.dependencies.inject=\"['dask', 'sparkle']\"",
            "sparkle",
        ),
        (
            "icclab.disco.components.heat.slavecount=2,icclab.disco.components.dask.threads=3",
            "dask",
        ),
        (
            "icclab.disco.provider=\"local\"",
            "icclab.disco.provider: fixed at create",
        ),
        ("icclab.disco.sllavecount=2", "icclab.disco.sllavecount"),
    ] {
        let (status, body) = update(&app, &cluster, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains(named), "{bad}: {body}");
        assert_eq!(plan(&app, &cluster).await, before, "{bad} changed the plan");
    }

    let (status, body) = update(
        &app,
        &cluster,
        "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 3}, 'jupyter': ''}\",\
         icclab.disco.components.heat.slavecount=2",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let changed = plan(&app, &cluster).await;
    assert_eq!(components(&changed), vec!["dask", "jupyter"]);
    assert_eq!(slaves(&changed), 2);
    assert_eq!(
        app.attribute(&cluster, "icclab.disco.state")
            .await
            .as_deref(),
        Some("pending")
    );
    assert_eq!(
        app.attribute(&cluster, "occi.core.title").await.as_deref(),
        Some("staged"),
        "its name stays"
    );

    let deploy = app
        .client
        .post(format!("{cluster}?action=deploy"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deploy.status(), 200);
    app.wait_for(&cluster, Some("ready")).await;
    let deployed = plan(&app, &cluster).await;
    assert_eq!(components(&deployed), vec!["dask", "jupyter"]);
    assert_eq!(slaves(&deployed), 2);
    let dask = deployed["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "dask")
        .expect("dask");
    assert_eq!(dask["params"]["worker_threads"], 3);
    // What the file provider deployed is what was changed.
    let stackid = app
        .attribute(&cluster, "stackid")
        .await
        .expect("a stack id");
    let written = std::fs::read_to_string(app.deployed_file(&stackid)).expect("the deployed file");
    assert!(
        written.contains("dask") && written.contains("jupyter"),
        "{written}"
    );

    // Deployed, it no longer takes such changes: a 409 naming its state.
    let (status, body) = update(
        &app,
        &cluster,
        "icclab.disco.dependencies.inject=\"['spark']\"",
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("cluster is ready"), "{body}");
    assert_eq!(
        components(&plan(&app, &cluster).await),
        vec!["dask", "jupyter"]
    );
}

#[tokio::test]
async fn disco_deploy_with_a_template_takes_its_components_and_the_flags_override_it() {
    let app = spawn_app().await;
    let created = ok(
        &app,
        &[
            "deploy",
            "nb",
            "--template",
            "spark-notebook",
            "--slaves",
            "1",
        ],
    )
    .await;
    let id = created.lines().next().map(str::trim).expect("the id first");
    let cluster = app.url(&format!("/disco/{id}"));
    let planned = plan(&app, &cluster).await;
    assert_eq!(components(&planned), vec!["jupyter", "spark"]);
    assert_eq!(slaves(&planned), 1, "--slaves wins over the template's 2");
    app.wait_for(&cluster, Some("ready")).await;
    assert_eq!(
        app.attribute(&cluster, "icclab.disco.template")
            .await
            .as_deref(),
        Some("spark-notebook")
    );

    let refused = crate::cli::disco(&app, &["deploy", "nb2", "--template", "nosuch"]).await;
    assert!(!refused.status.success());
    let said = crate::cli::stderr(&refused);
    assert!(said.contains("unknown template \"nosuch\""), "{said}");
    assert!(stdout(&refused).is_empty());
}

#[tokio::test]
async fn the_dashboards_create_page_is_filled_in_from_a_template_without_a_script() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(app.url("/dashboard/new"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("<form method=\"get\" action=\"/dashboard/new\" id=\"from-template\">")
            && page.contains("<option value=\"dask-notebook\">"),
        "a select of the templates: {page}"
    );
    let response = app
        .client
        .get(app.url("/dashboard/new?template=dask-notebook"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a CSRF cookie")
        .to_string();
    let page = response.text().await.expect("html");
    for filled in [
        "name=\"component\" value=\"dask\" data-depends=\"\" checked",
        "name=\"component\" value=\"jupyter\" data-depends=\"\" checked",
        "name=\"param.dask.worker_threads\" value=\"2\"",
        "<input type=\"hidden\" name=\"template\" value=\"dask-notebook\">",
        "<option value=\"dask-notebook\" selected>",
    ] {
        assert!(page.contains(filled), "{filled} not in {page}");
    }
    assert!(!page.contains("value=\"spark\" data-depends=\"\" checked"));
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token")
        .to_string();

    // Sent as filled in, with one field changed: a cluster of the template.
    let created = app
        .client
        .post(app.url("/dashboard/new"))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("template", "dask-notebook"),
            ("name", "from-form"),
            ("component", "dask"),
            ("component", "jupyter"),
            ("param.dask.worker_threads", "2"),
            ("slaves", "1"),
            ("stage", "true"),
        ])
        .send()
        .await
        .expect("sent");
    assert!(created.status().is_success(), "{}", created.status());
    let listed = app.listing().await;
    assert_eq!(listed.len(), 1);
    let planned = plan(&app, &listed[0]).await;
    assert_eq!(components(&planned), vec!["dask", "jupyter"]);
    assert_eq!(slaves(&planned), 1);
    assert_eq!(
        app.attribute(&listed[0], "icclab.disco.template")
            .await
            .as_deref(),
        Some("dask-notebook")
    );

    let unknown = app
        .client
        .get(app.url("/dashboard/new?template=nosuch"))
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), 400);
    let page = unknown.text().await.expect("html");
    assert!(
        page.contains("unknown template &quot;nosuch&quot;"),
        "{page}"
    );
}

#[tokio::test]
async fn a_staged_clusters_secret_parameters_survive_a_change_and_stay_hidden() {
    let app = spawn_app().await;
    let cluster = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'jupyter': {'token': 'tok-abc.123'}, 'dask': ''}\",\
             icclab.disco.stage=true",
        )
        .await;
    let (status, body) = update(&app, &cluster, "icclab.disco.components.heat.slavecount=1").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("tok-abc.123"), "{body}");
    let id: disco::domain::ClusterId = cluster.rsplit('/').next().expect("id").parse().expect("id");
    let stored = app
        .store
        .cluster(None, id)
        .await
        .expect("store")
        .expect("the cluster");
    assert_eq!(stored.plan.slave_count(), 1);
    let jupyter = stored
        .plan
        .components
        .iter()
        .find(|c| c.name == "jupyter")
        .expect("jupyter");
    assert_eq!(
        jupyter.params["token"],
        disco::domain::Scalar::String("tok-abc.123".into()),
        "the nodes still get the token given at create"
    );
    let shown = app
        .client
        .get(format!("{cluster}/plan"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        !shown.contains("tok-abc.123") && shown.contains("********"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_staged_cluster_whose_deploy_was_asked_for_takes_no_change() {
    // No worker: the deploy stays queued, the cluster pending with it.
    let app = crate::helpers::spawn_app_with(|settings| settings.jobs.enabled = false).await;
    let cluster = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=true")
        .await;
    let deploy = app
        .client
        .post(format!("{cluster}?action=deploy"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deploy.status(), 200);
    let before = plan(&app, &cluster).await;
    let (status, body) = update(
        &app,
        &cluster,
        "icclab.disco.dependencies.inject=\"['dask']\"",
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("cluster is deploying"), "{body}");
    assert_eq!(plan(&app, &cluster).await, before, "nothing changed");
}
