//! Step timeouts: a node silent in a step for longer than the step's timeout (its
//! component's `[timeouts]`, else its phase's default) fails the step and the cluster,
//! naming the node, the step and how long it was silent; what ran is stopped.

use std::path::Path;
use std::time::Duration;

use disco::providers::local::process::processes_of;

use crate::local::{
    KillOnDrop, cluster_id, delete_and_check_nothing_left, local_dir, spawn_local_app_with, value,
    wait_state,
};

/// A copy of the catalogue in `dir` whose Jupyter smoke step hangs, with a timeout of
/// `timeout` for it.
fn catalogue_with_a_hanging_smoke(dir: &Path, timeout: &str) -> std::path::PathBuf {
    let copy = dir.join("frameworks");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks"))
        .arg(&copy)
        .status()
        .expect("cp runs");
    assert!(status.success());
    std::fs::write(
        copy.join("jupyter/local/smoke.sh"),
        "# jupyter smoke that never ends (a test's)\nsleep 3600\n",
    )
    .expect("write");
    let toml = copy.join("jupyter/component.toml");
    let text = std::fs::read_to_string(&toml).expect("read");
    let text = text.replace(
        "[timeouts]\n",
        &format!("[timeouts]\nsmoke = \"{timeout}\"\n"),
    );
    assert!(text.contains(&format!("smoke = \"{timeout}\"")), "{text}");
    std::fs::write(&toml, text).expect("write");
    copy
}

#[tokio::test]
async fn a_step_silent_past_its_timeout_fails_the_cluster_naming_node_and_step() {
    let dir = tempfile::tempdir().expect("dir");
    let frameworks = catalogue_with_a_hanging_smoke(dir.path(), "5s");
    let app = spawn_local_app_with(|s| s.catalogue.frameworks_dir = frameworks).await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['jupyter']\",icclab.disco.components.heat.slavecount=0",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let failed = wait_state(&app.client, &location, "failed").await;
    let reason = value(&failed, "icclab.disco.state_reason");
    let id = cluster_id(&location);
    assert!(
        reason.starts_with("master silent for ")
            && reason.contains(&format!(
                "in 'jupyter smoke' (its timeout is 5s); its log: GET /disco/{id}/logs?node=master"
            )),
        "{reason}"
    );
    // Not the deploy's hour: the step's seconds.
    let silent: u64 = reason
        .trim_start_matches("master silent for ")
        .split('s')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    assert!((5..60).contains(&silent), "{reason}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        processes_of(&id, None).is_empty(),
        "what ran of the cluster was stopped"
    );
    delete_and_check_nothing_left(&app.client, &location, &local_dir(&app, &location)).await;
}

#[tokio::test]
async fn a_failed_cluster_gives_back_what_it_holds_after_a_while_and_keeps_its_record() {
    let dir = tempfile::tempdir().expect("dir");
    let frameworks = catalogue_with_a_hanging_smoke(dir.path(), "2s");
    let app = spawn_local_app_with(|s| {
        s.catalogue.frameworks_dir = frameworks;
        s.jobs.watch_interval_secs = 1;
        s.jobs.cleanup_failed_after = Some(disco::domain::Span::parse("3s").expect("span"));
    })
    .await;
    let location = app
        .create_ok(
            "icclab.disco.dependencies.inject=\"['jupyter']\",icclab.disco.components.heat.slavecount=0",
        )
        .await;
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&location);
    let cluster_dir = local_dir(&app, &location);
    wait_state(&app.client, &location, "failed").await;
    assert!(cluster_dir.exists(), "kept for inspection at first");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let shown = loop {
        let shown = app.attributes(&location).await.expect("the record stays");
        if value(&shown, "icclab.disco.state_reason").contains("was given back after 3s") {
            break shown;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never cleaned: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(value(&shown, "icclab.disco.state"), "failed");
    assert!(
        value(&shown, "icclab.disco.state_reason").starts_with("master silent for "),
        "why it failed is still said: {shown:?}"
    );
    assert!(!cluster_dir.exists(), "its directory is gone");
    assert!(processes_of(&cluster_id(&location), None).is_empty());
    // Its deployment log and task tree are still there.
    let log = app
        .client
        .get(format!("{location}/logs"))
        .send()
        .await
        .expect("sent");
    assert_eq!(log.status(), 200);
    assert!(log.text().await.expect("body").contains("jupyter install"));
    let tree = app
        .client
        .get(format!("{location}/tasks"))
        .header("Accept", "text/plain")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert!(tree.contains("jupyter smoke"), "{tree}");
    // The delete finds nothing left and ends.
    let response = app.client.delete(&location).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while app.attributes(&location).await.is_some() {
        assert!(std::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
