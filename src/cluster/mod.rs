//! Clusters: what a user asked for (`ClusterSpec`), where it stands (`ClusterState`), what
//! the provider reported back (`Outputs`), and the lifecycle that drives a provider from
//! one state to the next (`lifecycle`).
//!
//! The types here are shared by the store and the providers; the lifecycle is the only
//! part that calls them.

pub mod keys;
pub mod lifecycle;
pub mod spec;
pub mod state;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use spec::ClusterSpec;

use crate::frameworks::plan::Plan;
pub use state::ClusterState;

/// A cluster's identity: the UUID in `/disco/UUID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterId(Uuid);

impl ClusterId {
    pub fn new() -> Self {
        ClusterId(Uuid::new_v4())
    }

    /// The first eight hex digits: enough to tell clusters apart in names and tables.
    pub fn short(&self) -> String {
        self.0.simple().to_string()[..8].to_string()
    }
}

impl Default for ClusterId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for ClusterId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(ClusterId)
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The owner of clusters: a Keystone project, or with no authentication a label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Tenant names are printable text of at most 255 characters, as Keystone's
    /// project names are.
    pub fn parse(s: &str) -> Option<TenantId> {
        let s = s.trim();
        let ok = !s.is_empty() && s.chars().count() <= 255 && !s.chars().any(char::is_control);
        ok.then(|| TenantId(s.to_string()))
    }

    pub fn default_tenant() -> TenantId {
        TenantId("default".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What turns a cluster's plan into machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The original's FileDeployer: writes what would be deployed to a file.
    File,
    /// Real processes on this machine, one loopback address per node.
    Local,
    /// Keystone and Heat.
    Openstack,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::File,
        ProviderKind::Local,
        ProviderKind::Openstack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::File => "file",
            ProviderKind::Local => "local",
            ProviderKind::Openstack => "openstack",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a provider reported about the resources it made; rendered as the original's
/// state attributes (`stackid`, `external_ip`, ...).
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
}

impl Outputs {
    /// Takes every value `newer` has, keeping ours where it has none.
    pub fn merge(&mut self, newer: Outputs) {
        let Outputs {
            stack_id,
            stack_status,
            stack_status_reason,
            external_ip,
        } = newer;
        self.stack_id = stack_id.or(self.stack_id.take());
        self.stack_status = stack_status.or(self.stack_status.take());
        self.stack_status_reason = stack_status_reason.or(self.stack_status_reason.take());
        self.external_ip = external_ip.or(self.external_ip.take());
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
}

impl Cluster {
    pub fn private_key(&self) -> &SecretString {
        &self.keys.private_key
    }
}
