use crate::helpers::spawn_app;

#[tokio::test]
async fn a_tenant_sees_and_deletes_only_its_own_clusters() {
    let app = spawn_app().await;
    let response = app
        .create_as(
            "icclab.disco.dependencies.inject=\"['spark']\"",
            Some("physics"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = crate::helpers::location(response.headers());

    assert_eq!(
        app.listing_as(Some("physics")).await,
        vec![location.clone()]
    );
    assert!(app.listing_as(Some("biology")).await.is_empty());
    assert!(
        app.listing().await.is_empty(),
        "the default tenant sees nothing"
    );

    for tenant in ["biology", "default"] {
        let get = app
            .client
            .get(&location)
            .header("X-Tenant-Name", tenant)
            .send()
            .await
            .expect("sent");
        assert_eq!(get.status(), 404, "{tenant} GET");
        let delete = app
            .client
            .delete(&location)
            .header("X-Tenant-Name", tenant)
            .send()
            .await
            .expect("sent");
        assert_eq!(delete.status(), 404, "{tenant} DELETE");
    }
    let owner = app
        .client
        .get(&location)
        .header("X-Tenant-Name", "physics")
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent");
    assert_eq!(owner.status(), 200);
    let body: serde_json::Value = owner.json().await.expect("json");
    assert_ne!(
        body["attributes"]["icclab.disco.state"], "deleting",
        "untouched by the others"
    );
}
