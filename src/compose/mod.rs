//! Composition: a `Plan` becomes what a provider deploys — one shell script per node group
//! and the Heat (HOT) template that boots the nodes with them. Pure: no I/O once built,
//! no HTTP, no database.

pub mod heat;
pub mod script;

pub use self::script::Part;

use std::collections::BTreeMap;
use std::path::Path;

use crate::domain::ProviderKind;
use crate::frameworks::catalogue::{Catalogue, NodeGroup, Phase};
use crate::frameworks::plan::Plan;

/// What a cluster's composition needs besides its plan.
#[derive(Debug, Clone)]
pub struct Facts {
    pub cluster_id: String,
    pub cluster_name: String,
    pub key_name: String,
    pub public_key: String,
    /// Where node scripts report their stages, and the cluster's token for it.
    pub report_url: Option<String>,
    pub report_token: Option<String>,
    /// What the clusters it uses export, for the dependencies they serve: by dependency
    /// (`spark`), then output name (`master_url`). Secret values are in only where the
    /// script runs (its shown form has them hidden).
    pub used: BTreeMap<String, BTreeMap<String, UsedValue>>,
    /// The clusters it uses, with their network and security group where they have them:
    /// a cluster on OpenStack is put on the first one's network, and each one's group
    /// and its own admit each other.
    pub used_clusters: Vec<UsedCluster>,
}

/// A cluster another uses, as its Heat template needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedCluster {
    pub name: String,
    pub network: Option<String>,
    pub security_group: Option<String>,
}

/// An output of a used cluster, as a node script gets it.
#[derive(Clone, PartialEq, Eq)]
pub struct UsedValue {
    pub value: String,
    pub secret: bool,
}

impl std::fmt::Debug for UsedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            f.write_str("<secret>")
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

/// Everything a provider needs to deploy a plan.
#[derive(Debug, Clone)]
pub struct Composition {
    /// The master's script, whole.
    pub master_script: String,
    /// The slaves' script, whole; composed even for no slaves, so that a cluster scaled
    /// up later works.
    pub slave_script: String,
    /// The scripts as cloud user data (see `script::NodeScript::user_data`).
    pub master_user_data: String,
    pub slave_user_data: String,
    /// The Heat template, booting the nodes with the user data.
    pub template: String,
    /// The templates it names, by the name it names them with (`disco-slave.yaml`, each
    /// slave's): sent with it in the request's `files`.
    pub files: BTreeMap<String, String>,
    /// The master's and the slaves' install steps alone (`script::Part::Install`), for
    /// the local provider's builder of virtual environments; empty for other providers.
    pub install_scripts: Vec<String>,
    /// The master's and the slaves' start and smoke steps (`script::Part::Restart`), for
    /// the local provider's start of a stopped cluster; empty for other providers.
    pub restart_scripts: Vec<String>,
    /// The slaves' decommission steps (`script::Part::Decommission`), run on each slave
    /// leaving a cluster scaled in; `None` when no component has one.
    pub decommission_script: Option<String>,
    /// The master's activity steps (`script::Part::Activity`), for the local provider's
    /// looks at whether the cluster is busy; `None` when no component has one, or for
    /// other providers.
    pub activity_script: Option<String>,
}

/// The most user data Nova boots a server with: 65535 bytes, base64-encoded (as Heat
/// passes a `RAW` user data on).
pub const NOVA_USER_DATA_LIMIT: usize = 65_535;
/// What the placeholders Heat fills in (the wait condition's curl command with its
/// token, the master's address) may add to a node's user data.
const PLACEHOLDER_ROOM: usize = 1_024;

impl Composition {
    /// The larger of the two node groups' user data as Nova counts it (base64-encoded,
    /// with room for what Heat fills in), and whose it is.
    pub fn user_data_size(&self) -> (NodeGroup, usize) {
        let encoded = |data: &str| (data.len() + PLACEHOLDER_ROOM).div_ceil(3) * 4;
        let master = encoded(&self.master_user_data);
        let slaves = encoded(&self.slave_user_data);
        if slaves > master {
            (NodeGroup::Slaves, slaves)
        } else {
            (NodeGroup::Master, master)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("reading the templates in {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("heat template: {0}")]
    Template(#[from] Box<handlebars::TemplateError>),
    #[error("rendering the heat template: {0}")]
    Render(#[from] Box<handlebars::RenderError>),
    #[error("component {component} has no {group} {phase} script in the catalogue")]
    MissingScript {
        component: String,
        group: String,
        phase: String,
    },
}

/// The composer: the catalogue's scripts and the templates, loaded once.
pub struct Composer {
    heat: heat::HeatTemplates,
    node_lib: String,
    /// Added after `node_lib` on local nodes.
    local_lib: String,
    /// The member template of the slaves' group.
    slave_template: String,
}

/// The name the cluster template gives its slaves' member template.
pub const SLAVE_TEMPLATE: &str = "disco-slave.yaml";

impl Composer {
    /// Loads `cluster.yaml.hbs` and `node-lib.sh` from the templates directory.
    pub fn load(templates: &Path) -> Result<Composer, ComposeError> {
        let read = |name: &str| {
            let path = templates.join(name);
            std::fs::read_to_string(&path).map_err(|source| ComposeError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        Ok(Composer {
            heat: heat::HeatTemplates::new(&read("cluster.yaml.hbs")?)?,
            node_lib: read("node-lib.sh")?,
            local_lib: read("node-lib-local.sh")?,
            slave_template: read("cluster-slave.yaml")?,
        })
    }

    /// One part of a node group's script, whole (with the node library the plan's
    /// provider uses): what a VM's agent runs for a repair (`Part::Restart`).
    pub fn part_script(
        &self,
        plan: &Plan,
        catalogue: &Catalogue,
        facts: &Facts,
        group: NodeGroup,
        part: Part,
    ) -> Result<String, ComposeError> {
        let lib = match plan.provider {
            ProviderKind::Local => format!("{}\n\n{}", self.node_lib.trim_end(), self.local_lib),
            _ => self.node_lib.clone(),
        };
        Ok(script::node_script(plan, catalogue, facts, group, &lib, part)?.plain())
    }

    pub fn compose(
        &self,
        plan: &Plan,
        catalogue: &Catalogue,
        facts: &Facts,
    ) -> Result<Composition, ComposeError> {
        let local_lib;
        let lib = match plan.provider {
            ProviderKind::Local => {
                local_lib = format!("{}\n\n{}", self.node_lib.trim_end(), self.local_lib);
                &local_lib
            }
            _ => &self.node_lib,
        };
        let script = |group, part| script::node_script(plan, catalogue, facts, group, lib, part);
        let master = script(NodeGroup::Master, Part::Whole)?;
        let slaves = script(NodeGroup::Slaves, Part::Whole)?;
        let local_only = |part| -> Result<Vec<String>, ComposeError> {
            Ok(match plan.provider {
                ProviderKind::Local => vec![
                    script(NodeGroup::Master, part)?.plain(),
                    script(NodeGroup::Slaves, part)?.plain(),
                ],
                _ => Vec::new(),
            })
        };
        let install_scripts = local_only(Part::Install)?;
        let restart_scripts = local_only(Part::Restart)?;
        let decommission_script = if plan
            .steps_for(NodeGroup::Slaves)
            .iter()
            .any(|(_, step)| step.phase == Phase::Decommission)
        {
            Some(script(NodeGroup::Slaves, Part::Decommission)?.plain())
        } else {
            None
        };
        let activity_script = if plan.provider == ProviderKind::Local
            && plan
                .steps_for(NodeGroup::Master)
                .iter()
                .any(|(_, step)| step.phase == Phase::Activity)
        {
            Some(script(NodeGroup::Master, Part::Activity)?.plain())
        } else {
            None
        };
        let master_user_data = master.user_data();
        let slave_user_data = slaves.user_data();
        let template = self
            .heat
            .render(plan, facts, &master_user_data, &slave_user_data)?;
        Ok(Composition {
            master_script: master.plain(),
            slave_script: slaves.plain(),
            master_user_data,
            slave_user_data,
            template,
            files: BTreeMap::from([(SLAVE_TEMPLATE.to_string(), self.slave_template.clone())]),
            install_scripts,
            restart_scripts,
            decommission_script,
            activity_script,
        })
    }
}

#[cfg(test)]
mod tests;
