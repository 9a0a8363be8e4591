//! Nothing a user created is lost when the service dies, and work it had queued resumes.

use crate::helpers::{CATEGORY, ServerProcess, location};

async fn create(client: &reqwest::Client, server: &ServerProcess, attributes: &str) -> String {
    let response = client
        .post(server.url("/disco/"))
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", attributes)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    location(response.headers())
}

async fn rendering(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let response = client
        .get(url)
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn wait_for_state(client: &reqwest::Client, url: &str, state: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, body) = rendering(client, url).await;
        if body["attributes"]["icclab.disco.state"] == state {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never became {state}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sigkill_and_restart_keep_every_cluster_with_its_attributes_and_key() {
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut first = ServerProcess::start(dir.path(), &[]);
    let ready = create(
        &client,
        &first,
        "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.name=\"kept\"",
    )
    .await;
    let staged = create(
        &client,
        &first,
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true",
    )
    .await;
    let before = wait_for_state(&client, &ready, "ready").await;
    let (_, staged_before) = rendering(&client, &staged).await;
    first.kill(); // SIGKILL: no graceful shutdown

    let second = ServerProcess::start(dir.path(), &[]);
    let moved = |url: &str| url.replace(&first.address, &second.address);
    let (status, after) = rendering(&client, &moved(&ready)).await;
    assert_eq!(status, 200);
    for (name, value) in before["attributes"].as_object().expect("attributes") {
        assert_eq!(
            &after["attributes"][name], value,
            "{name} changed across the restart"
        );
    }
    let (_, staged_after) = rendering(&client, &moved(&staged)).await;
    assert_eq!(staged_after["attributes"]["icclab.disco.state"], "pending");
    assert_eq!(
        staged_after["attributes"]["ssh_private_key"],
        staged_before["attributes"]["ssh_private_key"]
    );
}

#[tokio::test]
async fn a_deploy_queued_before_a_crash_runs_after_the_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut first = ServerProcess::start(dir.path(), &[("DISCO_JOBS__ENABLED", "false")]);
    let url = create(
        &client,
        &first,
        "icclab.disco.dependencies.inject=\"['spark']\"",
    )
    .await;
    let (_, body) = rendering(&client, &url).await;
    assert_eq!(body["attributes"]["icclab.disco.state"], "pending");
    first.kill();

    let second = ServerProcess::start(dir.path(), &[]);
    let url = url.replace(&first.address, &second.address);
    let body = wait_for_state(&client, &url, "ready").await;
    assert!(
        body["attributes"]["stackid"]
            .as_str()
            .is_some_and(|s| s.ends_with(".yaml"))
    );
    assert!(second.logs_soon("every component is up").await);
}
