//! Lifetimes: `icclab.disco.max_age`, `.expire_at` and `.on_expiry`, set at create or in
//! a partial update, within the operator's default and ceiling; a cluster whose time
//! came is deleted or stopped with why, and a restart of the service neither loses nor
//! resets its time.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use disco::domain::Span;

use crate::helpers::{
    CATEGORY, ServerProcess, TestApp, location, plain_attributes, spawn_app_with,
};
use crate::local::{
    KillOnDrop, delete_and_check_nothing_left, local_dir, spawn_local_app_with, value, wait_ready,
    wait_state,
};

fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn watched_app() -> TestApp {
    spawn_app_with(|s| {
        s.jobs.watch_interval_secs = 1;
        s.jobs.default_max_age = None;
    })
    .await
}

async fn attributes_of(app: &TestApp, location: &str) -> Option<Vec<(String, String)>> {
    app.attributes(location).await
}

/// A partial update of the cluster at `location`: the status and the body.
async fn update(app: &TestApp, location: &str, attributes: &str) -> (u16, String) {
    let response = app
        .client
        .post(location)
        .header("Category", CATEGORY)
        .header("Content-Type", "text/occi")
        .header("X-OCCI-Attribute", attributes)
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_cluster_whose_expire_at_came_is_warned_then_deleted() {
    let app = watched_app().await;
    let at = in_secs(4);
    let location = app
        .create_ok(&format!(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.expire_at=\"{at}\""
        ))
        .await;
    let shown = attributes_of(&app, &location).await.expect("cluster");
    assert_eq!(value(&shown, "icclab.disco.expire_at"), at);
    assert_eq!(value(&shown, "icclab.disco.expires_at"), at);
    assert_eq!(
        value(&shown, "icclab.disco.on_expiry"),
        "delete",
        "the owner's default"
    );
    assert_eq!(
        value(&shown, "icclab.disco.expires_because"),
        format!("its expire_at {at} was reached: it is then deleted")
    );
    // Within the warning (an hour by default), the reason says when and what.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = attributes_of(&app, &location).await.expect("cluster");
        let reason = value(&shown, "icclab.disco.state_reason");
        if reason.contains(&format!("; expires at {at} and is then deleted")) {
            break;
        }
        assert!(Instant::now() < deadline, "never warned: {reason}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while attributes_of(&app, &location).await.is_some() {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_lifetime_is_extended_by_a_partial_update_and_bad_values_change_nothing() {
    let app = watched_app().await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.max_age=\"1h\"")
        .await;
    let shown = attributes_of(&app, &location).await.expect("cluster");
    let created: chrono::DateTime<Utc> =
        value(&shown, "icclab.disco.created").parse().expect("time");
    let expires = |shown: &[(String, String)]| -> chrono::DateTime<Utc> {
        value(shown, "icclab.disco.expires_at")
            .parse()
            .expect("time")
    };
    assert_eq!(expires(&shown), created + chrono::Duration::hours(1));

    let (status, body) = update(&app, &location, "icclab.disco.max_age=\"8h\"").await;
    assert_eq!(status, 200, "{body}");
    let shown = plain_attributes(&body);
    assert_eq!(value(&shown, "icclab.disco.max_age"), "8h");
    assert_eq!(expires(&shown), created + chrono::Duration::hours(8));
    assert!(
        value(&shown, "icclab.disco.expires_because").starts_with("its max_age of 8h was reached"),
        "{shown:?}"
    );
    // An earlier expire_at wins; stop instead of delete.
    let at = in_secs(7200);
    let (status, body) = update(
        &app,
        &location,
        &format!("icclab.disco.expire_at=\"{at}\",icclab.disco.on_expiry=\"stop\""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let shown = plain_attributes(&body);
    assert_eq!(value(&shown, "icclab.disco.expires_at"), at);
    assert!(value(&shown, "icclab.disco.expires_because").ends_with("it is then stopped"));

    for (attributes, names) in [
        (
            "icclab.disco.max_age=\"-5m\"",
            "icclab.disco.max_age: expected a duration",
        ),
        (
            "icclab.disco.max_age=\"0s\"",
            "icclab.disco.max_age: expected a duration longer than 0",
        ),
        (
            "icclab.disco.expire_at=\"2020-01-01T00:00:00Z\"",
            "icclab.disco.expire_at: expected a time in the future",
        ),
        (
            "icclab.disco.expire_at=\"next week\"",
            "icclab.disco.expire_at: expected an RFC 3339 time",
        ),
        (
            "icclab.disco.on_expiry=\"explode\"",
            "icclab.disco.on_expiry: expected delete or stop",
        ),
        (
            "icclab.disco.max_age=\"2h\",icclab.disco.components.heat.slavecount=3",
            "icclab.disco.max_age: only icclab.disco.components.heat.slavecount changes in a scale",
        ),
    ] {
        let (status, body) = update(&app, &location, attributes).await;
        assert_eq!(status, 400, "{attributes}: {body}");
        assert!(body.contains(names), "{attributes}: {body}");
    }
    let after = attributes_of(&app, &location).await.expect("cluster");
    assert_eq!(
        value(&after, "icclab.disco.expires_at"),
        at,
        "nothing changed"
    );
    assert_eq!(value(&after, "icclab.disco.on_expiry"), "stop");

    // At create, the same refusals, naming the attribute.
    let response = app
        .create("icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.expire_at=\"2020-01-01T00:00:00Z\"")
        .await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("icclab.disco.expire_at: expected a time in the future"),
        "{body}"
    );
}

#[tokio::test]
async fn the_operators_default_max_age_and_ceiling_hold() {
    let app = spawn_app_with(|s| {
        s.jobs.default_max_age = Some(Span::parse("3d").expect("span"));
        s.jobs.longest_max_age = Some(Span::parse("5d").expect("span"));
    })
    .await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    let shown = attributes_of(&app, &location).await.expect("cluster");
    assert_eq!(value(&shown, "icclab.disco.max_age"), "3d");
    assert_eq!(
        value(&shown, "icclab.disco.on_expiry"),
        "stop",
        "the operator's default"
    );
    let (status, body) = update(&app, &location, "icclab.disco.max_age=\"none\"").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        value(&plain_attributes(&body), "icclab.disco.max_age"),
        "5d",
        "the ceiling"
    );
    let (status, body) = update(&app, &location, "icclab.disco.max_age=\"6d\"").await;
    assert_eq!(status, 400);
    assert!(
        body.contains(
            "icclab.disco.max_age: expected at most 5d (the longest this service allows), got 6d"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn an_expiry_due_while_the_service_was_down_happens_after_its_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let env = [
        ("DISCO_JOBS__WATCH_INTERVAL_SECS", "1"),
        ("DISCO_JOBS__DEFAULT_MAX_AGE", ""),
    ];
    let mut first = ServerProcess::start(dir.path(), &env);
    let client = reqwest::Client::new();
    let at = in_secs(3);
    let response = client
        .post(first.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            format!(
                "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.expire_at=\"{at}\""
            ),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let url = location(response.headers());
    first.kill();
    // Down through the expiry.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = ServerProcess::start(dir.path(), &env);
    let url = url.replace(&first.address, &second.address);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.get(&url).send().await.expect("sent").status();
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the expired cluster was not deleted after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_local_cluster_expiring_with_on_expiry_stop_is_stopped_with_why() {
    let app = spawn_local_app_with(|s| s.jobs.watch_interval_secs = 1).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    let at = in_secs(3);
    let (status, body) = update(
        &app,
        &location,
        &format!("icclab.disco.expire_at=\"{at}\",icclab.disco.on_expiry=\"stop\""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stopped = wait_state(&app.client, &location, "stopped").await;
    let reason = value(&stopped, "icclab.disco.state_reason");
    assert_eq!(
        reason,
        format!(
            "stopped (expired, its expire_at {at} was reached): nothing runs; its addresses, \
             keys and data are kept until it starts again"
        )
    );
    let id = crate::local::cluster_id(&location);
    assert!(
        disco::providers::local::process::processes_of(&id, None).is_empty(),
        "nothing of it runs"
    );
    // Stopped, it is not acted on again; its owner extends it and starts it.
    let (status, body) = update(&app, &location, "icclab.disco.expire_at=\"none\"").await;
    assert_eq!(status, 200, "{body}");
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}
