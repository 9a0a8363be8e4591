//! Starting the application for a test, and the requests most tests make.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use disco::config::{Overrides, Settings};
use disco::lifecycle::Lifecycle;
use disco::startup::Application;
use disco::store::Store;
use reqwest::header::HeaderMap;
use tempfile::TempDir;

pub const CATEGORY: &str =
    r#"disco; scheme="http://schemas.cloudcomplab.ch/occi/sm#"; class="kind";"#;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub lifecycle: Lifecycle,
    /// The application's store, for what the interface does not show (the report token
    /// of a cluster that runs no nodes, the event streams' waiters).
    pub store: Store,
    pub settings: Settings,
    /// Lives as long as the test: the database and every file the providers write.
    _data_dir: TempDir,
    /// With `DISCO_TEST_STORE=postgres`, the test's PostgreSQL database (dropped after it).
    _database: Option<disco::store::scratch::TestDatabase>,
}

/// The real application on port 0, with a fresh data directory and the worker running.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        disco::telemetry::init(&disco::config::LogSettings {
            filter: "debug".into(),
            format: disco::config::LogFormat::Text,
        });
    }
    let data_dir = tempfile::tempdir().expect("temporary data dir");
    let mut settings = Settings::load(&Overrides {
        listen: Some("127.0.0.1:0".parse().expect("address")),
        data_dir: Some(data_dir.path().to_path_buf()),
        ..Overrides::default()
    })
    .expect("settings");
    settings.jobs.poll_interval_secs = 1;
    // The suite runs with the test bed's OS_* variables set; a plain app must not pick
    // them up as its cloud. OpenStack tests configure it themselves.
    settings.openstack.auth_url = None;
    // Tests of the interface deploy with the file provider; those of a provider pick it.
    settings.provider.default = disco::domain::ProviderKind::File;
    // DISCO_TEST_STORE=postgres: the store in a fresh PostgreSQL database of the server
    // DISCO_TEST_POSTGRES_URL names (the suite on the other store).
    let database = match std::env::var("DISCO_TEST_STORE").as_deref() {
        Ok("postgres") => Some(disco::store::scratch::TestDatabase::create().await),
        Ok("" | "sqlite") | Err(_) => None,
        Ok(other) => panic!("DISCO_TEST_STORE={other}: expected sqlite or postgres"),
    };
    if let Some(database) = &database {
        settings.store.url = Some(database.url.clone());
    }
    adjust(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let lifecycle = app.lifecycle();
    let store = app.store();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: client(),
        lifecycle,
        store,
        settings,
        _data_dir: data_dir,
        _database: database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POST /disco/ with the kind's Category and one X-OCCI-Attribute header, as text/occi.
    pub async fn create(&self, attributes: &str) -> reqwest::Response {
        self.create_as(attributes, None).await
    }

    pub async fn create_as(&self, attributes: &str, tenant: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/disco/"))
            .header("Category", CATEGORY)
            .header("Content-Type", "text/occi")
            .header("X-OCCI-Attribute", attributes);
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Name", tenant);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a cluster that must be accepted; returns its absolute location.
    pub async fn create_ok(&self, attributes: &str) -> String {
        let response = self.create(attributes).await;
        let status = response.status();
        let location = location(response.headers());
        assert_eq!(
            status,
            201,
            "create refused: {}",
            response.text().await.unwrap_or_default()
        );
        location
    }

    /// GET a location as text/plain; its attributes by name.
    pub async fn attributes(&self, location: &str) -> Option<Vec<(String, String)>> {
        let response = self
            .client
            .get(location)
            .header("Accept", "text/plain")
            .send()
            .await
            .expect("request sent");
        if response.status() == 404 {
            return None;
        }
        assert_eq!(response.status(), 200);
        Some(plain_attributes(&response.text().await.expect("body")))
    }

    pub async fn attribute(&self, location: &str, name: &str) -> Option<String> {
        self.attributes(location)
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Polls until the cluster reaches `state` (`None`: until it is gone), or panics at
    /// the deadline with the state it was in.
    pub async fn wait_for(&self, location: &str, state: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.attribute(location, "icclab.disco.state").await;
            if now.as_deref() == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{location} stayed {now:?}, wanted {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The locations the default tenant's listing shows.
    pub async fn listing(&self) -> Vec<String> {
        self.listing_as(None).await
    }

    pub async fn listing_as(&self, tenant: Option<&str>) -> Vec<String> {
        let mut request = self
            .client
            .get(self.url("/disco/"))
            .header("Accept", "text/uri-list");
        if let Some(tenant) = tenant {
            request = request.header("X-Tenant-Name", tenant);
        }
        let body = request
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("body");
        body.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }

    pub fn deployments_dir(&self) -> PathBuf {
        self.settings.provider.file.dir.clone()
    }

    /// Where the file provider writes `path` of the default tenant: in its directory.
    pub fn deployed_file(&self, path: &str) -> PathBuf {
        let tenant = disco::domain::TenantId::default_tenant();
        self.deployments_dir()
            .join(disco::providers::file::tenant_dir(&tenant))
            .join(path)
    }
}

/// A client that drops idle connections before the server does (actix closes them after
/// 5 s), so a request after a long wait never goes out on a connection being closed.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .expect("client")
}

pub fn location(headers: &HeaderMap) -> String {
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The X-OCCI-Attribute lines of a text/plain rendering, values unquoted and unescaped.
pub fn plain_attributes(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter_map(|line| line.strip_prefix("X-OCCI-Attribute: "))
        .filter_map(|pair| {
            let parsed = disco::occi::text::parse_attributes(pair).ok()?;
            let attribute = parsed.into_iter().next()?;
            let value = match attribute.value {
                disco::domain::Scalar::String(s) => s,
                other => disco::occi::text::OcciValue(&other).to_string(),
            };
            Some((attribute.name, value))
        })
        .collect()
}

/// The attributes of the seed's create request with real values; `inject` and extras vary.
pub fn seed_attributes(inject: &str) -> String {
    format!(
        "icclab.disco.components.heat.networkname=\"disco-net\",\
         icclab.disco.components.heat.externalnetworkname=\"public\",\
         icclab.disco.components.heat.masterimage=\"ubuntu-22.04\",\
         icclab.disco.components.heat.slaveimage=\"ubuntu-22.04\",\
         icclab.disco.components.heat.masterflavor=\"m1.medium\",\
         icclab.disco.components.heat.slaveflavor=\"m1.small\",\
         icclab.disco.components.heat.slavecount=\"2\",\
         icclab.disco.deployer.username=\"$OS_USERNAME\",\
         icclab.disco.deployer.password=\"$OS_PASSWORD\",\
         icclab.disco.deployer.region=\"$OS_REGION_NAME\",\
         icclab.disco.dependencies.inject=\"{inject}\""
    )
}

/// The real `disco` binary, serving from `data_dir`, its log captured in a file.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub address: String,
    pub log: PathBuf,
}

impl ServerProcess {
    pub fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_with(data_dir, env, &[])
    }

    pub fn start_with(
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> ServerProcess {
        let log = data_dir.join(format!(
            "server-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        ));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_disco"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("RUST_LOG")
            // As in spawn_app: the file provider unless the test picks one.
            .env("DISCO_PROVIDER__DEFAULT", "file")
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("disco starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .find(|l| l.contains("DISCO is listening"))
                .and_then(|l| l.split("port=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                break port.to_string();
            }
            assert!(Instant::now() < deadline, "disco did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        };
        ServerProcess {
            child,
            address: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the server logs `text` within ten seconds: a job logs how it ended just
    /// after it recorded the state a client may already have seen.
    pub async fn logs_soon(&self, text: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if self.log_text().contains(text) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
