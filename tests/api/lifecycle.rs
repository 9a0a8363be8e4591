use crate::helpers::spawn_app;

#[tokio::test]
async fn the_file_provider_writes_the_heat_template_and_the_cluster_becomes_ready() {
    let app = spawn_app().await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'spark': {'worker_cores': 2}, 'jupyter': ''}\",\
             icclab.disco.deployer.type=\"FileDeployer\",icclab.disco.deployer.path=\"out/cluster.yaml\"",
        )
        .await;
    app.wait_for(&location, Some("ready")).await;
    let attributes = app.attributes(&location).await.expect("cluster");
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // The path in the tenant's directory, not where the server keeps that.
    assert_eq!(get("stackid"), Some("out/cluster.yaml"));
    let path = app.deployed_file("out/cluster.yaml");
    assert_eq!(get("mcn.service.state"), Some("ready"));

    let text = std::fs::read_to_string(&path).expect("written");
    let served = app
        .client
        .get(format!("{location}/template"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(
        text, served,
        "the file holds the template GET /template shows"
    );
    let hot: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
    assert_eq!(hot["heat_template_version"], "2018-08-31");
    assert_eq!(
        hot["parameters"]["ssh_public_key"]["default"].as_str(),
        get("ssh_public_key")
    );
    assert!(
        !text.contains("PRIVATE KEY"),
        "the template holds no private key"
    );
}

#[tokio::test]
async fn a_staged_cluster_waits_for_the_deploy_action() {
    let app = spawn_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=\"true\"")
        .await;
    // The worker runs every second: after two polls a staged cluster is still pending.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(
        app.attribute(&location, "icclab.disco.state")
            .await
            .as_deref(),
        Some("pending")
    );
    let body = app
        .client
        .get(&location)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(
        body.contains(&format!(
            "Link: <{location}?action=deploy>; rel=\"http://schemas.cloudcomplab.ch/occi/sm/disco/action#deploy\""
        )),
        "{body}"
    );

    let response = app
        .client
        .post(format!("{location}?action=deploy"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    app.wait_for(&location, Some("ready")).await;

    let again = app
        .client
        .post(format!("{location}?action=deploy"))
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 409);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("cluster is ready: deploy needs it pending")
    );
}

#[tokio::test]
async fn an_unknown_action_or_none_is_a_400_naming_the_actions() {
    let app = spawn_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=true")
        .await;
    for (query, reason) in [
        (
            "?action=explode",
            "action: unknown action \"explode\"; expected one of deploy",
        ),
        (
            "",
            "action: POST to a cluster needs ?action=, one of deploy",
        ),
    ] {
        let response = app
            .client
            .post(format!("{location}{query}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400);
        assert!(response.text().await.expect("body").contains(reason));
    }
}

#[tokio::test]
async fn jobs_queued_while_no_worker_runs_are_run_by_the_lifecycle() {
    let app = crate::helpers::spawn_app_with(|s| s.jobs.enabled = false).await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    assert_eq!(
        app.attribute(&location, "icclab.disco.state")
            .await
            .as_deref(),
        Some("pending")
    );
    let ran = app.lifecycle.run_pending_jobs().await.expect("jobs run");
    assert_eq!(ran, 1);
    assert_eq!(
        app.attribute(&location, "icclab.disco.state")
            .await
            .as_deref(),
        Some("ready")
    );
}
