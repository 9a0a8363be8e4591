//! A component once checked, and the vocabulary it is described in: node groups and the
//! scopes a port or check applies to, the phases of its steps, its typed parameters (with
//! the coercion of a given value and what a valid one looks like), ports, web UIs, health
//! checks, step scripts read in, and the local provider's variant.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{ProviderKind, Scalar};

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
