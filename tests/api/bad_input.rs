//! Every refusal names the field and what was expected, with the right status, and leaves
//! what is stored as it was.

use reqwest::header::HeaderValue;

use crate::helpers::{CATEGORY, TestApp, spawn_app};

async fn refused(app: &TestApp, request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    assert!(!body.trim().is_empty(), "an error has a reason");
    let _ = app;
    (status, body)
}

fn create(app: &TestApp, attributes: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", attributes)
}

#[tokio::test]
async fn each_kind_of_bad_create_gets_its_status_and_a_reason_naming_the_field() {
    let app = spawn_app().await;
    let kept = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    app.wait_for(&kept, Some("ready")).await;
    let before = app.attributes(&kept).await;
    let inject = "icclab.disco.dependencies.inject=\"['spark']\"";
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "no category",
            app.client.post(app.url("/disco/")).header("X-OCCI-Attribute", inject),
            400,
            "Category: missing; expected disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"",
        ),
        (
            "foreign category",
            app.client
                .post(app.url("/disco/"))
                .header("Category", "compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"")
                .header("X-OCCI-Attribute", inject),
            400,
            "http://schemas.ogf.org/occi/infrastructure#compute (kind) is not offered here",
        ),
        (
            "malformed attribute header",
            create(&app, "icclab.disco.dependencies.inject \"['spark']\""),
            400,
            "X-OCCI-Attribute: at character 34",
        ),
        (
            "unknown attribute",
            create(&app, &format!("{inject},icclab.disco.components.heat.slavecont=\"2\"")),
            400,
            "icclab.disco.components.heat.slavecont: unknown attribute of kind disco; did you mean icclab.disco.components.heat.slavecount?",
        ),
        (
            "wrong type",
            create(&app, &format!("{inject},icclab.disco.components.heat.slavecount=\"many\"")),
            400,
            "icclab.disco.components.heat.slavecount: expected an integer from 0 to 100, got \"many\"",
        ),
        (
            "out of range",
            create(&app, &format!("{inject},icclab.disco.components.heat.slavecount=1000")),
            400,
            "icclab.disco.components.heat.slavecount: expected an integer from 0 to 100, got 1000",
        ),
        (
            "missing required",
            create(&app, "icclab.disco.components.heat.slavecount=\"2\""),
            400,
            "icclab.disco.dependencies.inject: required attribute is missing",
        ),
        (
            "inject syntax",
            create(&app, "icclab.disco.dependencies.inject=\"{'spark': ''\""),
            400,
            "icclab.disco.dependencies.inject: at character 13",
        ),
        (
            "inject code",
            create(&app, "icclab.disco.dependencies.inject=\"__import__('os').system('id')\""),
            400,
            "icclab.disco.dependencies.inject: at character 1",
        ),
        (
            "state attribute",
            create(&app, &format!("{inject},external_ip=\"10.0.0.1\"")),
            400,
            "external_ip: set by the service, a request cannot set it",
        ),
        (
            "deployer path escaping its directory",
            create(&app, &format!("{inject},icclab.disco.deployer.path=\"../../etc/cron.d/x\"")),
            400,
            "icclab.disco.deployer.path: expected a relative file path without '..'",
        ),
        (
            "provider not on this server",
            create(&app, &format!("{inject},icclab.disco.provider=\"openstack\"")),
            400,
            "icclab.disco.provider: provider openstack is not available on this server",
        ),
        (
            "bad name",
            create(&app, &format!("{inject},icclab.disco.name=\"My Cluster\"")),
            400,
            "icclab.disco.name: expected a lowercase letter",
        ),
        (
            "wrong content type",
            create(&app, inject).header("Content-Type", "application/xml").body("<x/>"),
            415,
            "Content-Type: expected text/occi, text/plain or application/occi+json, got application/xml",
        ),
        (
            "body over the limit",
            app.client
                .post(app.url("/disco/"))
                .header("Content-Type", "text/plain")
                .body(format!("Category: {CATEGORY}\n{}", "X-OCCI-Attribute: a=\"b\"\n".repeat(5000))),
            413,
            "request body larger than 65536 bytes",
        ),
        (
            "nothing acceptable",
            create(&app, inject).header("Accept", "image/png"),
            406,
            "Accept: this resource is available as text/plain, text/occi, text/uri-list, application/occi+json",
        ),
        (
            "bad json",
            app.client
                .post(app.url("/disco/"))
                .header("Content-Type", "application/occi+json")
                .body("{\"kind\": 5}"),
            400,
            "application/occi+json body: invalid type: integer `5`",
        ),
    ];
    for (what, request, status, reason) in cases {
        let (got_status, body) = refused(&app, request).await;
        assert_eq!(got_status, status, "{what}: {body}");
        assert!(
            body.contains(reason),
            "{what}: {body:?} does not contain {reason:?}"
        );
        assert_eq!(body.trim_end().lines().count().min(1), 1, "{what}");
    }
    assert_eq!(
        app.listing().await,
        vec![kept.clone()],
        "nothing was stored"
    );
    assert_eq!(
        app.attributes(&kept).await,
        before,
        "the stored cluster is unchanged"
    );
}

#[tokio::test]
async fn an_inject_syntax_error_points_at_the_offending_character() {
    let app = spawn_app().await;
    let (status, body) = refused(
        &app,
        create(
            &app,
            "icclab.disco.dependencies.inject=\"{'hadoop': '', 'spark' ''}\"",
        ),
    )
    .await;
    assert_eq!(status, 400);
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("icclab.disco.dependencies.inject: at character 24"),
        "{body}"
    );
    let input = lines
        .iter()
        .find(|l| l.contains("{'hadoop'"))
        .expect("the input is shown");
    let caret = lines
        .iter()
        .find(|l| l.trim() == "^")
        .expect("a caret line");
    let column = input.find("''}").expect("the offending part");
    assert_eq!(
        caret.find('^'),
        Some(column),
        "caret under the character:\n{body}"
    );
}

#[tokio::test]
async fn errors_are_json_when_json_was_asked_for() {
    let app = spawn_app().await;
    let response = create(&app, "icclab.disco.components.heat.slavecount=\"-1\"")
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    let detail = body["errors"][0]["detail"].as_str().expect("detail");
    assert!(
        detail
            .contains("icclab.disco.components.heat.slavecount: expected an integer from 0 to 100"),
        "{detail}"
    );
}

#[tokio::test]
async fn unknown_clusters_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for path in [
        "/disco/not-a-uuid",
        "/disco/6f1c1d3e-5c1a-4a43-9a7a-1f1c3d9b2e10",
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 404, "{path}");
        let response = app.client.delete(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn random_bytes_in_occi_headers_never_cause_a_500() {
    let app = spawn_app().await;
    let samples = [
        "\"",
        "=",
        ",,,,",
        "a=\"\\",
        "a=\"x\\\"",
        "a=1e999",
        "é=\"ü\"",
        "a=\"b\",=",
        "a=tru",
        "a=-",
        "a=.5.",
        ";;;",
        "a=\"\u{1F600}\"",
    ];
    for sample in samples {
        for header in ["Category", "X-OCCI-Attribute", "Link", "X-OCCI-Location"] {
            let response = app
                .client
                .post(app.url("/disco/"))
                .header(
                    header,
                    HeaderValue::from_bytes(sample.as_bytes()).expect("a header value"),
                )
                .send()
                .await
                .expect("sent");
            assert!(
                response.status().is_client_error(),
                "{header}: {sample:?} gave {}",
                response.status()
            );
        }
    }
}
