//! The quota pre-flight on OpenStack, with the caller's own token: the images and flavors
//! a cluster names (listed as the dashboard lists them, `nodes`), the project's compute
//! limits (Nova `GET /v2.1/limits`: `max*` less `total*Used`) and its network quotas
//! (Neutron `GET /v2.0/quotas/{project_id}/details.json`: `limit` less `used` and
//! `reserved`), all asked at once. A limit of -1 is none.

use serde::Deserialize;
use serde_json::Value;

use super::keystone::Token;
use super::nodes::{Flavor, Image, ListError, Lister, join};
use crate::config::OpenstackSettings;
use crate::domain::attributes::{MASTER_FLAVOR, MASTER_IMAGE, SLAVE_FLAVOR, SLAVE_IMAGE};
use crate::domain::{Resource, Resources};
use crate::frameworks::plan::Plan;
use crate::providers::preflight::{Needs, Preflight, QuotaError, with_flavors};

const NOVA: &str = "Nova (limits)";
const NEUTRON: &str = "Neutron (quotas)";

/// Nova's absolute limits: (the limit, what is used of it, the kind).
const NOVA_LIMITS: [(&str, &str, Resource); 3] = [
    (
        "maxTotalInstances",
        "totalInstancesUsed",
        Resource::Instances,
    ),
    ("maxTotalCores", "totalCoresUsed", Resource::Vcpus),
    ("maxTotalRAMSize", "totalRAMUsed", Resource::RamMb),
];

/// Neutron's quota names, by kind.
const NEUTRON_QUOTAS: [(&str, Resource); 7] = [
    ("floatingip", Resource::FloatingIps),
    ("network", Resource::Networks),
    ("subnet", Resource::Subnets),
    ("router", Resource::Routers),
    ("port", Resource::Ports),
    ("security_group", Resource::SecurityGroups),
    ("security_group_rule", Resource::SecurityGroupRules),
];

/// Whether the caller's project has room for `needs` of a cluster running `plan`, and
/// what it has left.
pub async fn check(
    token: &Token,
    settings: &OpenstackSettings,
    plan: &Plan,
    needs: &Needs,
) -> Result<Preflight, QuotaError> {
    let lister = Lister::new(token, settings).map_err(QuotaError::Unavailable)?;
    let (images, flavors, compute, network) = tokio::join!(
        lister.images(),
        lister.flavors(),
        nova_left(&lister),
        neutron_left(&lister, &token.project_id),
    );
    let (images, flavors) = (images.map_err(unavailable)?, flavors.map_err(unavailable)?);
    let infra = &plan.infrastructure;
    // A scale-out boots slaves only: the master's image may be gone by now.
    if needs.masters > 0 {
        image(&images, MASTER_IMAGE, &infra.master_image)?;
    }
    image(&images, SLAVE_IMAGE, &infra.slave_image)?;
    let master = flavor(&flavors, MASTER_FLAVOR, &infra.master_flavor)?;
    let slave = flavor(&flavors, SLAVE_FLAVOR, &infra.slave_flavor)?;
    let needed = with_flavors(
        needs,
        (master.vcpus, master.ram_mb),
        (slave.vcpus, slave.ram_mb),
    );
    let mut left = compute.map_err(unavailable)?;
    left.merge(network.map_err(unavailable)?);
    if let Some(shortfall) = needed.shortfall(&left) {
        return Err(QuotaError::Short {
            project: token.project_name.clone(),
            shortfall,
        });
    }
    Ok(Preflight {
        needs: needed,
        project: Some(token.project_name.clone()),
        left: Some(left),
    })
}

fn unavailable(error: ListError) -> QuotaError {
    QuotaError::Unavailable(error.to_string())
}

/// The image a request names, by name or id, among the active ones.
fn image(images: &[Image], attribute: &'static str, named: &str) -> Result<(), QuotaError> {
    if images.iter().any(|i| i.name == named || i.id == named) {
        return Ok(());
    }
    Err(QuotaError::Missing {
        attribute,
        reason: format!(
            "no active image {named:?} in Glance for this project; images: {}",
            listed(images.iter().map(|i| i.name.as_str()))
        ),
    })
}

/// The flavor a request names, by name or id.
fn flavor<'a>(
    flavors: &'a [Flavor],
    attribute: &'static str,
    named: &str,
) -> Result<&'a Flavor, QuotaError> {
    flavors
        .iter()
        .find(|f| f.name == named || f.id == named)
        .ok_or_else(|| QuotaError::Missing {
            attribute,
            reason: format!(
                "no flavor {named:?} in Nova for this project; flavors: {}",
                listed(flavors.iter().map(|f| f.name.as_str()))
            ),
        })
}

fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.take(20).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

async fn nova_left(lister: &Lister<'_>) -> Result<Resources, ListError> {
    let endpoint = lister.endpoint(NOVA, "compute")?;
    let limits = lister.get(NOVA, join(&endpoint, "limits", NOVA)?).await?;
    Ok(nova_headroom(&limits["limits"]["absolute"]))
}

/// What Nova's absolute limits leave; a limit of -1 (or none) is left out.
fn nova_headroom(absolute: &Value) -> Resources {
    let mut left = Resources::default();
    for (max, used, resource) in NOVA_LIMITS {
        if let Some(max) = absolute[max].as_i64().filter(|m| *m >= 0) {
            let used = absolute[used].as_i64().unwrap_or(0).max(0);
            left.set(resource, (max - used).max(0) as u64);
        }
    }
    left
}

async fn neutron_left(lister: &Lister<'_>, project: &str) -> Result<Resources, ListError> {
    // Neutron's catalog entry is unversioned (http://host:9696), or ends in /v2.0.
    let endpoint = lister.endpoint(NEUTRON, "network")?;
    let path = format!("quotas/{project}/details.json");
    let url = if endpoint.path().ends_with("/v2.0/") {
        join(&endpoint, &path, NEUTRON)?
    } else {
        join(&endpoint, &format!("v2.0/{path}"), NEUTRON)?
    };
    let details = lister.get(NEUTRON, url).await?;
    neutron_headroom(&details["quota"]).map_err(|e| ListError::Unavailable {
        service: NEUTRON,
        reason: format!("an answer DISCO cannot read: {e}"),
    })
}

/// What Neutron's quota details leave: `limit` less `used` and `reserved`; -1 is none.
fn neutron_headroom(quota: &Value) -> Result<Resources, serde_json::Error> {
    #[derive(Deserialize)]
    struct Detail {
        limit: i64,
        #[serde(default)]
        used: i64,
        #[serde(default)]
        reserved: i64,
    }
    let mut left = Resources::default();
    for (name, resource) in NEUTRON_QUOTAS {
        if quota.get(name).is_none() {
            continue;
        }
        let detail: Detail = serde_json::from_value(quota[name].clone())?;
        if detail.limit >= 0 {
            let taken = detail.used.max(0) + detail.reserved.max(0);
            left.set(resource, (detail.limit - taken).max(0) as u64);
        }
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn novas_limits_leave_the_maximum_less_what_is_used_and_minus_one_is_no_limit() {
        let absolute = serde_json::json!({
            "maxTotalInstances": 10, "totalInstancesUsed": 8,
            "maxTotalCores": -1, "totalCoresUsed": 40,
            "maxTotalRAMSize": 4096, "totalRAMUsed": 6000,
        });
        let left = nova_headroom(&absolute);
        assert_eq!(left.get(Resource::Instances), Some(2));
        assert_eq!(left.get(Resource::Vcpus), None, "unlimited");
        assert_eq!(
            left.get(Resource::RamMb),
            Some(0),
            "over its limit: none left"
        );
    }

    #[test]
    fn neutrons_quotas_leave_the_limit_less_used_and_reserved() {
        let quota = serde_json::json!({
            "floatingip": {"limit": 5, "used": 3, "reserved": 1},
            "port": {"limit": -1, "used": 10, "reserved": 0},
            "network": {"limit": 100, "used": 0},
        });
        let left = neutron_headroom(&quota).expect("quota");
        assert_eq!(left.get(Resource::FloatingIps), Some(1));
        assert_eq!(left.get(Resource::Ports), None);
        assert_eq!(left.get(Resource::Networks), Some(100));
        assert_eq!(
            left.get(Resource::Routers),
            None,
            "not reported: no limit known"
        );
    }

    #[test]
    fn a_missing_flavor_names_its_attribute_and_the_flavors_there_are() {
        let flavors = [Flavor {
            id: "1".into(),
            name: "m1.small".into(),
            vcpus: 1,
            ram_mb: 2048,
            disk_gb: 20,
        }];
        let error = flavor(&flavors, SLAVE_FLAVOR, "m9.huge").expect_err("missing");
        assert_eq!(
            error.to_string(),
            format!(
                "{SLAVE_FLAVOR}: no flavor \"m9.huge\" in Nova for this project; flavors: m1.small"
            )
        );
        assert!(flavor(&flavors, SLAVE_FLAVOR, "1").is_ok(), "by id too");
    }
}
