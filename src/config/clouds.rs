//! The operator's cloud as the OpenStack client knows it: a `clouds.yaml` entry
//! (`disco serve --cloud NAME`, `disco --os-cloud NAME`) and the `OS_*` variables. They
//! fill what `[openstack]` in the configuration leaves empty.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::OpenstackSettings;

#[derive(Debug, thiserror::Error)]
pub enum CloudsError {
    #[error("clouds.yaml: no cloud named {0:?} in {1}")]
    NoSuchCloud(String, String),
    #[error("clouds.yaml: none found (looked in {0})")]
    NotFound(String),
    #[error("{origin}: {problem}")]
    Url {
        origin: &'static str,
        problem: String,
    },
    #[error("reading {path}: {problem}")]
    Read { path: String, problem: String },
}

#[derive(Deserialize)]
struct CloudsFile {
    #[serde(default)]
    clouds: BTreeMap<String, Cloud>,
}

#[derive(Deserialize, Default)]
struct Cloud {
    #[serde(default)]
    auth: CloudAuth,
    #[serde(default)]
    region_name: Option<String>,
    #[serde(default)]
    interface: Option<String>,
}

#[derive(Deserialize, Default)]
struct CloudAuth {
    auth_url: Option<String>,
    user_domain_name: Option<String>,
    project_domain_name: Option<String>,
    username: Option<String>,
    password: Option<String>,
    project_name: Option<String>,
}

/// A user's credentials from a clouds.yaml entry, for the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudCredentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub project_name: Option<String>,
}

/// The credentials of the clouds.yaml entry `name` (the file found as `openstack` finds
/// it: OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack).
pub fn cloud_credentials(name: &str) -> Result<CloudCredentials, CloudsError> {
    let auth = read_cloud(name)?.auth;
    Ok(CloudCredentials {
        username: auth.username,
        password: auth.password,
        project_name: auth.project_name,
    })
}

fn read_cloud(name: &str) -> Result<Cloud, CloudsError> {
    let paths = clouds_paths();
    let path = paths.iter().find(|p| p.is_file()).ok_or_else(|| {
        CloudsError::NotFound(
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    let text = std::fs::read_to_string(path).map_err(|e| CloudsError::Read {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    let mut file: CloudsFile = serde_saphyr::from_str(&text).map_err(|e| CloudsError::Read {
        path: path.display().to_string(),
        problem: e.to_string(),
    })?;
    file.clouds
        .remove(name)
        .ok_or_else(|| CloudsError::NoSuchCloud(name.to_string(), path.display().to_string()))
}

/// Where `clouds.yaml` is looked for, in order, as the OpenStack client does.
fn clouds_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(file) = std::env::var_os("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(file));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

impl OpenstackSettings {
    /// Fills what the configuration leaves empty from the named `clouds.yaml` entry, then
    /// from the `OS_*` variables.
    pub(super) fn fill_from_environment(&mut self, cloud: Option<&str>) -> Result<(), CloudsError> {
        if let Some(name) = cloud {
            let entry = read_cloud(name)?;
            let auth = &entry.auth;
            fill_url(
                &mut self.auth_url,
                auth.auth_url.as_deref(),
                "clouds.yaml auth_url",
            )?;
            fill(&mut self.user_domain, auth.user_domain_name.clone());
            fill(&mut self.project_domain, auth.project_domain_name.clone());
            fill(&mut self.region, entry.region_name.clone());
            fill(&mut self.interface, entry.interface.clone());
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        fill_url(
            &mut self.auth_url,
            var("OS_AUTH_URL").as_deref(),
            "OS_AUTH_URL",
        )?;
        fill(&mut self.user_domain, var("OS_USER_DOMAIN_NAME"));
        fill(&mut self.project_domain, var("OS_PROJECT_DOMAIN_NAME"));
        fill(&mut self.region, var("OS_REGION_NAME"));
        fill(&mut self.interface, var("OS_INTERFACE"));
        for (value, default) in [
            (&mut self.user_domain, "Default"),
            (&mut self.project_domain, "Default"),
            (&mut self.interface, "public"),
        ] {
            fill(value, Some(default.to_string()));
        }
        Ok(())
    }

    /// Whether DISCO has a Keystone to talk to.
    pub fn has_keystone(&self) -> bool {
        self.auth_url.is_some()
    }

    pub fn region(&self) -> Option<&str> {
        (!self.region.is_empty()).then_some(self.region.as_str())
    }
}

/// Sets a URL the configuration left empty from `from`, parsed; `source` names it in
/// the error.
fn fill_url(
    value: &mut Option<url::Url>,
    from: Option<&str>,
    source: &'static str,
) -> Result<(), CloudsError> {
    if value.is_none()
        && let Some(text) = from
    {
        *value = super::parse_optional_url(text).map_err(|problem| CloudsError::Url {
            origin: source,
            problem,
        })?;
    }
    Ok(())
}

fn fill(value: &mut String, from: Option<String>) {
    if value.is_empty()
        && let Some(from) = from
    {
        *value = from;
    }
}
