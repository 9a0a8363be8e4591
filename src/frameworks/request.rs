//! `PlanRequest`: what resolution needs of a create, in domain types: which components
//! with which parameters, for how many slaves, on which provider and infrastructure.
//! `ClusterSpec` contains one; resolution takes nothing else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    ClusterName, ComponentName, Infrastructure, ProviderKind, Scalar, SlaveBounds, SlaveCount,
};

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
    /// The fewest and most slaves a scale may leave (`minslaves`, `maxslaves`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_slaves: Option<SlaveCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slaves: Option<SlaveCount>,
    pub infrastructure: Infrastructure,
    /// The components asked for, in request order.
    pub components: Vec<ComponentRequest>,
    /// Parameters given apart from the components (as
    /// `icclab.disco.components.<component>.<param>` attributes), by component; they win
    /// over those given with the component. They may be for components that come as
    /// dependencies: resolution checks them against the plan.
    #[serde(default)]
    pub parameters: BTreeMap<String, BTreeMap<String, Scalar>>,
    /// The user's initialization actions (`icclab.disco.init`), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init: Vec<super::init::InitAction>,
}

impl PlanRequest {
    /// The bounds a scale keeps to.
    pub fn bounds(&self) -> SlaveBounds {
        SlaveBounds {
            min: self.min_slaves,
            max: self.max_slaves,
        }
    }

    /// The names of the requested components, in request order.
    pub fn component_names(&self) -> Vec<&str> {
        self.components.iter().map(|c| c.name.as_str()).collect()
    }
}
