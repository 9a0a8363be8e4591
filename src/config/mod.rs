//! Configuration: `etc/disco.toml` (compiled in as the defaults), an optional file given
//! with `--config`, `DISCO_*` environment variables, then command-line flags.

pub mod clouds;
mod hosts;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::domain::{LifetimePolicy, OnExpiry, ProviderKind, Span};
use crate::store::Location;
use crate::store::url::PostgresUrl;
pub use hosts::HostName;

/// The checked-in configuration file, which is also the documentation of every key.
pub const DEFAULTS: &str = include_str!("../../etc/disco.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub manifest: PathBuf,
    pub catalogue: CatalogueSettings,
    pub server: ServerSettings,
    pub auth: AuthSettings,
    pub provider: ProviderSettings,
    pub openstack: OpenstackSettings,
    pub jobs: JobSettings,
    pub store: StoreSettings,
    pub replica: ReplicaSettings,
    pub log: LogSettings,
}

/// Who this process is among the replicas sharing a store.
#[derive(Debug, Clone, Deserialize)]
pub struct ReplicaSettings {
    /// Unique among the live processes on the store; empty: the host name and the
    /// listen port (`host:8888`).
    pub name: String,
    /// The machine, for the local provider's clusters; empty: the host name.
    pub host: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreSettings {
    /// Days a deleted cluster's record (its transitions, reports, tokens...) is kept
    /// before the watcher purges it; 0: forever.
    pub keep_deleted_days: u32,
    /// Where the store is: `None` (an empty `store.url`), SQLite in the data directory;
    /// else that PostgreSQL database.
    #[serde(deserialize_with = "store_url")]
    pub url: Option<PostgresUrl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogueSettings {
    pub frameworks_dir: PathBuf,
    pub templates_dir: PathBuf,
    /// The operator's cluster templates (`*.toml`).
    pub cluster_templates_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The base URL clients and nodes reach this server at; `None` (empty): what each
    /// request says, and for nodes the address it listens on.
    #[serde(deserialize_with = "optional_url")]
    pub public_url: Option<Url>,
    /// Host names served besides `localhost`, the loopback addresses, the listen
    /// address and `public_url`'s host.
    #[serde(deserialize_with = "hosts::list")]
    pub allowed_hosts: Vec<HostName>,
    /// Peers whose `Forwarded` and `X-Forwarded-*` headers say what the client used.
    #[serde(deserialize_with = "hosts::list")]
    pub trusted_proxies: Vec<IpAddr>,
    pub body_limit: usize,
    /// Seconds a client has to send a request's head, and again its body; 0: no limit.
    pub request_timeout_secs: u64,
    /// Event streams (`/events`) served at once, in all and to one tenant.
    pub max_event_streams: usize,
    pub max_event_streams_per_tenant: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub mode: AuthMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    None,
    Keystone,
}

#[derive(Clone, Deserialize)]
pub struct OpenstackSettings {
    /// Keystone v3; `None` (empty): no cloud configured.
    #[serde(deserialize_with = "optional_url")]
    pub auth_url: Option<Url>,
    pub region: String,
    pub interface: String,
    pub user_domain: String,
    pub project_domain: String,
    pub heat_environment: Vec<PathBuf>,
    pub stack_timeout_mins: u32,
    pub disable_rollback: bool,
    pub request_timeout_secs: u64,
}

impl std::fmt::Debug for OpenstackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenstackSettings")
            .field("auth_url", &self.auth_url)
            .field("heat_environment", &self.heat_environment)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderSettings {
    pub default: ProviderKind,
    pub file: FileProviderSettings,
    pub local: LocalProviderSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocalProviderSettings {
    /// Where each local cluster's directory is made.
    pub dir: PathBuf,
    /// The virtual environments components install into, shared by every cluster.
    pub venv_dir: PathBuf,
    /// Where address claims are kept, shared by every DISCO server on the machine.
    pub claims_dir: PathBuf,
    /// The Python that makes the virtual environments.
    pub python: String,
    pub max_slaves: u16,
    /// How long a process has between SIGTERM and SIGKILL.
    pub stop_grace_secs: u64,
    /// Whose processes a cluster's are.
    pub run_as: RunAs,
    /// With clusters running as the server's user: serve more than one tenant anyway.
    pub allow_shared_user: bool,
}

/// Whose processes a local cluster's are (`provider.local.run_as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunAs {
    /// Cluster users when DISCO runs as root, else the server's user.
    Auto,
    /// Each cluster as a system user of its own.
    ClusterUsers,
    /// Every cluster as the server's own user.
    ServerUser,
}

impl LocalProviderSettings {
    /// Whether each cluster runs as a user of its own: `auto` decides by whether this
    /// process runs as root.
    pub fn cluster_users(&self) -> bool {
        match self.run_as {
            RunAs::Auto => nix::unistd::geteuid().is_root(),
            RunAs::ClusterUsers => true,
            RunAs::ServerUser => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileProviderSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    pub enabled: bool,
    pub poll_interval_secs: u64,
    pub max_attempts: u32,
    pub deploy_timeout_secs: u64,
    pub delete_timeout_secs: u64,
    /// How often ready clusters are checked to still run (and once at start-up).
    pub watch_interval_secs: u64,
    /// The `max_age` of clusters created without one; `None` (empty): they live until
    /// deleted.
    #[serde(deserialize_with = "optional_span")]
    pub default_max_age: Option<Span>,
    /// What happens at that default `max_age` when the owner did not say.
    pub default_on_expiry: OnExpiry,
    /// The longest `max_age` a cluster may have (one without gets it); `None`: no ceiling.
    #[serde(deserialize_with = "optional_span")]
    pub longest_max_age: Option<Span>,
    /// The `max_idle` of clusters created without one; `None` (empty): no idle expiry.
    #[serde(deserialize_with = "optional_span")]
    pub default_max_idle: Option<Span>,
    /// The shortest `max_idle` a cluster may have.
    pub shortest_max_idle: Span,
    /// How long before a cluster expires its state reason says when and why.
    pub expiry_warning_secs: u64,
    /// How long a failed cluster keeps what it holds (its stack, addresses, directory)
    /// for inspection before it is given back; its record, task tree and reports stay.
    /// `None` (empty): until it is deleted.
    #[serde(deserialize_with = "optional_span")]
    pub cleanup_failed_after: Option<Span>,
    /// Continuous health: after how many failing rounds in a row a cluster with
    /// `icclab.disco.autorepair` is repaired, how many autorepairs an hour at most, and
    /// after how long without a heartbeat a VM's checks count as failing (and with no
    /// node heard, the cluster's health is `unknown`).
    pub health: HealthSettings,
    /// Seconds a replica's lease on a job it runs lasts unrenewed (renewed every third
    /// of it): how long the jobs of a replica that died wait for another.
    pub lease_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HealthSettings {
    pub autorepair_after: u32,
    pub autorepairs_per_hour: u32,
    pub heartbeat_timeout_secs: u64,
}

impl JobSettings {
    /// The lifetimes the operator allows, for creates and partial updates.
    pub fn lifetimes(&self) -> LifetimePolicy {
        LifetimePolicy {
            default_max_age: self.default_max_age,
            default_on_expiry: self.default_on_expiry,
            longest_max_age: self.longest_max_age,
            default_max_idle: self.default_max_idle,
            shortest_max_idle: self.shortest_max_idle,
        }
    }
}

fn optional_span<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Span>, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.trim() {
        "" => Ok(None),
        text => Span::parse(text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Values given on the command line; they win over every other source.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub provider: Option<ProviderKind>,
    pub cloud: Option<String>,
    pub heat_environment: Vec<PathBuf>,
    /// `store.url` (`--store-url`).
    pub store_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error(
        "configuration: cannot find a data directory: set data_dir, DISCO_DATA_DIR or --data-dir"
    )]
    NoDataDir,
    #[error("configuration: {0}")]
    Clouds(#[from] clouds::CloudsError),
}

impl Settings {
    /// Reads the layered configuration, reading the environment of this process.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = &overrides.config_file {
            builder = builder.add_source(File::from(path.as_path()).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("DISCO")
                .prefix_separator("_")
                .separator("__"),
        );
        if let Some(listen) = overrides.listen {
            builder = builder.set_override("server.listen", listen.to_string())?;
        }
        if let Some(dir) = &overrides.data_dir {
            builder = builder.set_override("data_dir", dir.to_string_lossy().into_owned())?;
        }
        if let Some(provider) = overrides.provider {
            builder = builder.set_override("provider.default", provider.as_str())?;
        }
        if let Some(url) = &overrides.store_url {
            builder = builder.set_override("store.url", url.as_str())?;
        }
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings
            .openstack
            .heat_environment
            .extend(overrides.heat_environment.iter().cloned());
        settings
            .openstack
            .fill_from_environment(overrides.cloud.as_deref())?;
        settings.resolve_paths()?;
        Ok(settings)
    }

    /// Fills the directories left empty with their documented defaults.
    fn resolve_paths(&mut self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            self.data_dir = default_data_dir().ok_or(ConfigError::NoDataDir)?;
        }
        let exe = std::env::current_exe().ok();
        let source_tree = Path::new(env!("CARGO_MANIFEST_DIR"));
        if self.catalogue.frameworks_dir.as_os_str().is_empty() {
            self.catalogue.frameworks_dir = shipped_dir("frameworks", exe.as_deref(), source_tree);
        }
        if self.catalogue.templates_dir.as_os_str().is_empty() {
            self.catalogue.templates_dir =
                shipped_dir("heat-templates", exe.as_deref(), source_tree);
        }
        if self.catalogue.cluster_templates_dir.as_os_str().is_empty() {
            self.catalogue.cluster_templates_dir =
                shipped_dir("manifests/templates", exe.as_deref(), source_tree);
        }
        if self.provider.file.dir.as_os_str().is_empty() {
            self.provider.file.dir = self.data_dir.join("deployments");
        }
        let local = &mut self.provider.local;
        if local.dir.as_os_str().is_empty() {
            local.dir = self.data_dir.join("local");
        }
        if local.venv_dir.as_os_str().is_empty() {
            // Root's home is closed to other users, and clusters' users must reach the
            // environments.
            local.venv_dir = if nix::unistd::geteuid().is_root() {
                PathBuf::from("/var/cache/disco/venvs")
            } else {
                default_cache_dir()
                    .map(|cache| cache.join("disco/venvs"))
                    .unwrap_or_else(|| self.data_dir.join("venvs"))
            };
        }
        if local.claims_dir.as_os_str().is_empty() {
            // Per user: a directory others could write to would let them take or block
            // every address block.
            let uid = nix::unistd::getuid();
            local.claims_dir = std::env::temp_dir().join(format!("disco-local-addresses-{uid}"));
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("disco.db")
    }

    /// Where the store is: `store.url`'s PostgreSQL database, or the SQLite file in the
    /// data directory.
    /// This process as the job queue knows it: `replica.name` (the host name and the
    /// listen port when empty: unique among a machine's processes, and the same after a
    /// restart), `replica.host`, `jobs.lease_secs`.
    pub fn replica(&self) -> crate::store::Replica {
        let machine = crate::store::Replica::host_name();
        let host = match self.replica.host.trim() {
            "" => machine.clone(),
            host => host.to_string(),
        };
        let name = match self.replica.name.trim() {
            "" => format!("{machine}:{}", self.server.listen.port()),
            name => name.to_string(),
        };
        crate::store::Replica {
            name,
            host,
            lease: std::time::Duration::from_secs(self.jobs.lease_secs.max(1)),
        }
    }

    pub fn store_location(&self) -> Location {
        match &self.store.url {
            Some(url) => Location::Postgres(url.clone()),
            None => Location::Sqlite(self.database_path()),
        }
    }

    /// The manifest file to read, or `None` for the one compiled in.
    pub fn manifest_path(&self) -> Option<&Path> {
        (!self.manifest.as_os_str().is_empty()).then_some(self.manifest.as_path())
    }
}

/// Where a directory the service ships (`frameworks`, `heat-templates`) is, when the
/// configuration names none: under the install prefix of the binary
/// (`PREFIX/bin/disco` reads `PREFIX/share/disco/NAME`), else in the source tree it was
/// built from (`cargo run`, `cargo install --path .`). When neither exists, the
/// prefix's, so that the error names where it should be.
fn shipped_dir(name: &str, exe: Option<&Path>, source_tree: &Path) -> PathBuf {
    let installed = exe
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|prefix| prefix.join("share/disco").join(name));
    let built_from = source_tree.join(name);
    match installed {
        Some(installed) if installed.is_dir() => installed,
        _ if built_from.is_dir() => built_from,
        Some(installed) => installed,
        None => built_from,
    }
}

/// `store.url`, parsed once at load; an empty value is none (SQLite). The error says
/// what was expected and never repeats the password.
fn store_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<PostgresUrl>, D::Error> {
    let text = String::deserialize(deserializer)?;
    PostgresUrl::parse_setting(&text)
        .map_err(|e| serde::de::Error::custom(format!("store.url: {e}")))
}

/// An absolute URL, parsed once at load; an empty value is none.
fn optional_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_optional_url(&text).map_err(serde::de::Error::custom)
}

/// `text` as an absolute http(s) URL, or `None` when it is empty.
pub fn parse_optional_url(text: &str) -> Result<Option<Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(Some(url)),
        Ok(_) => Err(format!(
            "expected an http:// or https:// URL with a host, got {text:?}"
        )),
        Err(e) => Err(format!(
            "expected an absolute URL such as http://host:port, got {text:?} ({e})"
        )),
    }
}

/// A URL without the trailing slash, to which paths are appended.
pub fn base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// `$XDG_DATA_HOME/disco`, else `~/.local/share/disco`; as root without XDG_DATA_HOME,
/// `/var/lib/disco` (root's home is closed to the users local clusters run as), unless
/// a database is already in `~/.local/share/disco`.
fn default_data_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(base) = non_empty("XDG_DATA_HOME") {
        return Some(PathBuf::from(base).join("disco"));
    }
    let home = non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share/disco"));
    if nix::unistd::geteuid().is_root()
        && home
            .as_ref()
            .is_none_or(|dir| !dir.join("disco.db").exists())
    {
        return Some(PathBuf::from("/var/lib/disco"));
    }
    home
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_deserialize_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::load(&Overrides {
            listen: Some("127.0.0.1:0".parse().expect("addr")),
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        })
        .expect("defaults load");
        assert_eq!(settings.server.listen.port(), 0);
        assert_eq!(settings.data_dir, dir.path());
        assert_eq!(settings.provider.file.dir, dir.path().join("deployments"));
        assert_eq!(settings.auth.mode, AuthMode::None);
        assert!(settings.manifest_path().is_none());
    }

    #[test]
    fn a_config_file_overrides_only_the_keys_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("disco.toml");
        std::fs::write(&file, "[server]\nbody_limit = 10\n").expect("write");
        let settings = Settings::load(&Overrides {
            config_file: Some(file),
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        })
        .expect("load");
        assert_eq!(settings.server.body_limit, 10);
        assert_eq!(settings.server.listen.port(), 8888);
    }

    #[test]
    fn shipped_directories_are_found_under_the_install_prefix_then_in_the_source_tree() {
        let root = tempfile::tempdir().expect("tempdir");
        let exe = root.path().join("prefix/bin/disco");
        let source = root.path().join("checkout");
        std::fs::create_dir_all(source.join("frameworks")).expect("source tree");
        assert_eq!(
            shipped_dir("frameworks", Some(&exe), &source),
            source.join("frameworks"),
            "no installed copy: the source tree"
        );
        let installed = root.path().join("prefix/share/disco/frameworks");
        std::fs::create_dir_all(&installed).expect("installed copy");
        assert_eq!(shipped_dir("frameworks", Some(&exe), &source), installed);
        assert_eq!(
            shipped_dir("heat-templates", Some(&exe), &source),
            root.path().join("prefix/share/disco/heat-templates"),
            "neither: the prefix's, which the error then names"
        );
    }

    #[test]
    fn urls_are_parsed_at_load_and_an_empty_one_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("disco.toml");
        std::fs::write(
            &file,
            "[server]\npublic_url = \"http://disco.example:8888/\"\n",
        )
        .expect("write");
        let settings = Settings::load(&Overrides {
            config_file: Some(file.clone()),
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        })
        .expect("load");
        let url = settings.server.public_url.expect("a public URL");
        assert_eq!(base(&url), "http://disco.example:8888");
        std::fs::write(&file, "[server]\npublic_url = \"disco.example\"\n").expect("write");
        let err = Settings::load(&Overrides {
            config_file: Some(file),
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        })
        .expect_err("not a URL");
        assert!(err.to_string().contains("public_url"), "{err}");
        assert!(err.to_string().contains("absolute URL"), "{err}");
        assert_eq!(parse_optional_url(" "), Ok(None));
        assert!(parse_optional_url("ftp://h/").is_err());
    }

    #[test]
    fn host_and_proxy_lists_are_parsed_at_load_from_an_array_or_one_string() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("disco.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).expect("write");
            Settings::load(&Overrides {
                config_file: Some(file.clone()),
                data_dir: Some(dir.path().to_path_buf()),
                ..Overrides::default()
            })
        };
        let settings = load(
            "[server]\nallowed_hosts = [\"Disco.Example\", \"[::1]\"]\n\
             trusted_proxies = [\"127.0.0.1\"]\n",
        )
        .expect("load");
        assert_eq!(
            settings.server.allowed_hosts,
            [
                HostName::Name("disco.example".into()),
                HostName::Ip("::1".parse().expect("ip"))
            ]
        );
        assert_eq!(
            settings.server.trusted_proxies,
            [IpAddr::from([127, 0, 0, 1])]
        );
        // As a DISCO_SERVER__ALLOWED_HOSTS variable gives it.
        let settings = load("[server]\nallowed_hosts = \"a.example, b.example\"\n").expect("load");
        assert_eq!(settings.server.allowed_hosts.len(), 2);
        let err = load("[server]\nallowed_hosts = [\"a.example:8888\"]\n").expect_err("a port");
        assert!(err.to_string().contains("allowed_hosts"), "{err}");
        assert!(err.to_string().contains("a.example:8888"), "{err}");
        let err = load("[server]\ntrusted_proxies = [\"proxy.example\"]\n").expect_err("a name");
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn store_url_is_sqlite_when_empty_and_postgres_when_given_and_a_bad_one_names_the_key_not_the_password()
     {
        let dir = tempfile::tempdir().expect("tempdir");
        let load = |url: Option<&str>| {
            Settings::load(&Overrides {
                data_dir: Some(dir.path().to_path_buf()),
                store_url: url.map(str::to_string),
                ..Overrides::default()
            })
        };
        let settings = load(None).expect("defaults");
        assert!(
            matches!(settings.store_location(), Location::Sqlite(path) if path == dir.path().join("disco.db"))
        );
        let settings =
            load(Some("postgres://disco:hunter2@db.example:5433/disco")).expect("postgres");
        match settings.store_location() {
            Location::Postgres(url) => {
                assert_eq!(
                    url.to_string(),
                    "postgres://disco:***@db.example:5433/disco"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{settings:?}").contains("hunter2"));
        for bad in [
            "mysql://disco:hunter2@db.example/disco",
            "postgres://disco:hunter2@db.example",
        ] {
            let err = load(Some(bad)).expect_err(bad).to_string();
            assert!(err.contains("store.url"), "{err}");
            assert!(err.contains("postgres://"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn an_unknown_provider_in_the_config_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("disco.toml");
        std::fs::write(&file, "[provider]\ndefault = \"cloudy\"\n").expect("write");
        let err = Settings::load(&Overrides {
            config_file: Some(file),
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        })
        .expect_err("must fail");
        assert!(err.to_string().contains("provider"), "{err}");
    }
}
