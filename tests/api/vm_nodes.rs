//! DISCO's own deploys on the test bed's node hosts (tests/testbed/README.md, "Node
//! hosts"): Heat's stand-in servers boot as Debian 12 containers that run the user data
//! DISCO composed, install the components through the bridge's proxy and the Apache
//! mirror, signal Heat's wait condition and report their stages to DISCO themselves.
//! Nothing here plays a node: the tests only look at what the nodes did.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::heat::{Cloud, cloud};
use crate::helpers::{TestApp, location, spawn_app_with};
use crate::openstack::{
    HEAT_GATE, create, heat_environment, on_the_test_bed, rendering, stack_name, token_for,
};

/// One cluster boots at a time: each installs Java or Python packages in two or three
/// containers, on a machine of two cores that runs the rest of the suite too.
static BOOTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test bed's Apache mirror on the bridge (apache_mirror.sh): Spark's release.
const MIRROR: &str = "http://10.251.0.1:8890";

/// How long a cluster's nodes may take to install, start and test their components.
const BOOT_LIMIT: Duration = Duration::from_secs(900);

fn testbed_dir() -> PathBuf {
    std::env::var_os("DISCO_TESTBED_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/disco-testbed"), PathBuf::from)
}

fn node_host() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/node_host.py")
}

/// DISCO on the test bed with the node hosts' Heat environment: stand-in servers get
/// addresses on the bridge and boot as containers.
async fn spawn_nodes_app() -> TestApp {
    assert_eq!(
        std::env::var("DISCO_TESTBED_NODES").as_deref(),
        Ok("1"),
        "the node hosts are not up: run the suite with tests/run.sh (it starts the test bed \
         with DISCO_TESTBED_NODES=1), or DISCO_TESTBED_NODES=1 tests/testbed/openstack.sh up"
    );
    spawn_app_with(|settings| {
        on_the_test_bed(settings, "fake-env.yaml");
        settings
            .openstack
            .heat_environment
            .push(heat_environment("fake-env-nodes.yaml"));
        settings.openstack.stack_timeout_mins = 20;
    })
    .await
}

/// A node container of the node host: its name, address and DISCO's name of the node.
#[derive(Debug, Clone)]
struct Node {
    container: String,
    address: String,
    /// `master`, `slaves:1`, ... from the server's name (`STACK-master`, `STACK-slave-0`).
    node: String,
}

/// The running containers whose servers belong to the stack `stack`, master first.
fn nodes_of(stack: &str) -> Vec<Node> {
    let run = testbed_dir().join("run/nodes");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&run).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("state.json")) else {
            continue;
        };
        let Ok(state) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let server = state["server"].as_str().unwrap_or_default();
        let Some(role) = server.strip_prefix(&format!("{stack}-")) else {
            continue;
        };
        let node = match role.strip_prefix("slave-") {
            Some(index) => format!(
                "slaves:{}",
                index.parse::<u32>().expect("a slave's index") + 1
            ),
            None => role.to_string(),
        };
        found.push(Node {
            container: state["name"].as_str().expect("name").to_string(),
            address: state["address"].as_str().expect("address").to_string(),
            node,
        });
    }
    found.sort_by(|a, b| (a.node != "master", &a.node).cmp(&(b.node != "master", &b.node)));
    found
}

/// Deletes the stack through Heat when a test fails before its own delete, so that its
/// containers do not go on installing beside the next tests.
struct StackGuard {
    heat: String,
    token: String,
    stack: String,
}

impl StackGuard {
    fn new(cloud: &Cloud, stack: &str) -> StackGuard {
        StackGuard {
            heat: cloud.heat.clone(),
            token: cloud.token.clone(),
            stack: stack.to_string(),
        }
    }
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Heat answers GET /stacks/NAME with a redirect to /stacks/NAME/ID; curl
            // follows it with the DELETE.
            let _ = std::process::Command::new("curl")
                .args(["-sS", "-L", "-X", "DELETE", "-o", "/dev/null", "-H"])
                .arg(format!("X-Auth-Token: {}", self.token))
                .arg(format!("{}/stacks/{}", self.heat, self.stack))
                .status();
        }
    }
}

/// POST /disco/ of a cluster with `attributes`, which must be accepted: its URL, its
/// stack's name, and the guard that deletes the stack if the test fails.
async fn create_cluster(
    app: &TestApp,
    cloud: &Cloud,
    token: &str,
    attributes: &str,
) -> (String, String, StackGuard) {
    let response = create(app, token, attributes).await;
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let url = location(response.headers());
    let stack = stack_name(&url);
    let guard = StackGuard::new(cloud, &stack);
    (url, stack, guard)
}

/// Runs `script` with bash as root in the node's container: (status, stdout, stderr).
async fn in_node(container: &str, script: &str) -> (i32, String, String) {
    let output = tokio::process::Command::new("python3")
        .arg(node_host())
        .args(["exec", container, "bash", "-c", script])
        .output()
        .await
        .expect("node_host.py runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Waits for the cluster to reach `wanted` (failing at once if it fails instead), for at
/// most BOOT_LIMIT: its JSON
/// rendering then.
async fn wait_for(app: &TestApp, url: &str, token: &str, wanted: &str) -> Value {
    let deadline = Instant::now() + BOOT_LIMIT;
    loop {
        let (_, body) = rendering(&app.client, url, token).await;
        let state = body["attributes"]["icclab.disco.state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state == wanted {
            return body;
        }
        assert!(
            (state != "failed" || wanted == "failed") && Instant::now() < deadline,
            "{url} is {state}, not {wanted}: {} (stack {} {})",
            body["attributes"]["icclab.disco.state_reason"],
            body["attributes"]["stack_status"],
            body["attributes"]["stack_status_reason"],
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn tasks(app: &TestApp, url: &str, token: &str) -> Value {
    app.client
        .get(format!("{url}/tasks"))
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("the task tree")
}

fn seconds(task: &Value) -> Option<f64> {
    Some((at(task, "ended_at")? - at(task, "started_at")?).num_milliseconds() as f64 / 1000.0)
}

/// The tree's stages (name, seconds), each finished with a start and an end: the
/// figures of a deploy.
fn stage_times(tree: &Value) -> Vec<(String, f64)> {
    tree["children"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|stage| {
            let name = stage["name"].as_str().expect("name").to_string();
            let took = seconds(stage).unwrap_or_else(|| panic!("{name} has no times: {stage:#}"));
            (name, took)
        })
        .collect()
}

/// Every leaf of `stage` in the tree (a node's row, under its node group's when it has
/// one).
fn leaves<'a>(tree: &'a Value, stage: &str) -> Vec<&'a Value> {
    fn walk<'a>(task: &'a Value, out: &mut Vec<&'a Value>) {
        match task["children"].as_array() {
            Some(children) if !children.is_empty() => {
                children.iter().for_each(|child| walk(child, out));
            }
            _ => out.push(task),
        }
    }
    let mut out = Vec::new();
    for s in tree["children"].as_array().expect("stages") {
        if s["name"] == stage {
            walk(s, &mut out);
        }
    }
    out
}

/// Deletes the cluster and checks that its stack, its containers and their processes
/// are gone.
async fn delete_and_check_gone(app: &TestApp, cloud: &Cloud, url: &str, token: &str, stack: &str) {
    let containers = nodes_of(stack);
    let deleted = app
        .client
        .delete(url)
        .header("X-Auth-Token", token)
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(180);
    while rendering(&app.client, url, token).await.0 != 404 {
        assert!(Instant::now() < deadline, "{url} was never deleted");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        cloud.stacks_named(stack).await.is_empty(),
        "{stack} is still in Heat"
    );
    // Heat deletes the servers' nested stacks; the node host stops their containers.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !nodes_of(stack).is_empty() {
        assert!(
            Instant::now() < deadline,
            "containers of {stack} still run: {:?}",
            nodes_of(stack)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let run = testbed_dir().join("run/nodes");
    for node in &containers {
        assert!(
            !run.join(&node.container).exists(),
            "{}'s directory (overlay) is left",
            node.container
        );
    }
    let processes = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let processes = String::from_utf8_lossy(&processes.stdout);
    for node in &containers {
        assert!(
            !processes.contains(&format!("--machine={}", node.container)),
            "{}'s systemd-nspawn still runs",
            node.container
        );
    }
}

const PYSPARK_JOB: &str = r#"
import socket, sys, time
from pyspark import SparkConf, SparkContext
conf = (SparkConf().setAppName("vm-nodes check").setMaster(sys.argv[1])
        .set("spark.executor.memory", "512m")
        .set("spark.scheduler.minRegisteredResourcesRatio", "1.0")
        .set("spark.scheduler.maxRegisteredResourcesWaitingTime", "120s"))
sc = SparkContext(conf=conf)
def part(numbers):
    time.sleep(1)
    yield (socket.gethostbyname(socket.gethostname()), sum(x * x for x in numbers))
done = sc.parallelize(range(100001), 8).mapPartitions(part).collect()
print("total", sum(s for _, s in done))
print("hosts", " ".join(sorted({h for h, _ in done})))
sc.stop()
"#;

#[tokio::test]
async fn spark_on_three_node_containers_runs_a_pyspark_job_on_both_slaves_and_leaves_nothing() {
    let _heat = HEAT_GATE.read().await;
    let _boot = BOOTS.lock().await;
    let app = spawn_nodes_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let posted_at = chrono::Utc::now();
    let (url, stack, _guard) = create_cluster(
        &app,
        &cloud,
        &token,
        &format!(
            "icclab.disco.dependencies.inject=\"['spark']\",icclab.disco.components.heat.slavecount=2,\
             icclab.disco.components.heat.masterimage=\"debian-12\",icclab.disco.components.heat.slaveimage=\"debian-12\",\
             icclab.disco.components.spark.apache_mirror=\"{MIRROR}\""
        ),
    )
    .await;
    let ready = wait_for(&app, &url, &token, "ready").await;
    assert_eq!(ready["attributes"]["stack_status"], "CREATE_COMPLETE");

    let nodes = nodes_of(&stack);
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["master", "slaves:1", "slaves:2"], "{nodes:?}");
    let master = &nodes[0];
    assert_eq!(
        ready["attributes"]["external_ip"], master.address,
        "the floating IP is the master's container"
    );

    // The master's own view: both slaves' workers ALIVE, at their containers' addresses.
    let status: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("http://{}:8080/json/", master.address))
        .send()
        .await
        .expect("the master's web UI answers over the bridge")
        .json()
        .await
        .expect("json");
    let alive: BTreeSet<&str> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter(|w| w["state"] == "ALIVE")
        .map(|w| w["host"].as_str().expect("host"))
        .collect();
    let slaves: BTreeSet<&str> = nodes[1..].iter().map(|n| n.address.as_str()).collect();
    assert_eq!(alive, slaves, "{status:#}");

    // A pyspark job submitted on the master, as a user logged in there would.
    std::fs::write(
        testbed_dir()
            .join("run/nodes")
            .join(&master.container)
            .join("merged/root/vm_nodes_job.py"),
        PYSPARK_JOB,
    )
    .expect("the job written into the master");
    let (rc, stdout, stderr) = in_node(
        &master.container,
        &format!(
            "timeout 300 /opt/disco/spark/bin/spark-submit /root/vm_nodes_job.py spark://{}:7077",
            master.address
        ),
    )
    .await;
    assert_eq!(rc, 0, "spark-submit: {stdout}\n{}", tail(&stderr, 3000));
    let n: u64 = 100_000;
    let want = n * (n + 1) * (2 * n + 1) / 6;
    assert!(
        stdout.lines().any(|l| l == format!("total {want}")),
        "wrong result: {stdout}"
    );
    let hosts: BTreeSet<&str> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("hosts "))
        .expect("a hosts line")
        .split(' ')
        .collect();
    assert_eq!(hosts, slaves, "the job's tasks ran on {hosts:?}");

    // The task tree comes from the nodes' own reports.
    let tree = tasks(&app, &url, &token).await;
    assert_eq!(tree["status"], "succeeded", "{tree:#}");
    let times = stage_times(&tree);
    let stages: Vec<&str> = times.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        stages,
        [
            "create_nodes_stage",
            "spark install",
            "spark configure",
            "spark start",
            "spark smoke"
        ],
        "{tree:#}"
    );
    for stage in &stages[1..] {
        let reported: BTreeSet<&str> = leaves(&tree, stage)
            .iter()
            .filter(|leaf| leaf["rc"] == 0 && leaf["status"] == "succeeded")
            .filter_map(|leaf| leaf["node"].as_str())
            .collect();
        let expected: BTreeSet<&str> = if *stage == "spark smoke" {
            ["master"].into()
        } else {
            names.iter().copied().collect()
        };
        assert!(
            expected.is_subset(&reported),
            "{stage}: reports from {reported:?}, want {expected:?}: {tree:#}"
        );
    }
    let smoke = leaves(&tree, "spark smoke");
    assert!(
        smoke.iter().any(|leaf| leaf["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("SparkPi says pi is roughly")),
        "{smoke:#?}"
    );
    eprintln!(
        "vm_nodes figures, spark 1+2: {}",
        figures(&tree, posted_at, &times)
    );

    delete_and_check_gone(&app, &cloud, &url, &token, &stack).await;
}

fn at(task: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    task[key]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
}

/// A deploy's time, split: Heat (the POST to the last server made, from Heat's events),
/// the boot (a server made to its node's first report, the longest of the nodes), each
/// component stage, and the rest (the smoke test's end to ready: the wait condition's
/// signal, the stack's CREATE_COMPLETE, DISCO's look at it).
fn figures(
    tree: &Value,
    posted: chrono::DateTime<chrono::Utc>,
    stages: &[(String, f64)],
) -> String {
    let secs = |d: chrono::TimeDelta| d.num_milliseconds() as f64 / 1000.0;
    let stage = |name: &str| {
        tree["children"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no {name} in {tree:#}"))
    };
    let made = stage("create_nodes_stage");
    let mut boot: f64 = 0.0;
    for server in made["children"].as_array().into_iter().flatten() {
        let node = &server["node"];
        let first = &tree["children"][1];
        let first_report = leaves(tree, first["name"].as_str().unwrap_or_default())
            .into_iter()
            .filter(|leaf| &leaf["node"] == node)
            .filter_map(|leaf| at(leaf, "started_at"))
            .min();
        if let (Some(report), Some(booted)) = (first_report, at(server, "ended_at")) {
            boot = boot.max(secs(report - booted));
        }
    }
    let ended = at(tree, "ended_at").expect("the deploy's end");
    let last = tree["children"]
        .as_array()
        .and_then(|s| s.last())
        .and_then(|s| at(s, "ended_at"))
        .expect("the last stage's end");
    let mut parts = vec![
        format!("POST -> ready {:.1} s", secs(ended - posted)),
        format!(
            "heat {:.1} s",
            secs(at(made, "ended_at").expect("made") - posted)
        ),
        format!("boot {boot:.1} s"),
    ];
    parts.extend(
        stages
            .iter()
            .filter(|(name, _)| name != "create_nodes_stage")
            .map(|(name, took)| format!("{name} {took:.1} s")),
    );
    parts.push(format!("smoke's end -> ready {:.1} s", secs(ended - last)));
    parts.join(", ")
}

fn tail(text: &str, chars: usize) -> &str {
    let start = text.len().saturating_sub(chars);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// What `/api/status` of the Jupyter server at `master` answers, without and with `token`.
async fn jupyter_answers(master: &str, token: &str) -> (u16, u16) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://{master}:8888/api/status");
    let without = client.get(&url).send().await.expect("jupyter answers");
    let with = client
        .get(&url)
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .expect("jupyter answers");
    (without.status().as_u16(), with.status().as_u16())
}

#[tokio::test]
async fn dask_and_jupyter_on_node_containers_pass_their_smoke_tests_and_jupyter_wants_its_token() {
    let _heat = HEAT_GATE.read().await;
    let _boot = BOOTS.lock().await;
    let app = spawn_nodes_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let jupyter_token = "vm-nodes-jupyter-token-4f1d2c";
    let posted_at = chrono::Utc::now();
    let (url, stack, _guard) = create_cluster(
        &app,
        &cloud,
        &token,
        &format!(
            "icclab.disco.dependencies.inject=\"['dask', 'jupyter']\",icclab.disco.components.heat.slavecount=1,\
             icclab.disco.components.heat.masterimage=\"debian-12\",icclab.disco.components.heat.slaveimage=\"debian-12\",\
             icclab.disco.components.jupyter.token=\"{jupyter_token}\""
        ),
    )
    .await;
    let ready = wait_for(&app, &url, &token, "ready").await;
    let nodes = nodes_of(&stack);
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["master", "slaves:1"], "{nodes:?}");
    let master = &nodes[0];
    assert_eq!(ready["attributes"]["external_ip"], master.address);

    let tree = tasks(&app, &url, &token).await;
    assert_eq!(tree["status"], "succeeded", "{tree:#}");
    let dask = leaves(&tree, "dask smoke");
    assert!(
        dask.iter().any(|leaf| leaf["node"] == "master"
            && leaf["rc"] == 0
            && leaf["stdout"]
                .as_str()
                .unwrap_or_default()
                .contains("dask: 1 workers; sum of squares 0..99 = 328350")),
        "the dask smoke test, as the master reported it: {dask:#?}"
    );
    let jupyter = leaves(&tree, "jupyter smoke");
    assert!(
        jupyter.iter().any(|leaf| leaf["node"] == "master"
            && leaf["rc"] == 0
            && leaf["status"] == "succeeded"),
        "the jupyter smoke test, as the master reported it: {jupyter:#?}"
    );
    // Over the bridge, as a user's browser through the floating IP.
    assert_eq!(
        jupyter_answers(&master.address, jupyter_token).await,
        (403, 200),
        "Jupyter refuses a request without its token and answers one with it"
    );
    // The token is the one given, kept root-only on the node.
    let (rc, stdout, _) = in_node(
        &master.container,
        "stat -c '%a %U' /opt/disco/jupyter/token && cat /opt/disco/jupyter/token",
    )
    .await;
    assert_eq!(rc, 0);
    assert_eq!(stdout, format!("600 root\n{jupyter_token}"), "{stdout:?}");
    let times = stage_times(&tree);
    eprintln!(
        "vm_nodes figures, dask+jupyter 1+1: {}",
        figures(&tree, posted_at, &times)
    );

    delete_and_check_gone(&app, &cloud, &url, &token, &stack).await;
}

#[tokio::test]
async fn a_step_failing_on_one_slave_fails_the_cluster_with_what_that_node_reported() {
    let _heat = HEAT_GATE.read().await;
    let _boot = BOOTS.lock().await;
    let app = spawn_nodes_app().await;
    let cloud = cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    // A step of the user's own on every slave; it fails on slaves:2 alone.
    let actions = serde_json::json!([{"name": "check-disk", "group": "slaves", "script":
        "echo \"checking the disk of $DISCO_NODE\"\n\
         if [ \"$DISCO_NODE\" = slaves:2 ]; then echo \"no space left on $DISCO_NODE\" >&2; exit 7; fi\n\
         echo fine"}]);
    let (url, stack, _guard) = create_cluster(
        &app,
        &cloud,
        &token,
        &format!(
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=2,\
             icclab.disco.components.heat.masterimage=\"debian-12\",icclab.disco.components.heat.slaveimage=\"debian-12\",{}",
            crate::init_actions::init_attribute(&actions)
        ),
    )
    .await;
    let failed = wait_for(&app, &url, &token, "failed").await;
    let reason = failed["attributes"]["icclab.disco.state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains(
            "slaves:2 failed: init check-disk failed with return code 7: no space left on slaves:2;"
        ),
        "{reason}"
    );
    let tree = tasks(&app, &url, &token).await;
    assert_eq!(tree["status"], "failed", "{tree:#}");
    let init = leaves(&tree, "init check-disk");
    let of = |node: &str| {
        init.iter()
            .find(|leaf| leaf["node"] == node)
            .unwrap_or_else(|| panic!("no init check-disk row of {node}: {init:#?}"))
    };
    assert_eq!(of("slaves:2")["status"], "failed");
    assert_eq!(of("slaves:2")["rc"], 7);
    assert!(
        of("slaves:2")["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("no space left on slaves:2"),
        "{init:#?}"
    );
    assert_eq!(of("slaves:1")["rc"], 0, "{init:#?}");
    assert!(
        of("slaves:1")["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("checking the disk of slaves:1"),
        "{init:#?}"
    );
    // The node's own log says the same.
    let nodes = nodes_of(&stack);
    let failing = nodes
        .iter()
        .find(|n| n.node == "slaves:2")
        .expect("slaves:2's container");
    let (_, log, _) = in_node(
        &failing.container,
        "cat /var/log/disco/deployment.log; grep -rh 'no space left' /var/log/disco/",
    )
    .await;
    assert!(log.contains("FAILED init check-disk (rc 7)"), "{log}");
    assert!(log.contains("no space left on slaves:2"), "{log}");

    delete_and_check_gone(&app, &cloud, &url, &token, &stack).await;
}
