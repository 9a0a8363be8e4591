//! What reaches the handlers at all: only the Host names this server is configured to
//! answer to (DNS rebinding), no state change from another origin's page, forwarding
//! headers only from trusted proxies, no caching of what holds a key, and no request
//! that takes forever to arrive.

use std::time::{Duration, Instant};

use disco::config::HostName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{CATEGORY, TestApp, location, spawn_app, spawn_app_with};

const INJECT: &str = "icclab.disco.dependencies.inject=\"['spark']\"";

fn port(app: &TestApp) -> u16 {
    app.address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the address")
}

/// What came back on a connection: the status, the head's lines, the body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

fn answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Sends `request` as it is on a fresh connection and reads until the server closes it.
async fn exchange(app: &TestApp, request: &str) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port(app)))
        .await
        .expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("the server answers and closes")
        .expect("read");
    answer(&bytes)
}

/// `GET path` naming `host` in Host.
async fn get_with_host(app: &TestApp, path: &str, host: &str) -> Answer {
    exchange(
        app,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

fn path_of<'a>(app: &TestApp, location: &'a str) -> &'a str {
    location
        .strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{location} is not under {}", app.address))
}

/// A create as a web page can send it without asking first: a `text/plain` POST.
fn simple_create(app: &TestApp) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/disco/"))
        .header("Content-Type", "text/plain")
        .body(format!(
            "Category: {CATEGORY}\nX-OCCI-Attribute: {INJECT}\n"
        ))
}

#[tokio::test]
async fn a_foreign_host_is_refused_naming_it_and_the_setting() {
    let app = spawn_app().await;
    let cluster = app.create_ok(INJECT).await;
    let path = path_of(&app, &cluster);

    let refused = get_with_host(&app, path, &format!("rebound.example:{}", port(&app))).await;

    assert_eq!(refused.status, 421, "{}", refused.body);
    assert!(refused.body.contains("rebound.example"), "{}", refused.body);
    assert!(
        refused.body.contains("server.allowed_hosts"),
        "{}",
        refused.body
    );
    assert_eq!(
        refused.body.trim_end().lines().count(),
        1,
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("PRIVATE KEY"), "{}", refused.body);
    assert_eq!(
        refused.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // The dashboard is behind the same check.
    let dashboard = get_with_host(&app, "/dashboard", "rebound.example").await;
    assert_eq!(dashboard.status, 421);
}

#[tokio::test]
async fn localhost_the_loopback_addresses_and_configured_names_are_served() {
    let app = spawn_app_with(|settings| {
        settings.server.allowed_hosts = vec![HostName::parse("disco.example").expect("name")];
        settings.server.public_url = Some("http://public.example:9999".parse().expect("url"));
    })
    .await;
    let cluster = app.create_ok(INJECT).await;
    let path = path_of_public(&cluster);
    let port = port(&app);
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "disco.example".to_string(),
        "DISCO.Example:443".to_string(),
        "public.example:9999".to_string(),
    ] {
        let served = get_with_host(&app, path, &host).await;
        assert_eq!(served.status, 200, "Host: {host}: {}", served.body);
        assert!(served.body.contains("PRIVATE KEY"), "Host: {host}");
    }
}

/// With `public_url` set, locations are under it rather than the test's address.
fn path_of_public(location: &str) -> &str {
    location
        .strip_prefix("http://public.example:9999")
        .unwrap_or_else(|| panic!("{location} is not under the public URL"))
}

#[tokio::test]
async fn a_state_change_from_another_origin_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let kept = app.create_ok(INJECT).await;
    let port = port(&app);
    for origin in [
        "http://evil.example".to_string(),
        "null".to_string(),
        // Another server on this machine, or this one reached over another scheme.
        "http://127.0.0.1:1".to_string(),
        format!("https://127.0.0.1:{port}"),
    ] {
        let refused = simple_create(&app)
            .header("Origin", &origin)
            .send()
            .await
            .expect("sent");
        assert_eq!(refused.status(), 403, "Origin: {origin}");
        let reason = refused.text().await.expect("body");
        assert!(reason.contains(&format!("Origin: {origin:?}")), "{reason}");
    }
    let cross_site = simple_create(&app)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .expect("sent");
    assert_eq!(cross_site.status(), 403);
    assert!(
        cross_site
            .text()
            .await
            .expect("body")
            .contains("Sec-Fetch-Site"),
    );
    let delete = app
        .client
        .delete(&kept)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(delete.status(), 403);
    let dashboard = app
        .client
        .post(app.url("/dashboard/new"))
        .header("Origin", "http://evil.example")
        .form(&[("name", "x")])
        .send()
        .await
        .expect("sent");
    assert_eq!(dashboard.status(), 403);
    assert!(
        dashboard
            .text()
            .await
            .expect("body")
            .contains("http://evil.example")
    );

    assert_eq!(app.listing().await, vec![kept.clone()], "nothing created");
    assert_ne!(
        app.attribute(&kept, "icclab.disco.state").await.as_deref(),
        Some("deleting"),
        "nothing deleted"
    );
}

#[tokio::test]
async fn a_state_change_from_this_servers_own_pages_is_accepted() {
    let app = spawn_app().await;
    let created = simple_create(&app)
        .header("Origin", &app.address)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );
    // A page reached as localhost is its own origin too.
    let body = format!("Category: {CATEGORY}\nX-OCCI-Attribute: {INJECT}\n");
    let port = port(&app);
    let as_localhost = exchange(
        &app,
        &format!(
            "POST /disco/ HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(as_localhost.status, 201, "{}", as_localhost.body);
    assert_eq!(app.listing().await.len(), 2);
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app().await;
    let created = simple_create(&app)
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "host=evil.example;proto=https")
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    let location = location(created.headers());
    assert!(
        location.starts_with(&format!("{}/disco/", app.address)),
        "{location}"
    );
    let listing = app
        .client
        .get(app.url("/disco/"))
        .header("Accept", "text/uri-list")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(!listing.contains("evil.example"), "{listing}");
}

#[tokio::test]
async fn a_trusted_proxy_says_which_host_and_scheme_the_client_used() {
    let app = spawn_app_with(|settings| {
        settings.server.trusted_proxies = vec![[127, 0, 0, 1].into()];
        settings.server.allowed_hosts = vec![HostName::parse("disco.example").expect("name")];
    })
    .await;
    let via_proxy = |forwarded: &[(&'static str, &'static str)]| {
        let mut request = simple_create(&app);
        for (name, value) in forwarded {
            request = request.header(*name, *value);
        }
        request.send()
    };

    let created = via_proxy(&[
        ("X-Forwarded-Host", "disco.example"),
        ("X-Forwarded-Proto", "https"),
    ])
    .await
    .expect("sent");
    assert_eq!(created.status(), 201);
    let location = location(created.headers());
    assert!(
        location.starts_with("https://disco.example/disco/"),
        "{location}"
    );

    // RFC 7239, and of a list the value the proxy added: the last.
    let created = via_proxy(&[(
        "Forwarded",
        "host=spoofed.example, for=192.0.2.1;host=\"disco.example:8443\";proto=https",
    )])
    .await
    .expect("sent");
    let location = crate::helpers::location(created.headers());
    assert!(
        location.starts_with("https://disco.example:8443/disco/"),
        "{location}"
    );
    let created = via_proxy(&[("X-Forwarded-Host", "spoofed.example, disco.example")])
        .await
        .expect("sent");
    let location = crate::helpers::location(created.headers());
    assert!(
        location.starts_with("http://disco.example/disco/"),
        "{location}"
    );

    // The name the client used is the one checked, and the origin its page has.
    let rebound = via_proxy(&[("X-Forwarded-Host", "rebound.example")])
        .await
        .expect("sent");
    assert_eq!(rebound.status(), 421);
    let from_its_page = via_proxy(&[
        ("X-Forwarded-Host", "disco.example"),
        ("X-Forwarded-Proto", "https"),
        ("Origin", "https://disco.example"),
    ])
    .await
    .expect("sent");
    assert_eq!(from_its_page.status(), 201);
}

#[tokio::test]
async fn what_holds_a_private_key_is_not_stored_by_caches() {
    let app = spawn_app().await;
    let cluster = app.create_ok(INJECT).await;
    for accept in ["text/plain", "text/occi", "application/occi+json"] {
        let shown = app
            .client
            .get(&cluster)
            .header("Accept", accept)
            .send()
            .await
            .expect("sent");
        assert_eq!(shown.status(), 200);
        assert_eq!(
            shown
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{accept}"
        );
    }
    let id = cluster.rsplit('/').next().expect("an id");
    for page in [
        format!("/dashboard/clusters/{id}"),
        format!("/dashboard/clusters/{id}/key"),
    ] {
        let response = app.client.get(app.url(&page)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{page}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn head_healthz_is_200() {
    let app = spawn_app().await;
    let response = app
        .client
        .head(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off_and_stores_nothing() {
    let app = spawn_app_with(|settings| settings.server.request_timeout_secs = 2).await;
    let body = format!("Category: {CATEGORY}\nX-OCCI-Attribute: {INJECT}\n");
    let stream = TcpStream::connect(("127.0.0.1", port(&app)))
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /disco/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    write.write_all(head.as_bytes()).await.expect("head sent");
    let trickle = tokio::spawn(async move {
        for byte in body.bytes() {
            if write.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let started = Instant::now();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut bytes))
        .await
        .expect("the server gives up on the body and closes the connection")
        .expect("read");
    trickle.abort();
    let cut_off = answer(&bytes);
    assert_eq!(cut_off.status, 408, "{}", cut_off.body);
    assert!(
        cut_off.body.contains("server.request_timeout_secs"),
        "{}",
        cut_off.body
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(app.listing().await.is_empty());
}

#[tokio::test]
async fn a_head_sent_slowly_is_cut_off_after_the_configured_time() {
    let app = spawn_app_with(|settings| settings.server.request_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(("127.0.0.1", port(&app)))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0")
        .await
        .expect("part of a head");
    let started = Instant::now();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("the server closes the connection")
        .expect("read");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?} (actix's default is 5 s)",
        started.elapsed()
    );
    assert_eq!(answer(&bytes).status, 408);
}
