//! Resolution: a request's components and parameters, checked against the catalogue,
//! with every dependency added, in a deterministic order (topological; ties by name).

use std::collections::{BTreeMap, BTreeSet};

use super::catalogue::{Catalogue, NodeGroup, ParamRefusal, Parameter, Phase};
use super::plan::{
    Plan, PlannedComponent, PlannedDependency, PlannedGroup, PlannedStep, PlannedUse,
};
use super::request::PlanRequest;
use crate::domain::attributes::USES;
use crate::domain::text::{code_point, quoted_excerpt};
use crate::domain::{ClusterId, ProviderKind, Scalar};

/// The attribute that names the components, which resolution errors name.
const INJECT: &str = "icclab.disco.dependencies.inject";

/// Why a request's components do not make a plan; each names the attribute and the
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{INJECT}: no component is requested; known components: {}", known.join(", "))]
    Empty { known: Vec<String> },
    #[error("{INJECT}: unknown component {name:?}; known components: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("{INJECT}: dependency cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
    #[error(
        "icclab.disco.components.{component}.{param}: {component} has no parameter {param:?}; its parameters: {}",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    UnknownParameter {
        component: String,
        param: String,
        known: Vec<String>,
    },
    #[error(
        "icclab.disco.components.{component}.{param}: {component} is not part of this cluster (it has {})",
        components.join(", ")
    )]
    NotInPlan {
        component: String,
        param: String,
        components: Vec<String>,
    },
    #[error("icclab.disco.components.{component}.{param}: expected {expected}, got {got}")]
    InvalidParameter {
        component: String,
        param: String,
        expected: String,
        got: String,
    },
    #[error(
        "icclab.disco.provider: component {component} cannot run on provider {provider}{} (it runs on {})",
        why.as_ref().map(|w| format!(": {w}")).unwrap_or_default(),
        supported.join(", ")
    )]
    Unsupported {
        component: String,
        provider: String,
        why: Option<String>,
        supported: Vec<String>,
    },
    #[error(
        "{USES}: {cluster} runs on provider {used}, and this cluster on {provider}: a cluster uses clusters of its own provider"
    )]
    OtherProvider {
        cluster: String,
        used: ProviderKind,
        provider: ProviderKind,
    },
    #[error("{USES}: both {first} and {second} have {component}: use one of them")]
    ServedTwice {
        component: String,
        first: String,
        second: String,
    },
    #[error(
        "{USES}: {component} takes {dependency} from {cluster}, but {cluster}'s {dependency} does not offer {missing} (it offers {})",
        if offered.is_empty() { "nothing".to_string() } else { offered.join(", ") }
    )]
    MissingOutput {
        component: String,
        dependency: String,
        cluster: String,
        missing: String,
        offered: Vec<String>,
    },
    #[error(
        "{USES}: no component of this cluster takes anything {cluster} has (it has {}; {})",
        has.join(", "),
        if takes.is_empty() { "this cluster's components take nothing from another cluster".to_string() }
        else { format!("this cluster's components take {} from another cluster", takes.join(", ")) }
    )]
    Unused {
        cluster: String,
        has: Vec<String>,
        takes: Vec<String>,
    },
}

/// A cluster a request uses, as resolution sees it: its components and what each offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub cluster: ClusterId,
    pub name: String,
    pub provider: ProviderKind,
    /// Its components, each with the names of the outputs it exports.
    pub components: BTreeMap<String, BTreeSet<String>>,
}

/// Resolves a request into its plan.
pub fn resolve(request: &PlanRequest, catalogue: &Catalogue) -> Result<Plan, ResolveError> {
    resolve_using(request, catalogue, &[])
}

/// Resolves a request into its plan, taking from the clusters `offers` what its
/// components accept from another cluster (`[uses]`) and this cluster does not have.
pub fn resolve_using(
    request: &PlanRequest,
    catalogue: &Catalogue,
    offers: &[Offer],
) -> Result<Plan, ResolveError> {
    let known = || {
        catalogue
            .names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
    };
    if request.components.is_empty() {
        return Err(ResolveError::Empty { known: known() });
    }
    for offer in offers {
        if offer.provider != request.provider {
            return Err(ResolveError::OtherProvider {
                cluster: offer.name.clone(),
                used: offer.provider,
                provider: request.provider,
            });
        }
    }
    // Who serves each component the used clusters have.
    let mut servers: BTreeMap<&str, &Offer> = BTreeMap::new();
    for offer in offers {
        for component in offer.components.keys() {
            if let Some(first) = servers.insert(component, offer) {
                return Err(ResolveError::ServedTwice {
                    component: component.clone(),
                    first: first.name.clone(),
                    second: offer.name.clone(),
                });
            }
        }
    }
    let asked: BTreeSet<&str> = request.components.iter().map(|c| c.name.as_str()).collect();
    // A dependency comes from a used cluster when its dependent accepts it from one, one
    // has it, and the request does not ask for it here.
    let remote = |component: &str, dependency: &str| -> Option<&Offer> {
        let accepts = catalogue.get(component)?.uses.contains_key(dependency);
        (accepts && !asked.contains(dependency))
            .then(|| servers.get(dependency).copied())
            .flatten()
    };
    let mut included: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    for component in &request.components {
        if catalogue.get(component.name.as_str()).is_none() {
            return Err(ResolveError::Unknown {
                name: component.name.to_string(),
                known: known(),
            });
        }
        pending.push(component.name.to_string());
    }
    while let Some(name) = pending.pop() {
        if included.insert(name.clone())
            && let Some(component) = catalogue.get(&name)
        {
            pending.extend(
                component
                    .depends_on
                    .iter()
                    .filter(|d| remote(&name, d).is_none())
                    .cloned(),
            );
        }
    }
    let order = order(&included, catalogue)?;

    let requested: BTreeMap<&str, &BTreeMap<String, Scalar>> = request
        .components
        .iter()
        .map(|c| (c.name.as_str(), &c.params))
        .collect();
    let slaves = request.slaves.get();
    let mut components = Vec::with_capacity(order.len());
    for name in order {
        let Some(component) = catalogue.get(&name) else {
            continue;
        };
        if !component.supports(request.provider) {
            return Err(ResolveError::Unsupported {
                component: name,
                provider: request.provider.to_string(),
                why: component.unsupported.get(&request.provider).cloned(),
                supported: component.providers.iter().map(|p| p.to_string()).collect(),
            });
        }
        let given = requested.get(name.as_str());
        let from_attributes = request.parameters.get(&name);
        let mut params: BTreeMap<String, Scalar> = BTreeMap::new();
        let all_given = given
            .into_iter()
            .flat_map(|g| g.iter())
            .chain(from_attributes.into_iter().flat_map(|g| g.iter()));
        for (param, value) in all_given {
            let Some(spec) = component.parameters.get(param) else {
                return Err(ResolveError::UnknownParameter {
                    component: name.clone(),
                    param: param.clone(),
                    known: component.parameters.keys().cloned().collect(),
                });
            };
            let value = spec.coerce(value).map_err(|refusal| {
                let (expected, got) = refused_parameter(spec, value, refusal);
                ResolveError::InvalidParameter {
                    component: name.clone(),
                    param: param.clone(),
                    expected,
                    got,
                }
            })?;
            params.insert(param.clone(), value);
        }
        for (param, spec) in &component.parameters {
            params
                .entry(param.clone())
                .or_insert_with(|| spec.default.clone());
        }
        let version = match params.get("version") {
            Some(Scalar::String(v)) => v.clone(),
            _ => component.version.clone(),
        };
        // Slave steps are planned even for no slaves, so that a cluster scaled up later
        // gets working slaves.
        let steps = component
            .steps_for(request.provider)
            .iter()
            .flat_map(|(group, phases)| {
                Phase::ALL.into_iter().filter_map(move |phase| {
                    phases.get(&phase).map(|script| PlannedStep {
                        group: *group,
                        phase,
                        script: script.file.clone(),
                    })
                })
            })
            .collect();
        let mut dependencies = Vec::new();
        let named: BTreeSet<&String> = component
            .depends_on
            .iter()
            .chain(&component.after)
            .chain(component.uses.keys())
            .collect();
        for dependency in named {
            let served_by = if included.contains(dependency) {
                None
            } else if let Some(offer) = remote(&name, dependency) {
                let offered = &offer.components[dependency.as_str()];
                if let Some(missing) = component.uses[dependency]
                    .outputs
                    .iter()
                    .find(|o| !offered.contains(*o))
                {
                    return Err(ResolveError::MissingOutput {
                        component: name.clone(),
                        dependency: dependency.clone(),
                        cluster: offer.name.clone(),
                        missing: missing.clone(),
                        offered: offered.iter().cloned().collect(),
                    });
                }
                Some(offer.cluster)
            } else {
                continue;
            };
            dependencies.push(PlannedDependency {
                component: dependency.clone(),
                served_by,
            });
        }
        components.push(PlannedComponent {
            outputs: component
                .outputs
                .iter()
                .filter(|o| o.on(request.provider))
                .cloned()
                .collect(),
            dependencies,
            name: name.clone(),
            version,
            requested: given.is_some(),
            params,
            secret_params: component
                .parameters
                .iter()
                .filter(|(_, p)| p.secret)
                .map(|(n, _)| n.clone())
                .collect(),
            steps,
            ports: component.ports.clone(),
            web_uis: component.web_uis_for(request.provider).to_vec(),
            health: component.health_for(request.provider).to_vec(),
        });
    }
    let planned: Vec<String> = components
        .iter()
        .map(|c: &PlannedComponent| c.name.clone())
        .collect();
    for (component, params) in &request.parameters {
        if !planned.contains(component)
            && let Some(param) = params.keys().next()
        {
            return Err(ResolveError::NotInPlan {
                component: component.clone(),
                param: param.clone(),
                components: planned,
            });
        }
    }
    let node_groups = vec![
        PlannedGroup {
            group: NodeGroup::Master,
            count: 1,
        },
        PlannedGroup {
            group: NodeGroup::Slaves,
            count: slaves,
        },
    ];
    let mut uses = Vec::with_capacity(offers.len());
    for offer in offers {
        let serves: BTreeSet<String> = components
            .iter()
            .flat_map(|c| &c.dependencies)
            .filter(|d| d.served_by == Some(offer.cluster))
            .map(|d| d.component.clone())
            .collect();
        if serves.is_empty() {
            return Err(ResolveError::Unused {
                cluster: offer.name.clone(),
                has: offer.components.keys().cloned().collect(),
                takes: components
                    .iter()
                    .filter_map(|c| catalogue.get(&c.name))
                    .flat_map(|c| c.uses.keys().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            });
        }
        uses.push(PlannedUse {
            cluster: offer.cluster,
            name: offer.name.clone(),
            serves: serves.into_iter().collect(),
        });
    }
    Ok(Plan {
        cluster: request.name.to_string(),
        provider: request.provider,
        node_groups,
        infrastructure: request.infrastructure.clone(),
        components,
        uses,
        init: request.init.clone(),
    })
}

/// Kahn's algorithm over `depends_on` and `after` edges among the included components;
/// among the components ready at each point the first by name goes next.
/// What was expected of a refused parameter value and what came, in words: a string as an
/// escaped excerpt, a secret's value never.
fn refused_parameter(spec: &Parameter, value: &Scalar, refusal: ParamRefusal) -> (String, String) {
    match refusal {
        ParamRefusal::TooLong(length) => (
            format!("at most {} characters", spec.max_length),
            format!("{length} characters"),
        ),
        ParamRefusal::ControlCharacter(at, c) => (
            "text without control characters (C0, DEL, C1) or line and paragraph separators"
                .to_string(),
            if spec.secret {
                "a control character".to_string()
            } else {
                format!("{} at character {at}", code_point(c))
            },
        ),
        ParamRefusal::Unexpected => (
            spec.expectation(),
            match value {
                Scalar::String(_) if spec.secret => "a string that does not fit (not shown)".into(),
                _ if spec.secret => "a value of the wrong type".to_string(),
                Scalar::String(text) => quoted_excerpt(text),
                other => other.to_string(),
            },
        ),
    }
}

fn order(included: &BTreeSet<String>, catalogue: &Catalogue) -> Result<Vec<String>, ResolveError> {
    let before = |name: &str| -> Vec<String> {
        catalogue
            .get(name)
            .map(|c| {
                c.depends_on
                    .iter()
                    .chain(&c.after)
                    .filter(|d| included.contains(*d))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut waiting: BTreeMap<String, BTreeSet<String>> = included
        .iter()
        .map(|name| (name.clone(), before(name).into_iter().collect()))
        .collect();
    let mut order = Vec::with_capacity(included.len());
    while let Some(next) = waiting
        .iter()
        .find(|(_, deps)| deps.is_empty())
        .map(|(name, _)| name.clone())
    {
        waiting.remove(&next);
        for deps in waiting.values_mut() {
            deps.remove(&next);
        }
        order.push(next);
    }
    if waiting.is_empty() {
        Ok(order)
    } else {
        Err(ResolveError::Cycle {
            path: cycle_path(&waiting),
        })
    }
}

/// A cycle among the components left waiting: follow first dependencies until one repeats.
fn cycle_path(waiting: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let Some(start) = waiting.keys().next() else {
        return Vec::new();
    };
    let mut path = vec![start.clone()];
    let mut current = start.clone();
    loop {
        let Some(next) = waiting.get(&current).and_then(|deps| deps.iter().next()) else {
            return path;
        };
        if let Some(at) = path.iter().position(|n| n == next) {
            let mut cycle = path.split_off(at);
            cycle.push(next.clone());
            return cycle;
        }
        path.push(next.clone());
        current = next.clone();
    }
}

#[cfg(test)]
mod tests;
