//! `GET /disco/` at any size: pages (`?limit=N&marker=UUID`, a `Link` to the next),
//! every rendering streamed, bad parameters refused by name.

use reqwest::header::HeaderMap;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const STAGED: &str = "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.stage=true";

/// Creates `n` staged clusters (no job runs), their locations in creation order.
async fn staged(app: &TestApp, n: usize) -> Vec<String> {
    let mut locations = Vec::new();
    for _ in 0..n {
        locations.push(app.create_ok(STAGED).await);
    }
    locations
}

async fn get(app: &TestApp, url: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(url)
        .header("Accept", accept)
        .send()
        .await
        .expect("sent")
}

/// The `rel="next"` target of a Link header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().expect("ascii");
    let (target, rel) = link.split_once(';').expect("a target and a rel");
    assert_eq!(rel.trim(), "rel=\"next\"", "{link}");
    Some(
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string(),
    )
}

fn lines(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn id_of(location: &str) -> &str {
    location.rsplit('/').next().expect("an id")
}

#[tokio::test]
async fn following_next_links_pages_through_every_cluster_in_creation_order() {
    let app = spawn_app().await;
    let created = staged(&app, 5).await;

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut url = Some(app.url("/disco/?limit=2"));
    while let Some(next) = url {
        let response = get(&app, &next, "text/uri-list").await;
        assert_eq!(response.status(), 200);
        url = next_link(response.headers());
        let page = lines(&response.text().await.expect("body"));
        assert!(page.len() <= 2, "a page of at most the limit: {page:?}");
        if let Some(url) = &url {
            assert!(url.contains("limit=2"), "{url}");
            let last = page.last().expect("a page before a next link");
            assert!(url.ends_with(&format!("marker={}", id_of(last))), "{url}");
        }
        seen.extend(page);
        pages += 1;
    }
    assert_eq!(pages, 3, "2 + 2 + 1");
    assert_eq!(seen, created, "each once, oldest first");
    assert_eq!(app.listing().await, created, "without a limit, all of them");
}

#[tokio::test]
async fn a_page_that_ends_the_listing_has_no_next_link() {
    let app = spawn_app().await;
    let created = staged(&app, 2).await;
    let response = get(&app, &app.url("/disco/?limit=2"), "text/uri-list").await;
    assert_eq!(next_link(response.headers()), None);
    assert_eq!(lines(&response.text().await.expect("body")), created);
    let all = get(&app, &app.url("/disco/"), "text/uri-list").await;
    assert_eq!(next_link(all.headers()), None, "no limit, no pages");
}

#[tokio::test]
async fn every_rendering_shows_the_same_page_and_next_link() {
    let app = spawn_app().await;
    let created = staged(&app, 3).await;
    let url = app.url(&format!("/disco/?limit=1&marker={}", id_of(&created[0])));
    let expected_next = app.url(&format!("/disco/?limit=1&marker={}", id_of(&created[1])));

    let json = get(&app, &url, "application/occi+json").await;
    assert_eq!(json.status(), 200);
    assert_eq!(next_link(json.headers()), Some(expected_next.clone()));
    let body: serde_json::Value = json.json().await.expect("json");
    let resources = body["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0]["location"], created[1].as_str());
    assert!(
        resources[0]["attributes"].get("ssh_private_key").is_none(),
        "never a private key in a listing"
    );
    assert_eq!(body["links"][0]["rel"], "next");
    assert_eq!(body["links"][0]["href"], expected_next.as_str());

    let plain = get(&app, &url, "text/plain").await;
    assert_eq!(next_link(plain.headers()), Some(expected_next.clone()));
    assert_eq!(
        plain.text().await.expect("body"),
        format!("X-OCCI-Location: {}\n", created[1])
    );

    let occi = get(&app, &url, "text/occi").await;
    assert_eq!(next_link(occi.headers()), Some(expected_next));
    assert_eq!(
        occi.headers()
            .get("x-occi-location")
            .expect("locations")
            .to_str()
            .expect("ascii"),
        created[1]
    );
}

#[tokio::test]
async fn an_unpaged_listing_larger_than_a_store_chunk_streams_whole_in_every_rendering() {
    let app = spawn_app().await;
    // More than the 100 clusters (and the 200 ids) the store reads at a time.
    let created = staged(&app, 230).await;

    let json = get(&app, &app.url("/disco/"), "application/occi+json").await;
    assert_eq!(json.status(), 200);
    assert!(
        json.headers().get("content-length").is_none(),
        "streamed, not built whole"
    );
    let body: serde_json::Value = json.json().await.expect("one JSON document");
    let locations: Vec<&str> = body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r["location"].as_str().expect("location"))
        .collect();
    assert_eq!(locations, created);
    assert!(body.get("links").is_none(), "no next page");

    let plain = get(&app, &app.url("/disco/"), "text/plain").await;
    let plain = lines(&plain.text().await.expect("body"));
    assert_eq!(plain.len(), 230);
    assert_eq!(plain[229], format!("X-OCCI-Location: {}", created[229]));

    let occi = get(&app, &app.url("/disco/"), "text/occi").await;
    let header = occi
        .headers()
        .get("x-occi-location")
        .expect("locations")
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(header.split(", ").collect::<Vec<_>>(), created);

    let page = get(&app, &app.url("/disco/?limit=150"), "application/occi+json").await;
    let body: serde_json::Value = page.json().await.expect("json");
    assert_eq!(body["resources"].as_array().expect("resources").len(), 150);
}

#[tokio::test]
async fn a_bad_limit_or_marker_is_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    staged(&app, 1).await;
    for (query, named) in [
        ("limit=0", "limit:"),
        ("limit=-3", "limit:"),
        ("limit=ten", "limit:"),
        ("limit=10001", "limit:"),
        ("marker=not-a-uuid", "marker:"),
        ("limit=2&marker=123", "marker:"),
    ] {
        let response = get(&app, &app.url(&format!("/disco/?{query}")), "text/plain").await;
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().await.expect("body");
        assert!(body.contains(named), "{query}: {body}");
    }
}

#[tokio::test]
async fn another_tenants_cluster_as_marker_is_refused_as_if_it_did_not_exist() {
    let app = spawn_app().await;
    let theirs = app
        .create_as(STAGED, Some("physics"))
        .await
        .headers()
        .get("location")
        .expect("location")
        .to_str()
        .expect("ascii")
        .to_string();
    staged(&app, 1).await;
    let foreign = get(
        &app,
        &app.url(&format!("/disco/?marker={}", id_of(&theirs))),
        "text/plain",
    )
    .await;
    assert_eq!(foreign.status(), 400);
    let foreign = foreign.text().await.expect("body");
    let made_up_id = uuid::Uuid::new_v4().to_string();
    let made_up = get(
        &app,
        &app.url(&format!("/disco/?marker={made_up_id}")),
        "text/plain",
    )
    .await;
    assert_eq!(made_up.status(), 400);
    let made_up = made_up.text().await.expect("body");
    assert_eq!(
        foreign.replace(id_of(&theirs), "ID"),
        made_up.replace(&made_up_id, "ID"),
        "the same answer: nothing said of the other tenant's cluster"
    );
    assert!(foreign.contains("marker:"), "{foreign}");
}

#[tokio::test]
async fn a_deleted_marker_still_leads_to_the_next_page() {
    let app = spawn_app().await;
    let created = staged(&app, 3).await;
    let deleted = app.client.delete(&created[0]).send().await.expect("sent");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    app.wait_for(&created[0], None).await;
    let response = get(
        &app,
        &app.url(&format!("/disco/?limit=5&marker={}", id_of(&created[0]))),
        "text/uri-list",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(lines(&response.text().await.expect("body")), &created[1..]);
}

#[tokio::test]
async fn the_dashboard_lists_a_page_and_links_the_next() {
    let app = spawn_app().await;
    let created = staged(&app, 3).await;
    let first = get(&app, &app.url("/dashboard?limit=2"), "text/html").await;
    assert_eq!(first.status(), 200);
    // As a browser reads the attribute.
    let html = first
        .text()
        .await
        .expect("html")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&");
    for shown in &created[..2] {
        assert!(html.contains(id_of(shown)), "the first page shows {shown}");
    }
    assert!(!html.contains(id_of(&created[2])), "not the third");
    let next = format!("/dashboard?limit=2&marker={}", id_of(&created[1]));
    assert!(
        html.contains(&format!("href=\"{next}\">Next page")),
        "{html}"
    );

    let second = get(&app, &app.url(&next), "text/html").await;
    let html = second.text().await.expect("html");
    assert!(html.contains(id_of(&created[2])));
    assert!(!html.contains(id_of(&created[0])));
    assert!(!html.contains("Next page"), "the last page");

    let states: serde_json::Value = get(
        &app,
        &app.url(&format!(
            "/dashboard/states?limit=2&marker={}",
            id_of(&created[1])
        )),
        "application/json",
    )
    .await
    .json()
    .await
    .expect("json");
    let ids: Vec<&String> = states.as_object().expect("states").keys().collect();
    assert_eq!(
        ids,
        vec![id_of(&created[2])],
        "the live states of the page shown"
    );
}

#[tokio::test]
async fn disco_ls_with_a_limit_shows_one_page_and_the_command_for_the_next() {
    let app = spawn_app().await;
    let created = staged(&app, 3).await;
    let page = crate::cli::disco(&app, &["ls", "--limit", "2"]).await;
    assert!(page.status.success(), "{page:?}");
    let out = crate::cli::stdout(&page);
    assert!(
        out.contains(id_of(&created[0])) && out.contains(id_of(&created[1])),
        "{out}"
    );
    assert!(!out.contains(id_of(&created[2])), "{out}");
    let hint = String::from_utf8_lossy(&page.stderr).to_string();
    let expected = format!(
        "next page: disco ls --limit 2 --marker {}",
        id_of(&created[1])
    );
    assert!(hint.contains(&expected), "{hint}");

    let last = crate::cli::disco(
        &app,
        &["ls", "--limit", "2", "--marker", id_of(&created[1])],
    )
    .await;
    let out = crate::cli::stdout(&last);
    assert!(
        out.contains(id_of(&created[2])) && !out.contains(id_of(&created[0])),
        "{out}"
    );
    assert!(!String::from_utf8_lossy(&last.stderr).contains("next page"));

    let all = crate::cli::stdout(&crate::cli::disco(&app, &["ls"]).await);
    for location in &created {
        assert!(
            all.contains(id_of(location)),
            "every cluster without a limit: {all}"
        );
    }
}

#[tokio::test]
async fn a_deleted_cluster_is_kept_for_keep_deleted_days_then_purged_and_stays_404() {
    let app = spawn_app_with(|settings| settings.store.keep_deleted_days = 30).await;
    let location = app.create_ok(STAGED).await;
    let id: disco::domain::ClusterId = id_of(&location).parse().expect("id");
    let deleted = app.client.delete(&location).send().await.expect("sent");
    assert!(deleted.status().is_success());
    app.wait_for(&location, None).await;
    let day = chrono::Duration::days(1);

    let now = chrono::Utc::now();
    assert_eq!(
        app.lifecycle
            .purge_deleted_clusters(now + day * 29)
            .await
            .expect("purge"),
        0,
        "29 days after its delete it is kept"
    );
    assert_eq!(
        app.store.state_of(id).await.expect("read"),
        Some(disco::domain::ClusterState::Deleted)
    );
    assert_eq!(
        app.lifecycle
            .purge_deleted_clusters(now + day * 31)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(
        app.store.state_of(id).await.expect("read"),
        None,
        "forgotten"
    );
    let gone = app.client.get(&location).send().await.expect("sent");
    assert_eq!(gone.status(), 404);
    let marker = get(
        &app,
        &app.url(&format!("/disco/?limit=1&marker={}", id_of(&location))),
        "text/plain",
    )
    .await;
    assert_eq!(marker.status(), 400, "a purged cluster is no marker");
}

#[tokio::test]
async fn with_keep_deleted_days_zero_deleted_clusters_are_kept_forever() {
    let app = spawn_app_with(|settings| settings.store.keep_deleted_days = 0).await;
    let location = app.create_ok(STAGED).await;
    let id: disco::domain::ClusterId = id_of(&location).parse().expect("id");
    app.client.delete(&location).send().await.expect("sent");
    app.wait_for(&location, None).await;
    let later = chrono::Utc::now() + chrono::Duration::days(10_000);
    assert_eq!(
        app.lifecycle
            .purge_deleted_clusters(later)
            .await
            .expect("purge"),
        0
    );
    assert_eq!(
        app.store.state_of(id).await.expect("read"),
        Some(disco::domain::ClusterState::Deleted)
    );
}
