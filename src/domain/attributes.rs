//! The names of the request attributes the service reads, as the original DISCO spelled
//! them (`icclab.disco.*`). The manifest declares them; these constants are how code
//! names them in lookups and messages.

pub const INJECT: &str = "icclab.disco.dependencies.inject";
pub const SLAVE_COUNT: &str = "icclab.disco.components.heat.slavecount";
pub const MIN_SLAVES: &str = "icclab.disco.components.heat.minslaves";
pub const MAX_SLAVES: &str = "icclab.disco.components.heat.maxslaves";
pub const PROVIDER: &str = "icclab.disco.provider";
pub const DEPLOYER_TYPE: &str = "icclab.disco.deployer.type";
pub const DEPLOYER_PATH: &str = "icclab.disco.deployer.path";
pub const NAME: &str = "icclab.disco.name";
pub const STAGE: &str = "icclab.disco.stage";
/// Whether the watcher repairs the cluster by itself when its checks keep failing.
pub const AUTOREPAIR: &str = "icclab.disco.autorepair";
/// The clusters a create uses: names or UUIDs, comma-separated.
pub const USES: &str = "icclab.disco.uses";
/// The user's initialization actions (`frameworks::init`).
pub const INIT: &str = "icclab.disco.init";
pub const EXISTING_NETWORK: &str = "icclab.disco.existingnetwork";
pub const NETWORK_NAME: &str = "icclab.disco.components.heat.networkname";
pub const MASTER_IMAGE: &str = "icclab.disco.components.heat.masterimage";
pub const SLAVE_IMAGE: &str = "icclab.disco.components.heat.slaveimage";
pub const MASTER_FLAVOR: &str = "icclab.disco.components.heat.masterflavor";
pub const SLAVE_FLAVOR: &str = "icclab.disco.components.heat.slaveflavor";
/// What a component parameter's attribute starts with:
/// `icclab.disco.components.<component>.<param>`.
pub const COMPONENT_PREFIX: &str = "icclab.disco.components.";
/// The original's infrastructure attributes, which are not component parameters.
pub const HEAT_PREFIX: &str = "icclab.disco.components.heat.";

/// The attribute of component `component`'s parameter `param`.
pub fn component_parameter(component: &str, param: &str) -> String {
    format!("{COMPONENT_PREFIX}{component}.{param}")
}

/// The component and parameter `icclab.disco.components.<component>.<param>` names (but
/// not the original's `heat.*`, which are not parameters).
pub fn parse_component_parameter(name: &str) -> Option<(&str, &str)> {
    if name.starts_with(HEAT_PREFIX) {
        return None;
    }
    name.strip_prefix(COMPONENT_PREFIX)?.split_once('.')
}

/// The template a cluster was created from (`templates`).
pub const TEMPLATE: &str = "icclab.disco.template";
/// `?action=save_template`'s name and description of the template it saves.
pub const TEMPLATE_NAME: &str = "icclab.disco.template_name";
pub const TEMPLATE_DESCRIPTION: &str = "icclab.disco.template_description";

/// How long a cluster may live, and what then (`domain::lifetime`).
pub const MAX_AGE: &str = "icclab.disco.max_age";
/// How long a ready cluster may go unused before it expires.
pub const MAX_IDLE: &str = "icclab.disco.max_idle";
pub const EXPIRE_AT: &str = "icclab.disco.expire_at";
pub const ON_EXPIRY: &str = "icclab.disco.on_expiry";
/// The attributes that change a cluster's lifetime: every one of them mutable.
pub const LIFETIME: [&str; 4] = [MAX_AGE, EXPIRE_AT, MAX_IDLE, ON_EXPIRY];
