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
const GLANCE: &str = "Glance (images)";

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
    // A scale-out's images and flavors are those of the running cluster: one gone is
    // the cluster's state (409), not the request's fault (400).
    let scale_out = needs.masters == 0;
    let gone = |error: QuotaError| match error {
        QuotaError::Missing { attribute, reason } if scale_out => {
            QuotaError::Gone { attribute, reason }
        }
        other => other,
    };
    // A scale-out boots slaves only: the master's image may be gone by now.
    if !scale_out {
        image(&lister, &images, MASTER_IMAGE, &infra.master_image)
            .await
            .map_err(gone)?;
    }
    image(&lister, &images, SLAVE_IMAGE, &infra.slave_image)
        .await
        .map_err(gone)?;
    let master = flavor(&flavors, MASTER_FLAVOR, &infra.master_flavor).map_err(gone)?;
    let slave = flavor(&flavors, SLAVE_FLAVOR, &infra.slave_flavor).map_err(gone)?;
    let needed = with_flavors(
        needs,
        (master.vcpus, master.ram_mb),
        (slave.vcpus, slave.ram_mb),
    );
    let mut unchecked = Vec::new();
    let mut left = None::<Resources>;
    for limits in [compute, network] {
        match limits {
            Ok(limits) => left.get_or_insert_with(Resources::default).merge(limits),
            Err(error @ (ListError::Refused { .. } | ListError::NoEndpoint { .. })) => {
                // A cloud that does not say (no endpoint, a policy refusing it, Neutron
                // without quota details) would otherwise refuse every create: its limits
                // are unknown, and Heat's the word on them.
                tracing::warn!(project = %token.project_name, %error,
                    "quota pre-flight: this service's limits are unknown; not checked");
                unchecked.push(error.to_string());
            }
            Err(error) => return Err(unavailable(error)),
        }
    }
    let all = left.clone().unwrap_or_default();
    if let Some(shortfall) = needed.shortfall(&all) {
        return Err(QuotaError::Short {
            project: token.project_name.clone(),
            shortfall,
        });
    }
    Ok(Preflight {
        needs: needed,
        project: Some(token.project_name.clone()),
        left,
        unchecked,
    })
}

fn unavailable(error: ListError) -> QuotaError {
    QuotaError::Unavailable(error.to_string())
}

/// The image a request names, by name or id, among the active ones listed, or (an id
/// the listing leaves out: a hidden or community image, which Nova boots by id) asked
/// of Glance by id.
async fn image(
    lister: &Lister<'_>,
    images: &[Image],
    attribute: &'static str,
    named: &str,
) -> Result<(), QuotaError> {
    if images.iter().any(|i| i.name == named || i.id == named) {
        return Ok(());
    }
    if uuid::Uuid::parse_str(named).is_ok() && active_by_id(lister, named).await? {
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

/// Whether Glance has an active image of id `id` (`GET /v2/images/{id}`); refused or
/// not found is no.
async fn active_by_id(lister: &Lister<'_>, id: &str) -> Result<bool, QuotaError> {
    let mut root = lister.endpoint(GLANCE, "image").map_err(unavailable)?;
    if root.path().ends_with("/v2/") {
        root = join(&root, "..", GLANCE).map_err(unavailable)?;
    }
    let url = join(&root, &format!("v2/images/{id}"), GLANCE).map_err(unavailable)?;
    match lister.get(GLANCE, url).await {
        Ok(image) => Ok(image["status"] == "active"),
        Err(ListError::Refused { .. }) => Ok(false),
        Err(error) => Err(unavailable(error)),
    }
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

    /// Glance, Nova and Neutron on one loopback port: `answer` gives the status and body
    /// for each request's path.
    async fn cloud(answer: fn(&str) -> (u16, String)) -> Token {
        let (address, _) = crate::openstack::stand_in::serve(answer).await;
        let entry = |kind: &str, path: &str| {
            serde_json::json!({"type": kind, "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": format!("http://{address}{path}")}]})
        };
        Token::for_catalog(
            "p1",
            serde_json::json!([
                entry("image", ""),
                entry("compute", "/v2.1"),
                entry("network", "")
            ]),
        )
    }

    fn settings() -> OpenstackSettings {
        OpenstackSettings {
            auth_url: None,
            region: "RegionOne".into(),
            interface: "public".into(),
            user_domain: "Default".into(),
            project_domain: "Default".into(),
            heat_environment: Vec::new(),
            stack_timeout_mins: 60,
            disable_rollback: false,
            request_timeout_secs: 5,
        }
    }

    /// Glance's image, Nova's flavor and limits (room for 1 instance).
    fn nova_and_glance(path: &str) -> Option<(u16, String)> {
        let json = |v: Value| Some((200, v.to_string()));
        if path.starts_with("/v2/images") {
            json(serde_json::json!({"images": [{"id": "i1", "name": "ubuntu-22.04"}]}))
        } else if path.starts_with("/v2.1/flavors/detail") {
            json(serde_json::json!({"flavors": [
                {"id": "1", "name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20}]}))
        } else if path.starts_with("/v2.1/limits") {
            json(serde_json::json!({"limits": {"absolute": {
                "maxTotalInstances": 1, "totalInstancesUsed": 0}}}))
        } else {
            None
        }
    }

    fn plan() -> Plan {
        use crate::domain::{ClusterName, ComponentName, Infrastructure, ProviderKind};
        use crate::frameworks::request::{ComponentRequest, PlanRequest};
        let request = PlanRequest {
            name: ClusterName::parse("lab").expect("name"),
            provider: ProviderKind::Openstack,
            slaves: serde_json::from_value(Value::from(0)).expect("count"),
            min_slaves: None,
            max_slaves: None,
            infrastructure: Infrastructure {
                master_image: "ubuntu-22.04".into(),
                slave_image: "ubuntu-22.04".into(),
                master_flavor: "m1.small".into(),
                slave_flavor: "m1.small".into(),
                network_name: String::new(),
                external_network_name: "public".into(),
                existing_network: false,
            },
            components: vec![ComponentRequest {
                name: ComponentName::parse("spark").expect("component name"),
                params: Default::default(),
            }],
            parameters: Default::default(),
            init: Vec::new(),
        };
        crate::frameworks::resolve::resolve(&request, &crate::frameworks::testing::standard())
            .expect("plan")
    }

    fn needs(instances: u64) -> Needs {
        Needs {
            resources: Resources::default()
                .with(Resource::Instances, instances)
                .with(Resource::Ports, 100),
            masters: 1,
            slaves: instances - 1,
        }
    }

    #[tokio::test]
    async fn neutron_refusing_its_quotas_leaves_them_unchecked_and_novas_still_count() {
        let token = cloud(|path| {
            nova_and_glance(path).unwrap_or_else(|| {
                (
                    404,
                    r#"{"NeutronError": {"message": "no quota_details"}}"#.into(),
                )
            })
        })
        .await;
        let (settings, plan) = (settings(), plan());
        let checked = check(&token, &settings, &plan, &needs(1))
            .await
            .expect("admitted");
        assert_eq!(
            checked.left,
            Some(Resources::default().with(Resource::Instances, 1)),
            "Nova's limits, none of Neutron's"
        );
        assert_eq!(checked.unchecked.len(), 1, "{:?}", checked.unchecked);
        assert!(
            checked.unchecked[0].starts_with(NEUTRON),
            "{:?}",
            checked.unchecked
        );
        // Nova's limits are still checked.
        let short = check(&token, &settings, &plan, &needs(2))
            .await
            .expect_err("short");
        assert!(matches!(short, QuotaError::Short { .. }), "{short}");
    }

    const HIDDEN: &str = "7b2c3d4e-0000-4000-8000-000000000001";

    #[tokio::test]
    async fn a_hidden_image_named_by_id_is_asked_of_glance_and_a_scale_outs_gone_flavor_is_gone() {
        let token = cloud(|path| {
            if path == "/v2/images/7b2c3d4e-0000-4000-8000-000000000001" {
                return (200, r#"{"id": "hidden", "status": "active"}"#.into());
            }
            nova_and_glance(path).unwrap_or((404, "{}".into()))
        })
        .await;
        let settings = settings();
        let mut plan = plan();
        plan.infrastructure.slave_image = HIDDEN.into();
        check(&token, &settings, &plan, &needs(1))
            .await
            .expect("booted by id");
        plan.infrastructure.slave_image = "7b2c3d4e-0000-4000-8000-000000000002".into();
        let missing = check(&token, &settings, &plan, &needs(1))
            .await
            .expect_err("none");
        assert!(matches!(missing, QuotaError::Missing { .. }), "{missing}");
        plan.infrastructure.slave_image = HIDDEN.into();
        plan.infrastructure.slave_flavor = "m1.gone".into();
        let scale_out = Needs {
            masters: 0,
            ..needs(1)
        };
        let gone = check(&token, &settings, &plan, &scale_out)
            .await
            .expect_err("gone");
        assert!(matches!(gone, QuotaError::Gone { .. }), "{gone}");
    }

    #[tokio::test]
    async fn neutron_failing_is_still_unavailable() {
        let token = cloud(|path| nova_and_glance(path).unwrap_or((500, "{}".into()))).await;
        let (settings, plan) = (settings(), plan());
        let error = check(&token, &settings, &plan, &needs(1))
            .await
            .expect_err("503");
        assert!(error.is_unavailable(), "{error}");
    }

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
