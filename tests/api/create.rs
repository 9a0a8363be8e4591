use crate::helpers::{CATEGORY, location, seed_attributes, spawn_app};

#[tokio::test]
async fn create_answers_201_with_the_absolute_location_of_a_stored_cluster() {
    let app = spawn_app().await;
    let response = app
        .create(&seed_attributes("{'hadoop': '', 'spark': ''}"))
        .await;
    assert_eq!(response.status(), 201);
    let location = location(response.headers());
    assert!(location.starts_with(&app.url("/disco/")), "{location}");
    let id = location.rsplit('/').next().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    // Stored before the answer: readable at once.
    let attributes = app.attributes(&location).await.expect("stored");
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(get("occi.core.id"), id);
    assert_eq!(get("icclab.disco.components.heat.networkname"), "disco-net");
    assert_eq!(get("icclab.disco.components.heat.slavecount"), "2");
    assert_eq!(
        get("icclab.disco.dependencies.inject"),
        "{'hadoop': '', 'spark': ''}"
    );
}

#[tokio::test]
async fn create_accepts_the_attributes_as_several_headers_or_a_text_plain_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['spark']\"",
        )
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.components.heat.slavecount=3",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let first = location(response.headers());
    assert_eq!(
        app.attribute(&first, "icclab.disco.components.heat.slavecount")
            .await
            .as_deref(),
        Some("3")
    );

    let body = format!(
        "Category: {CATEGORY}\nX-OCCI-Attribute: icclab.disco.dependencies.inject=\"{{'dask'}}\"\n\
         X-OCCI-Attribute: icclab.disco.name=\"analysis\"\n"
    );
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Content-Type", "text/plain")
        .header("Accept", "text/plain")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let second = location(response.headers());
    assert_eq!(
        response.text().await.expect("body"),
        format!("X-OCCI-Location: {second}\n")
    );
    assert_eq!(
        app.attribute(&second, "occi.core.title").await.as_deref(),
        Some("analysis")
    );
}

#[tokio::test]
async fn create_accepts_application_occi_json_and_answers_with_the_resource() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Content-Type", "application/occi+json")
        .header("Accept", "application/occi+json")
        .body(
            r#"{"kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
                "attributes": {"icclab.disco.dependencies.inject": "{'spark': {'worker_cores': 2}}",
                               "icclab.disco.components.heat.slavecount": 1}}"#,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["kind"], "http://schemas.cloudcomplab.ch/occi/sm#disco");
    assert_eq!(
        body["attributes"]["icclab.disco.components.heat.slavecount"],
        1
    );
    assert_eq!(body["attributes"]["icclab.disco.state"], "pending");
    assert!(body["attributes"].get("ssh_private_key").is_none());
}

#[tokio::test]
async fn a_second_cluster_with_the_same_name_is_a_409_and_the_first_is_untouched() {
    let app = spawn_app().await;
    let attrs = "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.name=\"lab\"";
    let first = app.create_ok(attrs).await;
    let response = app.create(attrs).await;
    assert_eq!(response.status(), 409);
    assert!(response.text().await.expect("body").contains("\"lab\""));
    assert_eq!(app.listing().await, vec![first]);
}
