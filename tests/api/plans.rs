//! What a request resolves to: the catalogue over the API, a staged cluster's plan and
//! template, and the errors resolution gives.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_components_endpoint_lists_the_catalogue_with_parameters() {
    let app = spawn_app().await;
    let body: Value = app
        .client
        .get(app.url("/disco/components"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let components = body["components"].as_array().expect("components");
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    for expected in ["dask", "hadoop", "jupyter", "spark", "swarm", "zeppelin"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let zeppelin = components
        .iter()
        .find(|c| c["name"] == "zeppelin")
        .expect("zeppelin");
    assert_eq!(zeppelin["depends_on"], serde_json::json!(["spark"]));
    let spark = components
        .iter()
        .find(|c| c["name"] == "spark")
        .expect("spark");
    assert!(spark["parameters"]["version"]["default"].is_string());
    assert!(spark["version"].is_string());
}

#[tokio::test]
async fn the_query_interface_lists_each_component_as_a_mixin_with_its_parameters() {
    let app = spawn_app().await;
    let body = app
        .client
        .get(app.url("/-/"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    let spark = body
        .lines()
        .find(|l| l.starts_with("Category: spark;"))
        .unwrap_or_else(|| panic!("no spark mixin in:\n{body}"));
    assert!(spark.contains("scheme=\"http://schemas.cloudcomplab.ch/occi/sm/disco/component#\""));
    assert!(spark.contains("class=\"mixin\""));
    assert!(
        spark.contains("icclab.disco.components.spark.version"),
        "{spark}"
    );
}

#[tokio::test]
async fn a_staged_cluster_shows_its_plan_and_template_without_secrets() {
    let app = spawn_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'zeppelin': '', 'jupyter': {'token': 'tok-8f7e6d5c'}}\",\
             icclab.disco.components.spark.worker_cores=\"4\",icclab.disco.stage=true,\
             icclab.disco.components.heat.slavecount=3",
        )
        .await;
    let plan: Value = app
        .client
        .get(format!("{location}/plan"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let order: Vec<&str> = plan["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    let spark = order
        .iter()
        .position(|c| *c == "spark")
        .expect("spark pulled in");
    let zeppelin = order
        .iter()
        .position(|c| *c == "zeppelin")
        .expect("zeppelin");
    assert!(spark < zeppelin, "dependencies first: {order:?}");
    assert_eq!(plan["components"][spark]["requested"], false);
    assert_eq!(plan["components"][spark]["params"]["worker_cores"], 4);
    assert_eq!(plan["node_groups"][1]["count"], 3);

    let template = app
        .client
        .get(format!("{location}/template"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    let hot: Value = serde_saphyr::from_str(&template).expect("YAML");
    assert_eq!(hot["parameters"]["slave_count"]["default"], 3);
    assert!(hot["resources"]["master"]["properties"]["user_data"].is_object());

    let shown = app
        .client
        .get(&location)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    for (what, text) in [
        ("plan", plan.to_string()),
        ("template", template),
        ("cluster", shown),
    ] {
        assert!(
            !text.contains("tok-8f7e6d5c"),
            "the jupyter token shows in the {what}"
        );
    }
}

#[tokio::test]
async fn resolution_errors_name_the_component_or_parameter() {
    let app = spawn_app().await;
    for (attributes, reason) in [
        (
            "icclab.disco.dependencies.inject=\"['flink']\"",
            "icclab.disco.dependencies.inject: unknown component \"flink\"; known components: dask, hadoop, jupyter, spark, swarm, zeppelin",
        ),
        (
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.spark.worker_cores=\"lots\"",
            "icclab.disco.components.spark.worker_cores: expected an integer",
        ),
        (
            "icclab.disco.dependencies.inject=\"{'spark': {'colour': 'blue'}}\"",
            "icclab.disco.components.spark.colour: spark has no parameter \"colour\"; its parameters:",
        ),
        (
            "icclab.disco.dependencies.inject=\"{}\"",
            "icclab.disco.dependencies.inject: no component is requested",
        ),
    ] {
        let response = app.create(attributes).await;
        assert_eq!(response.status(), 400, "{attributes}");
        let body = response.text().await.expect("body");
        assert!(body.contains(reason), "{body:?} lacks {reason:?}");
    }
    assert!(app.listing().await.is_empty());
}
