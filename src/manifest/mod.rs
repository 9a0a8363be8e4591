//! The service manifest: the OCCI kind DISCO offers, its actions, and every attribute with
//! its type, bounds, default and flags. `GET /-/` is rendered from it, and every create
//! request is checked against it before anything else looks at the attributes.
//!
//! `RawManifest` is the JSON as written; `Manifest` is the checked form, whose defaults are
//! known to have their attribute's type.
//!
//! `raw` is the JSON as serde reads it, `attribute` what an attribute is once checked (its
//! type, its name or pattern, the coercion of a value), `check` the check of a request's
//! attributes. Here the manifest is loaded and checked, and attributes looked up by name.

mod attribute;
mod check;
mod raw;

use std::collections::BTreeSet;
use std::path::Path;

pub use self::attribute::{AttributeSpec, AttributeType, NamePattern, SetBy};
pub use self::check::{AttributeError, CheckedAttributes};
pub use self::raw::{ActionSpec, KindSpec, RawAttribute, RawManifest};

use self::raw::json_to_value;

/// The manifest compiled into the binary.
pub const BUILT_IN: &str = include_str!("../../manifests/disco.json");

#[derive(Debug, Clone)]
pub struct Manifest {
    pub kind: KindSpec,
    pub actions: Vec<ActionSpec>,
    pub attributes: Vec<AttributeSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("reading the manifest {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the manifest is not valid: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("the manifest's attribute {name}: {problem}")]
    Attribute { name: String, problem: String },
}

impl Manifest {
    pub fn built_in() -> Result<Manifest, ManifestError> {
        Manifest::from_json(BUILT_IN)
    }

    pub fn load(path: Option<&Path>) -> Result<Manifest, ManifestError> {
        match path {
            None => Manifest::built_in(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Manifest::from_json(&text)
            }
        }
    }

    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = serde_json::from_str(text)?;
        Manifest::check(raw)
    }

    fn check(raw: RawManifest) -> Result<Manifest, ManifestError> {
        let mut attributes = Vec::with_capacity(raw.attributes.len());
        let mut seen = BTreeSet::new();
        for attr in raw.attributes {
            let problem = |problem: &str| ManifestError::Attribute {
                name: attr.name.clone(),
                problem: problem.to_string(),
            };
            if !seen.insert(attr.name.clone()) {
                return Err(problem("listed twice"));
            }
            if attr.kind == AttributeType::Enum && attr.values.is_empty() {
                return Err(problem("an enum needs its values"));
            }
            let mut spec = AttributeSpec {
                name: NamePattern::parse(&attr.name),
                kind: attr.kind,
                default: None,
                required: attr.required,
                mutable: attr.mutable,
                secret: attr.secret,
                set_by: attr.set_by,
                description: attr.description,
                min: attr.min,
                max: attr.max,
                values: attr.values,
            };
            if let Some(default) = attr.default {
                let value = json_to_value(&default)
                    .and_then(|v| spec.coerce(&v))
                    .ok_or_else(|| problem("the default does not have the attribute's type"))?;
                spec.default = Some(value);
            }
            attributes.push(spec);
        }
        Ok(Manifest {
            kind: raw.kind,
            actions: raw.actions,
            attributes,
        })
    }

    /// The kind's identifier: scheme followed by term.
    pub fn kind_id(&self) -> String {
        format!("{}{}", self.kind.scheme, self.kind.term)
    }

    pub fn action(&self, term: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|action| action.term == term)
    }

    /// The spec of an attribute: the exact name first, then the patterns. A pattern's
    /// wildcard never takes a value that exact names own at that place, so a misspelt
    /// `icclab.disco.components.heat.slavecont` is unknown, not a parameter of a
    /// component called `heat`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeSpec> {
        let exact = |spec: &&AttributeSpec| !spec.name.is_pattern();
        if let Some(spec) = self
            .attributes
            .iter()
            .find(|s| s.name.as_str() == name && !s.name.is_pattern())
        {
            return Some(spec);
        }
        self.attributes.iter().find(|spec| {
            spec.name.is_pattern()
                && spec.name.matches(name)
                && !self
                    .attributes
                    .iter()
                    .filter(exact)
                    .any(|owner| spec.name.wildcard_taken_by(name, owner.name.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INJECT: &str = "icclab.disco.dependencies.inject";
    const SLAVES: &str = "icclab.disco.components.heat.slavecount";

    #[test]
    fn the_built_in_manifest_loads_and_has_the_originals_attributes() {
        let manifest = Manifest::built_in().expect("built-in manifest");
        for name in [
            "icclab.disco.components.heat.masterimage",
            "icclab.disco.components.heat.slaveimage",
            "icclab.disco.components.heat.masterflavor",
            "icclab.disco.components.heat.slaveflavor",
            SLAVES,
            "icclab.disco.components.heat.networkname",
            "icclab.disco.components.heat.externalnetworkname",
            "icclab.disco.deployer.username",
            "icclab.disco.deployer.password",
            "icclab.disco.deployer.region",
            "icclab.disco.deployer.type",
            "icclab.disco.deployer.path",
            INJECT,
            "icclab.disco.components.spark.version",
        ] {
            assert!(manifest.attribute(name).is_some(), "{name} missing");
        }
        assert_eq!(
            manifest.kind_id(),
            "http://schemas.cloudcomplab.ch/occi/sm#disco"
        );
    }

    #[test]
    fn a_default_of_the_wrong_type_is_refused_at_load() {
        let text = r#"{"kind": {"term": "k", "scheme": "s#", "title": "t", "location": "/k/"},
            "attributes": [{"name": "a", "type": "integer", "default": "x", "description": "d"}]}"#;
        let err = Manifest::from_json(text).expect_err("bad default");
        assert!(err.to_string().contains("attribute a"), "{err}");
    }
}
