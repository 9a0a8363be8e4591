//! The providers a cluster can be deployed with.

use std::fmt;

use serde::{Deserialize, Serialize};

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
