//! A string attribute holding a control character or a line separator is refused at
//! create, naming the attribute, whichever rendering it came in: stored, it would make
//! every later `text/occi` answer a 500 and send terminal escapes to `text/plain` clients.

use reqwest::header::HeaderValue;

use crate::helpers::{CATEGORY, TestApp, spawn_app};

const IMAGE: &str = "icclab.disco.components.heat.masterimage";
const INJECT: &str = "icclab.disco.dependencies.inject=\"['spark']\"";

/// NUL, ESC (an OSC title sequence), DEL, NEL (U+0085) and the line separator.
const REFUSED: [(&str, &str); 5] = [
    ("NUL", "ubuntu\u{0}"),
    ("ESC", "ubuntu\u{1b}]0;owned\u{7}"),
    ("DEL", "ubuntu\u{7f}"),
    ("NEL", "ubuntu\u{85}"),
    ("LINE SEPARATOR", "ubuntu\u{2028}"),
];

async fn assert_refused(app: &TestApp, what: &str, request: reqwest::RequestBuilder) {
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), 400, "{what}");
    let body = response.text().await.expect("body");
    assert!(
        body.starts_with(&format!(
            "{IMAGE}: expected text without control characters"
        )),
        "{what}: {body:?}"
    );
    // Every value is `ubuntu` and then the character.
    assert!(body.contains(" at character 7"), "{what}: {body}");
    assert!(
        !body.contains(['\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}']),
        "{what}: {body:?}"
    );
    assert!(app.listing().await.is_empty(), "{what}: nothing is stored");
}

#[tokio::test]
async fn a_control_character_in_a_json_string_is_refused_naming_the_attribute() {
    let app = spawn_app().await;
    for (what, value) in REFUSED {
        let body = serde_json::json!({
            "kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
            "attributes": {
                "icclab.disco.dependencies.inject": "['spark']",
                IMAGE: value,
            },
        });
        let request = app
            .client
            .post(app.url("/disco/"))
            .header("Content-Type", "application/occi+json")
            .body(body.to_string());
        assert_refused(&app, what, request).await;
    }
}

#[tokio::test]
async fn a_control_character_in_a_text_plain_body_is_refused_naming_the_attribute() {
    let app = spawn_app().await;
    for (what, value) in REFUSED {
        let request = app
            .client
            .post(app.url("/disco/"))
            .header("Content-Type", "text/plain")
            .body(format!(
                "Category: {CATEGORY}\nX-OCCI-Attribute: {INJECT}\nX-OCCI-Attribute: {IMAGE}=\"{value}\"\n"
            ));
        assert_refused(&app, what, request).await;
    }
}

#[tokio::test]
async fn a_control_character_in_a_text_occi_header_is_refused_naming_the_attribute() {
    let app = spawn_app().await;
    // A header cannot carry NUL, ESC or DEL, but it can carry NEL and the separators as
    // UTF-8, and the grammar's escapes make a newline, a return and a tab.
    for (what, value) in [
        ("NEL", "ubuntu\u{85}"),
        ("LINE SEPARATOR", "ubuntu\u{2028}"),
        ("PARAGRAPH SEPARATOR", "ubuntu\u{2029}"),
        ("newline escape", "ubuntu\\n2026-01-01 ERROR"),
        ("tab escape", "ubuntu\\t"),
    ] {
        let header = format!("{INJECT},{IMAGE}=\"{value}\"");
        let request = app
            .client
            .post(app.url("/disco/"))
            .header("Category", CATEGORY)
            .header(
                "X-OCCI-Attribute",
                HeaderValue::from_bytes(header.as_bytes()).expect("a header value"),
            );
        assert_refused(&app, what, request).await;
    }
}

#[tokio::test]
async fn printable_unicode_is_still_accepted_and_renders_in_every_rendering() {
    let app = spawn_app().await;
    let value = "ubuntu-22.04 \u{e9}\u{3000}\u{1f600}";
    let body = serde_json::json!({
        "kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
        "attributes": {"icclab.disco.dependencies.inject": "['spark']", IMAGE: value},
    });
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Content-Type", "application/occi+json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let location = crate::helpers::location(response.headers());
    assert_eq!(
        app.attribute(&location, IMAGE).await.as_deref(),
        Some(value)
    );
    let occi = app
        .client
        .get(&location)
        .header("Accept", "text/occi")
        .send()
        .await
        .expect("sent");
    assert_eq!(occi.status(), 200);
}
