//! Clusters as stored: what a user asked for (`ClusterSpec`), what it resolved to
//! (`Plan`), where it stands (`ClusterState`), what the provider reported back
//! (`Outputs`), how the provider may act for its owner (`Delegation`) and its SSH keys.
//!
//! These are data shared by the store, the providers and the lifecycle; the lifecycle
//! (`crate::lifecycle`) is what moves a cluster from one state to the next.

pub mod exports;
pub mod heat_events;
pub mod keys;
pub mod lifetime;
pub mod spec;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use spec::ClusterSpec;

use crate::domain::{ClusterId, ClusterState, Health, TenantId};
use crate::frameworks::plan::Plan;

/// What a provider reported about the resources it made; rendered as the original's
/// state attributes (`stackid`, `external_ip`, ...) and DISCO's own
/// (`icclab.disco.master_private_ip`, ...). Every field has a default, so outputs stored
/// before a field existed still load.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    /// The master's address on the cluster's own network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_private_ip: Option<String>,
    /// The slaves' addresses on the cluster's own network, slave 1 first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slave_ips: Vec<String>,
    /// The URLs of the master's web UIs by key (`spark_spark_master`, see
    /// `compose::heat::web_ui_keys`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub web_uis: BTreeMap<String, String>,
    /// The slaves that failed to come up while enough others did (`minslaves`): stopped,
    /// kept out of the cluster, with why. `None`: the provider did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_slaves: Option<Vec<LostSlave>>,
    /// When what a failed cluster held was given back (`jobs.cleanup_failed_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// The network its nodes are on, and its security group (Heat's `network_id` and
    /// `security_group_id` outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    /// What its master reported of the files its outputs are read from (VMs: a swarm's
    /// join token), by path: secrets, like the exports made of them.
    #[serde(default, skip_serializing_if = "ReportedFiles::is_empty")]
    pub reported_files: ReportedFiles,
    /// What its components offer other clusters, once it is ready.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exports: exports::Exports,
    /// Heat's events of the stack seen so far (`heat_events`).
    #[serde(default, skip_serializing_if = "heat_events::HeatEvents::is_empty")]
    pub heat_events: heat_events::HeatEvents,
}

/// Files' contents by path, which `Debug` does not show (they hold secrets).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ReportedFiles(pub BTreeMap<String, String>);

impl ReportedFiles {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, newer: impl IntoIterator<Item = (String, String)>) {
        self.0.extend(newer);
    }
}

impl fmt::Debug for ReportedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// A slave that failed to come up, in a cluster that became ready without it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LostSlave {
    /// As the task tree names it: `slaves:2`.
    pub node: String,
    /// Why, in the provider's (or the node's) words.
    pub reason: String,
}

impl Outputs {
    /// Takes every value `newer` has, keeping ours where it has none.
    pub fn merge(&mut self, newer: Outputs) {
        let Outputs {
            stack_id,
            stack_status,
            stack_status_reason,
            external_ip,
            master_private_ip,
            slave_ips,
            web_uis,
            lost_slaves,
            released_at,
            network,
            security_group,
            reported_files,
            exports,
            heat_events,
        } = newer;
        self.heat_events.extend(heat_events);
        self.stack_id = stack_id.or(self.stack_id.take());
        self.stack_status = stack_status.or(self.stack_status.take());
        self.stack_status_reason = stack_status_reason.or(self.stack_status_reason.take());
        self.external_ip = external_ip.or(self.external_ip.take());
        self.master_private_ip = master_private_ip.or(self.master_private_ip.take());
        // A list or map is had as a whole: an empty one is "none", not "no more".
        if !slave_ips.is_empty() {
            self.slave_ips = slave_ips;
        }
        if !web_uis.is_empty() {
            self.web_uis = web_uis;
        }
        self.network = network.or(self.network.take());
        self.security_group = security_group.or(self.security_group.take());
        self.reported_files.extend(reported_files.0);
        if !exports.is_empty() {
            self.exports = exports;
        }
        self.lost_slaves = lost_slaves.or(self.lost_slaves.take());
        self.released_at = released_at.or(self.released_at.take());
    }

    /// The slaves given up on, none when the provider did not say.
    pub fn lost(&self) -> &[LostSlave] {
        self.lost_slaves.as_deref().unwrap_or_default()
    }

    /// The names of the slaves given up on (`slaves:2`).
    pub fn lost_nodes(&self) -> Vec<&str> {
        self.lost()
            .iter()
            .map(|slave| slave.node.as_str())
            .collect()
    }
}

/// What lets a provider act for a cluster's owner after the create request: a Keystone
/// application credential made for this cluster alone, deleted with it; and, until the
/// stack exists, the owner's own token (Heat makes a trust when it creates a stack, which
/// current Keystone refuses to delegated tokens). Never the owner's password. Secrets are
/// kept like the SSH private key: in the store only, never rendered, never logged.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Delegation {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret",
        deserialize_with = "read_secret"
    )]
    pub creation_token: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_credential_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret",
        deserialize_with = "read_secret"
    )]
    pub application_credential_secret: Option<SecretString>,
}

impl fmt::Debug for Delegation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delegation")
            .field("user_id", &self.user_id)
            .field("application_credential_id", &self.application_credential_id)
            .field("application_credential_secret", &"[REDACTED]")
            .field(
                "creation_token",
                &self.creation_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl Delegation {
    /// What is kept once the resources exist: the short-lived creation token is dropped.
    pub fn after_creation(&self) -> Delegation {
        Delegation {
            creation_token: None,
            ..self.clone()
        }
    }
}

fn expose_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

fn read_secret<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
}

/// A cluster as stored.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub id: ClusterId,
    pub tenant: TenantId,
    pub spec: ClusterSpec,
    /// The spec resolved against the catalogue at create.
    pub plan: Plan,
    /// How the provider may act for the owner after the request that created it.
    pub delegation: Delegation,
    pub state: ClusterState,
    pub state_reason: String,
    pub outputs: Outputs,
    pub keys: keys::KeyPair,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether its services work, once it was ready; `None` before the first look.
    pub health: Option<Health>,
    /// Whether it is in use, for its idle expiry; `None` before the first look.
    pub activity: Option<crate::domain::activity::Activity>,
}

impl Cluster {
    pub fn private_key(&self) -> &SecretString {
        &self.keys.private_key
    }

    /// When it expires and why: by its age or time, and, while it is ready, by its idle
    /// time (once its activity was looked at).
    pub fn expiry(&self) -> Option<crate::domain::Expiry> {
        let activity = self
            .activity
            .as_ref()
            .filter(|_| self.state == ClusterState::Ready);
        self.spec.lifetime.expiry_with(self.created_at, activity)
    }

    /// Its health as users are shown it: of a running cluster (ready, repairing,
    /// scaling) only; a stopped or failed one's last health says nothing of it now.
    pub fn shown_health(&self) -> Option<&Health> {
        self.health.as_ref().filter(|_| {
            matches!(
                self.state,
                ClusterState::Ready | ClusterState::Repairing | ClusterState::Scaling
            )
        })
    }

    /// How many of its slaves may fail to come up with the cluster still ready: those
    /// above `minslaves`; none without it (every slave asked for is needed).
    pub fn slaves_that_may_fail(&self) -> u16 {
        let slaves = self.plan.slave_count();
        self.spec
            .request
            .min_slaves
            .map_or(0, |min| slaves.saturating_sub(min.get()))
    }

    /// Why the cluster cannot be ready with `lost` slaves down, if it cannot: more
    /// failed than `minslaves` allows. The reasons of the first ones are in it.
    pub fn refuse_losses(&self, lost: &[LostSlave]) -> Option<String> {
        let may_fail = usize::from(self.slaves_that_may_fail());
        if lost.len() <= may_fail {
            return None;
        }
        let slaves = self.plan.slave_count();
        let needed = match self.spec.request.min_slaves {
            Some(min) => format!(
                "at least {} must come up ({})",
                min.get(),
                crate::domain::attributes::MIN_SLAVES
            ),
            None => format!(
                "every one must come up (no {} was given)",
                crate::domain::attributes::MIN_SLAVES
            ),
        };
        Some(format!(
            "{}; {} of {slaves} slaves failed and {needed}",
            describe_losses(lost),
            lost.len()
        ))
    }

    /// What the cluster says once ready: `done`, or, with slaves lost, how many of how
    /// many run, and which failed and why.
    pub fn ready_reason(&self, done: &str, lost: &[LostSlave]) -> String {
        if lost.is_empty() {
            return done.to_string();
        }
        let slaves = self.plan.slave_count();
        format!(
            "ready with {} of {slaves} slaves ({} allows it): {}. What failed was stopped \
             and is kept out of the cluster",
            usize::from(slaves).saturating_sub(lost.len()),
            crate::domain::attributes::MIN_SLAVES,
            describe_losses(lost)
        )
    }
}

/// The first three losses with their reasons, and how many more.
fn describe_losses(lost: &[LostSlave]) -> String {
    let mut said: Vec<String> = lost
        .iter()
        .take(3)
        .map(|slave| {
            let reason = slave
                .reason
                .strip_prefix(&format!("{}: ", slave.node))
                .unwrap_or(&slave.reason);
            format!("{} failed: {reason}", slave.node)
        })
        .collect();
    if lost.len() > 3 {
        said.push(format!("and {} more slaves failed", lost.len() - 3));
    }
    said.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_stored_before_the_addresses_and_web_uis_existed_still_load() {
        let stored =
            r#"{"stack_id": "abc", "stack_status": "CREATE_COMPLETE", "external_ip": "192.0.2.7"}"#;
        let outputs: Outputs = serde_json::from_str(stored).expect("loads");
        assert_eq!(outputs.external_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(outputs.master_private_ip, None);
        assert!(outputs.slave_ips.is_empty());
        assert!(outputs.web_uis.is_empty());
        assert_eq!(
            serde_json::to_string(&outputs).expect("json"),
            r#"{"stack_id":"abc","stack_status":"CREATE_COMPLETE","external_ip":"192.0.2.7"}"#,
            "nothing new is written for a cluster without them"
        );
    }

    #[test]
    fn merge_takes_the_newer_addresses_and_web_uis_and_keeps_ours_where_it_has_none() {
        let mut ours = Outputs {
            master_private_ip: Some("10.0.0.5".into()),
            slave_ips: vec!["10.0.0.6".into()],
            web_uis: BTreeMap::from([("spark_spark_master".into(), "http://a:8080/".into())]),
            ..Outputs::default()
        };
        ours.merge(Outputs {
            stack_status: Some("CREATE_COMPLETE".into()),
            ..Outputs::default()
        });
        assert_eq!(ours.master_private_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(ours.slave_ips, ["10.0.0.6"]);
        assert_eq!(ours.web_uis.len(), 1);
        ours.merge(Outputs {
            master_private_ip: Some("10.0.0.9".into()),
            slave_ips: vec!["10.0.0.10".into(), "10.0.0.11".into()],
            web_uis: BTreeMap::from([("jupyter_jupyterlab".into(), "http://a:8888/lab".into())]),
            ..Outputs::default()
        });
        assert_eq!(ours.master_private_ip.as_deref(), Some("10.0.0.9"));
        assert_eq!(ours.slave_ips, ["10.0.0.10", "10.0.0.11"]);
        assert_eq!(
            ours.web_uis.keys().collect::<Vec<_>>(),
            ["jupyter_jupyterlab"],
            "the newer set replaces ours whole"
        );
    }

    fn lost(nodes: &[&str]) -> Vec<LostSlave> {
        nodes
            .iter()
            .map(|node| LostSlave {
                node: node.to_string(),
                reason: format!("{node}: spark install failed with return code 1"),
            })
            .collect()
    }

    #[test]
    fn slaves_above_minslaves_may_fail_and_the_reason_says_which_and_why() {
        use crate::cluster::testing::cluster;
        let spark = ("icclab.disco.dependencies.inject", "{'spark': ''}");
        let five = ("icclab.disco.components.heat.slavecount", "5");
        let tolerant = cluster(&[spark, five, ("icclab.disco.components.heat.minslaves", "3")]);
        assert_eq!(tolerant.slaves_that_may_fail(), 2);
        assert_eq!(
            tolerant.refuse_losses(&lost(&["slaves:2", "slaves:4"])),
            None
        );
        assert_eq!(
            tolerant.ready_reason("every component is up", &lost(&["slaves:2", "slaves:4"])),
            "ready with 3 of 5 slaves (icclab.disco.components.heat.minslaves allows it): \
             slaves:2 failed: spark install failed with return code 1; slaves:4 failed: spark \
             install failed with return code 1. What failed was stopped and is kept out of the \
             cluster"
        );
        assert_eq!(
            tolerant.ready_reason("every component is up", &[]),
            "every component is up"
        );
        let refused = tolerant
            .refuse_losses(&lost(&["slaves:1", "slaves:2", "slaves:3", "slaves:5"]))
            .expect("below minslaves");
        assert!(
            refused.ends_with(
                "and 1 more slaves failed; 4 of 5 slaves failed and at least 3 must come up \
                 (icclab.disco.components.heat.minslaves)"
            ),
            "{refused}"
        );
        // Without minslaves every slave asked for is needed.
        let strict = cluster(&[spark, five]);
        assert_eq!(strict.slaves_that_may_fail(), 0);
        let refused = strict.refuse_losses(&lost(&["slaves:5"])).expect("refused");
        assert_eq!(
            refused,
            "slaves:5 failed: spark install failed with return code 1; 1 of 5 slaves failed and \
             every one must come up (no icclab.disco.components.heat.minslaves was given)"
        );
    }

    #[test]
    fn lost_slaves_are_replaced_only_by_a_provider_that_says_which() {
        let mut ours = Outputs {
            lost_slaves: Some(lost(&["slaves:2"])),
            ..Outputs::default()
        };
        ours.merge(Outputs::default());
        assert_eq!(
            ours.lost().len(),
            1,
            "a provider that did not say keeps them"
        );
        ours.merge(Outputs {
            lost_slaves: Some(Vec::new()),
            ..Outputs::default()
        });
        assert!(ours.lost().is_empty(), "one that says none clears them");
    }
}
