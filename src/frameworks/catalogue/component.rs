//! A component once checked, and the vocabulary it is described in: node groups and the
//! scopes a port or check applies to, the phases of its steps, its typed parameters (with
//! the coercion of a given value and what a valid one looks like), ports, web UIs, health
//! checks, step scripts read in, and the local provider's variant.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::text::first_refused;
use crate::domain::{ProviderKind, Scalar};

/// A node group of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeGroup {
    Master,
    Slaves,
}

impl NodeGroup {
    pub const ALL: [NodeGroup; 2] = [NodeGroup::Master, NodeGroup::Slaves];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeGroup::Master => "master",
            NodeGroup::Slaves => "slaves",
        }
    }
}

impl fmt::Display for NodeGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a port or check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupScope {
    Master,
    Slaves,
    All,
}

impl GroupScope {
    pub fn includes(self, group: NodeGroup) -> bool {
        matches!(
            (self, group),
            (GroupScope::All, _)
                | (GroupScope::Master, NodeGroup::Master)
                | (GroupScope::Slaves, NodeGroup::Slaves)
        )
    }
}

/// The phases of a component's steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Install,
    Configure,
    Start,
    Smoke,
    /// Before a slave leaves a cluster being scaled in: hands its work and data to the
    /// others (HDFS decommission, Dask's `retire_workers`). Not part of a deploy.
    Decommission,
    /// Whether the component is busy, as one JSON line (`{"busy": true, "last_active":
    /// "2026-12-01T10:00:00Z", "what": "1 running application"}`), asked again and again
    /// of a ready cluster with a `max_idle` (on the master). Not part of a deploy.
    Activity,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Install,
        Phase::Configure,
        Phase::Start,
        Phase::Smoke,
        Phase::Decommission,
        Phase::Activity,
    ];
    /// The phases a deploy runs, in order.
    pub const DEPLOY: [Phase; 4] = [Phase::Install, Phase::Configure, Phase::Start, Phase::Smoke];

    /// The longest a step of the phase may run without its node reporting, where its
    /// component does not say: installs download (30 minutes), the rest wait for
    /// services (15 minutes), configuring writes files (10 minutes).
    pub fn default_timeout(self) -> crate::domain::Span {
        crate::domain::Span::from_secs(match self {
            Phase::Install => 1_800,
            Phase::Configure => 600,
            Phase::Start | Phase::Smoke | Phase::Decommission => 900,
            Phase::Activity => 60,
        })
    }

    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Install => "install",
            Phase::Configure => "configure",
            Phase::Start => "start",
            Phase::Smoke => "smoke",
            Phase::Decommission => "decommission",
            Phase::Activity => "activity",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Float,
    Boolean,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Float => "float",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub port: u16,
    pub node_group: GroupScope,
    #[serde(default)]
    pub public: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebUi {
    pub name: String,
    pub node_group: GroupScope,
    pub port: u16,
    #[serde(default = "root_path")]
    pub path: String,
}

fn root_path() -> String {
    "/".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub port: u16,
    pub path: String,
    pub status: u16,
}

/// How DISCO checks that a component is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Tcp(u16),
    Http(HttpCheck),
}

/// As health reports name a check: `tcp 8786`, `http 8787 /health 200`.
impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Tcp(port) => write!(f, "tcp {port}"),
            Check::Http(http) => write!(f, "http {} {} {}", http.port, http.path, http.status),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub node_group: GroupScope,
    pub check: Check,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub kind: ParamType,
    pub default: Scalar,
    pub description: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub values: Vec<String>,
    pub secret: bool,
    /// What the whole of a string value must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    /// The most characters a string value may have.
    pub max_length: usize,
}

/// The longest string a parameter takes unless its `component.toml` says otherwise: far
/// more than a version, a size, a URL or a token needs, far less than a request can carry.
pub const DEFAULT_MAX_LENGTH: usize = 1024;

/// A parameter's pattern: a regular expression (regex-lite's syntax) that the whole value
/// must match. Shown and compared as written.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    whole: regex_lite::Regex,
}

impl Pattern {
    pub fn parse(source: &str) -> Result<Pattern, regex_lite::Error> {
        let whole = regex_lite::Regex::new(&format!("^(?:{source})$"))?;
        Ok(Pattern {
            source: source.to_string(),
            whole,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, text: &str) -> bool {
        self.whole.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// Why a value is not one a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRefusal {
    /// Not of the type, out of the range, not one of the values or not of the pattern:
    /// what `expectation` says.
    Unexpected,
    /// A string longer than `max_length`, by its number of characters.
    TooLong(usize),
    /// A string holding a control character or a line separator, at this character
    /// (1-based).
    ControlCharacter(usize, char),
}

impl Parameter {
    /// A parameter of `kind` with `default`, and nothing else said of it.
    pub fn new(kind: ParamType, default: Scalar, description: &str) -> Parameter {
        Parameter {
            kind,
            default,
            description: description.to_string(),
            min: None,
            max: None,
            values: Vec::new(),
            secret: false,
            pattern: None,
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    /// What a valid value looks like, in words.
    pub fn expectation(&self) -> String {
        match self.kind {
            ParamType::Integer => match (self.min, self.max) {
                (Some(min), Some(max)) => format!("an integer from {min} to {max}"),
                (Some(min), None) => format!("an integer of at least {min}"),
                (None, Some(max)) => format!("an integer of at most {max}"),
                (None, None) => "an integer".to_string(),
            },
            ParamType::String if !self.values.is_empty() => {
                format!("one of {}", self.values.join(", "))
            }
            ParamType::String => {
                // A secret given as a number would lose what a number does not keep
                // (leading zeros), so it must come quoted.
                let string = if self.secret {
                    "a quoted string"
                } else {
                    "a string"
                };
                match &self.pattern {
                    Some(pattern) => format!("{string} matching {}", pattern.as_str()),
                    None => string.to_string(),
                }
            }
            ParamType::Float => "a number".to_string(),
            ParamType::Boolean => "true or false".to_string(),
        }
    }

    /// The value converted to this parameter's type; quoted numbers and booleans are
    /// accepted, as every value of the original's requests was a string, and so is a
    /// number for a string that is not secret. A string must be at most `max_length`
    /// characters of printable text matching the pattern.
    pub fn coerce(&self, value: &Scalar) -> Result<Scalar, ParamRefusal> {
        use ParamRefusal::Unexpected;
        let text = match value {
            Scalar::String(s) => Some(s.trim()),
            _ => None,
        };
        let coerced = match (self.kind, value) {
            (ParamType::String, Scalar::String(s)) => Scalar::String(s.clone()),
            (ParamType::String, Scalar::Integer(i)) if !self.secret => {
                Scalar::String(i.to_string())
            }
            (ParamType::String, Scalar::Float(f)) if !self.secret => Scalar::String(f.to_string()),
            (ParamType::String, _) => return Err(Unexpected),
            (ParamType::Integer, Scalar::Integer(i)) => Scalar::Integer(*i),
            (ParamType::Integer, _) => {
                Scalar::Integer(text.and_then(|t| t.parse().ok()).ok_or(Unexpected)?)
            }
            (ParamType::Float, Scalar::Float(f)) => Scalar::Float(*f),
            (ParamType::Float, Scalar::Integer(i)) => Scalar::Float(*i as f64),
            (ParamType::Float, _) => Scalar::Float(
                text.and_then(|t| t.parse().ok())
                    .filter(|f: &f64| f.is_finite())
                    .ok_or(Unexpected)?,
            ),
            (ParamType::Boolean, Scalar::Bool(b)) => Scalar::Bool(*b),
            (ParamType::Boolean, _) => match text.map(str::to_ascii_lowercase).as_deref() {
                Some("true") => Scalar::Bool(true),
                Some("false") => Scalar::Bool(false),
                _ => return Err(Unexpected),
            },
        };
        match &coerced {
            Scalar::Integer(i) => {
                let in_range =
                    self.min.is_none_or(|min| *i >= min) && self.max.is_none_or(|max| *i <= max);
                if !in_range {
                    return Err(Unexpected);
                }
            }
            Scalar::String(s) => {
                if let Some((at, c)) = first_refused(s) {
                    return Err(ParamRefusal::ControlCharacter(at, c));
                }
                let length = s.chars().count();
                if length > self.max_length {
                    return Err(ParamRefusal::TooLong(length));
                }
                let listed = self.values.is_empty() || self.values.contains(s);
                let matched = self.pattern.as_ref().is_none_or(|p| p.matches(s));
                if !(listed && matched) {
                    return Err(Unexpected);
                }
            }
            _ => {}
        }
        Ok(coerced)
    }
}

/// A step's script, read from the component's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file: String,
    pub text: String,
}

/// A component, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub description: String,
    pub depends_on: Vec<String>,
    pub after: Vec<String>,
    pub providers: Vec<ProviderKind>,
    pub parameters: BTreeMap<String, Parameter>,
    pub ports: Vec<Port>,
    pub web_uis: Vec<WebUi>,
    pub health: Vec<HealthCheck>,
    pub steps: BTreeMap<NodeGroup, BTreeMap<Phase, Script>>,
    /// The longest each phase's step may run, where the component says (`[timeouts]`);
    /// the phase's default elsewhere (`Phase::default_timeout`).
    pub timeouts: BTreeMap<Phase, crate::domain::Span>,
    /// The local provider's variant: its own steps (no root, no systemd, no apt), and
    /// where they differ, its own checks and web UIs.
    pub local: Option<LocalVariant>,
    /// Why the component cannot run on a provider, by provider.
    pub unsupported: BTreeMap<ProviderKind, String>,
    /// What it offers other clusters.
    pub outputs: Vec<super::Output>,
    /// The dependencies it may take from another cluster (`[uses]`), by dependency.
    pub uses: BTreeMap<String, super::Accepts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalVariant {
    pub steps: BTreeMap<NodeGroup, BTreeMap<Phase, Script>>,
    pub health: Option<Vec<HealthCheck>>,
    pub web_uis: Option<Vec<WebUi>>,
}

impl Component {
    pub fn supports(&self, provider: ProviderKind) -> bool {
        self.providers.contains(&provider)
    }

    /// The longest a step of `phase` may run without its node reporting.
    pub fn timeout(&self, phase: Phase) -> crate::domain::Span {
        self.timeouts
            .get(&phase)
            .copied()
            .unwrap_or_else(|| phase.default_timeout())
    }

    /// The step scripts a provider runs.
    pub fn steps_for(
        &self,
        provider: ProviderKind,
    ) -> &BTreeMap<NodeGroup, BTreeMap<Phase, Script>> {
        match (&self.local, provider) {
            (Some(local), ProviderKind::Local) => &local.steps,
            _ => &self.steps,
        }
    }

    /// The health checks that tell whether the component is up on a provider.
    pub fn health_for(&self, provider: ProviderKind) -> &[HealthCheck] {
        match (&self.local, provider) {
            (
                Some(LocalVariant {
                    health: Some(health),
                    ..
                }),
                ProviderKind::Local,
            ) => health,
            _ => &self.health,
        }
    }

    /// The web UIs the component serves on a provider.
    pub fn web_uis_for(&self, provider: ProviderKind) -> &[WebUi] {
        match (&self.local, provider) {
            (
                Some(LocalVariant {
                    web_uis: Some(uis), ..
                }),
                ProviderKind::Local,
            ) => uis,
            _ => &self.web_uis,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_param(pattern: &str) -> Parameter {
        Parameter {
            pattern: Some(Pattern::parse(pattern).expect("pattern")),
            max_length: 32,
            ..Parameter::new(ParamType::String, Scalar::from(""), "memory")
        }
    }

    #[test]
    fn a_string_parameter_takes_the_whole_of_its_pattern_only() {
        let memory = string_param("([1-9][0-9]*[kKmMgGtT])?");
        assert_eq!(memory.coerce(&Scalar::from("2g")), Ok(Scalar::from("2g")));
        assert_eq!(memory.coerce(&Scalar::from("")), Ok(Scalar::from("")));
        for bad in ["<b>2g</b>", "2g; rm -rf /", "2 g", "g"] {
            assert_eq!(
                memory.coerce(&Scalar::from(bad)),
                Err(ParamRefusal::Unexpected),
                "{bad}"
            );
        }
        assert_eq!(
            memory.expectation(),
            "a string matching ([1-9][0-9]*[kKmMgGtT])?"
        );
    }

    #[test]
    fn a_string_parameter_refuses_control_characters_and_length_past_its_maximum() {
        let plain = Parameter::new(ParamType::String, Scalar::from(""), "free text");
        assert_eq!(
            plain.coerce(&Scalar::from("ab\u{1b}[2J")),
            Err(ParamRefusal::ControlCharacter(3, '\u{1b}'))
        );
        assert_eq!(
            plain.coerce(&Scalar::from("x".repeat(60_000).as_str())),
            Err(ParamRefusal::TooLong(60_000))
        );
        let at_most = "é".repeat(DEFAULT_MAX_LENGTH);
        assert!(plain.coerce(&Scalar::from(at_most.as_str())).is_ok());
    }

    #[test]
    fn a_secret_string_must_come_quoted_and_a_plain_one_may_be_a_number() {
        let token = Parameter {
            secret: true,
            ..string_param("[A-Za-z0-9._~-]*")
        };
        assert_eq!(
            token.coerce(&Scalar::Integer(12345678)),
            Err(ParamRefusal::Unexpected)
        );
        assert_eq!(
            token.coerce(&Scalar::from("12345678")),
            Ok(Scalar::from("12345678"))
        );
        assert_eq!(
            token.expectation(),
            "a quoted string matching [A-Za-z0-9._~-]*"
        );
        let fraction = string_param("auto|[0-9.]+");
        assert_eq!(
            fraction.coerce(&Scalar::Float(0.8)),
            Ok(Scalar::from("0.8"))
        );
        assert_eq!(
            fraction.coerce(&Scalar::Bool(true)),
            Err(ParamRefusal::Unexpected)
        );
    }
}
