//! The file provider keeps tenants' files apart: each tenant's deployer paths are its
//! own, a path holds one live cluster's template, files are private to the server, and
//! `stackid` does not show where the server keeps them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, spawn_app};

const SPARK: &str =
    "icclab.disco.dependencies.inject=\"{'spark': '', 'jupyter': {'token': 'sesame'}}\"";

async fn create(app: &TestApp, tenant: &str, extra: &str) -> String {
    let response = app
        .create_as(&format!("{SPARK}{extra}"), Some(tenant))
        .await;
    assert_eq!(response.status(), 201, "{tenant} create");
    crate::helpers::location(response.headers())
}

/// The cluster's attributes as its tenant sees them; `None` once it is gone.
async fn attributes(app: &TestApp, location: &str, tenant: &str) -> Option<serde_json::Value> {
    let response = app
        .client
        .get(location)
        .header("X-Tenant-Name", tenant)
        .header("Accept", "application/occi+json")
        .send()
        .await
        .expect("sent");
    if response.status() == 404 {
        return None;
    }
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    Some(body["attributes"].clone())
}

/// Waits until the cluster is `state` (`None`: gone); its attributes then.
async fn wait_for(
    app: &TestApp,
    location: &str,
    tenant: &str,
    state: Option<&str>,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = attributes(app, location, tenant).await;
        let at = now.as_ref().map(|a| {
            a["icclab.disco.state"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        if at.as_deref() == state {
            return now;
        }
        assert!(Instant::now() < deadline, "{location} stayed {at:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What tells a cluster's template from any other: its SSH public key.
async fn key_of(app: &TestApp, location: &str, tenant: &str) -> String {
    let attrs = attributes(app, location, tenant).await.expect("cluster");
    let key = attrs["ssh_public_key"].as_str().expect("a public key");
    assert!(!key.is_empty());
    key.to_string()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The file under the deployments directory holding the template with `key`; panics
/// unless there is one.
fn file_holding(app: &TestApp, key: &str) -> PathBuf {
    let holding: Vec<PathBuf> = files_under(&app.deployments_dir())
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(key)))
        .collect();
    assert_eq!(holding.len(), 1, "files holding the template: {holding:?}");
    holding.into_iter().next().expect("one")
}

fn holds(file: &Path, key: &str) -> bool {
    std::fs::read_to_string(file).is_ok_and(|t| t.contains(key))
}

#[tokio::test]
async fn two_tenants_naming_the_same_deployer_path_get_files_of_their_own() {
    let app = spawn_app().await;
    let path = ",icclab.disco.deployer.path=\"shared/cluster.yaml\"";
    let alice = create(&app, "alice", path).await;
    let bob = create(&app, "bob", path).await;
    wait_for(&app, &alice, "alice", Some("ready")).await;
    wait_for(&app, &bob, "bob", Some("ready")).await;

    let alices = key_of(&app, &alice, "alice").await;
    let bobs = key_of(&app, &bob, "bob").await;
    let (alices_file, bobs_file) = (file_holding(&app, &alices), file_holding(&app, &bobs));
    assert_ne!(alices_file, bobs_file);
    assert!(
        alices_file.ends_with("shared/cluster.yaml"),
        "{alices_file:?}"
    );

    let response = app
        .client
        .delete(&bob)
        .header("X-Tenant-Name", "bob")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    wait_for(&app, &bob, "bob", None).await;
    assert!(!bobs_file.exists(), "bob's delete removed his file");
    assert!(holds(&alices_file, &alices), "alice's file stays");
    let attrs = attributes(&app, &alice, "alice")
        .await
        .expect("alice's cluster");
    assert_eq!(attrs["icclab.disco.state"], "ready");
}

#[tokio::test]
async fn the_template_holding_secrets_is_readable_by_the_server_only() {
    let app = spawn_app().await;
    let location = create(&app, "default", "").await;
    wait_for(&app, &location, "default", Some("ready")).await;
    let file = file_holding(&app, &key_of(&app, &location, "default").await);
    let text = std::fs::read_to_string(&file).expect("file");
    assert!(text.contains("sesame"), "the file holds the Jupyter token");
    let mode = std::fs::metadata(&file).expect("file").permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{} is {:o}",
        file.display(),
        mode & 0o777
    );
    let dir = std::fs::metadata(file.parent().expect("dir")).expect("dir");
    assert_eq!(
        dir.permissions().mode() & 0o077,
        0,
        "its directory is private"
    );
}

#[tokio::test]
async fn stackid_is_the_path_in_the_tenants_directory_not_the_servers() {
    let app = spawn_app().await;
    let named = create(
        &app,
        "lab",
        ",icclab.disco.deployer.path=\"out/cluster.yaml\"",
    )
    .await;
    let unnamed = create(&app, "lab", ",icclab.disco.name=\"other\"").await;
    let named = wait_for(&app, &named, "lab", Some("ready"))
        .await
        .expect("ready");
    let unnamed_attrs = wait_for(&app, &unnamed, "lab", Some("ready"))
        .await
        .expect("ready");
    let server_dir = app.deployments_dir().display().to_string();
    assert_eq!(named["stackid"], "out/cluster.yaml");
    let id = unnamed.rsplit('/').next().expect("id");
    assert_eq!(unnamed_attrs["stackid"], format!("{id}.yaml"));
    for attrs in [&named, &unnamed_attrs] {
        let shown = attrs.to_string();
        assert!(!shown.contains(&server_dir), "{shown}");
    }
}

#[tokio::test]
async fn a_tenants_second_cluster_cannot_take_a_path_its_first_has() {
    let app = spawn_app().await;
    let path = ",icclab.disco.deployer.path=\"lab/spark.yaml\"";
    let first = create(&app, "lab", path).await;
    wait_for(&app, &first, "lab", Some("ready")).await;
    let firsts = key_of(&app, &first, "lab").await;
    let file = file_holding(&app, &firsts);

    let second = create(&app, "lab", &format!("{path},icclab.disco.name=\"second\"")).await;
    let failed = wait_for(&app, &second, "lab", Some("failed"))
        .await
        .expect("failed");
    let reason = failed["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    let first_id = first.rsplit('/').next().expect("id");
    assert!(
        reason.contains("\"lab/spark.yaml\"") && reason.contains(first_id),
        "{reason}"
    );
    assert!(
        !reason.contains(&app.deployments_dir().display().to_string()),
        "{reason}"
    );
    assert!(holds(&file, &firsts), "the first's file is untouched");

    let response = app
        .client
        .delete(&second)
        .header("X-Tenant-Name", "lab")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    wait_for(&app, &second, "lab", None).await;
    assert!(holds(&file, &firsts), "the first's file stays");
}

#[tokio::test]
async fn a_tenant_name_cannot_lead_outside_the_deployments_directory() {
    let app = spawn_app().await;
    for tenant in ["..", "../../escape", "a/b"] {
        let location = create(&app, tenant, ",icclab.disco.deployer.path=\"x.yaml\"").await;
        wait_for(&app, &location, tenant, Some("ready")).await;
        let file = file_holding(&app, &key_of(&app, &location, tenant).await);
        let inside = file
            .strip_prefix(app.deployments_dir())
            .expect("under the deployments directory");
        assert_eq!(inside.components().count(), 2, "{tenant:?}: {inside:?}");
    }
}
