use crate::helpers::spawn_app;

#[tokio::test]
async fn delete_answers_200_moves_the_cluster_to_deleting_then_out_of_the_listing() {
    let app = spawn_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.deployer.path=\"lab/spark.json\"")
        .await;
    app.wait_for(&location, Some("ready")).await;
    let written = app.deployed_file("lab/spark.json");
    assert!(
        written.exists(),
        "the file provider wrote {}",
        written.display()
    );

    let response = app
        .client
        .delete(&location)
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["attributes"]["icclab.disco.state"], "deleting");

    app.wait_for(&location, None).await;
    assert!(app.listing().await.is_empty());
    assert!(!written.exists(), "tear-down removed {}", written.display());
    // Deleting again finds nothing.
    let again = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn a_name_is_free_again_once_its_cluster_is_deleted() {
    let app = spawn_app().await;
    let attrs = "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.name=\"reuse\"";
    let first = app.create_ok(attrs).await;
    app.client.delete(&first).send().await.expect("sent");
    app.wait_for(&first, None).await;
    let second = app.create_ok(attrs).await;
    assert_ne!(first, second);
}
