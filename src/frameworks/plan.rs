//! `Plan`: a request resolved against the catalogue. It says which nodes there are, which
//! components in which order, with which parameters, and which steps run on which node
//! group. Deploys, templates and the task tree are all made from it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::catalogue::{GroupScope, HealthCheck, NodeGroup, Output, Phase, Port, WebUi};
use super::init::InitAction;
use crate::domain::{ClusterId, ProviderKind};
use crate::domain::{Infrastructure, Scalar};

/// What a secret parameter's value is shown as.
pub const REDACTED: &str = "********";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub cluster: String,
    pub provider: ProviderKind,
    pub node_groups: Vec<PlannedGroup>,
    pub infrastructure: Infrastructure,
    /// In the order they are installed: dependencies first, ties by name.
    pub components: Vec<PlannedComponent>,
    /// The user's initialization actions, in the order they run: on each node after
    /// every component's start, before the smoke tests. Absent from plans stored before
    /// they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init: Vec<InitAction>,
    /// The other clusters this one uses, each with the dependencies it serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<PlannedUse>,
}

/// A cluster another one uses (`icclab.disco.uses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedUse {
    pub cluster: ClusterId,
    pub name: String,
    /// Its components this cluster's take, by name.
    pub serves: Vec<String>,
}

/// One of a component's dependencies in the plan: here, or served by a used cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDependency {
    pub component: String,
    /// The cluster that serves it; `None`: this cluster has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ClusterId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedGroup {
    pub group: NodeGroup,
    pub count: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedComponent {
    pub name: String,
    pub version: String,
    /// Asked for by the user, rather than pulled in as a dependency.
    pub requested: bool,
    pub params: BTreeMap<String, Scalar>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub secret_params: BTreeSet<String>,
    pub steps: Vec<PlannedStep>,
    pub ports: Vec<Port>,
    pub web_uis: Vec<WebUi>,
    pub health: Vec<HealthCheck>,
    /// What it offers other clusters, on the plan's provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Output>,
    /// Its dependencies in this plan (`depends_on`, `after` and `[uses]`), and where each is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<PlannedDependency>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub group: NodeGroup,
    pub phase: Phase,
    /// The script's file in the component's folder.
    pub script: String,
}

impl Plan {
    pub fn slave_count(&self) -> u16 {
        self.node_groups
            .iter()
            .find(|g| g.group == NodeGroup::Slaves)
            .map_or(0, |g| g.count)
    }

    /// Sets the number of slaves (a resize).
    pub fn set_slave_count(&mut self, count: u16) {
        match self
            .node_groups
            .iter_mut()
            .find(|g| g.group == NodeGroup::Slaves)
        {
            Some(group) => group.count = count,
            None => self.node_groups.push(PlannedGroup {
                group: NodeGroup::Slaves,
                count,
            }),
        }
    }

    /// The nodes as scripts, reports and the task tree name them: `master`, `slaves:1`, ...
    pub fn node_names(&self) -> Vec<String> {
        std::iter::once("master".to_string())
            .chain((0..self.slave_count()).map(crate::domain::node::slave_name))
            .collect()
    }

    /// The dependencies served by other clusters: (dependency, the cluster), without
    /// repeats.
    pub fn served(&self) -> BTreeMap<&str, ClusterId> {
        self.components
            .iter()
            .flat_map(|c| &c.dependencies)
            .filter_map(|d| d.served_by.map(|by| (d.component.as_str(), by)))
            .collect()
    }

    /// The files its outputs are read from, relative to the cluster's shared directory
    /// (a VM master's `$DISCO_HOME`), without repeats.
    pub fn output_files(&self) -> Vec<String> {
        let files: BTreeSet<String> = self
            .components
            .iter()
            .flat_map(|c| &c.outputs)
            .filter_map(|o| match &o.source {
                super::catalogue::OutputSource::File(file) => Some(file.clone()),
                super::catalogue::OutputSource::Value(_) => None,
            })
            .collect();
        files.into_iter().collect()
    }

    pub fn component_names(&self) -> Vec<&str> {
        self.components.iter().map(|c| c.name.as_str()).collect()
    }

    /// Ports opened to the outside on the master, sorted, without repeats.
    pub fn public_ports(&self, group: NodeGroup) -> BTreeSet<u16> {
        self.components
            .iter()
            .flat_map(|c| &c.ports)
            .filter(|p| p.public && p.node_group.includes(group))
            .map(|p| p.port)
            .collect()
    }

    /// The steps one node group runs, in order: each component's install, configure and
    /// start in component order, then every component's smoke test.
    pub fn steps_for(&self, group: NodeGroup) -> Vec<(&PlannedComponent, &PlannedStep)> {
        let mut steps: Vec<_> = self
            .components
            .iter()
            .flat_map(|c| c.steps.iter().map(move |s| (c, s)))
            .filter(|(_, s)| s.group == group)
            .collect();
        // Stable: component order is kept within the smoke phase and before it.
        steps.sort_by_key(|(_, s)| s.phase == Phase::Smoke);
        steps
    }

    /// The plan as shown to users: secret parameter values replaced.
    pub fn redacted(&self) -> Plan {
        let mut plan = self.clone();
        for component in &mut plan.components {
            for name in &component.secret_params {
                // An empty secret (generate one on the node) is shown as it is: hiding
                // it would suggest a value was set.
                if let Some(value) = component.params.get_mut(name)
                    && *value != Scalar::String(String::new())
                {
                    *value = Scalar::String(REDACTED.to_string());
                }
            }
        }
        plan
    }

    /// Web UIs on the master, for links and template outputs.
    pub fn master_web_uis(&self) -> Vec<(&str, &WebUi)> {
        self.components
            .iter()
            .flat_map(|c| c.web_uis.iter().map(move |ui| (c.name.as_str(), ui)))
            .filter(|(_, ui)| ui.node_group != GroupScope::Slaves)
            .collect()
    }
}
