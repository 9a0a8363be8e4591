//! Clusters as stored: what a user asked for (`ClusterSpec`), what it resolved to
//! (`Plan`), where it stands (`ClusterState`), what the provider reported back
//! (`Outputs`), how the provider may act for its owner (`Delegation`) and its SSH keys.
//!
//! These are data shared by the store, the providers and the lifecycle; the lifecycle
//! (`crate::lifecycle`) is what moves a cluster from one state to the next.

pub mod keys;
pub mod spec;

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use spec::ClusterSpec;

use crate::domain::{ClusterId, ClusterState, TenantId};
use crate::frameworks::plan::Plan;

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
