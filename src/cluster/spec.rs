//! `ClusterSpec`: a create request in domain types. Built once, from attributes the manifest
//! has checked; everything after the API handler takes this, never raw attributes.

use std::collections::BTreeMap;
use std::path::{Component as PathComponent, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::attributes::{
    self, AUTOREPAIR, DEPLOYER_PATH, DEPLOYER_TYPE, EXISTING_NETWORK, INIT, INJECT, MAX_SLAVES,
    MIN_SLAVES, NAME, NETWORK_NAME, PROVIDER, SLAVE_COUNT, STAGE,
};
use crate::domain::{
    ClusterId, ClusterName, Infrastructure, ProviderKind, Scalar, SlaveBounds, SlaveCount,
};
use crate::frameworks::init::{self, InitError};
use crate::frameworks::inject::{self, InjectError};
use crate::frameworks::plan::{Plan, REDACTED};
use crate::frameworks::request::{ComponentRequest, PlanRequest};
use crate::manifest::CheckedAttributes;

/// Where the file provider writes: a relative path that stays inside the tenant's
/// directory. Kept in one spelling (`a//b`, `a/./b` and `a/b/` are all `a/b`), so that
/// one file has one name and two clusters cannot claim it under two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeployPath(String);

impl DeployPath {
    pub fn parse(s: &str) -> Result<DeployPath, String> {
        let path = Path::new(s);
        let plain = !s.is_empty()
            && s.len() <= 255
            && !s.chars().any(char::is_control)
            && path
                .components()
                .all(|part| matches!(part, PathComponent::Normal(_)));
        if !plain {
            return Err(format!(
                "a relative file path without '..', inside the server's deployments directory; got {s:?}"
            ));
        }
        let parts: Vec<&str> = s
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        Ok(DeployPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file under `dir`.
    pub fn under(&self, dir: &Path) -> PathBuf {
        dir.join(&self.0)
    }
}

impl TryFrom<String> for DeployPath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DeployPath::parse(&s)
    }
}

impl From<DeployPath> for String {
    fn from(path: DeployPath) -> String {
        path.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Deployer {
    pub username: Option<String>,
    pub region: Option<String>,
    pub path: Option<DeployPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// What resolution takes: the components `inject` names with the parameters given
    /// there, the parameters given as attributes, the slaves, provider and infrastructure.
    /// Stored flat, as the fields were before they were grouped.
    #[serde(flatten)]
    pub request: PlanRequest,
    pub staged: bool,
    pub deployer: Deployer,
    /// The request's attributes with defaults filled in, secrets left out: what the
    /// cluster's rendering shows as "created with".
    pub attributes: BTreeMap<String, Scalar>,
    /// How long it may live, and what then (none for clusters stored before lifetimes).
    #[serde(default)]
    pub lifetime: crate::domain::Lifetime,
    /// Whether the watcher repairs the cluster when its checks keep failing
    /// (`icclab.disco.autorepair`).
    #[serde(default)]
    pub autorepair: bool,
    /// The clusters it uses (`icclab.disco.uses`, OCCI links), as found at create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<ClusterId>,
}

impl ClusterSpec {
    /// A resize: the request and the attributes shown say the new number of slaves.
    pub fn resize(&mut self, slaves: SlaveCount) {
        self.request.slaves = slaves;
        self.attributes.insert(
            SLAVE_COUNT.to_string(),
            Scalar::Integer(i64::from(slaves.get())),
        );
    }
}

/// The most clusters one cluster may use.
pub const MOST_USES: usize = 8;

/// The clusters a create names in `icclab.disco.uses` (names or UUIDs, comma-separated)
/// and in its links (`/disco/UUID` or a UUID), each once, in the order given.
pub fn used_references(
    attribute: Option<&str>,
    links: &[String],
) -> Result<Vec<String>, SpecError> {
    let invalid = |got: &str| SpecError::Invalid {
        attribute: attributes::USES,
        expected: format!(
            "names or UUIDs of the tenant's clusters, comma-separated (at most {MOST_USES}); got {}",
            crate::domain::text::quoted_excerpt(got)
        ),
    };
    let mut references: Vec<String> = Vec::new();
    let given = attribute
        .into_iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .chain(links.iter().cloned());
    for reference in given {
        let fits = reference.parse::<ClusterId>().is_ok() || ClusterName::parse(&reference).is_ok();
        if !fits {
            return Err(invalid(&reference));
        }
        if !references.contains(&reference) {
            references.push(reference);
        }
    }
    if references.len() > MOST_USES {
        return Err(invalid(&references.join(",")));
    }
    Ok(references)
}

/// Why a request's attributes do not make a cluster; each names the attribute.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{INJECT}: {0}")]
    Inject(#[from] InjectError),
    /// `icclab.disco.init` does not hold actions; the error names where in it.
    #[error(transparent)]
    Init(#[from] InitError),
    #[error("{attribute}: expected {expected}")]
    Invalid {
        attribute: &'static str,
        expected: String,
    },
    #[error(
        "{PROVIDER} is {provider:?} but {DEPLOYER_TYPE} is {deployer_type:?}, which means {implied:?}: give one of them"
    )]
    ProviderConflict {
        provider: String,
        deployer_type: String,
        implied: String,
    },
}

impl ClusterSpec {
    /// Builds the spec of cluster `id` from checked attributes; `default_provider` is the
    /// server's when the request names none.
    pub fn from_attributes(
        id: ClusterId,
        attrs: &CheckedAttributes,
        default_provider: ProviderKind,
    ) -> Result<ClusterSpec, SpecError> {
        ClusterSpec::build(id, attrs, default_provider, None)
    }

    /// As `from_attributes`, with the components given as values (`chosen`) instead of
    /// in the `inject` attribute, when the caller chose them so.
    pub fn build(
        id: ClusterId,
        attrs: &CheckedAttributes,
        default_provider: ProviderKind,
        chosen: Option<Vec<ComponentRequest>>,
    ) -> Result<ClusterSpec, SpecError> {
        let text = |name: &str| attrs.string(name).unwrap_or_default().to_string();
        let optional = |name: &str| attrs.string(name).map(str::to_string);

        let chose = chosen.is_some();
        let components = match chosen {
            Some(components) => components,
            None => inject::parse_inject(attrs.string(INJECT).unwrap_or("{}"))?.components,
        };
        let mut shown: BTreeMap<String, Scalar> = attrs
            .public()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if chose {
            shown.insert(
                INJECT.to_string(),
                Scalar::String(inject::literal_of(&components).to_string()),
            );
        }
        let init = match attrs.string(INIT) {
            Some(text) => init::parse(text)?,
            None => Vec::new(),
        };
        // The cluster's attributes name the actions; their scripts are in the plan.
        if shown.contains_key(INIT) {
            shown.insert(INIT.to_string(), Scalar::String(init::summary(&init)));
        }
        // Parameters given as attributes may also be for components that come as
        // dependencies; resolution checks them against the components the plan has.
        let mut parameters: BTreeMap<String, BTreeMap<String, Scalar>> = BTreeMap::new();
        for (name, value) in attrs.iter() {
            if let Some((component, param)) = attributes::parse_component_parameter(name) {
                parameters
                    .entry(component.to_string())
                    .or_default()
                    .insert(param.to_string(), value.clone());
            }
        }

        let slaves = match attrs.get(SLAVE_COUNT) {
            Some(Scalar::Integer(n)) => SlaveCount::parse(*n),
            _ => Err("a number of slaves".to_string()),
        }
        .map_err(|expected| SpecError::Invalid {
            attribute: SLAVE_COUNT,
            expected,
        })?;

        let bound = |attribute: &'static str| -> Result<Option<SlaveCount>, SpecError> {
            match attrs.get(attribute) {
                None => Ok(None),
                Some(Scalar::Integer(n)) => SlaveCount::parse(*n).map(Some),
                Some(_) => Err("a number of slaves".to_string()),
            }
            .map_err(|expected| SpecError::Invalid {
                attribute,
                expected,
            })
        };
        let (min_slaves, max_slaves) = (bound(MIN_SLAVES)?, bound(MAX_SLAVES)?);
        if let (Some(min), Some(max)) = (min_slaves, max_slaves)
            && min > max
        {
            return Err(SpecError::Invalid {
                attribute: MAX_SLAVES,
                expected: format!("at least {MIN_SLAVES} ({}), got {}", min.get(), max.get()),
            });
        }

        let bounds = SlaveBounds {
            min: min_slaves,
            max: max_slaves,
        };
        if let Some(expected) = bounds.refuse(slaves) {
            return Err(SpecError::Invalid {
                attribute: SLAVE_COUNT,
                expected,
            });
        }

        let name = match attrs.string(NAME) {
            Some(name) => ClusterName::parse(name).map_err(|expected| SpecError::Invalid {
                attribute: NAME,
                expected,
            })?,
            None => ClusterName::for_id(id),
        };
        let path = attrs
            .string(DEPLOYER_PATH)
            .map(DeployPath::parse)
            .transpose()
            .map_err(|expected| SpecError::Invalid {
                attribute: DEPLOYER_PATH,
                expected,
            })?;

        let existing_network = matches!(attrs.get(EXISTING_NETWORK), Some(Scalar::Bool(true)));
        if existing_network && text(NETWORK_NAME).trim().is_empty() {
            return Err(SpecError::Invalid {
                attribute: NETWORK_NAME,
                expected: format!(
                    "the name of the existing network, as {EXISTING_NETWORK} is true"
                ),
            });
        }

        Ok(ClusterSpec {
            request: PlanRequest {
                name,
                provider: provider(attrs, default_provider)?,
                slaves,
                min_slaves,
                max_slaves,
                infrastructure: Infrastructure {
                    master_image: text(crate::domain::attributes::MASTER_IMAGE),
                    slave_image: text(crate::domain::attributes::SLAVE_IMAGE),
                    master_flavor: text(crate::domain::attributes::MASTER_FLAVOR),
                    slave_flavor: text(crate::domain::attributes::SLAVE_FLAVOR),
                    network_name: text(NETWORK_NAME),
                    external_network_name: text("icclab.disco.components.heat.externalnetworkname"),
                    existing_network,
                },
                components,
                parameters,
                init,
            },
            uses: Vec::new(),
            staged: matches!(attrs.get(STAGE), Some(Scalar::Bool(true))),
            deployer: Deployer {
                username: optional("icclab.disco.deployer.username"),
                region: optional("icclab.disco.deployer.region"),
                path,
            },
            autorepair: matches!(attrs.get(AUTOREPAIR), Some(Scalar::Bool(true))),
            attributes: shown,
            lifetime: crate::domain::Lifetime::default(),
        })
    }

    /// Replaces the values of secret component parameters (a Jupyter token, say) wherever
    /// the spec keeps the request's words, so that renderings never show them. The plan
    /// keeps the values the nodes need.
    pub fn hide_secret_parameters(&mut self, plan: &Plan) {
        let secret: Vec<(&str, &str)> = plan
            .components
            .iter()
            .flat_map(|c| {
                c.secret_params
                    .iter()
                    .map(move |p| (c.name.as_str(), p.as_str()))
            })
            .collect();
        if secret.is_empty() {
            return;
        }
        let hidden = || Scalar::String(REDACTED.to_string());
        for (component, param) in &secret {
            let attribute = attributes::component_parameter(component, param);
            if let Some(value) = self.attributes.get_mut(&attribute) {
                *value = hidden();
            }
            let requested = self.request.components.iter_mut();
            for request in requested.filter(|r| r.name.as_str() == *component) {
                if let Some(value) = request.params.get_mut(*param) {
                    *value = hidden();
                }
            }
            if let Some(value) = self
                .request
                .parameters
                .get_mut(*component)
                .and_then(|params| params.get_mut(*param))
            {
                *value = hidden();
            }
        }
        // The request's own words may carry a secret: shown instead is the literal of
        // the components as requested, their secrets now hidden.
        if self.attributes.contains_key(INJECT) {
            self.attributes.insert(
                INJECT.to_string(),
                Scalar::String(inject::literal_of(&self.request.components).to_string()),
            );
        }
    }

    /// The names of the requested components, in request order.
    pub fn component_names(&self) -> Vec<&str> {
        self.request.component_names()
    }
}

/// `icclab.disco.provider` wins; the original's `deployer.type` is read when it is absent,
/// and the two may not disagree.
fn provider(attrs: &CheckedAttributes, default: ProviderKind) -> Result<ProviderKind, SpecError> {
    let named = attrs.string(PROVIDER);
    let implied = attrs.string(DEPLOYER_TYPE).map(|t| match t {
        "FileDeployer" => ProviderKind::File,
        "LocalDeployer" => ProviderKind::Local,
        _ => ProviderKind::Openstack,
    });
    let named_kind = named.and_then(ProviderKind::parse);
    match (named_kind, implied) {
        (Some(named), Some(implied)) if named != implied => Err(SpecError::ProviderConflict {
            provider: named.to_string(),
            deployer_type: attrs.string(DEPLOYER_TYPE).unwrap_or_default().to_string(),
            implied: implied.to_string(),
        }),
        (Some(kind), _) | (None, Some(kind)) => Ok(kind),
        (None, None) => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use crate::occi::text::Attribute;

    fn spec(pairs: &[(&str, &str)]) -> Result<ClusterSpec, SpecError> {
        let given: Vec<Attribute> = pairs
            .iter()
            .map(|(name, value)| Attribute {
                name: name.to_string(),
                value: Scalar::String(value.to_string()),
            })
            .collect();
        let checked = Manifest::built_in()
            .expect("manifest")
            .check_request(&given)
            .expect("manifest check");
        ClusterSpec::from_attributes(ClusterId::new(), &checked, ProviderKind::File)
    }

    #[test]
    fn the_seed_request_becomes_a_spec_with_its_components_in_order() {
        let spec = spec(&[
            (INJECT, "{'hadoop': '', 'spark': '', 'jupyter': ''}"),
            (SLAVE_COUNT, "3"),
            ("icclab.disco.deployer.password", "$OS_PASSWORD"),
        ])
        .expect("spec");
        assert_eq!(spec.component_names(), vec!["hadoop", "spark", "jupyter"]);
        assert_eq!(spec.request.slaves.get(), 3);
        assert!(spec.request.name.as_str().starts_with("disco-"));
        assert!(
            !spec
                .attributes
                .contains_key("icclab.disco.deployer.password")
        );
        assert_eq!(spec.request.infrastructure.external_network_name, "public");
    }

    #[test]
    fn component_parameters_are_kept_from_inject_and_from_attributes() {
        let spec = spec(&[
            (INJECT, "{'zeppelin': {'port': 2}}"),
            ("icclab.disco.components.spark.version", "3.5.1"),
        ])
        .expect("spec");
        assert_eq!(
            spec.request.components[0].params["port"],
            Scalar::Integer(2)
        );
        assert_eq!(
            spec.request.parameters["spark"]["version"],
            Scalar::String("3.5.1".into()),
            "a dependency's parameter is kept for resolution"
        );
    }

    #[test]
    fn the_deployer_type_picks_the_provider_unless_it_contradicts_it() {
        let file = spec(&[(INJECT, "{}"), (DEPLOYER_TYPE, "FileDeployer")]).expect("spec");
        assert_eq!(file.request.provider, ProviderKind::File);
        let err = spec(&[
            (INJECT, "{}"),
            (DEPLOYER_TYPE, "FileDeployer"),
            (PROVIDER, "openstack"),
        ])
        .expect_err("conflict");
        assert!(err.to_string().contains(PROVIDER), "{err}");
    }

    #[test]
    fn a_deploy_path_may_not_leave_its_directory() {
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            assert!(DeployPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        let ok = DeployPath::parse("team/cluster.json").expect("plain relative path");
        assert_eq!(
            ok.under(Path::new("/d")),
            PathBuf::from("/d/team/cluster.json")
        );
    }

    #[test]
    fn a_deploy_path_has_one_spelling() {
        for spelling in [
            "team/cluster.json",
            "team//cluster.json",
            "team/./cluster.json",
            "team/cluster.json/",
        ] {
            let path = DeployPath::parse(spelling).expect("plain relative path");
            assert_eq!(path.as_str(), "team/cluster.json", "{spelling:?}");
        }
    }
}
