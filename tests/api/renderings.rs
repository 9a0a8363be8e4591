use crate::helpers::spawn_app;

#[tokio::test]
async fn the_listing_comes_in_every_rendering_with_the_same_locations() {
    let app = spawn_app().await;
    let a = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    let b = app
        .create_ok("icclab.disco.dependencies.inject=\"['dask']\"")
        .await;
    let get = |accept: &'static str| {
        app.client
            .get(app.url("/disco/"))
            .header("Accept", accept)
            .send()
    };

    let occi = get("text/occi").await.expect("sent");
    assert_eq!(
        occi.headers().get_all("x-occi-location").iter().count(),
        1,
        "one header, its locations separated by commas"
    );
    let mut headers: Vec<String> = occi
        .headers()
        .get_all("x-occi-location")
        .iter()
        .flat_map(|v| v.to_str().expect("text").split(", "))
        .map(str::to_string)
        .collect();
    headers.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(headers, expected);

    let plain = get("text/plain")
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(
        plain,
        format!("X-OCCI-Location: {a}\nX-OCCI-Location: {b}\n")
    );

    let uris = get("text/uri-list")
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(uris, format!("{a}\r\n{b}\r\n"));

    let json: serde_json::Value = get("application/occi+json")
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let locations: Vec<&str> = json["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["location"].as_str().expect("location"))
        .collect();
    assert_eq!(locations, vec![a.as_str(), b.as_str()]);
    assert!(
        json["resources"]
            .as_array()
            .expect("array")
            .iter()
            .all(|r| r["attributes"].get("ssh_private_key").is_none()),
        "a listing never shows private keys"
    );
}

#[tokio::test]
async fn a_cluster_renders_in_text_occi_headers_with_its_state_attributes() {
    let app = spawn_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    app.wait_for(&location, Some("ready")).await;
    let response = app
        .client
        .get(&location)
        .header("Accept", "text/occi")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["category"].to_str().expect("text"),
        "disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\""
    );
    let mut names = Vec::new();
    for value in response.headers().get_all("x-occi-attribute") {
        let parsed = disco::occi::text::parse_attributes(value.to_str().expect("text"))
            .expect("each attribute header parses");
        names.extend(parsed.into_iter().map(|a| a.name));
    }
    for state in [
        "occi.core.id",
        "mcn.service.state",
        "stack_status",
        "stack_status_reason",
        "stackid",
        "external_ip",
        "icclab.disco.master_private_ip",
        "icclab.disco.slave_ips",
        "ssh_key_name",
        "ssh_public_key",
        "ssh_private_key",
        "icclab.disco.state",
        "icclab.disco.state_reason",
        "icclab.disco.created",
        "icclab.disco.updated",
    ] {
        assert!(
            names.iter().any(|n| n == state),
            "{state} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn the_private_key_round_trips_through_the_text_rendering() {
    let app = spawn_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    let key = app
        .attribute(&location, "ssh_private_key")
        .await
        .expect("key shown to its owner");
    assert!(
        key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        "{key}"
    );
    assert!(
        key.trim_end()
            .ends_with("-----END OPENSSH PRIVATE KEY-----"),
        "{key}"
    );
    let json: serde_json::Value = app
        .client
        .get(&location)
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        json["attributes"]["ssh_private_key"].as_str(),
        Some(key.as_str())
    );
}
