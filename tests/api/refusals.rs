//! A refusal does not grow with the request that earned it: its body and its log line
//! are bounded however many problems the request had, and what the client wrote reaches
//! neither unescaped, so no client can flood the log or write a line of its own into it.

use std::time::Duration;

use crate::helpers::{CATEGORY, ServerProcess, spawn_app};

/// 30,000 unknown names in one 120 KB `X-OCCI-Attribute` header.
fn unknown_names() -> String {
    vec!["x=1"; 30_000].join(",")
}

const FORGED: &str = "2026-01-01T00:00:00Z ERROR disco: FORGED";

/// A JSON create whose kind and attribute name each carry a line of their own.
fn forged_json(kind_too: bool) -> String {
    let kind = if kind_too {
        format!("http://schemas.cloudcomplab.ch/occi/sm#disco\n{FORGED}")
    } else {
        "http://schemas.cloudcomplab.ch/occi/sm#disco".to_string()
    };
    serde_json::json!({
        "kind": kind,
        "attributes": {
            "icclab.disco.dependencies.inject": "['spark']",
            format!("foo\u{1b}[2J\n{FORGED}"): 1,
        },
    })
    .to_string()
}

#[tokio::test]
async fn thirty_thousand_unknown_names_get_a_short_400_that_counts_them() {
    let app = spawn_app().await;
    let response = app.create(&unknown_names()).await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(body.len() < 4096, "a {} byte answer", body.len());
    assert!(body.contains("(30001 in all"), "{body}");
    assert_eq!(body.matches("x: unknown attribute").count(), 10, "{body}");
    assert!(app.listing().await.is_empty());
}

#[tokio::test]
async fn a_json_name_or_kind_with_a_newline_is_refused_with_it_escaped() {
    let app = spawn_app().await;
    for (what, body, expected) in [
        (
            "name",
            forged_json(false),
            format!(r#"attributes: "foo\u{{1b}}[2J\n{FORGED}" is not an attribute name"#),
        ),
        (
            "kind",
            forged_json(true),
            "kind: expected scheme#term".to_string(),
        ),
    ] {
        let response = app
            .client
            .post(app.url("/disco/"))
            .header("Content-Type", "application/occi+json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{what}");
        let text = response.text().await.expect("body");
        assert!(text.contains(&expected), "{what}: {text}");
        assert_eq!(text.lines().count(), 1, "{what}: {text:?}");
    }
    assert!(app.listing().await.is_empty());
}

#[tokio::test]
async fn a_refused_request_is_logged_once_on_one_bounded_line() {
    let dir = tempfile::tempdir().expect("dir");
    let server = ServerProcess::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let size = || std::fs::metadata(&server.log).map_or(0, |m| m.len());
    // Wait for the start-up lines to be written before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before = size();
    let response = client
        .post(server.url("/disco/"))
        .header("Category", CATEGORY)
        .header("X-OCCI-Attribute", unknown_names())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert!(server.logs_soon("x: unknown attribute").await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logged = size() - before;
    assert!(logged < 4096, "one refusal wrote {logged} bytes of log");
    assert_eq!(
        server.log_text().matches("x: unknown attribute").count(),
        10,
        "the reason is logged once"
    );

    for kind_too in [false, true] {
        let response = client
            .post(server.url("/disco/"))
            .header("Content-Type", "application/occi+json")
            .body(forged_json(kind_too))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400);
    }
    // A text/plain body reaches the grammar's error with its control characters.
    let response = client
        .post(server.url("/disco/"))
        .header("Content-Type", "text/plain")
        .body(format!(
            "Category: {CATEGORY}\nX-OCCI-Attribute: a=\u{1b}[2J\u{85}{FORGED}\nX-OCCI-Attribute: b=1"
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = server.log_text();
    assert!(
        !log.lines().any(|line| line.starts_with("2026-01-01")),
        "a client wrote a line of the log:\n{log}"
    );
    assert!(!log.contains(['\u{1b}', '\u{85}']), "{log}");
}
