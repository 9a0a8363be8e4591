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

#[tokio::test]
async fn a_malformed_padded_or_repeated_tenant_header_is_a_400_not_another_tenant() {
    use reqwest::header::HeaderValue;
    let app = spawn_app().await;
    let physics = app
        .create_as(
            "icclab.disco.dependencies.inject=\"['spark']\"",
            Some("physics"),
        )
        .await;
    assert_eq!(physics.status(), 201);
    let cases: Vec<(&str, Vec<HeaderValue>, &str)> = vec![
        (
            "not UTF-8",
            vec![HeaderValue::from_bytes(b"phys\xffics").expect("bytes")],
            "X-Tenant-Name: expected UTF-8 text",
        ),
        (
            "a no-break space after it",
            vec![HeaderValue::from_str("physics\u{a0}").expect("value")],
            "begins or ends with a space character",
        ),
        (
            "an ideographic space before it",
            vec![HeaderValue::from_str("\u{3000}physics").expect("value")],
            "begins or ends with a space character",
        ),
        (
            "sent twice",
            vec![
                HeaderValue::from_static("physics"),
                HeaderValue::from_static("biology"),
            ],
            "X-Tenant-Name: expected one header, not several",
        ),
    ];
    for (what, values, reason) in cases {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let mut request = app
                .client
                .request(method.clone(), app.url("/disco/"))
                .header("Category", crate::helpers::CATEGORY)
                .header(
                    "X-OCCI-Attribute",
                    "icclab.disco.dependencies.inject=\"['spark']\"",
                );
            for value in &values {
                request = request.header("X-Tenant-Name", value.clone());
            }
            let response = request.send().await.expect("sent");
            assert_eq!(response.status(), 400, "{what} ({method})");
            let body = response.text().await.expect("body");
            assert!(body.contains(reason), "{what} ({method}): {body}");
        }
    }
    assert_eq!(app.listing_as(Some("physics")).await.len(), 1, "no second");
    assert!(app.listing().await.is_empty(), "nothing fell to default");
}
