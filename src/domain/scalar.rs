//! `Scalar`: the one scalar value of the service. An OCCI attribute's value, a component
//! parameter's (given in `inject`, as an attribute, or as a catalogue default) and a
//! value composed into a node script are all this type.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
}

impl Scalar {
    /// The text, when the value is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a message quotes it: strings in quotes, so that an empty or
    /// space-only value can be seen.
    pub fn quoted(&self) -> String {
        match self {
            Scalar::String(s) => format!("{s:?}"),
            other => other.to_string(),
        }
    }
}

/// The plain text of the value: a string as it is, numbers and booleans as Rust
/// writes them (`true`, `2`, `0.5`). What node scripts and forms are given.
impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::String(s) => f.write_str(s),
            Scalar::Integer(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for Scalar {
    fn from(s: &str) -> Scalar {
        Scalar::String(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_plain_text_and_quoted_shows_strings_in_quotes() {
        assert_eq!(Scalar::from("a b").to_string(), "a b");
        assert_eq!(Scalar::Integer(-3).to_string(), "-3");
        assert_eq!(Scalar::Float(0.5).to_string(), "0.5");
        assert_eq!(Scalar::Bool(true).to_string(), "true");
        assert_eq!(Scalar::from("").quoted(), "\"\"");
        assert_eq!(Scalar::Integer(2).quoted(), "2");
    }
}
