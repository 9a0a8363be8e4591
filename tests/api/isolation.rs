//! Tenants of the local provider kept apart. As root, each cluster runs as a user of its
//! own: code a notebook runs (its whole point) cannot read DISCO's database, another
//! cluster's secrets or the shared environments' insides for writing, nor signal
//! another cluster's processes. Otherwise the provider takes one tenant's clusters, and
//! says so.

use std::path::Path;

use disco::config::RunAs;
use disco::domain::ProviderKind;
use disco::providers::local::process::ProcessRecord;

use crate::helpers::{TestApp, location, spawn_app_with};
use crate::local::{
    KillOnDrop, cluster_id, delete_and_check_nothing_left, local_dir, python, spawn_local_app,
    value, venv, wait_ready,
};

/// Runs `code` in a new kernel of the JupyterLab at `address` (Jupyter's REST API and
/// its kernel protocol over a WebSocket, as the lab's page does) and prints what the
/// cell printed.
pub(crate) const RUN_CELL: &str = r#"
import json, sys, urllib.request, uuid
import websocket
address, token, code = sys.argv[1], sys.argv[2], sys.argv[3]
auth = {"Authorization": "token " + token}
request = urllib.request.Request("http://%s/api/kernels" % address, data=b"{}", method="POST",
                                 headers=dict(auth, **{"Content-Type": "application/json"}))
kernel = json.load(urllib.request.urlopen(request, timeout=60))["id"]
ws = websocket.create_connection("ws://%s/api/kernels/%s/channels" % (address, kernel),
                                 header=["Authorization: token " + token], timeout=120)
msg_id = uuid.uuid4().hex
ws.send(json.dumps({
    "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
               "msg_type": "execute_request", "version": "5.3"},
    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
    "content": {"code": code, "silent": False, "store_history": False,
                "user_expressions": {}, "allow_stdin": False}}))
printed = []
while True:
    message = json.loads(ws.recv())
    if message.get("parent_header", {}).get("msg_id") != msg_id:
        continue
    kind = message["msg_type"]
    if kind == "stream":
        printed.append(message["content"]["text"])
    elif kind == "error":
        sys.exit("the cell failed: %s: %s" % (message["content"]["ename"], message["content"]["evalue"]))
    elif kind == "status" and message["content"]["execution_state"] == "idle":
        break
print("".join(printed))
"#;

/// What the cell tries, each a path or PID in a variable set before it.
const PROBE: &str = r#"
import json, os
def attempt(action):
    try:
        action()
        return "allowed"
    except PermissionError:
        return "denied"
    except Exception as e:
        return "error: %r" % e
print(json.dumps({
    "uid": os.getuid(),
    "own_token": open(OWN_TOKEN).read().strip(),
    "signal_own_server": attempt(lambda: os.kill(os.getppid(), 0)),
    "database": attempt(lambda: open(DATABASE, "rb").read(1)),
    "other_token": attempt(lambda: open(OTHER_TOKEN).read()),
    "other_node_script": attempt(lambda: open(OTHER_NODE_SCRIPT).read(1)),
    "other_cluster_dir": attempt(lambda: os.listdir(OTHER_CLUSTER_DIR)),
    "other_shared_dir": attempt(lambda: os.listdir(OTHER_SHARED_DIR)),
    "signal_other_cluster": attempt(lambda: os.kill(OTHER_PID, 0)),
    "signal_disco": attempt(lambda: os.kill(DISCO_PID, 0)),
    "write_environment": attempt(lambda: open(ENVIRONMENT + "/bin/poisoned", "w")),
}))
"#;

fn jupyter_cluster(token: &str) -> String {
    format!(
        "icclab.disco.dependencies.inject=\"{{'jupyter': {{'token': '{token}'}}}}\",icclab.disco.components.heat.slavecount=0"
    )
}

fn record(path: &Path) -> ProcessRecord {
    let text = std::fs::read_to_string(path).expect("record");
    ProcessRecord::parse(&text).expect("a record")
}

#[tokio::test]
async fn a_notebook_cell_cannot_read_the_database_or_another_cluster_s_secrets_nor_signal_it() {
    let app = spawn_local_app().await;
    if !nix::unistd::geteuid().is_root() {
        // Not root: no users of their own, and the provider says it serves one tenant.
        assert!(query_interface(&app).await.contains("for one tenant only"));
        return;
    }
    let create = |tenant: &'static str, token: &'static str| {
        let app = &app;
        async move {
            let response = app.create_as(&jupyter_cluster(token), Some(tenant)).await;
            assert_eq!(response.status(), 201, "{tenant}'s create");
            location(response.headers())
        }
    };
    let (alice, bob) = tokio::join!(
        create("alice", "alice-token-0123456789"),
        create("bob", "bob-token-0123456789")
    );
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&alice);
    guard.watch(&bob);
    let (as_alice, as_bob) = (tenant_client("alice"), tenant_client("bob"));
    let (a, _) = tokio::join!(
        async {
            let attributes = wait_ready(&as_alice, &alice).await;
            value(&attributes, "external_ip")
        },
        wait_ready(&as_bob, &bob)
    );
    assert!(
        query_interface(&app)
            .await
            .contains("each cluster as a system user of its own")
    );

    let (alice_dir, bob_dir) = (local_dir(&app, &alice), local_dir(&app, &bob));
    let bob_home = bob_dir.join("nodes/master/home");
    let bob_jupyter = record(&bob_dir.join("nodes/master/pids/jupyter"));
    let environment = std::fs::read_dir(&app.settings.provider.local.venv_dir)
        .expect("environments")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("jupyter-"))
                && path.is_dir()
        })
        .expect("the jupyter environment");
    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    let cell = format!(
        "OWN_TOKEN = {}\nDATABASE = {}\nOTHER_TOKEN = {}\nOTHER_NODE_SCRIPT = {}\n\
         OTHER_CLUSTER_DIR = {}\nOTHER_SHARED_DIR = {}\nOTHER_PID = {}\nDISCO_PID = {}\n\
         ENVIRONMENT = {}\n{PROBE}",
        quoted(&alice_dir.join("nodes/master/home/jupyter/token")),
        quoted(&app.settings.database_path()),
        quoted(&bob_home.join("jupyter/token")),
        quoted(&bob_dir.join("nodes/master/node.sh")),
        quoted(&bob_dir),
        quoted(&bob_dir.join("shared")),
        bob_jupyter.pid,
        std::process::id(),
        quoted(&environment),
    );
    let printed = python(
        &venv(
            &app,
            &environment.file_name().expect("name").to_string_lossy(),
        ),
        RUN_CELL,
        &[&format!("{a}:8888"), "alice-token-0123456789", &cell],
        &[("no_proxy", "127.0.0.0/8".to_string())],
    );
    let seen: serde_json::Value = serde_json::from_str(printed.trim()).expect("the cell's JSON");
    // What the cell may do, so that what it may not is not an accident of the probe.
    assert_ne!(seen["uid"], 0, "{seen}");
    assert_eq!(seen["own_token"], "alice-token-0123456789", "{seen}");
    assert_eq!(seen["signal_own_server"], "allowed", "{seen}");
    for denied in [
        "database",
        "other_token",
        "other_node_script",
        "other_cluster_dir",
        "other_shared_dir",
        "signal_other_cluster",
        "signal_disco",
        "write_environment",
    ] {
        assert_eq!(seen[denied], "denied", "{denied}: {seen}");
    }
    // The two clusters are two users, neither root nor the builder.
    let owner = |path: &Path| {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).expect("meta").uid()
    };
    let (alice_user, bob_user) = (
        owner(&alice_dir.join("nodes/master/home")),
        owner(&bob_home),
    );
    assert_ne!(alice_user, bob_user);
    assert_eq!(bob_jupyter.owner(), Some(bob_user));
    assert!(has_user(&bob), "the cluster's user is in /etc/passwd");

    delete_and_check_nothing_left(&as_alice, &alice, &alice_dir).await;
    delete_and_check_nothing_left(&as_bob, &bob, &bob_dir).await;
    // By the cluster, not by the uid: a system uid given back is soon another test's.
    assert!(!has_user(&alice), "the user goes with its cluster");
    assert!(!has_user(&bob), "the user goes with its cluster");
}

/// A client whose every request is the tenant's.
fn tenant_client(tenant: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "X-Tenant-Name",
        reqwest::header::HeaderValue::from_str(tenant).expect("header"),
    );
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Whether the cluster at `location` has its system user in /etc/passwd.
fn has_user(location: &str) -> bool {
    let id = cluster_id(location);
    disco::providers::local::users::clusters_with_users()
        .iter()
        .any(|user_of| user_of.to_string() == id)
}

async fn query_interface(app: &TestApp) -> String {
    app.client
        .get(app.url("/-/"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn as_the_server_s_own_user_the_local_provider_takes_one_tenant_s_clusters() {
    let staged = "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.stage=true";
    let app = spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.run_as = RunAs::ServerUser;
    })
    .await;
    assert!(query_interface(&app).await.contains("for one tenant only"));
    let first = app.create_as(staged, Some("alice")).await;
    assert_eq!(first.status(), 201);
    let refused = app.create_as(staged, Some("bob")).await;
    assert_eq!(refused.status(), 409);
    let reason = refused.text().await.expect("body");
    assert!(
        reason.contains("icclab.disco.provider") && reason.contains("allow_shared_user"),
        "{reason}"
    );
    assert!(!reason.contains("alice"), "another tenant's name: {reason}");
    // The same tenant goes on; another does once the first has no cluster left.
    let second = app.create_as(staged, Some("alice")).await;
    assert_eq!(second.status(), 201);
    for location in [location(first.headers()), location(second.headers())] {
        let deleted = app
            .client
            .delete(&location)
            .header("X-Tenant-Name", "alice")
            .send()
            .await
            .expect("sent");
        assert_eq!(deleted.status(), 200);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let response = app.create_as(staged, Some("bob")).await;
        if response.status() == 201 {
            break;
        }
        assert_eq!(response.status(), 409);
        assert!(
            std::time::Instant::now() < deadline,
            "alice's clusters stay"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let shared = spawn_app_with(|settings| {
        settings.provider.default = ProviderKind::Local;
        settings.provider.local.run_as = RunAs::ServerUser;
        settings.provider.local.allow_shared_user = true;
    })
    .await;
    assert!(query_interface(&shared).await.contains("for any tenant"));
    assert_eq!(shared.create_as(staged, Some("alice")).await.status(), 201);
    assert_eq!(shared.create_as(staged, Some("bob")).await.status(), 201);
}
