//! What a cluster takes of a cloud project's quotas (`Resources`: servers, vCPUs, RAM,
//! floating IPs, networks, ports, security groups and their rules), and what is short
//! when a project has less left than a cluster needs (`Shortfall`), in the words a 409
//! shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One kind of thing a project's quota counts, in the order a message names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Instances,
    Vcpus,
    RamMb,
    FloatingIps,
    Networks,
    Subnets,
    Routers,
    Ports,
    SecurityGroups,
    SecurityGroupRules,
}

impl Resource {
    /// The service whose quota counts it (Nova or Neutron): a message names all of a
    /// service's needs when one of them is short.
    fn compute(self) -> bool {
        matches!(
            self,
            Resource::Instances | Resource::Vcpus | Resource::RamMb
        )
    }

    /// `n` of it, as a person says it: "3 instances", "1 floating IP", "12 GiB RAM".
    pub fn amount(self, n: u64) -> String {
        let plural = |one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match self {
            Resource::Instances => plural("instance", "instances"),
            Resource::Vcpus => plural("vCPU", "vCPUs"),
            Resource::RamMb if n.is_multiple_of(1024) => format!("{} GiB RAM", n / 1024),
            Resource::RamMb => format!("{n} MiB RAM"),
            Resource::FloatingIps => plural("floating IP", "floating IPs"),
            Resource::Networks => plural("network", "networks"),
            Resource::Subnets => plural("subnet", "subnets"),
            Resource::Routers => plural("router", "routers"),
            Resource::Ports => plural("port", "ports"),
            Resource::SecurityGroups => plural("security group", "security groups"),
            Resource::SecurityGroupRules => plural("security group rule", "security group rules"),
        }
    }
}

/// Counts by kind; a kind absent is none (in what a cluster needs) or no limit (in what a
/// project has left).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(BTreeMap<Resource, u64>);

impl Resources {
    pub fn with(mut self, resource: Resource, n: u64) -> Resources {
        self.0.insert(resource, n);
        self
    }

    pub fn get(&self, resource: Resource) -> Option<u64> {
        self.0.get(&resource).copied()
    }

    pub fn set(&mut self, resource: Resource, n: u64) {
        self.0.insert(resource, n);
    }

    pub fn iter(&self) -> impl Iterator<Item = (Resource, u64)> + '_ {
        self.0.iter().map(|(r, n)| (*r, *n))
    }

    /// "3 instances, 6 vCPUs, 12 GiB RAM".
    pub fn describe(&self) -> String {
        self.iter()
            .map(|(r, n)| r.amount(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn merge(&mut self, other: Resources) {
        self.0.extend(other.0);
    }

    /// What `self` takes beyond `before` (a scale-out: the bigger cluster's needs beyond
    /// the smaller's), kinds that take nothing more left out.
    pub fn beyond(&self, before: &Resources) -> Resources {
        Resources(
            self.iter()
                .filter_map(|(r, n)| {
                    let more = n.saturating_sub(before.get(r).unwrap_or(0));
                    (more > 0).then_some((r, more))
                })
                .collect(),
        )
    }

    /// What of `self` (needed) `left` cannot give; `None` when it all fits.
    pub fn shortfall(&self, left: &Resources) -> Option<Shortfall> {
        let short: Resources = Resources(
            self.iter()
                .filter_map(|(r, need)| left.get(r).filter(|has| *has < need).map(|has| (r, has)))
                .collect(),
        );
        if short.0.is_empty() {
            return None;
        }
        let services: Vec<bool> = short.0.keys().map(|r| r.compute()).collect();
        // Every need of a service one of whose quotas is short, so the message shows the
        // whole of what that service is asked for.
        let needs = Resources(
            self.iter()
                .filter(|(r, n)| *n > 0 && services.contains(&r.compute()))
                .collect(),
        );
        Some(Shortfall { needs, short })
    }
}

/// Needs one project's quotas cannot meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// What the cluster needs of the services with a quota short.
    pub needs: Resources,
    /// What the project has left of the kinds short.
    pub short: Resources,
}

impl Shortfall {
    /// "needs 3 instances, 6 vCPUs, 12 GiB RAM; project demo has 2 instances and 4 vCPUs
    /// left".
    pub fn describe(&self, project: &str) -> String {
        let list = |r: &Resources| r.iter().map(|(r, n)| r.amount(n)).collect::<Vec<_>>();
        let has = list(&self.short);
        let has = match has.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        format!(
            "needs {}; project {project} has {has} left",
            self.needs.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs() -> Resources {
        Resources::default()
            .with(Resource::Instances, 3)
            .with(Resource::Vcpus, 6)
            .with(Resource::RamMb, 12 * 1024)
            .with(Resource::FloatingIps, 1)
            .with(Resource::Ports, 3)
    }

    #[test]
    fn a_shortfall_names_the_services_needs_and_what_is_left_of_those_short() {
        let left = Resources::default()
            .with(Resource::Instances, 2)
            .with(Resource::Vcpus, 4)
            .with(Resource::RamMb, 50 * 1024)
            .with(Resource::FloatingIps, 10);
        let short = needs().shortfall(&left).expect("short");
        assert_eq!(
            short.describe("demo"),
            "needs 3 instances, 6 vCPUs, 12 GiB RAM; project demo has 2 instances and 4 vCPUs left"
        );
    }

    #[test]
    fn a_neutron_shortfall_names_neutrons_needs_only() {
        let left = Resources::default()
            .with(Resource::Instances, 10)
            .with(Resource::FloatingIps, 0);
        let short = needs().shortfall(&left).expect("short");
        assert_eq!(
            short.describe("p1"),
            "needs 1 floating IP, 3 ports; project p1 has 0 floating IPs left"
        );
    }

    #[test]
    fn needs_within_the_limits_or_without_a_limit_fit() {
        let exactly = needs();
        assert_eq!(needs().shortfall(&exactly), None);
        assert_eq!(needs().shortfall(&Resources::default()), None, "no limits");
    }

    #[test]
    fn a_scale_out_needs_only_what_the_new_slaves_take() {
        let before = needs();
        let after = needs()
            .with(Resource::Instances, 5)
            .with(Resource::Vcpus, 10)
            .with(Resource::Ports, 5);
        assert_eq!(
            after.beyond(&before),
            Resources::default()
                .with(Resource::Instances, 2)
                .with(Resource::Vcpus, 4)
                .with(Resource::Ports, 2)
        );
    }

    #[test]
    fn ram_is_said_in_gib_when_whole_else_in_mib() {
        assert_eq!(Resource::RamMb.amount(2048), "2 GiB RAM");
        assert_eq!(Resource::RamMb.amount(1536), "1536 MiB RAM");
        assert_eq!(Resource::Instances.amount(1), "1 instance");
    }
}
