//! Cluster templates (DTK's assemblies): a named, described set of the attributes a
//! create takes (its components, their parameters, the slave count, flavors and images),
//! which a create applies under its own attributes. The operator's come from files
//! (`manifests/templates/*.toml`, checked at start-up as the catalogue is), each tenant's
//! from the API (stored by `store::templates`).
//!
//! `RawTemplate` is a template as written (TOML or JSON); `Template` the checked form:
//! every attribute known to the manifest and of its type, its components and parameters
//! known to the catalogue, and no secret in it.

mod files;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use self::files::{Templates, TemplatesError};
use crate::cluster::spec::{ClusterSpec, SpecError};
use crate::domain::attributes::{
    EXPIRE_AT, INJECT, NAME, SLAVE_COUNT, STAGE, TEMPLATE, parse_component_parameter,
};
use crate::domain::{ClusterId, ClusterName, ProviderKind, Scalar};
use crate::frameworks::catalogue::Catalogue;
use crate::frameworks::inject::{self, PyValue};
use crate::frameworks::resolve::{ResolveError, resolve};
use crate::manifest::{AttributeError, Manifest};
use crate::occi::text::Attribute;

/// The OCCI scheme templates are mixins of in the query interface.
pub const TEMPLATE_SCHEME: &str = "http://schemas.cloudcomplab.ch/occi/sm/templates#";

/// Attributes a template may not fix: what names one cluster (its name), what only a
/// create decides (staging, the template itself), and a moment rather than a span.
const NOT_IN_TEMPLATES: [&str; 4] = [NAME, STAGE, TEMPLATE, EXPIRE_AT];

/// A template's name: a slug, spelt as a cluster's name is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateName(ClusterName);

impl TemplateName {
    pub fn parse(s: &str) -> Result<TemplateName, String> {
        ClusterName::parse(s).map(TemplateName)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whose a template is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A file of the operator's: every tenant's to use.
    Operator,
    /// Saved by a tenant through the API: only theirs.
    Tenant,
}

/// A template as written: in a file of the operator's (TOML) or a request's body (JSON).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// A file's template is named after its file when it does not say.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The components: an inject literal (`"{'spark': '', 'jupyter': ''}"`) or a table of
    /// component name to its parameters (or `""`).
    #[serde(default)]
    pub components: Option<RawComponents>,
    /// Any other attribute a create takes, by its full name.
    #[serde(default)]
    pub attributes: BTreeMap<String, Scalar>,
}

impl RawTemplate {
    /// A template as a request's body writes it (JSON).
    pub fn from_json(body: &[u8]) -> Result<RawTemplate, String> {
        serde_json::from_slice(body).map_err(|e| explained(e.to_string()))
    }

    /// A template as an operator's file writes it (TOML).
    pub fn from_toml(text: &str) -> Result<RawTemplate, String> {
        toml::from_str(text).map_err(|e| explained(e.to_string()))
    }
}

/// serde's word for a value none of the components' forms takes, said as the field.
fn explained(message: String) -> String {
    if message.contains("untagged enum RawComponent") {
        format!(
            "components: expected an inject literal (\"{{'spark': '', 'jupyter': ''}}\") or a \
             table of component name to \"\" or its parameters ({message})"
        )
    } else {
        message
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawComponents {
    Literal(String),
    Table(BTreeMap<String, RawComponent>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawComponent {
    /// `""` (no parameters) or a version, as in `inject`.
    Text(String),
    Params(BTreeMap<String, Scalar>),
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub name: TemplateName,
    pub description: String,
    /// The create attributes it fixes, by name, `inject` among them; none is secret.
    pub attributes: BTreeMap<String, Scalar>,
}

/// Why a template was refused: each names the attribute, component or parameter.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("name: expected {0}")]
    Name(String),
    #[error("components: {0}")]
    Components(String),
    #[error("{attribute}: {problem}")]
    Attribute { attribute: String, problem: String },
    #[error("{}", AttributeError::joined(.0))]
    Attributes(Vec<AttributeError>),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Resolution(#[from] ResolveError),
}

impl Template {
    /// Checks a raw template against the manifest and the catalogue. `fallback_name`
    /// names it when it does not name itself (a file's stem).
    pub fn check(
        raw: RawTemplate,
        fallback_name: Option<&str>,
        manifest: &Manifest,
        catalogue: &Catalogue,
    ) -> Result<Template, TemplateError> {
        let name =
            raw.name.as_deref().or(fallback_name).ok_or_else(|| {
                TemplateError::Name("a name (a slug such as spark-notebook)".into())
            })?;
        let name = TemplateName::parse(name).map_err(TemplateError::Name)?;
        let mut attributes = raw.attributes;
        if let Some(components) = raw.components {
            if attributes.contains_key(INJECT) {
                return Err(TemplateError::Attribute {
                    attribute: INJECT.to_string(),
                    problem: "given twice: as components and as an attribute".to_string(),
                });
            }
            attributes.insert(INJECT.to_string(), Scalar::String(components.literal()?));
        }
        if !attributes.contains_key(INJECT) {
            return Err(TemplateError::Components(
                "missing: a template names its components".to_string(),
            ));
        }
        for attribute in attributes.keys() {
            if NOT_IN_TEMPLATES.contains(&attribute.as_str()) {
                return Err(TemplateError::Attribute {
                    attribute: attribute.clone(),
                    problem: "a create sets it, not a template".to_string(),
                });
            }
            if manifest
                .attribute(attribute)
                .is_some_and(|spec| spec.secret)
            {
                return Err(TemplateError::Attribute {
                    attribute: attribute.clone(),
                    problem: "secret: a template holds no secrets".to_string(),
                });
            }
        }
        let given = as_attributes(&attributes);
        let checked = manifest
            .check_request(&given)
            .map_err(TemplateError::Attributes)?;
        let spec = ClusterSpec::from_attributes(ClusterId::new(), &checked, ProviderKind::File)?;
        // A template that names no provider fits any that runs its components: checked
        // on each until one runs them all.
        let mut request = spec.request;
        let providers = if attributes.contains_key(crate::domain::attributes::PROVIDER)
            || attributes.contains_key(crate::domain::attributes::DEPLOYER_TYPE)
        {
            vec![request.provider]
        } else {
            vec![
                ProviderKind::Local,
                ProviderKind::Openstack,
                ProviderKind::File,
            ]
        };
        let mut refusal = None;
        for provider in providers {
            request.provider = provider;
            match resolve(&request, catalogue) {
                Ok(plan) => {
                    refusal = None;
                    if let Some((component, param)) = plan.components.iter().find_map(|c| {
                        c.secret_params
                            .iter()
                            .find(|p| fixes_parameter(&request, c.name.as_str(), p))
                            .map(|p| (c.name.clone(), p.clone()))
                    }) {
                        return Err(TemplateError::Attribute {
                            attribute: crate::domain::attributes::component_parameter(
                                &component, &param,
                            ),
                            problem: "secret: a template holds no secrets".to_string(),
                        });
                    }
                    break;
                }
                Err(error @ ResolveError::Unsupported { .. }) => refusal = Some(error),
                Err(other) => return Err(other.into()),
            }
        }
        if let Some(error) = refusal {
            return Err(error.into());
        }
        Ok(Template {
            name,
            description: raw.description.trim().to_string(),
            attributes,
        })
    }

    /// The attributes it fixes, as a create's.
    pub fn attributes(&self) -> Vec<Attribute> {
        as_attributes(&self.attributes)
    }

    /// How many nodes a cluster made from it has: the master and its slaves (the
    /// manifest's default count when the template fixes none).
    pub fn nodes(&self, manifest: &Manifest) -> i64 {
        let slaves = self
            .attributes
            .get(SLAVE_COUNT)
            .or_else(|| manifest.attribute(SLAVE_COUNT)?.default.as_ref());
        match slaves {
            Some(Scalar::Integer(n)) => 1 + n,
            _ => 1,
        }
    }

    /// Its components, in the order written.
    pub fn component_names(&self) -> Vec<String> {
        self.attributes
            .get(INJECT)
            .and_then(Scalar::as_str)
            .and_then(inject::component_names)
            .unwrap_or_default()
    }
}

/// Whether the request gives `component`'s `param` (with the component or as an
/// attribute), rather than taking the catalogue's default.
fn fixes_parameter(
    request: &crate::frameworks::request::PlanRequest,
    component: &str,
    param: &str,
) -> bool {
    let with_component = request
        .components
        .iter()
        .any(|c| c.name.as_str() == component && c.params.contains_key(param));
    let as_attribute = request
        .parameters
        .get(component)
        .is_some_and(|params| params.contains_key(param));
    with_component || as_attribute
}

fn as_attributes(attributes: &BTreeMap<String, Scalar>) -> Vec<Attribute> {
    attributes
        .iter()
        .map(|(name, value)| Attribute {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

impl RawComponents {
    /// The inject literal of the components, checked as `inject` is.
    fn literal(&self) -> Result<String, TemplateError> {
        let literal = match self {
            RawComponents::Literal(text) => text.clone(),
            RawComponents::Table(table) => PyValue::Dict(
                table
                    .iter()
                    .map(|(name, component)| {
                        let value = match component {
                            RawComponent::Text(text) => PyValue::Str(text.clone()),
                            RawComponent::Params(params) => PyValue::Dict(
                                params
                                    .iter()
                                    .map(|(k, v)| (PyValue::Str(k.clone()), v.into()))
                                    .collect(),
                            ),
                        };
                        (PyValue::Str(name.clone()), value)
                    })
                    .collect(),
            )
            .to_string(),
        };
        inject::parse_inject(&literal).map_err(|e| TemplateError::Components(e.to_string()))?;
        Ok(literal)
    }
}

/// The attributes a template saved from a cluster fixes: those its create gave (or a
/// scale changed), less what a template may not hold (secrets, its name, the operator's
/// defaults) and with the components' secret parameters left out.
pub fn from_cluster(
    cluster: &crate::cluster::Cluster,
    manifest: &Manifest,
) -> BTreeMap<String, Scalar> {
    let secret: Vec<(String, String)> = cluster
        .plan
        .components
        .iter()
        .flat_map(|c| {
            c.secret_params
                .iter()
                .map(move |p| (c.name.to_string(), p.clone()))
        })
        .collect();
    let is_secret_param = |component: &str, param: &str| {
        secret
            .iter()
            .any(|(c, p)| c.as_str() == component && p.as_str() == param)
    };
    let mut attributes: BTreeMap<String, Scalar> = BTreeMap::new();
    for (name, value) in &cluster.spec.attributes {
        let Some(spec) = manifest.attribute(name) else {
            continue;
        };
        let default = spec.default.as_ref() == Some(value);
        let personal = name.starts_with("icclab.disco.deployer.");
        let secret_param =
            parse_component_parameter(name).is_some_and(|(c, p)| is_secret_param(c, p));
        if spec.secret
            || default
            || personal
            || secret_param
            || NOT_IN_TEMPLATES.contains(&name.as_str())
            // The clusters it uses are this tenant's, by name: not a template's to fix.
            || name == crate::domain::attributes::USES
        {
            continue;
        }
        attributes.insert(name.clone(), value.clone());
    }
    // The init actions are shown summed up: the template takes them whole.
    if attributes.contains_key(crate::domain::attributes::INIT)
        && let Ok(json) = serde_json::to_string(&cluster.plan.init)
    {
        attributes.insert(
            crate::domain::attributes::INIT.to_string(),
            Scalar::String(json),
        );
    }
    let mut components = cluster.spec.request.components.clone();
    for component in &mut components {
        let name = component.name.to_string();
        component
            .params
            .retain(|param, _| !is_secret_param(&name, param));
    }
    attributes.insert(
        INJECT.to_string(),
        Scalar::String(inject::literal_of(&components).to_string()),
    );
    attributes
}
