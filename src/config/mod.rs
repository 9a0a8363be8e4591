//! Configuration: `etc/disco.toml` (compiled in as the defaults), an optional file given
//! with `--config`, `DISCO_*` environment variables, then command-line flags.

pub mod clouds;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::domain::ProviderKind;

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
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogueSettings {
    pub frameworks_dir: PathBuf,
    pub templates_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub body_limit: usize,
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
    pub auth_url: String,
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
        let source_tree = Path::new(env!("CARGO_MANIFEST_DIR"));
        if self.catalogue.frameworks_dir.as_os_str().is_empty() {
            self.catalogue.frameworks_dir = source_tree.join("frameworks");
        }
        if self.catalogue.templates_dir.as_os_str().is_empty() {
            self.catalogue.templates_dir = source_tree.join("heat-templates");
        }
        if self.provider.file.dir.as_os_str().is_empty() {
            self.provider.file.dir = self.data_dir.join("deployments");
        }
        let local = &mut self.provider.local;
        if local.dir.as_os_str().is_empty() {
            local.dir = self.data_dir.join("local");
        }
        if local.venv_dir.as_os_str().is_empty() {
            local.venv_dir = default_cache_dir()
                .map(|cache| cache.join("disco/venvs"))
                .unwrap_or_else(|| self.data_dir.join("venvs"));
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

    /// The manifest file to read, or `None` for the one compiled in.
    pub fn manifest_path(&self) -> Option<&Path> {
        (!self.manifest.as_os_str().is_empty()).then_some(self.manifest.as_path())
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

fn default_data_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|base| base.join("disco"))
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
