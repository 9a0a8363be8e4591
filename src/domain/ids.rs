//! Identities and names, each parsed once from what a request said: a value of these
//! types is known to be well formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// Why a tenant name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error("is empty")]
    Empty,
    #[error("is longer than 255 characters")]
    TooLong,
    #[error("contains a control character or a line separator")]
    ControlCharacter,
    #[error("begins or ends with a space character")]
    Padded,
}

impl TenantId {
    /// Tenant names are printable text of at most 255 characters, as Keystone's
    /// project names are. A name is taken as it is: padded with spaces of any kind it
    /// is refused, not trimmed into another tenant's name.
    pub fn parse(s: &str) -> Result<TenantId, TenantError> {
        if s.is_empty() {
            Err(TenantError::Empty)
        } else if s.chars().count() > 255 {
            Err(TenantError::TooLong)
        } else if s.chars().any(crate::domain::text::is_refused) {
            Err(TenantError::ControlCharacter)
        } else if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
            Err(TenantError::Padded)
        } else {
            Ok(TenantId(s.to_string()))
        }
    }

    pub fn default_tenant() -> TenantId {
        TenantId("default".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cluster's name: a DNS label, so that it can name stacks, hosts and directories.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterName(String);

impl ClusterName {
    pub fn parse(s: &str) -> Result<ClusterName, String> {
        let mut chars = s.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if starts_with_letter && rest_ok && s.len() <= 63 && !s.ends_with('-') {
            Ok(ClusterName(s.to_string()))
        } else {
            Err(format!(
                "a lowercase letter, then lowercase letters, digits and '-' (not last), \
                 at most 63; got {s:?}"
            ))
        }
    }

    /// `disco-<short id>`, the name of a cluster whose request named none.
    pub fn for_id(id: ClusterId) -> ClusterName {
        ClusterName(format!("disco-{}", id.short()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClusterName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClusterName::parse(&s)
    }
}

impl From<ClusterName> for String {
    fn from(name: ClusterName) -> String {
        name.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A component's name, as the catalogue's folders and requests spell it: a lowercase
/// letter, then lowercase letters, digits, `_` and `-`, at most 63.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ComponentName(String);

impl ComponentName {
    /// What a component name looks like, for messages.
    pub const EXPECTED: &'static str = "[a-z][a-z0-9_-]*, at most 63";

    pub fn parse(s: &str) -> Result<ComponentName, String> {
        let mut chars = s.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && s.len() <= 63
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(ComponentName(s.to_string()))
        } else {
            Err(format!("a component name ({}); got {s:?}", Self::EXPECTED))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ComponentName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ComponentName::parse(&s)
    }
}

impl From<ComponentName> for String {
    fn from(name: ComponentName) -> String {
        name.0
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ComponentName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_are_dns_labels() {
        assert!(ClusterName::parse("spark-1").is_ok());
        for bad in ["Spark", "1spark", "spark-", "spark_1", "", &"a".repeat(64)] {
            assert!(ClusterName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn component_names_allow_underscores_and_dashes_after_a_letter() {
        for good in ["spark", "docker_swarm", "a-1"] {
            assert!(ComponentName::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in ["Spark", "1a", "", "a b", "a.b", &"a".repeat(64)] {
            assert!(ComponentName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_tenant_name_says_why_it_is_refused() {
        assert_eq!(
            TenantId::parse("physics lab").map(|t| t.0),
            Ok("physics lab".to_string())
        );
        for padded in ["  lab ", " ", "lab\u{a0}", "\u{3000}lab", "lab\u{2003}"] {
            assert_eq!(
                TenantId::parse(padded),
                Err(TenantError::Padded),
                "{padded:?}"
            );
        }
        assert_eq!(TenantId::parse(""), Err(TenantError::Empty));
        for control in ["a\u{7}", "a\u{85}b", "a\u{2028}b", "a\tb"] {
            assert_eq!(
                TenantId::parse(control),
                Err(TenantError::ControlCharacter),
                "{control:?}"
            );
        }
        assert_eq!(TenantId::parse(&"x".repeat(256)), Err(TenantError::TooLong));
    }
}
