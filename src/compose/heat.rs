//! The HOT template, rendered from `heat-templates/cluster.yaml.hbs`.
//!
//! handlebars escapes for HTML by default, which would corrupt YAML and let a request
//! value inject YAML keys. Here every value is escaped as a JSON string instead (JSON is
//! valid YAML, and a JSON string is one scalar whatever it holds), and strict mode makes
//! a misspelt name an error instead of an empty value.

use handlebars::Handlebars;
use serde::Serialize;

use super::{ComposeError, Facts};
use crate::domain::{Resource, Resources};
use crate::frameworks::catalogue::{NodeGroup, WebUi};
use crate::frameworks::plan::Plan;

/// The most slaves a template accepts, as the manifest bounds the slave count.
pub const MAX_SLAVES: u16 = 100;
/// Seconds the nodes have to install, unless the stack is created with another value.
pub const INSTALL_TIMEOUT_SECS: u32 = 3600;

pub struct HeatTemplates {
    registry: Handlebars<'static>,
}

#[derive(Serialize)]
struct TemplateData<'a> {
    description: String,
    master_image: &'a str,
    slave_image: &'a str,
    master_flavor: &'a str,
    slave_flavor: &'a str,
    slave_count: u16,
    max_slaves: u16,
    create_network: bool,
    network_name: String,
    network_description: &'static str,
    external_network: &'a str,
    public_key: &'a str,
    key_name: &'a str,
    install_timeout: u32,
    security_group: String,
    public_ports: Vec<u16>,
    master_name: String,
    slave_name: String,
    master_script: &'a str,
    slave_script: &'a str,
    web_uis: Vec<WebUiOutput>,
    used_security_groups: Vec<&'a str>,
}

#[derive(Serialize)]
struct WebUiOutput {
    output: String,
    description: String,
    url: String,
}

impl HeatTemplates {
    pub fn new(template: &str) -> Result<HeatTemplates, ComposeError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(|text| {
            serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
        });
        registry
            .register_template_string("cluster", template)
            .map_err(Box::new)?;
        Ok(HeatTemplates { registry })
    }

    pub fn render(
        &self,
        plan: &Plan,
        facts: &Facts,
        master_script: &str,
        slave_script: &str,
    ) -> Result<String, ComposeError> {
        let infra = &plan.infrastructure;
        let name = &plan.cluster;
        let layout = Layout::of(plan, &facts.used_clusters);
        let web_uis = web_ui_keys(plan)
            .into_iter()
            .map(|(key, component, ui)| WebUiOutput {
                output: format!("{WEB_UI_OUTPUT}{key}"),
                description: format!("{} ({component})", ui.name),
                url: format!("http://DISCO_MASTER_HOST:{}{}", ui.port, ui.path),
            })
            .collect();
        let data = TemplateData {
            description: format!(
                "DISCO cluster {name} ({}): {} on a master and {} slaves",
                facts.cluster_id,
                plan.component_names().join(", "),
                plan.slave_count()
            ),
            master_image: &infra.master_image,
            slave_image: &infra.slave_image,
            master_flavor: &infra.master_flavor,
            slave_flavor: &infra.slave_flavor,
            slave_count: plan.slave_count(),
            max_slaves: MAX_SLAVES,
            create_network: layout.create_network,
            network_name: layout.network_name,
            network_description: if layout.used_network {
                "The network of the cluster this one uses"
            } else if !layout.create_network {
                "Name of the existing network the nodes are put on"
            } else {
                "Name of the network made for the cluster"
            },
            external_network: &infra.external_network_name,
            public_key: &facts.public_key,
            key_name: &facts.key_name,
            install_timeout: INSTALL_TIMEOUT_SECS,
            security_group: format!("{name}-secgroup"),
            public_ports: layout.public_ports,
            master_name: format!("{name}-master"),
            slave_name: format!("{name}-slave-%index%"),
            master_script,
            slave_script,
            web_uis,
            used_security_groups: layout.used_security_groups,
        };
        self.registry
            .render("cluster", &data)
            .map_err(|e| ComposeError::Render(Box::new(e)))
    }
}

/// What the template makes of a plan and the clusters it uses, decided once: the
/// template is rendered from it, and the quota check counts what it needs from it.
pub struct Layout<'a> {
    /// A network, subnet and router of its own, or another's network (named, or the
    /// network of a cluster it uses).
    pub create_network: bool,
    pub network_name: String,
    /// The network is that of a cluster it uses.
    pub used_network: bool,
    /// The master's ports open to outside, each a rule of the security group.
    pub public_ports: Vec<u16>,
    /// The used clusters' security groups: each admits this one's nodes, and is admitted.
    pub used_security_groups: Vec<&'a str>,
}

/// The rules of the cluster's security group besides one per public port: SSH, and TCP,
/// UDP and ICMP between its nodes (the template's `security_group` resource).
const FIXED_RULES: u64 = 4;
/// The egress rules (IPv4, IPv6) Neutron adds to every security group it makes.
const DEFAULT_EGRESS_RULES: u64 = 2;

impl<'a> Layout<'a> {
    pub fn of(plan: &Plan, used_clusters: &'a [super::UsedCluster]) -> Layout<'a> {
        let infra = &plan.infrastructure;
        // An empty network name means "make one named after the cluster"; a name means
        // the network is made with that name, as the original did, unless the request
        // said it exists. A cluster that uses another is put on that one's network.
        let used_network = used_clusters.iter().find_map(|u| u.network.as_deref());
        let network_name = match used_network {
            Some(network) => network.to_string(),
            None if infra.network_name.is_empty() => format!("{}-net", plan.cluster),
            None => infra.network_name.clone(),
        };
        Layout {
            create_network: !infra.existing_network && used_network.is_none(),
            network_name,
            used_network: used_network.is_some(),
            public_ports: plan.public_ports(NodeGroup::Master).into_iter().collect(),
            used_security_groups: used_clusters
                .iter()
                .filter_map(|u| u.security_group.as_deref())
                .collect(),
        }
    }

    /// What the stack takes of the project's quotas, but the vCPUs and RAM its flavors
    /// give: a server and a port per node, the master's floating IP, the network, subnet
    /// and router it makes (with the router interface's port and at least one DHCP port
    /// of the subnet's), its security group and every rule it adds (in its own group and
    /// in those of the clusters it uses).
    pub fn footprint(&self, plan: &Plan) -> Resources {
        let nodes = 1 + u64::from(plan.slave_count());
        let made = u64::from(self.create_network);
        // The router interface's port, and the DHCP port Neutron makes on the subnet
        // (at least one: a deployment with several DHCP agents makes one each).
        let network_ports = 2 * made;
        let used = self.used_security_groups.len() as u64;
        Resources::default()
            .with(Resource::Instances, nodes)
            .with(Resource::Ports, nodes + network_ports)
            .with(Resource::FloatingIps, 1)
            .with(Resource::Networks, made)
            .with(Resource::Subnets, made)
            .with(Resource::Routers, made)
            .with(Resource::SecurityGroups, 1)
            .with(
                Resource::SecurityGroupRules,
                FIXED_RULES + self.public_ports.len() as u64 + 2 * used + DEFAULT_EGRESS_RULES,
            )
    }
}

/// How the template's web UI outputs start: `web_ui_<key>`, with the keys of `web_ui_keys`.
pub const WEB_UI_OUTPUT: &str = "web_ui_";

/// The master's web UIs, each with the key it is known by everywhere: the template's
/// output `web_ui_<key>` and the cluster's attribute `icclab.disco.web_ui.<key>`. The key
/// is `<component>_<UI name>` in lowercase letters, digits and `_` (`spark_spark_master`),
/// `_` appended until it is unique; it starts with the component's name, so with a letter.
pub fn web_ui_keys(plan: &Plan) -> Vec<(String, &str, &WebUi)> {
    let mut seen = std::collections::BTreeSet::new();
    plan.master_web_uis()
        .into_iter()
        .map(|(component, ui)| {
            let mut key = format!("{}_{}", slug(component), slug(&ui.name));
            while !seen.insert(key.clone()) {
                key.push('_');
            }
            (key, component, ui)
        })
        .collect()
}

/// A name as it may appear in an output name: lowercase letters, digits and `_`.
fn slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    slug.trim_matches('_').to_string()
}
