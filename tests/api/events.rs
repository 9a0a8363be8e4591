//! Event streams wake on the store's signals: a report or a state change reaches the
//! client as soon as it is committed, with no polling in between; streams are capped
//! per tenant, and a client that goes away takes its stream with it. A followed stream
//! (`?follow=true`) goes on until the cluster is deleted, with each change of health.

use std::time::{Duration, Instant};

use disco::domain::{Health, HealthStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Faster than any polling stream could be: the stream this replaces looked every
/// 300 ms, so a change just after a look waited most of that.
const PROMPTLY: Duration = Duration::from_millis(150);
/// The per-tenant cap on event streams (`server.max_event_streams_per_tenant`) the cap
/// test sets.
const PER_TENANT: usize = 5;

const STAGED: &str = "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=\"true\"";

/// An open event stream, read event by event.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, location: &str, tenant: Option<&str>) -> reqwest::Response {
        let mut request = app.client.get(format!("{location}/events"));
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Name", tenant);
        }
        request.send().await.expect("sent")
    }

    async fn of(app: &TestApp, location: &str) -> Events {
        let response = Events::open(app, location, None).await;
        Events::read(response)
    }

    /// The stream that goes on until the cluster is deleted.
    async fn following(app: &TestApp, location: &str) -> Events {
        let response = app
            .client
            .get(format!("{location}/events?follow=true"))
            .send()
            .await
            .expect("sent");
        Events::read(response)
    }

    fn read(response: reqwest::Response) -> Events {
        assert_eq!(response.status(), 200);
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, `(name, data)`, skipping comments; `None` at the stream's end.
    /// Panics if none comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_string());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if let Some(name) = name {
                    return Some((name, data));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .expect("an event in time")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }

    /// Reads until an event named `name`; its data, and how long it took. Panics if the
    /// stream ends first, or says it does (`end`).
    async fn until(&mut self, name: &str, wait: Duration) -> (String, Duration) {
        let (data, took, _) = self.noting_until(name, wait).await;
        (data, took)
    }

    /// As `until`, with the names of the events read on the way.
    async fn noting_until(
        &mut self,
        name: &str,
        wait: Duration,
    ) -> (String, Duration, Vec<String>) {
        let started = Instant::now();
        let mut passed = Vec::new();
        loop {
            let left = wait.saturating_sub(started.elapsed());
            match self.next(left).await {
                Some((n, data)) if n == name => return (data, started.elapsed(), passed),
                Some((n, data)) if n == "end" => {
                    panic!("the stream ended ({data}) before a {name} event")
                }
                Some((n, _)) => passed.push(n),
                None => panic!("the stream ended before a {name} event"),
            }
        }
    }
}

async fn staged(app: &TestApp) -> (String, disco::domain::ClusterId) {
    let location = app.create_ok(STAGED).await;
    let id = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("id");
    (location, id)
}

#[tokio::test]
async fn a_stream_sends_a_report_as_soon_as_it_is_stored() {
    let app = spawn_app().await;
    let (location, id) = staged(&app).await;
    // The file provider runs no nodes to hand the token to; it is the cluster's all
    // the same.
    let token = app.store.report_token(id).await.expect("token");
    let mut events = Events::of(&app, &location).await;
    events.until("tasks", Duration::from_secs(5)).await;

    for (round, status) in ["executing", "succeeded", "executing"].iter().enumerate() {
        // Past the look that followed the last event: a polling stream now sleeps.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stage = format!("stage {round}");
        let response = app
            .client
            .post(format!("{location}/report"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({"stage": stage, "node": "master", "status": status}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 204);
        let (data, took) = events.until("report", Duration::from_secs(1)).await;
        assert!(data.contains(&format!("\"stage\":\"{stage}\"")), "{data}");
        assert!(
            took < PROMPTLY,
            "round {round}: the report came after {took:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_sends_a_state_change_as_soon_as_it_is_committed_and_ends_with_the_cluster() {
    // No worker: the delete waits in `deleting` until the test runs it.
    let app = spawn_app_with(|settings| settings.jobs.enabled = false).await;
    let (location, _) = staged(&app).await;
    let mut events = Events::of(&app, &location).await;
    let (data, _) = events.until("state", Duration::from_secs(5)).await;
    assert!(data.contains("\"state\":\"pending\""), "{data}");
    events.until("tasks", Duration::from_secs(5)).await;

    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let (data, took) = events.until("state", Duration::from_secs(1)).await;
    assert!(data.contains("\"state\":\"deleting\""), "{data}");
    assert!(took < PROMPTLY, "the state came after {took:?}");
    assert_eq!(app.store.notifier().waiting(), 1);

    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.lifecycle.run_pending_jobs().await.expect("jobs run"), 1);
    let (data, took) = events.until("end", Duration::from_secs(1)).await;
    assert_eq!(data, r#"{"state":"deleted"}"#);
    assert!(took < PROMPTLY, "the end came after {took:?}");
    assert_eq!(events.next(Duration::from_secs(5)).await, None);
    assert_eq!(
        app.store.notifier().waiting(),
        0,
        "an ended stream waits no more"
    );
}

#[tokio::test]
async fn streams_beyond_a_tenants_cap_are_refused_with_503_and_retry_after() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.server.max_event_streams_per_tenant = PER_TENANT;
    })
    .await;
    let response = app.create_as(STAGED, Some("busy")).await;
    assert_eq!(response.status(), 201);
    let busy = crate::helpers::location(response.headers());

    let mut open = Vec::new();
    for _ in 0..PER_TENANT {
        let stream = Events::open(&app, &busy, Some("busy")).await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let refused = Events::open(&app, &busy, Some("busy")).await;
    assert_eq!(refused.status(), 503);
    let retry = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|secs| secs > 0),
        "{:?}",
        refused.headers()
    );
    let reason = refused.text().await.expect("text");
    assert!(reason.contains("event streams"), "{reason}");

    let (other, _) = staged(&app).await;
    let elsewhere = Events::open(&app, &other, None).await;
    assert_eq!(elsewhere.status(), 200, "another tenant is not held up");

    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = Events::open(&app, &busy, Some("busy")).await;
        if again.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a closed stream's place stayed taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_whose_client_went_away_is_dropped_at_once() {
    let app = spawn_app().await;
    let (location, _) = staged(&app).await;
    let path = location.trim_start_matches(&app.address);
    let mut socket = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected");
    socket
        .write_all(
            format!(
                "GET {path}/events HTTP/1.1\r\nHost: {}\r\n\r\n",
                app.address.trim_start_matches("http://")
            )
            .as_bytes(),
        )
        .await
        .expect("sent");
    let mut head = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut head))
        .await
        .expect("an answer")
        .expect("read");
    let head = String::from_utf8_lossy(&head[..read]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(app.store.notifier().waiting(), 1);

    drop(socket);
    // Well before the stream's next keepalive (15 s), which would find it gone too.
    let deadline = Instant::now() + Duration::from_secs(2);
    while app.store.notifier().waiting() > 0 {
        assert!(Instant::now() < deadline, "the stream outlived its client");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A health as the watcher stores it, checked `secs` after a fixed time.
fn health(status: HealthStatus, reason: &str, secs: i64) -> Health {
    Health {
        status,
        reason: reason.to_string(),
        checked: chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("time"),
        checks: Vec::new(),
        failing_rounds: 0,
        last_heard: None,
    }
}

fn json(data: &str) -> serde_json::Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{data}: {e}"))
}

#[tokio::test]
async fn a_followed_stream_goes_on_past_ready_with_each_change_of_health_until_the_delete() {
    // One watcher round, at start-up with no cluster: the test sets the health itself
    // (the file provider runs no checks).
    let app = spawn_app_with(|settings| settings.jobs.watch_interval_secs = 3600).await;
    let location = app
        .create_ok("icclab.disco.dependencies.inject=\"['spark']\"")
        .await;
    let id: disco::domain::ClusterId = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("id");
    app.wait_for(&location, Some("ready")).await;
    let refused = app
        .client
        .get(format!("{location}/events?follow=yes"))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let reason = refused.text().await.expect("text");
    assert!(
        reason.contains("follow: expected true or false, got \"yes\""),
        "{reason}"
    );

    let mut events = Events::following(&app, &location).await;
    let (data, _) = events.until("state", Duration::from_secs(5)).await;
    assert_eq!(json(&data)["state"], "ready");
    // Ready, and not checked yet: no health, and no end.
    let (_, _, passed) = events.noting_until("tasks", Duration::from_secs(5)).await;
    assert!(!passed.contains(&"health".to_string()), "{passed:?}");

    tokio::time::sleep(Duration::from_millis(20)).await;
    let healthy = "2 checks pass on every node";
    assert!(
        app.store
            .set_health(id, health(HealthStatus::Healthy, healthy, 0))
            .await
            .expect("stored")
    );
    // Sent when stored, well before the fallback look (30 s on).
    let (data, _) = events.until("health", Duration::from_secs(10)).await;
    assert_eq!(
        json(&data),
        serde_json::json!({"status": "healthy", "reason": healthy, "checked": "2027-01-15T08:00:00Z"})
    );

    // Checked again and found the same: nothing to say, even when the stream looks (a
    // report makes it look).
    app.store
        .set_health(id, health(HealthStatus::Healthy, healthy, 30))
        .await
        .expect("stored");
    let token = app.store.report_token(id).await.expect("token");
    let response = app
        .client
        .post(format!("{location}/report"))
        .header("Authorization", format!("Bearer {token}"))
        .json(&serde_json::json!({"stage": "look", "node": "master", "status": "succeeded"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 204);
    let (_, _, passed) = events.noting_until("report", Duration::from_secs(10)).await;
    assert!(!passed.contains(&"health".to_string()), "{passed:?}");

    let degraded = "spark on slaves:1: process spark-worker failing since 08:01:00";
    app.store
        .set_health(id, health(HealthStatus::Degraded, degraded, 60))
        .await
        .expect("stored");
    // Sent when stored, well before the fallback look (30 s on).
    let (data, _) = events.until("health", Duration::from_secs(10)).await;
    assert_eq!(
        json(&data),
        serde_json::json!({"status": "degraded", "reason": degraded, "checked": "2027-01-15T08:01:00Z"})
    );

    // A stream that does not follow says the health too, and ends with the task.
    let mut plain = Events::of(&app, &location).await;
    let (data, _, passed) = plain.noting_until("health", Duration::from_secs(5)).await;
    assert_eq!(json(&data)["status"], "degraded");
    assert!(passed.contains(&"state".to_string()), "{passed:?}");
    let (data, _) = plain.until("end", Duration::from_secs(5)).await;
    assert_eq!(data, r#"{"state":"ready"}"#);
    assert_eq!(plain.next(Duration::from_secs(5)).await, None);

    // Stopped: no health to show (null), and the followed stream goes on.
    let response = app
        .client
        .post(format!("{location}?action=stop"))
        .header("Category", crate::helpers::CATEGORY)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let (data, _) = events.until("health", Duration::from_secs(10)).await;
    assert_eq!(data, "null");
    loop {
        let (data, _) = events.until("state", Duration::from_secs(10)).await;
        if json(&data)["state"] == "stopped" {
            break;
        }
    }

    let response = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let (data, _) = events.until("state", Duration::from_secs(5)).await;
    assert_eq!(json(&data)["state"], "deleting", "no end at stopped");
    let (data, _) = events.until("end", Duration::from_secs(30)).await;
    assert_eq!(data, r#"{"state":"deleted"}"#);
    assert_eq!(events.next(Duration::from_secs(5)).await, None);
}
