//! The user's own steps (`icclab.disco.init`), for real on the local provider with Dask
//! (the quickest component to deploy): each action a stage of the task tree with its
//! output and return code, a failing one failing its node, a downloaded one checked
//! against its SHA-256; and the requests refused with nothing stored.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{CATEGORY, TestApp, spawn_app_with};
use crate::local::{
    KillOnDrop, delete_and_check_nothing_left, local_dir, spawn_local_app, value, wait_ready,
    wait_state,
};

/// `icclab.disco.init="…"` for an X-OCCI-Attribute header: the JSON quoted as OCCI quotes
/// a string (its backslashes and double quotes escaped).
pub(crate) fn init_attribute(actions: &Value) -> String {
    let text = actions.to_string();
    format!(
        "icclab.disco.init=\"{}\"",
        text.replace('\\', r"\\").replace('"', "\\\"")
    )
}

fn dask(slaves: u16, actions: &Value) -> String {
    format!(
        "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount={slaves},{}",
        init_attribute(actions)
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Serves `body` to every request on 127.0.0.1 (a port of its own) for as long as the
/// test runs; its address.
async fn serve(body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

/// `GET location/what` as JSON.
async fn json_of(app: &TestApp, location: &str, what: &str) -> Value {
    app.client
        .get(format!("{location}/{what}"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}

async fn tree_of(app: &TestApp, location: &str) -> Value {
    json_of(app, location, "tasks").await
}

/// The stage of the tree named `name`.
fn stage<'a>(tree: &'a Value, name: &str) -> &'a Value {
    tree["children"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {tree:#}"))
}

/// The leaf of a stage for `node`, under its node group or not.
fn leaf<'a>(stage: &'a Value, node: &str) -> &'a Value {
    fn walk<'a>(task: &'a Value, node: &str) -> Option<&'a Value> {
        match task["children"].as_array() {
            Some(children) if !children.is_empty() => {
                children.iter().find_map(|child| walk(child, node))
            }
            _ => (task["node"] == node).then_some(task),
        }
    }
    walk(stage, node).unwrap_or_else(|| panic!("no leaf for {node}: {stage:#}"))
}

#[tokio::test]
async fn init_actions_run_after_the_start_and_before_the_smoke_test_each_a_stage_with_its_output() {
    const SERVED: &str = "#!/bin/sh\necho \"served to $DISCO_NODE\"\n";
    let served = format!("{}/init.sh", serve(SERVED).await);
    let app = spawn_local_app().await;
    let actions = json!([
        {"name": "hello", "group": "all",
         "script": "#!/bin/bash\necho \"hello from $DISCO_NODE\"\necho 'to stderr' >&2\n",
         "timeout": "2m"},
        {"name": "master-only", "group": "master", "script": "echo only on the master"},
        {"name": "fetched", "group": "slaves", "url": served, "sha256": sha256_hex(SERVED.as_bytes())},
    ]);
    let location = app.create_ok(&dask(1, &actions)).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_ready(&app.client, &location).await;
    // The cluster's attributes name the actions; the scripts are in the plan.
    assert_eq!(
        value(&attributes, "icclab.disco.init"),
        "hello (all, inline, 2m), master-only (master, inline, 10m), fetched (slaves, url, 10m)"
    );

    let tree = tree_of(&app, &location).await;
    assert_eq!(tree["status"], "succeeded", "{tree:#}");
    let stages: Vec<&str> = tree["children"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        stages,
        [
            "create_nodes_stage",
            "dask install",
            "dask start",
            "init hello",
            "init master-only",
            "init fetched",
            "dask smoke"
        ]
    );
    let hello = stage(&tree, "init hello");
    for node in ["master", "slaves:1"] {
        let leaf = leaf(hello, node);
        assert_eq!(leaf["status"], "succeeded", "{leaf:#}");
        assert_eq!(leaf["rc"], 0);
        assert_eq!(leaf["stdout"], format!("hello from {node}"), "{leaf:#}");
        assert_eq!(leaf["stderr"], "to stderr");
        assert!(
            leaf["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("init/hello (inline"))
        );
    }
    let master_only = stage(&tree, "init master-only");
    assert_eq!(leaf(master_only, "master")["stdout"], "only on the master");
    assert_eq!(
        master_only["children"].as_array().map(Vec::len),
        Some(1),
        "the master alone: {master_only:#}"
    );
    let fetched = leaf(stage(&tree, "init fetched"), "slaves:1");
    assert_eq!(fetched["stdout"], "served to slaves:1", "{fetched:#}");
    assert_eq!(fetched["command"], served);

    // In the stored plan and in the template, as given.
    let plan = json_of(&app, &location, "plan").await;
    assert_eq!(plan["init"][0]["name"], "hello");
    assert_eq!(plan["init"][0]["script"], actions[0]["script"]);
    assert_eq!(plan["init"][2]["url"], served);
    assert_eq!(plan["init"][1]["timeout"], "10m");
    let template = app
        .client
        .get(format!("{location}/template?node=slaves"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        template.contains("  disco_init_inline hello 120 <<'DISCO_INIT_SCRIPT'\n#!/bin/bash\n"),
        "{template}"
    );
    assert!(
        template.contains("disco_run_step init fetched step_init_fetched")
            && !template.contains("master-only"),
        "the slaves' actions alone: {template}"
    );

    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

#[tokio::test]
async fn a_failing_init_action_fails_its_node_with_its_output_and_return_code() {
    let app = spawn_local_app().await;
    let actions = json!([{"name": "breaks", "group": "master",
        "script": "echo about to fail\necho disk full >&2\nexit 7\n"}]);
    let location = app.create_ok(&dask(0, &actions)).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_state(&app.client, &location, "failed").await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(
        reason.contains("init breaks failed with return code 7: disk full"),
        "{reason}"
    );
    let tree = tree_of(&app, &location).await;
    let failed = leaf(stage(&tree, "init breaks"), "master");
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["rc"], 7);
    assert_eq!(failed["stdout"], "about to fail");
    assert_eq!(failed["stderr"], "disk full");
    // The smoke test after it never ran.
    assert_ne!(
        leaf(stage(&tree, "dask smoke"), "master")["status"],
        "succeeded"
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

#[tokio::test]
async fn an_init_action_past_its_timeout_is_stopped_and_fails_its_node() {
    let app = spawn_local_app().await;
    let actions = json!([{"name": "slow", "script": "echo started\nsleep 60\n", "timeout": "2s"}]);
    let location = app.create_ok(&dask(0, &actions)).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_state(&app.client, &location, "failed").await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    assert!(
        reason.contains(
            "init slow failed with return code 124: init slow: stopped after its timeout of 2s"
        ),
        "{reason}"
    );
    let tree = tree_of(&app, &location).await;
    let slow = leaf(stage(&tree, "init slow"), "master");
    assert_eq!(slow["rc"], 124, "{slow:#}");
    assert_eq!(slow["stdout"], "started");
    let took = chrono::DateTime::parse_from_rfc3339(slow["ended_at"].as_str().expect("ended"))
        .expect("time")
        - chrono::DateTime::parse_from_rfc3339(slow["started_at"].as_str().expect("started"))
            .expect("time");
    assert!(
        took.num_seconds() < 30,
        "stopped at its timeout, not after the sleep: {took}"
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

#[tokio::test]
async fn a_downloaded_script_with_another_checksum_fails_its_node_naming_expected_and_got() {
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("init.sh");
    std::fs::write(&script, "echo never runs\n").expect("write");
    // The cluster's own user reads it.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let url = format!("file://{}", script.display());
    let wrong = sha256_hex(b"something else");
    let got = sha256_hex(b"echo never runs\n");
    let app = spawn_local_app().await;
    let actions = json!([{"name": "checked", "url": url, "sha256": wrong}]);
    let location = app.create_ok(&dask(0, &actions)).await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let attributes = wait_state(&app.client, &location, "failed").await;
    let reason = value(&attributes, "icclab.disco.state_reason");
    let mismatch =
        format!("init checked: checksum mismatch for {url}: expected sha256 {wrong}, got {got}");
    assert!(reason.contains(&mismatch), "{reason}");
    let tree = tree_of(&app, &location).await;
    let failed = leaf(stage(&tree, "init checked"), "master");
    assert_eq!(failed["rc"], 1, "{failed:#}");
    assert_eq!(failed["stderr"], mismatch);
    assert!(failed["stdout"].is_null(), "it never ran: {failed:#}");
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

/// Noise that gzip cannot shrink much, as printable text: a script of `bytes` bytes.
fn incompressible(bytes: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut out = String::from("# ");
    while out.len() < bytes {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let c = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
            [(state >> 58) as usize];
        out.push(char::from(c));
    }
    out
}

#[tokio::test]
async fn bad_init_actions_are_400s_naming_the_field_and_nothing_is_stored() {
    // Bodies large enough for the actions that do not fit a node's user data.
    let app = spawn_app_with(|settings| settings.server.body_limit = 1 << 20).await;
    let sha = sha256_hex(b"x");
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"name": format!("a{i}"), "script": "true"}))
        .collect();
    let cases = [
        (
            json!([{"name": "get", "url": "https://example.org/x.sh"}]),
            "icclab.disco.init[0] (get).sha256: a url needs the SHA-256 of what it serves",
        ),
        (
            json!([{"name": "a", "group": "workers", "script": "true"}]),
            "icclab.disco.init[0] (a).group: expected master, slaves or all, got \"workers\"",
        ),
        (
            json!([{"name": "a", "script": "true"}, {"name": "a", "script": "false"}]),
            "icclab.disco.init[1] (a).name: a name no other action of the cluster has; a is given twice",
        ),
        (
            json!([{"name": "big", "script": "x".repeat(16 * 1024 + 1)}]),
            "icclab.disco.init[0] (big).script: at most 16384 bytes inline, got 16385 bytes",
        ),
        (
            Value::Array(many),
            "icclab.disco.init: at most 20 actions, got 21",
        ),
        (
            json!([{"name": "a", "url": "https://example.org/x.sh", "sha256": &sha[..10]}]),
            "icclab.disco.init[0] (a).sha256: a SHA-256 of 64 hex digits",
        ),
        (
            Value::Array(
                (0..6)
                    .map(|i| json!({"name": format!("n{i}"), "script": incompressible(16_000, i)}))
                    .collect(),
            ),
            "icclab.disco.init: the master node's user data would be ",
        ),
    ];
    for (actions, expected) in cases {
        // As an OCCI JSON body, the actions as JSON.
        let body = json!({
            "kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
            "attributes": {
                "icclab.disco.dependencies.inject": "['spark']",
                "icclab.disco.init": actions,
            }
        });
        let response = app
            .client
            .post(app.url("/disco/"))
            .header("Content-Type", "application/occi+json")
            .body(body.to_string())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{expected}");
        let reason = response.text().await.expect("text");
        assert!(reason.contains(expected), "{reason}");
        if expected.contains("user data") {
            assert!(reason.contains("Nova takes at most 65535"), "{reason}");
        }
        assert!(app.listing().await.is_empty(), "stored after {reason}");
    }
    // The same refusal in the header, as text/occi.
    let response = app
        .create(&format!(
            "icclab.disco.dependencies.inject=\"['spark']\",{}",
            init_attribute(&json!([{"name": "get", "url": "https://example.org/x.sh"}]))
        ))
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("icclab.disco.init[0] (get).sha256:")
    );
    assert!(app.listing().await.is_empty());
    // Well formed, it is taken, in the header as in a JSON body.
    let location = app
        .create_ok(&format!(
            "icclab.disco.dependencies.inject=\"['spark']\",{}",
            init_attribute(&json!([{"name": "ok", "script": "echo \"fine\"\nexit 0"}]))
        ))
        .await;
    app.wait_for(&location, Some("ready")).await;
    let plan = json_of(&app, &location, "plan").await;
    assert_eq!(plan["init"][0]["script"], "echo \"fine\"\nexit 0");
    let response = app
        .client
        .get(format!("{location}/template?node=workers"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("node: expected master or slaves, got \"workers\"")
    );
    let response = app
        .client
        .post(app.url("/disco/"))
        .header("Category", CATEGORY)
        .header("Content-Type", "application/occi+json")
        .body(
            json!({
                "kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
                "attributes": {
                    "icclab.disco.dependencies.inject": "['spark']",
                    "icclab.disco.init": {"name": "one", "script": "true"},
                }
            })
            .to_string(),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    assert_eq!(app.listing().await.len(), 2);
}

#[tokio::test]
async fn disco_deploy_takes_init_scripts_from_files_and_task_status_shows_their_stages() {
    let app = spawn_local_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("Warm_Cache.sh");
    // Near the inline limit, with quotes, backslashes and commas.
    let filler = format!("# {}\n", "padding, \"quoted\" \\ ".repeat(700));
    std::fs::write(
        &script,
        format!("#!/bin/bash\n{filler}echo \"warm on $DISCO_NODE\"\n"),
    )
    .expect("write");
    let master_only = format!("{}:master", script.display());
    let created = crate::cli::ok(
        &app,
        &[
            "deploy",
            "with-init",
            "--components",
            "dask",
            "--slaves",
            "0",
            "--init",
            &master_only,
        ],
    )
    .await;
    let id = created
        .lines()
        .next()
        .map(str::trim)
        .expect("the cluster's id")
        .to_string();
    let location = app.url(&format!("/disco/{id}"));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    wait_ready(&app.client, &location).await;
    let status = crate::cli::ok(&app, &["task-status", "with-init"]).await;
    assert!(status.contains("init warm-cache"), "{status}");
    let tree = tree_of(&app, &location).await;
    let warm = leaf(stage(&tree, "init warm-cache"), "master");
    assert_eq!(warm["stdout"], "warm on master", "{warm:#}");
    let plan = json_of(&app, &location, "plan").await;
    assert_eq!(plan["init"][0]["group"], "master");
    assert!(
        plan["init"][0]["script"]
            .as_str()
            .is_some_and(|s| s.contains(&filler)),
        "the script as the file has it"
    );
    let missing = crate::cli::disco(
        &app,
        &[
            "deploy",
            "x",
            "--components",
            "dask",
            "--init",
            "/nonexistent/init.sh",
        ],
    )
    .await;
    assert!(!missing.status.success());
    assert!(
        crate::cli::stderr(&missing).contains("--init: reading /nonexistent/init.sh"),
        "{}",
        crate::cli::stderr(&missing)
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

#[tokio::test]
async fn the_dashboard_create_form_takes_init_actions_typed_over_several_lines() {
    let app = crate::helpers::spawn_app().await;
    let client = crate::dashboard::no_redirects();
    let (cookie, token, html) = crate::dashboard::form(&app, &client).await;
    assert!(
        html.contains("<textarea id=\"init\" name=\"init\""),
        "{html}"
    );
    let post = |init: &'static str| {
        client
            .post(app.url("/dashboard/new"))
            .header(reqwest::header::COOKIE, &cookie)
            .form(&[
                ("csrf", token.as_str()),
                ("name", "web-init"),
                ("provider", "file"),
                ("component", "spark"),
                ("slaves", "1"),
                ("init", init),
            ])
            .send()
    };
    let refused = post("[\n  {\"name\": \"a\", \"group\": \"<workers>\", \"script\": \"true\"}\n]")
        .await
        .expect("sent");
    assert_eq!(refused.status(), 400);
    let page = refused.text().await.expect("html");
    assert!(
        page.contains(
            "icclab.disco.init[0] (a).group: expected master, slaves or all, got &quot;&lt;workers&gt;&quot;"
        ),
        "{page}"
    );
    assert!(
        page.contains("&quot;group&quot;: &quot;&lt;workers&gt;&quot;"),
        "kept, escaped: {page}"
    );
    assert!(app.listing().await.is_empty());
    let created = post("[\n  {\"name\": \"warm\",\n   \"script\": \"echo one\\necho two\"}\n]")
        .await
        .expect("sent");
    assert_eq!(
        created.status(),
        303,
        "{}",
        created.text().await.unwrap_or_default()
    );
    let listed = app.listing().await;
    assert_eq!(listed.len(), 1);
    let plan = json_of(&app, &listed[0], "plan").await;
    assert_eq!(plan["init"][0]["name"], "warm");
    assert_eq!(plan["init"][0]["script"], "echo one\necho two");
}
