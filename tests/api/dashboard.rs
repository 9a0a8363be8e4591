//! The dashboard over HTTP: its pages, the create form with its CSRF token, the key
//! download and delete; a cluster's health, and its repair from the page.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::helpers::{TestApp, spawn_app};
use crate::local::{
    KillOnDrop, delete_and_check_nothing_left, get_attributes, local_dir, record_of,
    spawn_local_app_with, value, wait_ready,
};

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client")
}

/// The create form's page: its CSRF cookie and the token in the form.
pub(crate) async fn form(app: &TestApp, client: &reqwest::Client) -> (String, String, String) {
    let response = client
        .get(app.url("/dashboard/new"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a CSRF cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().expect("pair").to_string();
    let html = response.text().await.expect("html");
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a token in the form")
        .to_string();
    (cookie, token, html)
}

#[tokio::test]
async fn a_cluster_is_created_shown_and_deleted_through_the_dashboard_forms() {
    let app = spawn_app().await;
    let client = no_redirects();
    let (cookie, token, html) = form(&app, &client).await;
    // Every field has a label; every component a checkbox with its parameters.
    for id in [
        "name",
        "provider",
        "slaves",
        "c-spark",
        "c-zeppelin",
        "p-spark-worker_cores",
        "stage",
    ] {
        assert!(
            html.contains(&format!("<label for=\"{id}\"")),
            "no label for {id}"
        );
    }
    assert!(
        html.contains("data-depends=\"spark\""),
        "zeppelin says it needs spark"
    );

    // Without the token, or with another, nothing is created.
    let forged = client
        .post(app.url("/dashboard/new"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("name", "x"),
            ("component", "dask"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 403);
    assert!(app.listing().await.is_empty());

    // A refused request shows the form again with the reason, filled in.
    let refused = client
        .post(app.url("/dashboard/new"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "<b>bad</b>"),
            ("component", "nosuch"),
            ("slaves", "1"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let page = refused.text().await.expect("html");
    assert!(page.contains("role=\"alert\">icclab.disco.name"), "{page}");
    // What the user typed comes back escaped, in the message and in the field.
    assert!(
        page.contains("value=\"&lt;b&gt;bad&lt;/b&gt;\""),
        "the name is kept, escaped"
    );
    assert!(!page.contains("<b>bad</b>"), "{page}");

    let created = client
        .post(app.url("/dashboard/new"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "web-1"),
            ("provider", "file"),
            ("component", "spark"),
            ("param.spark.worker_cores", "3"),
            ("param.dask.worker_threads", "9"),
            ("slaves", "1"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 303);
    let page_url = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    let id = page_url.rsplit('/').next().expect("id").to_string();
    let location = app.url(&format!("/disco/{id}"));
    app.wait_for(&location, Some("ready")).await;
    let plan: serde_json::Value = app
        .client
        .get(format!("{location}/plan"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(plan["components"][0]["params"]["worker_cores"], 3);
    assert_eq!(
        plan["components"].as_array().map(Vec::len),
        Some(1),
        "dask's field was ignored"
    );

    // The cluster's page; the listing links to it.
    let page = client
        .get(app.url(&page_url))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(page.contains("<h1>web-1</h1>"), "{page}");
    // When its lifetime ends (the operator's default: a week, then a stop).
    assert!(
        page.contains("<dd id=\"expires\">")
            && page.contains("its max_age of 7d was reached")
            && page.contains(", then stopped</dd>"),
        "{page}"
    );
    // The live task tree: the page names its event stream, which the dashboard's
    // script opens.
    assert!(
        page.contains("data-events=\"/dashboard/clusters/"),
        "live task tree"
    );
    let listing = app
        .client
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(
        listing.contains(&format!("href=\"/dashboard/clusters/{id}\"")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("action=\"/dashboard/clusters/{id}/delete\"")),
        "a delete button on the listing"
    );

    // The key, as a file.
    let key = client
        .get(app.url(&format!("/dashboard/clusters/{id}/key")))
        .send()
        .await
        .expect("sent");
    assert_eq!(key.status(), 200);
    let disposition = key
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(disposition, "attachment; filename=\"web-1.key\"");
    assert!(
        key.text()
            .await
            .expect("key")
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    );
    // Another tenant gets no key.
    let other = client
        .get(app.url(&format!("/dashboard/clusters/{id}/key")))
        .header("X-Tenant-Name", "other")
        .send()
        .await
        .expect("sent");
    assert_eq!(other.status(), 404);

    // Delete needs the token too.
    let forged = client
        .post(app.url(&format!("/dashboard/clusters/{id}/delete")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 403);
    let deleted = client
        .post(app.url(&format!("/dashboard/clusters/{id}/delete")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 303);
    app.wait_for(&location, None).await;
}

/// The value of a Set-Cookie header's cookie, checked to be HttpOnly and SameSite=Strict.
fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            assert!(
                v.contains("HttpOnly") && v.contains("SameSite=Strict"),
                "{v}"
            );
            v.split(';').next().expect("pair").to_string()
        })
}

#[tokio::test]
async fn pages_run_no_inline_script_and_their_policy_allows_none() {
    let app = spawn_app().await;
    let client = no_redirects();
    let (_, _, html) = form(&app, &client).await;
    for page in ["/dashboard", "/dashboard/new"] {
        let response = client.get(app.url(page)).send().await.expect("sent");
        let policy = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .expect("a policy")
            .to_string();
        let scripts = policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("script-src"));
        assert_eq!(scripts, Some("script-src 'self'"), "{policy}");
        assert!(
            policy.contains("form-action 'self'") && policy.contains("base-uri 'none'"),
            "{policy}"
        );
        let body = response.text().await.expect("html");
        assert!(
            !body.contains("<script>") && !body.contains("onsubmit="),
            "{page}"
        );
        assert!(body.contains("<script src=\"/dashboard/app.js\" defer></script>"));
    }
    assert!(html.contains("id=\"create\""));
    let script = client
        .get(app.url("/dashboard/app.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(script.status(), 200);
    assert!(
        script
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    let text = script.text().await.expect("script");
    assert!(text.contains("dataset.confirm"), "forms ask first");
    assert!(
        text.contains("new EventSource(document.getElementById(\"tasks\").dataset.events)"),
        "the cluster page follows its event stream"
    );
    assert!(!text.contains("{{"), "no template values in the script");
}

#[tokio::test]
async fn with_no_authentication_signing_in_leads_back_to_the_clusters() {
    let app = spawn_app().await;
    let client = no_redirects();
    let (cookie, token, _) = form(&app, &client).await;
    for request in [
        client.get(app.url("/dashboard/login")),
        client
            .post(app.url("/dashboard/login"))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf", token.as_str()),
                ("user", "alice"),
                ("password", "x"),
            ]),
        client
            .post(app.url("/dashboard/login"))
            .form(&[("user", "alice")]),
    ] {
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 303, "no sign-in with auth none");
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/dashboard")
        );
    }
}

#[tokio::test]
async fn with_keystone_the_dashboard_signs_in_against_keystone_and_out() {
    // Two replicas share the store below: replicas share PostgreSQL (a SQLite store has
    // one server).
    let database = disco::store::scratch::TestDatabase::create().await;
    let url = database.url.clone();
    let app = crate::helpers::spawn_app_with(move |s| {
        crate::openstack::on_the_test_bed(s, "fake-env.yaml");
        s.store.url = Some(url);
    })
    .await;
    let client = no_redirects();
    let first = client
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("sent");
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/dashboard/login");

    let login = client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .expect("sent");
    let csrf = cookie_pair(&login, "disco_csrf").expect("a CSRF cookie");
    let html = login.text().await.expect("html");
    for id in ["user", "password", "project"] {
        assert!(
            html.contains(&format!("<label for=\"{id}\"")),
            "no label for {id}"
        );
    }
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token")
        .to_string();

    let wrong = client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("user", "demo"),
            ("password", "nope"),
            ("project", "demo"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.expect("html").contains("role=\"alert\""));

    let signed_in = client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("user", "demo"),
            ("password", "demopass"),
            ("project", "demo"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(signed_in.status(), 303);
    let session = cookie_pair(&signed_in, "disco_session").expect("a session cookie");
    let session_id = session.split('=').nth(1).expect("value");
    assert_eq!(session_id.len(), 64, "an opaque id, not the Keystone token");
    let cookies = format!("{csrf}; {session}");
    let page = client
        .get(app.url("/dashboard"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Sign out demo"));

    // Another replica of the store knows the session: sessions are in the store, not in
    // the process that opened them. The store holds neither the session's id (a hash
    // finds its row) nor the token in the clear (unit-tested in session.rs).
    let shared = app.settings.clone();
    let replica = crate::helpers::spawn_app_with(move |s| {
        crate::openstack::on_the_test_bed(s, "fake-env.yaml");
        s.data_dir = shared.data_dir.clone();
        s.store.url = shared.store.url.clone();
        s.jobs.enabled = false;
    })
    .await;
    let elsewhere = client
        .get(replica.url("/dashboard"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .expect("sent");
    assert_eq!(elsewhere.status(), 200);
    assert!(
        elsewhere
            .text()
            .await
            .expect("html")
            .contains("Sign out demo")
    );
    let text = database.url_text();
    let stored = tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&text, postgres::NoTls).expect("connect");
        client
            .query(
                "SELECT id_hash || user_name || sealed_token FROM dashboard_sessions",
                &[],
            )
            .expect("sessions")
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<String>>()
    })
    .await
    .expect("joined");
    assert_eq!(stored.len(), 1, "one session");
    assert!(
        !stored[0].contains(session_id),
        "the session id is not stored"
    );

    // The create form offers the cloud's own images and flavors, as the user's token
    // lists them from Glance and Nova.
    let form = client
        .get(app.url("/dashboard/new"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .expect("sent");
    assert_eq!(form.status(), 200);
    let html = form.text().await.expect("html");
    let demo = crate::openstack::token_for("demo", "demopass", "demo").await;
    let images = listed_names(&demo, "image", "v2/images?status=active", "images").await;
    let flavors = listed_names(&demo, "compute", "flavors/detail", "flavors").await;
    assert!(
        !images.is_empty() && !flavors.is_empty(),
        "the test bed has images and flavors"
    );
    for (select, names) in [
        ("masterimage", &images),
        ("slaveimage", &images),
        ("masterflavor", &flavors),
        ("slaveflavor", &flavors),
    ] {
        let options = select_options(&html, select);
        assert_eq!(
            &options, names,
            "the {select} select offers exactly the cloud's list"
        );
    }

    // The token of the signed-in pages is bound to the session: the one the sign-in
    // form carried no longer passes.
    let session_token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the signed-in page's token")
        .to_string();
    assert_ne!(session_token, token);
    let stale = client
        .post(app.url("/dashboard/logout"))
        .header(COOKIE, &cookies)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(stale.status(), 403, "a token from before the sign-in");
    let out = client
        .post(app.url("/dashboard/logout"))
        .header(COOKIE, &cookies)
        .form(&[("csrf", session_token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), 303);
    let after = client
        .get(app.url("/dashboard"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 303, "the old session is gone");
    let after = client
        .get(replica.url("/dashboard"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .expect("sent");
    assert_eq!(after.status(), 303, "from every replica");
}

/// The names the cloud lists at `path` of the catalog's `service_type` endpoint, sorted.
async fn listed_names(token: &str, service_type: &str, path: &str, key: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let auth_url = std::env::var("OS_AUTH_URL").expect("OS_AUTH_URL");
    let catalog: serde_json::Value = client
        .get(format!("{}/auth/catalog", auth_url.trim_end_matches('/')))
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("Keystone answers")
        .json()
        .await
        .expect("json");
    let endpoint = catalog["catalog"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["type"] == service_type)
        .and_then(|s| {
            s["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["interface"] == "public")?["url"]
                .as_str()
        })
        .unwrap_or_else(|| panic!("a public {service_type} endpoint"))
        .trim_end_matches('/')
        .to_string();
    let body: serde_json::Value = client
        .get(format!("{endpoint}/{path}"))
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("the service answers")
        .json()
        .await
        .expect("json");
    let mut names: Vec<String> = body[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The values of a select's options, sorted.
fn select_options(html: &str, id: &str) -> Vec<String> {
    let start = html
        .find(&format!("<select id=\"{id}\""))
        .unwrap_or_else(|| panic!("no select {id}"));
    let select = &html[start..start + html[start..].find("</select>").expect("closed")];
    let mut values: Vec<String> = select
        .split("<option value=\"")
        .skip(1)
        .filter_map(|o| o.split('"').next().map(str::to_string))
        .collect();
    values.sort();
    values
}

/// Polls until the cluster is ready with the health `wanted` (and, if given, the reason
/// `reason`).
async fn wait_health(app: &TestApp, location: &str, wanted: &str, reason: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let attributes = get_attributes(&app.client, location)
            .await
            .expect("the cluster exists");
        if value(&attributes, "icclab.disco.health") == wanted
            && value(&attributes, "icclab.disco.state") == "ready"
            && reason.is_none_or(|r| value(&attributes, "icclab.disco.state_reason") == r)
        {
            return;
        }
        assert!(Instant::now() < deadline, "never {wanted}: {attributes:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn html(client: &reqwest::Client, url: &str, cookie: &str) -> String {
    let response = client
        .get(url)
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.text().await.expect("html")
}

#[tokio::test]
async fn a_degraded_cluster_shows_its_health_and_is_repaired_from_its_page() {
    let app = spawn_local_app_with(|settings| settings.jobs.watch_interval_secs = 1).await;
    let client = no_redirects();
    let (cookie, token, _) = form(&app, &client).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    wait_health(&app, &location, "healthy", None).await;
    let id = location.rsplit('/').next().expect("id").to_string();
    let page_url = app.url(&format!("/dashboard/clusters/{id}"));
    let repair_url = app.url(&format!("/dashboard/clusters/{id}/repair"));
    let page = html(&client, &page_url, &cookie).await;
    assert!(
        page.contains("<dt>Health</dt>")
            && page.contains("<span class=\"health health-healthy\">healthy</span> ")
            && page.contains(" checks pass on every node <span class=\"hint\">checked "),
        "{page}"
    );
    assert!(!page.contains("/repair\""), "nothing to repair: {page}");

    let worker = local_dir(&app, &location).join("nodes/slave-1/pids/dask-worker");
    let killed = record_of(&worker);
    assert!(killed.signal_group(Signal::SIGKILL), "the worker ran");
    wait_health(&app, &location, "degraded", None).await;
    let page = html(&client, &page_url, &cookie).await;
    assert!(
        page.contains("<span class=\"health health-degraded\">degraded</span> dask on slaves:1: ")
            && page.contains("process dask-worker failing since "),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<form method=\"post\" action=\"/dashboard/clusters/{id}/repair\" class=\"repair\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\"><button type=\"submit\">Repair</button>"
        )),
        "{page}"
    );
    let listing = html(&client, &app.url("/dashboard"), &cookie).await;
    assert!(
        listing.contains(
            "<td class=\"health health-degraded\" data-label=\"Health\" data-health>degraded</td>"
        ),
        "{listing}"
    );
    let live: serde_json::Value = client
        .get(app.url("/dashboard/states"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        live[&id],
        serde_json::json!({"state": "ready", "health": "degraded"})
    );

    // Without the token, nothing is repaired.
    let forged = client
        .post(&repair_url)
        .header(COOKIE, &cookie)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 403);
    let repaired = client
        .post(&repair_url)
        .header(COOKIE, &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(repaired.status(), 303);
    assert_eq!(
        repaired.headers()["location"],
        format!("/dashboard/clusters/{id}").as_str()
    );
    wait_health(
        &app,
        &location,
        "healthy",
        Some("repaired: started again dask on slaves:1"),
    )
    .await;
    assert_ne!(record_of(&worker).pid, killed.pid, "a new worker");
    let page = html(&client, &page_url, &cookie).await;
    assert!(page.contains("health-healthy\">healthy</span>"), "{page}");
    assert!(!page.contains("/repair\""), "{page}");
    // Healthy: the server says there is nothing to repair.
    let refused = client
        .post(&repair_url)
        .header(COOKIE, &cookie)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 409);
    let reason = refused.text().await.expect("text");
    assert!(
        reason.contains("nothing to repair: the cluster is healthy"),
        "{reason}"
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

/// The `tl-time` labels of a timeline's rows, in order.
fn timeline_times(section: &str) -> Vec<String> {
    section
        .split("<span class=\"tl-time\">")
        .skip(1)
        .filter_map(|rest| rest.split("</span>").next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_finished_cluster_s_page_draws_its_deploy_as_a_bar_per_stage_and_node_with_durations() {
    let app = spawn_local_app_with(|_| {}).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"{'dask': {'worker_threads': 1}}\",\
             icclab.disco.components.heat.slavecount=1",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    let id = location.rsplit('/').next().expect("id").to_string();
    let page = app
        .client
        .get(app.url(&format!("/dashboard/clusters/{id}")))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    let section = page
        .split("<section id=\"timeline\"")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("a timeline in\n{page}"));
    // Made: master, slaves:1; install and start on both; the smoke test on the master.
    assert_eq!(
        section.matches("<li class=\"tl-row\"").count(),
        7,
        "{section}"
    );
    assert_eq!(
        section
            .matches("<span class=\"tl-bar tl-succeeded\"")
            .count(),
        7,
        "{section}"
    );
    for (stage, node) in [
        ("1 create_nodes_stage", "master"),
        ("2 dask install", "slaves:1"),
        ("4 dask smoke", "master"),
    ] {
        assert!(
            section.contains(&format!(
                "<span class=\"tl-stage\">{stage}</span> <span class=\"tl-node\">{node}</span>"
            )),
            "{stage} on {node}: {section}"
        );
    }
    let times = timeline_times(section);
    assert_eq!(times.len(), 7);
    for time in &times {
        let secs: f64 = time
            .strip_suffix('s')
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("a duration, got {time:?}"));
        assert!(secs >= 0.0);
    }
    assert!(
        section.contains("<p class=\"tl-summary\">cluster_converge succeeded in "),
        "{section}"
    );
    assert!(
        !section.contains("data-running"),
        "it does not run: {section}"
    );
    // Each bar is placed on the axis by its style alone, within it.
    for style in section
        .split("class=\"tl-bar tl-succeeded\" style=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
    {
        let number = |name: &str| -> f64 {
            style
                .split(';')
                .find_map(|part| part.strip_prefix(name))
                .and_then(|v| v.strip_suffix('%'))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {style:?}"))
        };
        let (left, width) = (number("left:"), number("width:"));
        assert!(
            left >= 0.0 && width > 0.0 && left + width <= 100.0 + 1e-6,
            "{style}"
        );
    }

    // The part alone, for the page to redraw it.
    let fragment = app
        .client
        .get(app.url(&format!("/dashboard/clusters/{id}/timeline")))
        .send()
        .await
        .expect("sent");
    assert_eq!(fragment.status(), 200);
    assert_eq!(
        fragment
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let fragment = fragment.text().await.expect("html");
    assert!(
        fragment.starts_with("<section id=\"timeline\" class=\"timeline\""),
        "{fragment}"
    );
    assert_eq!(timeline_times(&fragment), times);
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}
