//! `PlanRequest`: what resolution needs of a create, in domain types: which components
//! with which parameters, for how many slaves, on which provider and infrastructure.
//! `ClusterSpec` contains one; resolution takes nothing else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{ClusterName, ComponentName, Infrastructure, ProviderKind, Scalar, SlaveCount};

/// A component the request asked for, with the parameters given with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRequest {
    pub name: ComponentName,
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    pub name: ClusterName,
    pub provider: ProviderKind,
    pub slaves: SlaveCount,
    pub infrastructure: Infrastructure,
    /// The components asked for, in request order.
    pub components: Vec<ComponentRequest>,
    /// Parameters given apart from the components (as
    /// `icclab.disco.components.<component>.<param>` attributes), by component; they win
    /// over those given with the component. They may be for components that come as
    /// dependencies: resolution checks them against the plan.
    #[serde(default)]
    pub parameters: BTreeMap<String, BTreeMap<String, Scalar>>,
}

impl PlanRequest {
    /// The names of the requested components, in request order.
    pub fn component_names(&self) -> Vec<&str> {
        self.components.iter().map(|c| c.name.as_str()).collect()
    }
}
