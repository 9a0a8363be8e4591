//! The component catalogue: one folder per component under `frameworks/`, each with a
//! `component.toml` and its step scripts. `RawComponent` is the TOML as written; the
//! `Catalogue` holds checked components with their scripts read in, so a bad folder is
//! found at start-up, not at a user's deploy.

mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::raw::{RawComponent, RawHealth, toml_scalar};
use crate::domain::{ComponentName, ProviderKind, Scalar};

/// A node group of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeGroup {
    Master,
    Slaves,
}

impl NodeGroup {
    pub const ALL: [NodeGroup; 2] = [NodeGroup::Master, NodeGroup::Slaves];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeGroup::Master => "master",
            NodeGroup::Slaves => "slaves",
        }
    }
}

impl fmt::Display for NodeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a port or check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupScope {
    Master,
    Slaves,
    All,
}

impl GroupScope {
    pub fn includes(self, group: NodeGroup) -> bool {
        matches!(
            (self, group),
            (GroupScope::All, _)
                | (GroupScope::Master, NodeGroup::Master)
                | (GroupScope::Slaves, NodeGroup::Slaves)
        )
    }
}

/// The phases of a component's steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Install,
    Configure,
    Start,
    Smoke,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Install, Phase::Configure, Phase::Start, Phase::Smoke];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Install => "install",
            Phase::Configure => "configure",
            Phase::Start => "start",
            Phase::Smoke => "smoke",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Float,
    Boolean,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Float => "float",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub port: u16,
    pub node_group: GroupScope,
    #[serde(default)]
    pub public: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebUi {
    pub name: String,
    pub node_group: GroupScope,
    pub port: u16,
    #[serde(default = "root_path")]
    pub path: String,
}

fn root_path() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub port: u16,
    pub path: String,
    pub status: u16,
}

/// How DISCO checks that a component is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Tcp(u16),
    Http(HttpCheck),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub node_group: GroupScope,
    pub check: Check,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub kind: ParamType,
    pub default: Scalar,
    pub description: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub values: Vec<String>,
    pub secret: bool,
}

impl Parameter {
    /// What a valid value looks like, in words.
    pub fn expectation(&self) -> String {
        match self.kind {
            ParamType::Integer => match (self.min, self.max) {
                (Some(min), Some(max)) => format!("an integer from {min} to {max}"),
                (Some(min), None) => format!("an integer of at least {min}"),
                (None, Some(max)) => format!("an integer of at most {max}"),
                (None, None) => "an integer".to_string(),
            },
            ParamType::String if !self.values.is_empty() => {
                format!("one of {}", self.values.join(", "))
            }
            ParamType::String => "a string".to_string(),
            ParamType::Float => "a number".to_string(),
            ParamType::Boolean => "true or false".to_string(),
        }
    }

    /// The value converted to this parameter's type; quoted numbers and booleans are
    /// accepted, as every value of the original's requests was a string.
    pub fn coerce(&self, value: &Scalar) -> Option<Scalar> {
        let text = match value {
            Scalar::String(s) => Some(s.trim()),
            _ => None,
        };
        let coerced = match (self.kind, value) {
            (ParamType::String, Scalar::String(s)) => Scalar::String(s.clone()),
            (ParamType::String, Scalar::Integer(i)) => Scalar::String(i.to_string()),
            (ParamType::String, Scalar::Float(f)) => Scalar::String(f.to_string()),
            (ParamType::String, Scalar::Bool(_)) => return None,
            (ParamType::Integer, Scalar::Integer(i)) => Scalar::Integer(*i),
            (ParamType::Integer, _) => Scalar::Integer(text?.parse().ok()?),
            (ParamType::Float, Scalar::Float(f)) => Scalar::Float(*f),
            (ParamType::Float, Scalar::Integer(i)) => Scalar::Float(*i as f64),
            (ParamType::Float, _) => {
                Scalar::Float(text?.parse().ok().filter(|f: &f64| f.is_finite())?)
            }
            (ParamType::Boolean, Scalar::Bool(b)) => Scalar::Bool(*b),
            (ParamType::Boolean, _) => match text?.to_ascii_lowercase().as_str() {
                "true" => Scalar::Bool(true),
                "false" => Scalar::Bool(false),
                _ => return None,
            },
        };
        let in_range = match coerced {
            Scalar::Integer(i) => {
                self.min.is_none_or(|min| i >= min) && self.max.is_none_or(|max| i <= max)
            }
            Scalar::String(ref s) => self.values.is_empty() || self.values.contains(s),
            _ => true,
        };
        in_range.then_some(coerced)
    }
}

/// A step's script, read from the component's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file: String,
    pub text: String,
}

/// A component, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub description: String,
    pub depends_on: Vec<String>,
    pub after: Vec<String>,
    pub providers: Vec<ProviderKind>,
    pub parameters: BTreeMap<String, Parameter>,
    pub ports: Vec<Port>,
    pub web_uis: Vec<WebUi>,
    pub health: Vec<HealthCheck>,
    pub steps: BTreeMap<NodeGroup, BTreeMap<Phase, Script>>,
    /// The local provider's variant: its own steps (no root, no systemd, no apt), and
    /// where they differ, its own checks and web UIs.
    pub local: Option<LocalVariant>,
    /// Why the component cannot run on a provider, by provider.
    pub unsupported: BTreeMap<ProviderKind, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalVariant {
    pub steps: BTreeMap<NodeGroup, BTreeMap<Phase, Script>>,
    pub health: Option<Vec<HealthCheck>>,
    pub web_uis: Option<Vec<WebUi>>,
}

impl Component {
    pub fn supports(&self, provider: ProviderKind) -> bool {
        self.providers.contains(&provider)
    }

    /// The step scripts a provider runs.
    pub fn steps_for(
        &self,
        provider: ProviderKind,
    ) -> &BTreeMap<NodeGroup, BTreeMap<Phase, Script>> {
        match (&self.local, provider) {
            (Some(local), ProviderKind::Local) => &local.steps,
            _ => &self.steps,
        }
    }

    /// The health checks that tell whether the component is up on a provider.
    pub fn health_for(&self, provider: ProviderKind) -> &[HealthCheck] {
        match (&self.local, provider) {
            (
                Some(LocalVariant {
                    health: Some(health),
                    ..
                }),
                ProviderKind::Local,
            ) => health,
            _ => &self.health,
        }
    }

    /// The web UIs the component serves on a provider.
    pub fn web_uis_for(&self, provider: ProviderKind) -> &[WebUi] {
        match (&self.local, provider) {
            (
                Some(LocalVariant {
                    web_uis: Some(uis), ..
                }),
                ProviderKind::Local,
            ) => uis,
            _ => &self.web_uis,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    components: BTreeMap<String, Component>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("reading the component catalogue {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("component {component}: {problem}")]
    Invalid { component: String, problem: String },
}

impl Catalogue {
    /// Reads every `<dir>/<name>/component.toml`; folders without one are skipped.
    pub fn load(dir: &Path) -> Result<Catalogue, CatalogueError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CatalogueError::Read { path, source }
        };
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err(dir))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("component.toml").is_file())
            .collect();
        folders.sort();
        let mut components = Vec::with_capacity(folders.len());
        for folder in folders {
            let file = folder.join("component.toml");
            let text = std::fs::read_to_string(&file).map_err(read_err(&file))?;
            let raw: RawComponent =
                toml::from_str(&text).map_err(|source| CatalogueError::Syntax {
                    path: file.clone(),
                    source: Box::new(source),
                })?;
            let folder_name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            components.push(check_component(raw, &folder, &folder_name)?);
        }
        Catalogue::from_components(components)
    }

    /// A catalogue of already checked components; checks what spans components.
    pub fn from_components(list: Vec<Component>) -> Result<Catalogue, CatalogueError> {
        let components: BTreeMap<String, Component> =
            list.into_iter().map(|c| (c.name.clone(), c)).collect();
        for component in components.values() {
            for dependency in component.depends_on.iter().chain(&component.after) {
                if !components.contains_key(dependency) {
                    return Err(CatalogueError::Invalid {
                        component: component.name.clone(),
                        problem: format!("names {dependency:?}, which is not in the catalogue"),
                    });
                }
            }
        }
        Ok(Catalogue { components })
    }

    pub fn get(&self, name: &str) -> Option<&Component> {
        self.components.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.components.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Component> {
        self.components.values()
    }
}

fn check_component(
    raw: RawComponent,
    folder: &Path,
    folder_name: &str,
) -> Result<Component, CatalogueError> {
    let invalid = |problem: String| CatalogueError::Invalid {
        component: raw.name.clone(),
        problem,
    };
    if raw.name != folder_name {
        return Err(invalid(format!("its folder is named {folder_name:?}")));
    }
    if ComponentName::parse(&raw.name).is_err() {
        return Err(invalid(format!("name must be {}", ComponentName::EXPECTED)));
    }
    let mut parameters = BTreeMap::new();
    for (name, param) in raw.parameters.clone() {
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(invalid(format!(
                "parameter {name:?}: name must be [a-z][a-z0-9_]*"
            )));
        }
        let default = toml_scalar(&param.default)
            .ok_or_else(|| invalid(format!("parameter {name}: default must be a scalar")))?;
        let mut checked = Parameter {
            kind: param.kind,
            default: default.clone(),
            description: param.description,
            min: param.min,
            max: param.max,
            values: param.values,
            secret: param.secret,
        };
        checked.default = checked.coerce(&default).ok_or_else(|| {
            invalid(format!(
                "parameter {name}: default is not {}",
                checked.expectation()
            ))
        })?;
        parameters.insert(name, checked);
    }
    let declared: BTreeSet<u16> = raw.ports.iter().map(|p| p.port).collect();
    check_web_uis(&raw.web_uis, &declared).map_err(invalid)?;
    let health = check_health(&raw.health, &declared).map_err(invalid)?;
    let steps = read_steps(&raw.steps, folder).map_err(invalid)?;
    let local = match &raw.local {
        None => None,
        Some(local) => {
            if let Some(uis) = &local.web_uis {
                check_web_uis(uis, &declared).map_err(|p| invalid(format!("[local] {p}")))?;
            }
            Some(LocalVariant {
                steps: read_steps(&local.steps, folder)
                    .map_err(|p| invalid(format!("[local] {p}")))?,
                health: match &local.health {
                    Some(checks) => Some(
                        check_health(checks, &declared)
                            .map_err(|p| invalid(format!("[local] {p}")))?,
                    ),
                    None => None,
                },
                web_uis: local.web_uis.clone(),
            })
        }
    };
    let runs_locally = raw.providers.contains(&ProviderKind::Local);
    if runs_locally != local.is_some() {
        return Err(invalid(
            "a component runs on provider local exactly when it has [local.steps]: the local \
             provider cannot run a VM's steps"
                .to_string(),
        ));
    }
    if let Some(listed) = raw.unsupported.keys().find(|p| raw.providers.contains(p)) {
        return Err(invalid(format!(
            "[unsupported] names {listed}, which is in its providers"
        )));
    }
    Ok(Component {
        name: raw.name,
        version: raw.version,
        description: raw.description,
        depends_on: raw.depends_on,
        after: raw.after,
        providers: raw.providers,
        parameters,
        ports: raw.ports,
        web_uis: raw.web_uis,
        health,
        steps,
        local,
        unsupported: raw.unsupported,
    })
}

fn check_web_uis(uis: &[WebUi], declared: &BTreeSet<u16>) -> Result<(), String> {
    match uis.iter().find(|ui| !declared.contains(&ui.port)) {
        Some(ui) => Err(format!(
            "web UI {:?} uses port {}, not in [[ports]]",
            ui.name, ui.port
        )),
        None => Ok(()),
    }
}

fn check_health(raw: &[RawHealth], declared: &BTreeSet<u16>) -> Result<Vec<HealthCheck>, String> {
    let mut health = Vec::with_capacity(raw.len());
    for check in raw {
        let check = match (check.tcp, &check.http) {
            (Some(port), None) => HealthCheck {
                node_group: check.node_group,
                check: Check::Tcp(port),
            },
            (None, Some(http)) => HealthCheck {
                node_group: check.node_group,
                check: Check::Http(http.clone()),
            },
            _ => return Err("a [[health]] entry has exactly one of tcp, http".into()),
        };
        let port = match &check.check {
            Check::Tcp(port) => *port,
            Check::Http(http) => http.port,
        };
        if !declared.contains(&port) {
            return Err(format!("a health check uses port {port}, not in [[ports]]"));
        }
        health.push(check);
    }
    Ok(health)
}

/// Reads each step's script from the component's folder.
fn read_steps(
    raw: &BTreeMap<NodeGroup, BTreeMap<Phase, String>>,
    folder: &Path,
) -> Result<BTreeMap<NodeGroup, BTreeMap<Phase, Script>>, String> {
    let mut steps = BTreeMap::new();
    for (group, phases) in raw {
        let mut scripts = BTreeMap::new();
        for (phase, file) in phases {
            let plain = Path::new(file)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                return Err(format!(
                    "step script {file:?} must be a file in its folder or a subfolder"
                ));
            }
            let text = std::fs::read_to_string(folder.join(file))
                .map_err(|e| format!("{group} {phase} script {file}: {e}"))?;
            scripts.insert(
                *phase,
                Script {
                    file: file.clone(),
                    text,
                },
            );
        }
        steps.insert(*group, scripts);
    }
    Ok(steps)
}
