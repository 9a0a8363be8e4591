use crate::helpers::spawn_app;

#[tokio::test]
async fn query_interface_lists_the_disco_kind_with_its_attributes_and_actions_as_text_occi() {
    let app = spawn_app().await;
    for path in ["/-/", "/.well-known/org/ogf/occi/-/"] {
        let response = app
            .client
            .get(app.url(path))
            .header("Accept", "text/occi")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        let categories: Vec<String> = response
            .headers()
            .get_all("category")
            .iter()
            .map(|v| v.to_str().expect("text").to_string())
            .collect();
        let kind = categories
            .iter()
            .find(|c| c.starts_with("disco;"))
            .expect("the disco kind");
        let parsed = disco::occi::text::parse_categories(kind).expect("our own rendering parses");
        assert_eq!(parsed[0].scheme, "http://schemas.cloudcomplab.ch/occi/sm#");
        assert_eq!(parsed[0].location.as_deref(), Some("/disco/"));
        for attribute in [
            "icclab.disco.dependencies.inject",
            "icclab.disco.components.heat.slavecount",
            "icclab.disco.deployer.password",
            "icclab.disco.provider",
            "external_ip",
            "icclab.disco.master_private_ip",
            "icclab.disco.slave_ips",
        ] {
            assert!(
                parsed[0].attributes.iter().any(|a| a == attribute),
                "{attribute} not listed in {kind}"
            );
        }
        assert!(
            categories
                .iter()
                .any(|c| c.starts_with("deploy;") && c.contains("class=\"action\"")),
            "the deploy action is listed: {categories:?}"
        );
    }
}

#[tokio::test]
async fn query_interface_in_json_describes_types_defaults_and_bounds() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .client
        .get(app.url("/-/"))
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let kind = &body["kinds"][0];
    assert_eq!(kind["term"], "disco");
    let slavecount = &kind["attributes"]["icclab.disco.components.heat.slavecount"];
    assert_eq!(slavecount["type"], "number");
    assert_eq!(slavecount["default"], 2);
    assert_eq!(
        kind["attributes"]["icclab.disco.dependencies.inject"]["required"],
        true
    );
    assert_eq!(kind["attributes"]["ssh_private_key"]["mutable"], false);
    let web_ui = &kind["attributes"]["icclab.disco.web_ui.<ui>"];
    assert_eq!(web_ui["pattern"], true, "{web_ui}");
    assert_eq!(web_ui["mutable"], false, "{web_ui}");
    assert_eq!(body["actions"][0]["term"], "deploy");
}

#[tokio::test]
async fn query_interface_without_accept_is_text_plain_category_lines() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/-/")).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/plain")
    );
    let body = response.text().await.expect("body");
    assert!(body.lines().all(|l| l.starts_with("Category: ")), "{body}");
    assert!(body.contains(
        "Category: disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\""
    ));
}
