//! The `icclab.disco.dependencies.inject` attribute: a Python literal naming
//! the framework components to install, parsed as data and never evaluated.
//!
//! The service this replaces `exec`ed the value, so the grammar here is the
//! strict literal subset users actually send and nothing more:
//! strings in `'...'` or `"..."` (escapes `\\ \' \" \n \t \r \xHH \uHHHH
//! \UHHHHHHHH`; a raw newline ends nothing and is an error), integers and
//! floats with an optional sign, `True`, `False`, `None`, lists, tuples
//! (including `(x,)`; `(x)` is just `x`, as in Python), sets, the empty set
//! `set()`, and dicts, with whitespace anywhere and trailing commas.
//! Names, calls, operators, string prefixes (`f''`, `b''`, `r''`, `u''`),
//! comments, underscores in numbers and non-decimal integers are errors at
//! the character where they start. Nesting is limited to 32 levels.
//!
//! As in Python, list, set and dict keys must be hashable, so a list or dict
//! inside a set or as a dict key is an error. Unlike Python, duplicate set
//! elements and dict keys are kept as written: [`parse_inject`] reports them.
//!
//! `literal` reads the Python literal (and renders one); `components` turns
//! it into the components requested.

mod components;
mod literal;
#[cfg(test)]
mod testing;

use std::fmt;

pub use literal::{PyValue, parse_literal};

use crate::domain::Scalar;
use crate::frameworks::request::ComponentRequest;
use crate::parsing::column;

/// The parsed inject attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    /// In the order written.
    pub components: Vec<ComponentRequest>,
}

/// Why an inject value (or Python literal) was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectError {
    /// 1-based character column in `input`.
    pub position: usize,
    pub message: String,
    pub input: String,
}

/// Parses an inject value: a dict of component name to `''`, `None`, a
/// version string or a dict of parameters; or a set, list or tuple of
/// component names.
pub fn parse_inject(input: &str) -> Result<Inject, InjectError> {
    let root = literal::parse_spanned(input)?;
    let components = components::requests(input, &root)?;
    Ok(Inject { components })
}

/// The names of the components an inject value requests, in the order written; `None`
/// when it does not parse (its own check says why).
pub fn component_names(input: &str) -> Option<Vec<String>> {
    let inject = parse_inject(input).ok()?;
    Some(
        inject
            .components
            .iter()
            .map(|c| c.name.to_string())
            .collect(),
    )
}

/// The canonical literal of component requests: a dict with `''` for a component
/// without parameters and a dict of its parameters otherwise. `parse_inject` reads it
/// back as the same requests.
pub fn literal_of(components: &[ComponentRequest]) -> PyValue {
    PyValue::Dict(
        components
            .iter()
            .map(|component| {
                let params = if component.params.is_empty() {
                    PyValue::Str(String::new())
                } else {
                    PyValue::Dict(
                        component
                            .params
                            .iter()
                            .map(|(key, value)| (PyValue::Str(key.clone()), value.into()))
                            .collect(),
                    )
                };
                (PyValue::Str(component.name.to_string()), params)
            })
            .collect(),
    )
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", literal_of(&self.components))
    }
}

impl From<&Scalar> for PyValue {
    fn from(value: &Scalar) -> PyValue {
        match value {
            Scalar::String(s) => PyValue::Str(s.clone()),
            Scalar::Integer(n) => PyValue::Int(*n),
            Scalar::Float(x) => PyValue::Float(*x),
            Scalar::Bool(b) => PyValue::Bool(*b),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

const CONTEXT_CHARS: usize = 60;

impl InjectError {
    fn new(input: &str, byte_offset: usize, message: String) -> Self {
        InjectError {
            position: column(input, byte_offset),
            message,
            input: input.to_owned(),
        }
    }
}

impl fmt::Display for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "at character {}: {}", self.position, self.message)?;
        // One display column per character keeps the caret aligned, so
        // control characters (tabs, newlines) are shown as spaces.
        let chars: Vec<char> = self
            .input
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let at = self.position.saturating_sub(1).min(chars.len());
        let (start, end) = if chars.len() <= CONTEXT_CHARS {
            (0, chars.len())
        } else {
            let start = at
                .saturating_sub(CONTEXT_CHARS / 2)
                .min(chars.len() - CONTEXT_CHARS);
            (start, start + CONTEXT_CHARS)
        };
        let prefix = if start > 0 { "..." } else { "" };
        let suffix = if end < chars.len() { "..." } else { "" };
        let shown: String = chars.get(start..end).unwrap_or_default().iter().collect();
        writeln!(f, "  {prefix}{shown}{suffix}")?;
        write!(f, "  {}^", " ".repeat(prefix.len() + at - start))
    }
}

impl std::error::Error for InjectError {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{err_of, names};
    use super::{ComponentRequest, Inject, PyValue, parse_inject, parse_literal};
    use crate::domain::{ComponentName, Scalar};

    fn bare(inject: &Inject) -> bool {
        inject.components.iter().all(|c| c.params.is_empty())
    }

    #[test]
    fn inject_accepts_the_dict_the_real_header_carries() {
        let inject = parse_inject("{'hadoop': '', 'spark': '', 'jupyter': ''}").unwrap();
        assert_eq!(names(&inject), ["hadoop", "spark", "jupyter"]);
        assert!(bare(&inject));
    }

    #[test]
    fn inject_accepts_the_older_set_form_and_lists_and_tuples() {
        for input in [
            "{'hadoop','spark'}",
            "['hadoop', 'spark']",
            "('hadoop', \"spark\",)",
            " {\n  'hadoop',\n  'spark',\n}\n",
        ] {
            let inject = parse_inject(input).unwrap();
            assert_eq!(names(&inject), ["hadoop", "spark"], "{input}");
            assert!(bare(&inject));
        }
        assert_eq!(parse_inject("('hadoop',)").unwrap().components.len(), 1);
        assert!(parse_inject("{}").unwrap().components.is_empty());
        assert!(parse_inject("set()").unwrap().components.is_empty());
    }

    #[test]
    fn inject_renders_as_a_literal_it_parses_back() {
        let inject = parse_inject("{'spark': {'cores': 2}, 'hadoop': '3.3'}").unwrap();
        assert_eq!(
            inject.to_string(),
            "{'spark': {'cores': 2}, 'hadoop': {'version': '3.3'}}"
        );
        assert_eq!(parse_inject(&inject.to_string()).unwrap(), inject);
    }

    #[test]
    fn error_display_draws_a_caret_under_the_character() {
        let e = err_of(parse_inject("{'hadoop': '' 'spark': ''}"));
        assert_eq!(
            e.to_string(),
            "at character 15: expected ',' or '}'\n  {'hadoop': '' 'spark': ''}\n                ^"
        );
        let e = err_of(parse_inject("['a'"));
        assert_eq!(
            e.to_string(),
            "at character 5: expected ',' or ']'\n  ['a'\n      ^"
        );
    }

    #[test]
    fn error_display_shortens_long_inputs_keeping_the_caret_aligned() {
        let input = format!("[{}x, {}]", "'aaaa', ".repeat(20), "'bbbb', ".repeat(20));
        let e = err_of(parse_literal(&input));
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("  ...") && lines[1].ends_with("..."));
        assert!(lines[1].chars().count() <= 2 + 3 + 60 + 3);
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('x'));
    }

    fn param_value() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            any::<String>().prop_map(Scalar::String),
            any::<i64>().prop_map(Scalar::Integer),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(Scalar::Float),
            any::<bool>().prop_map(Scalar::Bool),
        ]
    }

    /// An inject request and a literal that spells it, choosing among the
    /// spellings users send: `''` or `None` for no parameters, a bare
    /// version string, or a parameter dict.
    fn inject_and_literal() -> impl Strategy<Value = (Inject, PyValue)> {
        let component = (
            "[a-z][a-z0-9_-]{0,12}",
            proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", param_value(), 0..4),
            0..3u8,
        );
        proptest::collection::vec(component, 0..6).prop_map(|raw| {
            let mut components: Vec<ComponentRequest> = Vec::new();
            let mut pairs = Vec::new();
            for (name, params, spelling) in raw {
                let name = ComponentName::parse(&name).expect("the strategy makes names");
                if components.iter().any(|c| c.name == name) {
                    continue;
                }
                let value = match (params.len(), spelling) {
                    (0, 0) => PyValue::Str(String::new()),
                    (0, _) => PyValue::None,
                    _ => match (params.get("version"), params.len(), spelling) {
                        (Some(Scalar::String(v)), 1, 0) if !v.is_empty() => PyValue::Str(v.clone()),
                        _ => PyValue::Dict(
                            params
                                .iter()
                                .map(|(k, v)| (PyValue::Str(k.clone()), v.into()))
                                .collect(),
                        ),
                    },
                };
                pairs.push((PyValue::Str(name.to_string()), value));
                components.push(ComponentRequest { name, params });
            }
            (Inject { components }, PyValue::Dict(pairs))
        })
    }

    fn literal_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("["),
                Just("]"),
                Just("("),
                Just(")"),
                Just("{"),
                Just("}"),
                Just(","),
                Just(":"),
                Just("'"),
                Just("\""),
                Just("\\"),
                Just(" "),
                Just("\n"),
                Just("'spark'"),
                Just("'hadoop'"),
                Just("''"),
                Just("1"),
                Just("-"),
                Just("."),
                Just("e"),
                Just("True"),
                Just("None"),
                Just("set"),
                Just("x"),
                Just("\\x4"),
                Just("\\u"),
                Just("é"),
                Just("_"),
                Just("0"),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_unicode(input in any::<String>()) {
            let _ = parse_literal(&input);
            if let Err(e) = parse_inject(&input) {
                let _ = e.to_string();
            }
        }

        #[test]
        fn errors_point_inside_the_input_or_just_past_it(input in literal_soup()) {
            if let Err(e) = parse_inject(&input) {
                prop_assert!(e.position >= 1 && e.position <= input.chars().count() + 1);
                let _ = e.to_string();
            }
        }

        #[test]
        fn caret_sits_under_the_reported_character(input in "[\\[\\]{}(),:' a-z0-9]{0,150}") {
            if let Err(e) = parse_literal(&input) {
                let text = e.to_string();
                let lines: Vec<&str> = text.lines().collect();
                prop_assert_eq!(lines.len(), 3);
                let caret = lines[2].chars().count() - 1;
                let expected = input.chars().nth(e.position - 1);
                // Past the end of the shown text there is nothing to point at.
                if let Some(expected) = expected {
                    prop_assert_eq!(lines[1].chars().nth(caret), Some(expected));
                }
            }
        }

        #[test]
        fn inject_round_trips_through_a_rendered_dict((inject, literal) in inject_and_literal()) {
            prop_assert_eq!(&parse_inject(&literal.to_string()).unwrap(), &inject);
            prop_assert_eq!(parse_inject(&inject.to_string()).unwrap(), inject);
        }
    }
}
