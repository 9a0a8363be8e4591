//! Replicas of the service on one PostgreSQL database, as an operator runs them: real
//! `disco serve` processes sharing the store and, for the local provider, the machine's
//! data directory. Any replica answers for any cluster; a replica killed while its job
//! deploys loses the job's lease, and another replica takes the job over and adopts the
//! processes the dead one started; a second live process cannot take a replica's name.

use disco::store::scratch::TestDatabase;

use crate::helpers::{CATEGORY, ServerProcess, client};
use crate::local::{
    KillOnDrop, cluster_id, delete_and_check_nothing_left, get_attributes, value, wait_ready,
    wait_state,
};

/// A replica's settings: the shared store, its name, a short lease, the local provider.
fn replica_env<'a>(store: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DISCO_PROVIDER__DEFAULT", "local"),
        ("DISCO_STORE__URL", store),
        ("DISCO_REPLICA__NAME", name),
        ("DISCO_JOBS__LEASE_SECS", "3"),
        ("DISCO_JOBS__POLL_INTERVAL_SECS", "1"),
    ]
}

/// Each node's script process record (its pid and start time), by node.
fn node_scripts(cluster_dir: &std::path::Path) -> Vec<(String, String)> {
    let mut scripts: Vec<(String, String)> = std::fs::read_dir(cluster_dir.join("nodes"))
        .expect("nodes")
        .flatten()
        .filter_map(|node| {
            let record = std::fs::read_to_string(node.path().join("script")).ok()?;
            Some((node.file_name().to_string_lossy().into_owned(), record))
        })
        .collect();
    scripts.sort();
    scripts
}

#[tokio::test]
async fn a_replica_killed_during_a_dask_deploy_loses_it_to_another_which_adopts_its_processes() {
    let database = TestDatabase::create().await;
    let store = database.url_text();
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client();

    // Replica a alone takes the deploy: it is the only one running when it is queued.
    let mut a = ServerProcess::start(dir.path(), &replica_env(&store, "a"));
    let response = client
        .post(a.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let id = cluster_id(&crate::helpers::location(response.headers()));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&id);
    let b = ServerProcess::start(dir.path(), &replica_env(&store, "b"));

    // Either replica answers for the cluster, from the one store.
    let on_a = a.url(&format!("/disco/{id}"));
    let on_b = b.url(&format!("/disco/{id}"));
    wait_state(&client, &on_a, "installing").await;
    let seen_by_b = get_attributes(&client, &on_b).await.expect("b knows it");
    assert_eq!(value(&seen_by_b, "icclab.disco.state"), "installing");

    let cluster_dir = dir.path().join("local").join(&id);
    let started = node_scripts(&cluster_dir);
    assert_eq!(started.len(), 2, "a node script per node: {started:?}");
    a.kill(); // SIGKILL, while its job deploys: the node scripts go on without it
    let attributes = wait_ready(&client, &on_b).await;
    assert!(value(&attributes, "external_ip").ends_with(".10"));
    assert!(
        b.logs_soon("taking over a job whose replica's lease ran out")
            .await,
        "{}",
        b.log_text()
    );
    let metrics = client
        .get(b.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("disco_job_lease_takeovers_total 1"),
        "{metrics}"
    );
    // Adopted, not deployed again: the node scripts a started are the ones that ran.
    assert_eq!(
        node_scripts(&cluster_dir),
        started,
        "the same node scripts, once"
    );
    delete_and_check_nothing_left(&client, &on_b, &cluster_dir).await;
}

/// What `disco serve` on `data_dir` with `env` said as it refused to start (it must).
async fn refused_start(data_dir: &std::path::Path, env: Vec<(String, String)>) -> String {
    let data_dir = data_dir.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .envs(env)
            .output()
            .expect("disco runs")
    })
    .await
    .expect("joined");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    said
}

#[tokio::test]
async fn a_second_live_process_with_a_replica_s_name_refuses_to_start() {
    let database = TestDatabase::create().await;
    let store = database.url_text();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ServerProcess::start(dir.path(), &replica_env(&store, "only"));
    let other = tempfile::tempdir().expect("tempdir");
    let env: Vec<(String, String)> = replica_env(&store, "only")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let said = refused_start(other.path(), env).await;
    assert!(said.contains("replica \"only\""), "{said}");
    assert!(said.contains("replica.name"), "{said}");
    // The first goes on serving.
    let health = client().get(first.url("/-/")).send().await.expect("sent");
    assert_eq!(health.status(), 200);
}

/// A SQLite store has one server: a second `disco serve` on it, whatever its name,
/// refuses to start and says that replicas share PostgreSQL; the first goes on.
#[tokio::test]
async fn a_second_server_on_a_sqlite_store_in_use_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ServerProcess::start(dir.path(), &[("DISCO_REPLICA__NAME", "one")]);
    let said = refused_start(
        dir.path(),
        vec![("DISCO_REPLICA__NAME".to_string(), "two".to_string())],
    )
    .await;
    assert!(
        said.contains("another disco serve uses the SQLite store"),
        "{said}"
    );
    assert!(said.contains("store.url"), "{said}");
    let health = client().get(first.url("/-/")).send().await.expect("sent");
    assert_eq!(health.status(), 200);
}

/// A replica on the OpenStack test bed (nodes played by the test, as in openstack.rs).
fn openstack_replica(dir: &std::path::Path, store: &str, name: &str) -> ServerProcess {
    let auth_url = std::env::var("OS_AUTH_URL").expect("OS_AUTH_URL");
    let environment = crate::openstack::heat_environment("fake-env.yaml");
    ServerProcess::start_with(
        dir,
        &[
            ("DISCO_AUTH__MODE", "keystone"),
            ("DISCO_OPENSTACK__AUTH_URL", auth_url.as_str()),
            ("DISCO_STORE__URL", store),
            ("DISCO_REPLICA__NAME", name),
            ("DISCO_JOBS__LEASE_SECS", "3"),
            ("DISCO_JOBS__POLL_INTERVAL_SECS", "1"),
        ],
        &[
            "--provider",
            "openstack",
            "--heat-environment",
            environment.to_str().expect("utf-8 path"),
        ],
    )
}

#[tokio::test]
async fn three_replicas_one_killed_while_twenty_clusters_deploy_give_twenty_ready_clusters_one_stack_each()
 {
    use crate::openstack::{
        HEAT_GATE, nodes, stack_name, token_for, wait_for_state, wait_until_gone,
    };
    let _heat = HEAT_GATE.read().await;
    let cloud = crate::heat::cloud().await;
    let token = token_for("demo", "demopass", "demo").await;
    let database = TestDatabase::create().await;
    let store = database.url_text();
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let mut replicas: Vec<ServerProcess> = ["a", "b", "c"]
        .into_iter()
        .map(|name| openstack_replica(dir.path(), &store, name))
        .collect();

    // Created through the replicas in turn; each cluster is known by its id.
    let mut ids = Vec::new();
    for i in 0..20 {
        let replica = &replicas[i % 3];
        let response = client
            .post(replica.url("/disco/"))
            .header("Category", CATEGORY)
            .header("X-Auth-Token", &token)
            .header(
                "X-OCCI-Attribute",
                format!(
                    "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount={}",
                    i % 2
                ),
            )
            .send()
            .await
            .expect("sent");
        let status = response.status();
        let headers = response.headers().clone();
        assert_eq!(status, 201, "{}", response.text().await.unwrap_or_default());
        ids.push(cluster_id(&crate::helpers::location(&headers)));
    }
    replicas[1].kill(); // b, SIGKILL, with its share of the deploys in flight
    let (a, c) = (&replicas[0], &replicas[2]);
    for (i, id) in ids.iter().enumerate() {
        // Watched through one survivor, its nodes played, then read through the other.
        let url = a.url(&format!("/disco/{id}"));
        let installing = wait_for_state(&client, &url, &token, "installing").await;
        let followed = installing["attributes"]["stackid"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        cloud
            .play_stack(
                &stack_name(&url),
                followed.as_deref(),
                &nodes(i % 2),
                "SUCCESS",
                "installed",
            )
            .await;
    }
    for id in &ids {
        let url = c.url(&format!("/disco/{id}"));
        let ready = wait_for_state(&client, &url, &token, "ready").await;
        let stacks = cloud.stacks_named(&stack_name(&url)).await;
        assert_eq!(stacks.len(), 1, "one stack, none made twice, for {url}");
        assert_eq!(ready["attributes"]["stackid"], stacks[0]["id"]);
    }
    let took_over: usize = [a, c]
        .iter()
        .map(|replica| {
            replica
                .log_text()
                .matches("taking over a job whose replica's lease ran out")
                .count()
        })
        .sum();
    // b held deploys when it was killed (they wait for the nodes, which the test plays
    // only after): the others took them over.
    assert!(
        took_over > 0,
        "nobody took b's jobs over:\n{}",
        replicas[1].log_text()
    );
    for (i, id) in ids.iter().enumerate() {
        let replica = [a, c][i % 2];
        let deleted = client
            .delete(replica.url(&format!("/disco/{id}")))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("sent");
        assert_eq!(deleted.status(), 200);
    }
    for id in &ids {
        let url = a.url(&format!("/disco/{id}"));
        wait_until_gone(&client, &url, &token, &format!("{url} was never deleted")).await;
        assert!(
            cloud.stacks_named(&stack_name(&url)).await.is_empty(),
            "no orphan stack"
        );
    }
}

/// A PostgreSQL server of the test's own, on a loopback port, that it may stop and start
/// (Debian's binaries, which tests/run.sh installs; as the postgres user when root).
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries (tests/run.sh installs Debian's postgresql)")
            .flatten()
            .map(|version| version.path().join("bin"))
            .find(|bin| bin.join("initdb").exists())
            .expect("an initdb");
        let dir = tempfile::tempdir().expect("dir");
        if nix::unistd::geteuid().is_root() {
            let postgres = nix::unistd::User::from_name("postgres")
                .expect("users")
                .expect("a postgres user");
            nix::unistd::chown(dir.path(), Some(postgres.uid), Some(postgres.gid)).expect("chown");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = OwnPostgres { dir, bin, port };
        server.run(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
        );
        server.up();
        server
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if nix::unistd::geteuid().is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            std::process::Command::new(&program)
        };
        let out = command.args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = format!("{}/log", self.dir.path().display());
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        if nix::unistd::geteuid().is_root() {
            let _ = std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// A GET of `url` until it answers 200, through the database's return.
async fn until_served(client: &reqwest::Client, url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = client.get(url).send().await.map(|r| r.status().as_u16());
        if matches!(status, Ok(200)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{url}: {status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn postgres_stopped_for_30_s_during_a_deploy_is_a_503_with_retry_after_and_the_deploy_carries_on()
 {
    use std::time::{Duration, Instant};
    let postgres = tokio::task::spawn_blocking(OwnPostgres::start)
        .await
        .expect("joined");
    let store = postgres.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client();
    let a = ServerProcess::start(dir.path(), &replica_env(&store, "a"));
    let b = ServerProcess::start(dir.path(), &replica_env(&store, "b"));
    let response = client
        .post(a.url("/disco/"))
        .header("Category", CATEGORY)
        .header(
            "X-OCCI-Attribute",
            "icclab.disco.dependencies.inject=\"['dask']\",icclab.disco.components.heat.slavecount=1",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let id = cluster_id(&crate::helpers::location(response.headers()));
    let mut guard = KillOnDrop(Vec::new());
    guard.watch(&id);
    let (on_a, on_b) = (
        a.url(&format!("/disco/{id}")),
        b.url(&format!("/disco/{id}")),
    );
    wait_state(&client, &on_b, "installing").await;
    let cluster_dir = dir.path().join("local").join(&id);
    let started = node_scripts(&cluster_dir);

    let postgres = tokio::task::spawn_blocking(move || {
        postgres.down();
        postgres
    })
    .await
    .expect("joined");
    let stopped = Instant::now();
    for url in [&on_a, &on_b, &b.url("/disco/")] {
        let response = client.get(url.as_str()).send().await.expect("an answer");
        assert_eq!(response.status(), 503, "{url}");
        assert_eq!(response.headers()["retry-after"], "5", "{url}");
    }
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(stopped.elapsed())).await;
    let postgres = tokio::task::spawn_blocking(move || {
        postgres.up();
        postgres
    })
    .await
    .expect("joined");

    until_served(&client, &on_a).await;
    wait_ready(&client, &on_a).await;
    // Nothing lost or doubled: one cluster, its node scripts those started before.
    assert_eq!(
        node_scripts(&cluster_dir),
        started,
        "the same node scripts, once"
    );
    let listing = client
        .get(b.url("/disco/"))
        .header("Accept", "text/uri-list")
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert_eq!(
        listing.lines().filter(|l| l.contains("/disco/")).count(),
        1,
        "{listing}"
    );
    delete_and_check_nothing_left(&client, &on_b, &cluster_dir).await;
    drop(postgres);
}
