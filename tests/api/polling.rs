//! A cluster polled again and again (what `curl` loops and the seed's scripts do) is
//! answered from what the server last rendered while nothing was written since: each
//! answer must still be the cluster as it is now, in the rendering asked for, and its
//! owner's only.

use crate::helpers::{location, spawn_app};

/// The status, the `Content-Type`, the X-OCCI-Attribute headers and the body.
async fn get(
    app: &crate::helpers::TestApp,
    url: &str,
    accept: &str,
    tenant: &str,
) -> (u16, String, Vec<String>, String) {
    let response = app
        .client
        .get(url)
        .header("Accept", accept)
        .header("X-Tenant-Name", tenant)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let headers = response.headers();
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let attributes = headers
        .get_all("x-occi-attribute")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    (
        status,
        kind,
        attributes,
        response.text().await.expect("body"),
    )
}

#[tokio::test]
async fn a_polled_cluster_shows_each_change_in_each_rendering_to_its_owner_only() {
    let app = spawn_app().await;
    let created = app
        .create_as(
            "icclab.disco.dependencies.inject=\"['dask']\"",
            Some("physics"),
        )
        .await;
    assert_eq!(created.status(), 201);
    let url = location(created.headers());
    // Polled until ready: every write of the deploy shows in the next GET.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, _, _, text) = get(&app, &url, "text/plain", "physics").await;
        assert_eq!(status, 200, "{text}");
        if text.contains("icclab.disco.state=\"ready\"") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Asked again with nothing written: the same answer, each rendering its own.
    let plain = get(&app, &url, "text/plain", "physics").await;
    assert_eq!(get(&app, &url, "text/plain", "physics").await, plain);
    assert!(plain.1.starts_with("text/plain"), "{plain:?}");
    assert!(
        plain.2.is_empty(),
        "text/plain has its attributes in the body"
    );
    let (status, kind, _, json) = get(&app, &url, "application/occi+json", "physics").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/json"), "{kind}");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(parsed["attributes"]["icclab.disco.state"], "ready");
    let (status, kind, attributes, _) = get(&app, &url, "text/occi", "physics").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/occi"), "{kind}");
    assert!(
        attributes
            .iter()
            .any(|a| a.contains("icclab.disco.state=\"ready\"")),
        "text/occi has its attributes in headers: {attributes:?}"
    );
    // Another tenant is not its owner, whatever was answered before.
    for _ in 0..2 {
        assert_eq!(get(&app, &url, "text/plain", "biology").await.0, 404);
    }
    assert_eq!(get(&app, &url, "text/plain", "physics").await, plain);
    // A change shows at once.
    let deleted = app
        .client
        .delete(&url)
        .header("X-Tenant-Name", "physics")
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    let (status, _, _, text) = get(&app, &url, "text/plain", "physics").await;
    assert!(
        status == 404 || text.contains("icclab.disco.state=\"deleting\""),
        "{status} {text}"
    );
}
