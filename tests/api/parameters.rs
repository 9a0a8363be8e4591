//! A component parameter's value is checked at create against its `component.toml`
//! (type, pattern, length), however it is given, rather than by the step scripts at
//! deploy time: a bad one is a 400 naming `icclab.disco.components.<c>.<p>`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_bad_parameter_value_is_refused_naming_the_parameter() {
    let app = spawn_app().await;
    let long = "x".repeat(60_000);
    let cases = [
        (
            "a secret token given as a number",
            "icclab.disco.dependencies.inject=\"{'jupyter': {'token': 12345678}}\"".to_string(),
            "icclab.disco.components.jupyter.token: expected a quoted string matching",
        ),
        (
            "HTML for a memory size",
            "icclab.disco.dependencies.inject=\"['dask']\",\
             icclab.disco.components.dask.worker_memory=\"<script>alert(1)</script>\""
                .to_string(),
            "icclab.disco.components.dask.worker_memory: expected a string matching",
        ),
        (
            "a spark memory size of the wrong form",
            "icclab.disco.dependencies.inject=\"{'spark': {'worker_memory': '2 GB'}}\"".to_string(),
            "icclab.disco.components.spark.worker_memory: expected a string matching",
        ),
        (
            "a 60 KB value",
            format!(
                "icclab.disco.dependencies.inject=\"['spark']\",\
                 icclab.disco.components.spark.apache_mirror=\"https://{long}\""
            ),
            "icclab.disco.components.spark.apache_mirror: expected at most 1024 characters, got 60008 characters",
        ),
        (
            "a version that is no release",
            "icclab.disco.dependencies.inject=\"{'hadoop': {'version': '3.4; curl x | sh'}}\""
                .to_string(),
            "icclab.disco.components.hadoop.version: expected a string matching",
        ),
        (
            "an escape sequence in a version",
            "icclab.disco.dependencies.inject=\"{'zeppelin': {'version': '0.11.2\\\\x1b[2J'}}\""
                .to_string(),
            "icclab.disco.components.zeppelin.version: expected text without control characters",
        ),
    ];
    for (what, attributes, reason) in cases {
        let response = app.create(&attributes).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body.starts_with(reason), "{what}: {body:?}");
        assert!(body.len() < 1024, "{what}: a {} byte answer", body.len());
        assert!(
            !body.contains("12345678"),
            "{what}: a secret is never echoed"
        );
    }
    assert!(app.listing().await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn good_parameter_values_are_still_accepted() {
    let app = spawn_app().await;
    for attributes in [
        "icclab.disco.dependencies.inject=\"{'spark': {'worker_memory': '2g', 'version': '3.5.3'}}\"",
        "icclab.disco.dependencies.inject=\"{'dask': {'worker_memory': 0.8}}\"",
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.dask.worker_memory=\"4GB\"",
        "icclab.disco.dependencies.inject=\"{'jupyter': {'token': 'abc-123.XYZ_~'}}\"",
        "icclab.disco.dependencies.inject=\"{'zeppelin': {'password': ''}}\"",
    ] {
        let response = app.create(attributes).await;
        let status = response.status();
        assert_eq!(
            status,
            201,
            "{attributes}: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn the_catalogue_lists_each_parameters_pattern_and_length() {
    let app = spawn_app().await;
    let catalogue: serde_json::Value = app
        .client
        .get(app.url("/disco/components"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let spark = catalogue["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "spark")
        .expect("spark");
    let memory = &spark["parameters"]["worker_memory"];
    assert_eq!(memory["pattern"], "([1-9][0-9]*[kKmMgGtT])?");
    assert_eq!(memory["max_length"], 32);
    assert_eq!(spark["parameters"]["worker_cores"].get("pattern"), None);
}
