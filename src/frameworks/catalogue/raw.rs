//! `component.toml` as serde reads it. Each `RawComponent` is checked into a `Component`
//! when the catalogue loads; the parts that need no check (ports, web UIs, an HTTP check)
//! are read straight into their checked types. `toml_scalar` reads a parameter's default
//! before it is coerced to the parameter's type.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{GroupScope, HttpCheck, NodeGroup, ParamType, Phase, Port, WebUi};
use crate::domain::{ProviderKind, Scalar};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComponent {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    #[serde(default)]
    pub(super) depends_on: Vec<String>,
    #[serde(default)]
    pub(super) after: Vec<String>,
    pub(super) providers: Vec<ProviderKind>,
    #[serde(default)]
    pub(super) parameters: BTreeMap<String, RawParameter>,
    #[serde(default)]
    pub(super) ports: Vec<Port>,
    #[serde(default)]
    pub(super) web_uis: Vec<WebUi>,
    #[serde(default)]
    pub(super) health: Vec<RawHealth>,
    #[serde(default)]
    pub(super) steps: BTreeMap<NodeGroup, BTreeMap<Phase, String>>,
    /// The longest a step of each phase may run without its node reporting (`30m`).
    #[serde(default)]
    pub(super) timeouts: BTreeMap<Phase, crate::domain::Span>,
    /// How the local provider runs the component, where it differs from a VM.
    #[serde(default)]
    pub(super) local: Option<RawLocal>,
    /// Why the component cannot run on a provider it does not list, for the error.
    #[serde(default)]
    pub(super) unsupported: BTreeMap<ProviderKind, String>,
    /// What the component offers other clusters.
    #[serde(default)]
    pub(super) outputs: Vec<super::outputs::RawOutput>,
    /// The dependencies it may take from another cluster, by dependency.
    #[serde(default)]
    pub(super) uses: BTreeMap<String, super::outputs::RawAccepts>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocal {
    pub(super) steps: BTreeMap<NodeGroup, BTreeMap<Phase, String>>,
    /// Replaces the component's checks when given.
    #[serde(default)]
    pub(super) health: Option<Vec<RawHealth>>,
    /// Replaces the component's web UIs when given.
    #[serde(default)]
    pub(super) web_uis: Option<Vec<WebUi>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParameter {
    #[serde(rename = "type")]
    pub(super) kind: ParamType,
    pub(super) default: toml::Value,
    pub(super) description: String,
    #[serde(default)]
    pub(super) min: Option<i64>,
    #[serde(default)]
    pub(super) max: Option<i64>,
    #[serde(default)]
    pub(super) values: Vec<String>,
    #[serde(default)]
    pub(super) secret: bool,
    /// A regular expression the whole of a string value must match.
    #[serde(default)]
    pub(super) pattern: Option<String>,
    /// The most characters a string value may have; `DEFAULT_MAX_LENGTH` if not given.
    #[serde(default)]
    pub(super) max_length: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) node_group: GroupScope,
    #[serde(default)]
    pub(super) tcp: Option<u16>,
    #[serde(default)]
    pub(super) http: Option<HttpCheck>,
}

pub(super) fn toml_scalar(value: &toml::Value) -> Option<Scalar> {
    match value {
        toml::Value::String(s) => Some(Scalar::String(s.clone())),
        toml::Value::Integer(i) => Some(Scalar::Integer(*i)),
        toml::Value::Float(f) => Some(Scalar::Float(*f)),
        toml::Value::Boolean(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}
