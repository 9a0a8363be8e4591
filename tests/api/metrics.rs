//! `GET /metrics`: Prometheus' text format, requests by route pattern, clusters by state
//! and provider, queued jobs, deploy and stage durations; open to scrapers by any Host.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const INJECT: &str = "icclab.disco.dependencies.inject=\"['dask']\"";

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("body")
}

/// The value of the sample `series` (its name and labels, as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a number"))
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_status_never_by_path() {
    let app = spawn_app().await;
    let location = app.create_ok(INJECT).await;
    for _ in 0..3 {
        app.attributes(&location).await.expect("shown");
    }
    let missing = app
        .client
        .get(app.url(&format!("/disco/{}", uuid::Uuid::new_v4())))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), 404);
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            "disco_http_requests_total{method=\"GET\",route=\"/disco/{id}\",status=\"200\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "disco_http_requests_total{method=\"GET\",route=\"/disco/{id}\",status=\"404\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "disco_http_requests_total{method=\"POST\",route=\"/disco/\",status=\"201\"}"
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "disco_http_request_duration_seconds_count{method=\"GET\",route=\"/disco/{id}\"}"
        )
        .is_some_and(|n| n >= 4.0),
        "{text}"
    );
    let id = location.rsplit('/').next().expect("id");
    assert!(!text.contains(id), "no cluster id in a label");
}

#[tokio::test]
async fn clusters_by_state_and_provider_and_queued_jobs_by_kind_are_read_at_scrape() {
    // No worker: the deploy jobs stay queued.
    let app = spawn_app_with(|settings| settings.jobs.enabled = false).await;
    app.create_ok(INJECT).await;
    app.create_ok(INJECT).await;
    app.create_ok(&format!("{INJECT},icclab.disco.stage=true"))
        .await;
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, "disco_clusters{provider=\"file\",state=\"pending\"}"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "disco_jobs_queued{kind=\"deploy\"}"),
        Some(2.0),
        "the staged cluster has none: {text}"
    );

    app.lifecycle.run_pending_jobs().await.expect("ran");
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, "disco_clusters{provider=\"file\",state=\"ready\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "disco_clusters{provider=\"file\",state=\"pending\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "disco_jobs_queued{kind=\"deploy\"}"),
        None,
        "none queued, none shown"
    );
    assert_eq!(
        sample(
            &text,
            "disco_deploy_duration_seconds_count{outcome=\"ready\",provider=\"file\"}"
        ),
        Some(2.0),
        "{text}"
    );
    // Each deploy observed once, however often it is scraped.
    let again = scrape(&app).await;
    assert_eq!(
        sample(
            &again,
            "disco_deploy_duration_seconds_count{outcome=\"ready\",provider=\"file\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&again, "disco_jobs_running{kind=\"deploy\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&again, "disco_job_lease_takeovers_total"), Some(0.0));
}

#[tokio::test]
async fn metrics_answer_without_credentials_and_whatever_the_host() {
    let app = spawn_app().await;
    let scraped = app
        .client
        .get(app.url("/metrics"))
        .header("Host", "scraper-knows-me-as.internal")
        .send()
        .await
        .expect("sent");
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .expect("body")
            .contains("# TYPE disco_job_lease_takeovers_total counter")
    );
    let listing = app
        .client
        .get(app.url("/disco/"))
        .header("Host", "scraper-knows-me-as.internal")
        .send()
        .await
        .expect("sent");
    assert_eq!(listing.status(), 421, "other routes still check the Host");
}

#[tokio::test]
async fn each_finished_step_of_a_deploy_is_observed_once_by_provider_component_and_phase() {
    use disco::domain::ClusterState;
    use disco::domain::state::Mover;

    // No worker: the test moves the cluster as a deploy would, and its node reports.
    let app = spawn_app_with(|settings| settings.jobs.enabled = false).await;
    let location = app.create_ok(INJECT).await;
    let id: disco::domain::ClusterId = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("id");
    for to in [ClusterState::Deploying, ClusterState::Installing] {
        assert!(
            app.store
                .transition(id, Mover::Deploy, to, "", None)
                .await
                .expect("moved")
        );
    }
    let token = app.store.report_token(id).await.expect("token");
    for status in ["executing", "succeeded"] {
        let response = app
            .client
            .post(format!("{location}/report"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({"stage": "dask install", "node": "master", "status": status}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 204);
    }
    let before = scrape(&app).await;
    assert!(
        !before.contains("disco_stage_duration_seconds_count"),
        "nothing ended yet"
    );
    assert!(
        app.store
            .transition(id, Mover::Deploy, ClusterState::Ready, "up", None)
            .await
            .expect("ready")
    );
    for _ in 0..2 {
        let text = scrape(&app).await;
        assert_eq!(
            sample(
                &text,
                "disco_stage_duration_seconds_count{component=\"dask\",phase=\"install\",provider=\"file\"}"
            ),
            Some(1.0),
            "{text}"
        );
        assert!(
            text.contains("disco_stage_duration_seconds_count{component=\"nodes\""),
            "creating the nodes: {text}"
        );
        assert_eq!(
            sample(
                &text,
                "disco_deploy_duration_seconds_count{outcome=\"ready\",provider=\"file\"}"
            ),
            Some(1.0)
        );
    }
}
