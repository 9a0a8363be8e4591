//! The check before a create or a scale-out is accepted: what the cluster needs of the
//! cloud (`Needs`, counted from the same layout its Heat template is rendered from) against
//! what the caller's project has left, and the images and flavors it names. A provider
//! without quotas admits everything (`Provider::preflight`'s default).

use serde::Serialize;

use crate::compose::heat::Layout;
use crate::domain::resources::Shortfall;
use crate::domain::{Resource, Resources};
use crate::frameworks::plan::Plan;

/// What a create, or a scale-out beyond the nodes a cluster has, asks of the cloud: the
/// stack's resources, and how many nodes of each group boot (the provider knows what
/// their flavors take).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub resources: Resources,
    pub masters: u64,
    pub slaves: u64,
}

impl Needs {
    /// What creating a cluster with `plan` takes, its layout given the clusters it uses.
    pub fn of_create(plan: &Plan, layout: &Layout) -> Needs {
        Needs {
            resources: layout.footprint(plan),
            masters: 1,
            slaves: u64::from(plan.slave_count()),
        }
    }

    /// What resizing from `before` to `after` (the same cluster with more slaves) takes
    /// beyond what the cluster holds: the network and security group it has cancel out.
    pub fn of_scale_out(before: &Plan, after: &Plan) -> Needs {
        let footprint = |plan: &Plan| Layout::of(plan, &[]).footprint(plan);
        Needs {
            resources: footprint(after).beyond(&footprint(before)),
            masters: 0,
            slaves: u64::from(after.slave_count().saturating_sub(before.slave_count())),
        }
    }
}

/// What the check found: what the cluster would use and, where the provider can tell,
/// what the project has left (a dry run shows both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preflight {
    /// With the vCPUs and RAM of its flavors, where the provider knows them.
    pub needs: Resources,
    /// The project's name, and what it has left (a kind absent has no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Resources>,
    /// The services whose limits could not be read (no endpoint, or refused), each with
    /// the reason: their kinds are not checked (`left` is `None` when none could be).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

impl Preflight {
    /// What a provider without quotas says: the stack's needs, nothing about a project.
    pub fn unlimited(needs: &Needs) -> Preflight {
        Preflight {
            needs: needs.resources.clone(),
            project: None,
            left: None,
            unchecked: Vec::new(),
        }
    }
}

/// Why a create or scale-out was refused before anything was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// The project has less left than the cluster needs: 409.
    #[error("the project's quotas are short: {}", .shortfall.describe(.project))]
    Short {
        project: String,
        shortfall: Shortfall,
    },
    /// An image or flavor the request names is not in the cloud: 400 naming the attribute.
    #[error("{attribute}: {reason}")]
    Missing {
        attribute: &'static str,
        reason: String,
    },
    /// An image or flavor of a running cluster is gone from the cloud (at a scale-out):
    /// 409, the cluster's state.
    #[error("{attribute}: {reason}")]
    Gone {
        attribute: &'static str,
        reason: String,
    },
    /// A service the check asks could not answer: 503, worth another try.
    #[error("the quota check could not be made: {0}")]
    Unavailable(String),
}

impl QuotaError {
    /// Whether the cluster itself is fine and the cloud could not be asked.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, QuotaError::Unavailable(_))
    }
}

/// `needs`' nodes' vCPUs and RAM from their flavors: (vCPUs, MB) of the master's, the
/// slaves'.
pub fn with_flavors(needs: &Needs, master: (u64, u64), slave: (u64, u64)) -> Resources {
    let (masters, slaves) = (needs.masters, needs.slaves);
    needs
        .resources
        .clone()
        .with(Resource::Vcpus, masters * master.0 + slaves * slave.0)
        .with(Resource::RamMb, masters * master.1 + slaves * slave.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_take_their_flavors_vcpus_and_ram() {
        let needs = Needs {
            resources: Resources::default().with(Resource::Instances, 3),
            masters: 1,
            slaves: 2,
        };
        let all = with_flavors(&needs, (4, 8192), (2, 4096));
        assert_eq!(all.get(Resource::Vcpus), Some(8));
        assert_eq!(all.get(Resource::RamMb), Some(16384));
        assert_eq!(all.get(Resource::Instances), Some(3));
    }
}
