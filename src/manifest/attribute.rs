//! The manifest's attributes once checked: their types, who sets them, their names (an
//! exact name or a pattern with `<...>` wildcards), and the coercion of a given value to
//! an attribute's type, which both a default at load and a request's value go through.

use serde::Deserialize;

use crate::domain::Scalar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttributeType {
    String,
    Integer,
    Float,
    Boolean,
    Enum,
    /// A string holding a Python literal (the `inject` attribute).
    PythonLiteral,
    /// A string, an integer, a float or a boolean.
    Scalar,
    Timestamp,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Integer => "integer",
            AttributeType::Float => "float",
            AttributeType::Boolean => "boolean",
            AttributeType::Enum => "enum",
            AttributeType::PythonLiteral => "python-literal",
            AttributeType::Scalar => "scalar",
            AttributeType::Timestamp => "timestamp",
        }
    }

    /// The type in the OCCI JSON rendering's vocabulary.
    pub fn occi_json_type(self) -> &'static str {
        match self {
            AttributeType::Integer | AttributeType::Float => "number",
            AttributeType::Boolean => "boolean",
            _ => "string",
        }
    }
}

/// Who gives an attribute its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetBy {
    /// The request; checked against the type.
    #[default]
    User,
    /// The service: a state attribute; a request may not set it.
    Service,
}

/// An attribute name, or a pattern such as `icclab.disco.components.<component>.<param>`
/// whose `<...>` segments each match one name segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    text: String,
    segments: Vec<Option<String>>,
    wild: bool,
}

impl NamePattern {
    pub(super) fn parse(text: &str) -> NamePattern {
        let segments = text
            .split('.')
            .map(|segment| {
                let wild = segment.starts_with('<') && segment.ends_with('>');
                (!wild).then(|| segment.to_string())
            })
            .collect::<Vec<_>>();
        NamePattern {
            text: text.to_string(),
            wild: segments.iter().any(Option::is_none),
            segments,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_pattern(&self) -> bool {
        self.wild
    }

    /// Whether `owner` (an exact name) owns the value `name` gives this pattern's first
    /// wildcard: they agree on every segment up to and including it.
    pub(super) fn wildcard_taken_by(&self, name: &str, owner: &str) -> bool {
        let Some(wildcard) = self.segments.iter().position(Option::is_none) else {
            return false;
        };
        let name: Vec<&str> = name.split('.').take(wildcard + 1).collect();
        let owner: Vec<&str> = owner.split('.').take(wildcard + 1).collect();
        name.len() == wildcard + 1 && name == owner
    }

    /// Whether `name` has this pattern's segments, each non-empty and equal to a fixed one.
    /// Allocates nothing: a request may ask it for each of thousands of names.
    pub fn matches(&self, name: &str) -> bool {
        let mut parts = name.split('.');
        let each = self.segments.iter().all(|segment| {
            parts.next().is_some_and(|part| {
                !part.is_empty() && segment.as_deref().is_none_or(|fixed| fixed == part)
            })
        });
        each && parts.next().is_none()
    }
}

/// One attribute of the kind, checked.
#[derive(Debug, Clone)]
pub struct AttributeSpec {
    pub name: NamePattern,
    pub kind: AttributeType,
    pub default: Option<Scalar>,
    pub required: bool,
    pub mutable: bool,
    pub secret: bool,
    pub set_by: SetBy,
    pub description: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub values: Vec<String>,
}

impl AttributeSpec {
    /// What a valid value looks like, in words, for error messages.
    pub fn expectation(&self) -> String {
        match self.kind {
            AttributeType::Integer => match (self.min, self.max) {
                (Some(min), Some(max)) => format!("an integer from {min} to {max}"),
                (Some(min), None) => format!("an integer of at least {min}"),
                (None, Some(max)) => format!("an integer of at most {max}"),
                (None, None) => "an integer".to_string(),
            },
            AttributeType::Float => "a number".to_string(),
            AttributeType::Boolean => "true or false".to_string(),
            AttributeType::Enum => format!("one of {}", self.values.join(", ")),
            AttributeType::PythonLiteral => "a Python literal in a quoted string".to_string(),
            AttributeType::Scalar => "a string, a number or true/false".to_string(),
            AttributeType::String | AttributeType::Timestamp => "a quoted string".to_string(),
        }
    }

    /// Converts a given value to this attribute's type. Numbers and booleans may arrive
    /// quoted, as the original's clients send every value.
    pub(super) fn coerce(&self, value: &Scalar) -> Option<Scalar> {
        use Scalar as V;
        let text = match value {
            V::String(s) => Some(s.trim()),
            _ => None,
        };
        let coerced = match self.kind {
            AttributeType::String | AttributeType::PythonLiteral | AttributeType::Timestamp => {
                match value {
                    V::String(s) => V::String(s.clone()),
                    _ => return None,
                }
            }
            AttributeType::Scalar => value.clone(),
            AttributeType::Integer => match value {
                V::Integer(i) => V::Integer(*i),
                _ => V::Integer(text?.parse().ok()?),
            },
            AttributeType::Float => match value {
                V::Integer(i) => V::Float(*i as f64),
                V::Float(f) => V::Float(*f),
                _ => V::Float(text?.parse().ok().filter(|f: &f64| f.is_finite())?),
            },
            AttributeType::Boolean => match value {
                V::Bool(b) => V::Bool(*b),
                _ => match text?.to_ascii_lowercase().as_str() {
                    "true" => V::Bool(true),
                    "false" => V::Bool(false),
                    _ => return None,
                },
            },
            AttributeType::Enum => {
                let text = text?;
                self.values.iter().find(|v| v.as_str() == text)?;
                V::String(text.to_string())
            }
        };
        if let V::Integer(i) = coerced {
            let below = self.min.is_some_and(|min| i < min);
            let above = self.max.is_some_and(|max| i > max);
            if below || above {
                return None;
            }
        }
        Some(coerced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_exactly_its_number_of_segments() {
        let pattern = NamePattern::parse("icclab.disco.components.<component>.<param>");
        assert!(pattern.matches("icclab.disco.components.spark.version"));
        assert!(!pattern.matches("icclab.disco.components.spark"));
        assert!(!pattern.matches("icclab.disco.components.spark.a.b"));
        assert!(!pattern.matches("icclab.disco.components..version"));
    }
}
