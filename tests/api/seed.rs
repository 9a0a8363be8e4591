//! The original's curl commands, exactly as README.md shows them, run with bash and curl
//! against the real server. Only the host and port are changed, and `UUID` in the show
//! command, which the user replaces by hand.

use std::time::{Duration, Instant};

use crate::helpers::spawn_app_with;

const README: &str = include_str!("../../README.md");

/// The shell block that follows `<!-- tested: NAME -->` in the README.
pub fn readme_block(name: &str) -> String {
    let marker = format!("<!-- tested: {name} -->");
    let after = README
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README has no {marker}"))
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a sh block follows the marker")
        .1;
    body.split_once("```")
        .expect("the block ends")
        .0
        .to_string()
}

/// Runs a README command with bash in an environment without OpenStack variables;
/// returns curl's verbose output (the response head, `< ` lines) and body.
async fn run(command: &str, port: u16, uuid: &str) -> String {
    run_with(command, port, &[("UUID", uuid)]).await
}

/// Runs a README command with bash with exactly these OpenStack variables (and `UUID`,
/// `TOKEN`) set, as a user's shell would have them.
pub async fn run_with(command: &str, port: u16, env: &[(&str, &str)]) -> String {
    let command = command.replace("127.0.0.1:8888", &format!("127.0.0.1:{port}"));
    let mut bash = tokio::process::Command::new("bash");
    bash.arg("-c").arg(&command);
    for variable in [
        "OS_TENANT_NAME",
        "OS_REGION_NAME",
        "OS_USERNAME",
        "OS_PASSWORD",
        "TOKEN",
        "UUID",
    ] {
        bash.env_remove(variable);
    }
    for (name, value) in env {
        bash.env(name, value);
    }
    let output = bash.output().await.expect("bash runs (is curl installed?)");
    assert!(
        output.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

/// The response header lines of curl -v, lowercased names: `name: value`.
pub fn response_headers(verbose: &str) -> Vec<String> {
    verbose
        .lines()
        .filter_map(|line| line.strip_prefix("< "))
        .map(|line| line.trim_end().to_string())
        .collect()
}

#[tokio::test]
async fn the_readme_walk_through_runs_as_written() {
    // As the README's run command does: the local provider, a real cluster.
    let app = spawn_app_with(|settings| {
        settings.provider.default = disco::domain::ProviderKind::Local;
    })
    .await;
    let port: u16 = app
        .address
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("number");

    let verbose = run(&readme_block("query"), port, "").await;
    assert!(verbose.contains("HTTP/1.1 200 OK"), "{verbose}");
    let query = response_headers(&verbose);
    assert!(
        query.iter().any(|h| h.starts_with(
            "category: disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\""
        )),
        "{query:?}"
    );

    let verbose = run(&readme_block("create"), port, "").await;
    assert!(verbose.contains("HTTP/1.1 201 Created"), "{verbose}");
    let created = response_headers(&verbose);
    let location = created
        .iter()
        .find_map(|h| h.strip_prefix("location: "))
        .expect("a Location header")
        .to_string();
    let uuid = location.rsplit('/').next().expect("uuid").to_string();
    assert!(location.starts_with(&format!("http://127.0.0.1:{port}/disco/")));

    let listed = response_headers(&run(&readme_block("list"), port, "").await);
    assert!(
        listed.contains(&format!("x-occi-location: {location}")),
        "{listed:?}"
    );

    let show = readme_block("show").replace("/disco/UUID ", &format!("/disco/{uuid} "));
    // A first run installs Spark and JupyterLab from PyPI.
    let deadline = Instant::now() + Duration::from_secs(900);
    let shown = loop {
        let shown = response_headers(&run(&show, port, "").await);
        if shown.contains(&"x-occi-attribute: icclab.disco.state=\"ready\"".to_string()) {
            break shown;
        }
        assert!(
            !shown.contains(&"x-occi-attribute: icclab.disco.state=\"failed\"".to_string()),
            "failed: {shown:?}"
        );
        assert!(Instant::now() < deadline, "never ready: {shown:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for expected in [
        format!("x-occi-attribute: occi.core.id=\"{uuid}\""),
        "x-occi-attribute: icclab.disco.dependencies.inject=\"{'spark': '', 'jupyter': ''}\""
            .to_string(),
        "x-occi-attribute: icclab.disco.components.heat.slavecount=2".to_string(),
        "x-occi-attribute: icclab.disco.deployer.username=\"$OS_USERNAME\"".to_string(),
        "x-occi-attribute: mcn.service.state=\"ready\"".to_string(),
    ] {
        assert!(shown.contains(&expected), "{expected} not in {shown:?}");
    }
    for name in [
        "external_ip",
        "ssh_key_name",
        "ssh_public_key",
        "ssh_private_key",
    ] {
        assert!(
            shown
                .iter()
                .any(|h| h.starts_with(&format!("x-occi-attribute: {name}="))),
            "{name} not in {shown:?}"
        );
    }
    assert!(
        !shown.iter().any(|h| h.contains("deployer.password")),
        "the password attribute is write-only"
    );

    // What the README promises is there: Spark's master with both workers, JupyterLab
    // behind its token, on the master's loopback address.
    let external_ip = shown
        .iter()
        .find_map(|h| h.strip_prefix("x-occi-attribute: external_ip=\""))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("external_ip");
    let local = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let spark: serde_json::Value = local
        .get(format!("http://{external_ip}:8080/json/"))
        .send()
        .await
        .expect("the Spark master answers")
        .json()
        .await
        .expect("json");
    assert_eq!(spark["aliveworkers"], 2, "{spark}");
    let jupyter = local
        .get(format!("http://{external_ip}:8888/api/status"))
        .send()
        .await
        .expect("JupyterLab answers");
    assert_eq!(jupyter.status(), 403, "JupyterLab wants its token");

    let deleted = run(&readme_block("delete"), port, &uuid).await;
    assert!(deleted.contains("HTTP/1.1 200 OK"), "{deleted}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = response_headers(&run(&readme_block("list"), port, "").await);
        if !listed.iter().any(|h| h.starts_with("x-occi-location")) {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {listed:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = disco::providers::local::process::processes_of(&uuid, None);
    assert!(left.is_empty(), "processes of the cluster left: {left:?}");
}
