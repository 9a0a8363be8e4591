//! The manifest as serde reads it from JSON. The kind and the actions are used as written;
//! each `RawAttribute` is checked into an `AttributeSpec` when the manifest loads, its
//! default read with `json_to_value`.

use serde::Deserialize;

use super::attribute::{AttributeType, SetBy};
use crate::domain::Scalar;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    pub kind: KindSpec,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    pub attributes: Vec<RawAttribute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindSpec {
    pub term: String,
    pub scheme: String,
    pub title: String,
    #[serde(default)]
    pub rel: Option<String>,
    pub location: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub term: String,
    pub scheme: String,
    pub title: String,
    /// The attributes the action takes.
    #[serde(default)]
    pub attributes: Vec<String>,
}

impl ActionSpec {
    /// The action's identifier: scheme followed by term.
    pub fn id(&self) -> String {
        format!("{}{}", self.scheme, self.term)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub mutable: bool,
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub set_by: SetBy,
    pub description: String,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub values: Vec<String>,
}

pub(super) fn json_to_value(value: &serde_json::Value) -> Option<Scalar> {
    use serde_json::Value as J;
    match value {
        J::String(s) => Some(Scalar::String(s.clone())),
        J::Bool(b) => Some(Scalar::Bool(*b)),
        J::Number(n) => n
            .as_i64()
            .map(Scalar::Integer)
            .or_else(|| n.as_f64().map(Scalar::Float)),
        _ => None,
    }
}
