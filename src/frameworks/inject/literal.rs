//! The Python literal grammar: [`PyValue`], [`parse_literal`], and the
//! parse tree that remembers where each value starts, for the checks made
//! after parsing. Containers are parsed here, scalars in `scalar`.
//!
//! [`PyValue`]'s `Display` writes a literal this parser reads back as the
//! same value. Python has no literal for NaN or infinity, so such floats
//! (which the parser never produces) are written as the strings `'NaN'`,
//! `'inf'` and `'-inf'`.

mod scalar;

use std::fmt;

use nom::{Parser, bytes::complete::take_while, character::complete::char};

use super::InjectError;
use crate::parsing::{self, Wording, fail, offset_in};
use scalar::{name, number, py_string};

/// A Python literal value, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    /// Elements in the order written, duplicates kept.
    Set(Vec<PyValue>),
    /// Pairs in the order written, duplicate keys kept.
    Dict(Vec<(PyValue, PyValue)>),
}

/// Parses the Python literal subset described in the `frameworks::inject`
/// module docs.
pub fn parse_literal(input: &str) -> Result<PyValue, InjectError> {
    parse_spanned(input).map(Spanned::into_value)
}

/// Inject messages are whole sentences, so these are too.
enum LiteralWording {}

impl Wording for LiteralWording {
    const UNLABELLED: &'static str = "invalid input";
    const INCOMPLETE: &'static str = "expected more input";
}

type Res<'a, O> = parsing::Res<'a, O, LiteralWording>;

const MAX_DEPTH: usize = 32;
const A_VALUE: &str = "a value (a string, number, True, False, None, list, tuple, set or dict)";

/// A parsed value that remembers where it started, so that checks made
/// after parsing can still point at the offending key or value.
pub(crate) struct Spanned {
    /// Length of the input remaining where the value starts.
    rest_len: usize,
    pub(crate) node: Node,
}

pub(crate) enum Node {
    Leaf(PyValue),
    List(Vec<Spanned>),
    Tuple(Vec<Spanned>),
    Set(Vec<Spanned>),
    Dict(Vec<(Spanned, Spanned)>),
}

impl Spanned {
    pub(crate) fn offset(&self, input: &str) -> usize {
        input.len().saturating_sub(self.rest_len)
    }

    fn into_value(self) -> PyValue {
        let all = |items: Vec<Spanned>| items.into_iter().map(Spanned::into_value).collect();
        match self.node {
            Node::Leaf(value) => value,
            Node::List(items) => PyValue::List(all(items)),
            Node::Tuple(items) => PyValue::Tuple(all(items)),
            Node::Set(items) => PyValue::Set(all(items)),
            Node::Dict(pairs) => PyValue::Dict(
                pairs
                    .into_iter()
                    .map(|(key, value)| (key.into_value(), value.into_value()))
                    .collect(),
            ),
        }
    }

    fn is_hashable(&self) -> bool {
        match &self.node {
            Node::Leaf(_) => true,
            Node::Tuple(items) => items.iter().all(Spanned::is_hashable),
            Node::List(_) | Node::Set(_) | Node::Dict(_) => false,
        }
    }

    pub(crate) fn describe(&self) -> &'static str {
        match &self.node {
            Node::Leaf(PyValue::Str(_)) => "a string",
            Node::Leaf(PyValue::Int(_)) => "an integer",
            Node::Leaf(PyValue::Float(_)) => "a float",
            Node::Leaf(PyValue::Bool(_)) => "a bool",
            Node::Leaf(PyValue::None) => "None",
            Node::Leaf(_) => "a value",
            Node::List(_) => "a list",
            Node::Tuple(_) => "a tuple",
            Node::Set(_) => "a set",
            Node::Dict(_) => "a dict",
        }
    }
}

pub(crate) fn parse_spanned(input: &str) -> Result<Spanned, InjectError> {
    parsing::finish(input, document)
        .map_err(|e| InjectError::new(input, offset_in(input, e.at), e.message.into_owned()))
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

fn ws(input: &str) -> Res<'_, &str> {
    take_while(is_space).parse(input)
}

fn document(input: &str) -> Res<'_, Spanned> {
    let (rest, _) = ws(input)?;
    let (rest, value) = value(rest, 0)?;
    let (rest, _) = ws(rest)?;
    if !rest.is_empty() {
        return fail(rest, "expected the end of the input");
    }
    Ok((rest, value))
}

/// `depth` counts the containers around this value.
fn value(input: &str, depth: usize) -> Res<'_, Spanned> {
    let (rest, node) = match input.chars().next() {
        Some('\'' | '"') => {
            let (rest, s) = py_string(input)?;
            (rest, Node::Leaf(PyValue::Str(s)))
        }
        Some('[' | '(' | '{') if depth >= MAX_DEPTH => {
            return fail(input, "nesting deeper than 32");
        }
        Some('[') => list(input, depth + 1)?,
        Some('(') => parenthesised(input, depth + 1)?,
        Some('{') => braced(input, depth + 1)?,
        Some('0'..='9' | '+' | '-' | '.') => {
            let (rest, number) = number(input)?;
            (rest, Node::Leaf(number))
        }
        Some(c) if c.is_alphabetic() || c == '_' => name(input)?,
        _ => return fail(input, format!("expected {A_VALUE}")),
    };
    Ok((
        rest,
        Spanned {
            rest_len: input.len(),
            node,
        },
    ))
}

// ---------------------------------------------------------------------------
// Containers

/// Parses one element; `role` is set where Python requires a hashable value.
fn element<'a>(input: &'a str, depth: usize, role: Option<&'static str>) -> Res<'a, Spanned> {
    let (rest, item) = value(input, depth)?;
    if let Some(role) = role
        && !item.is_hashable()
    {
        return fail(
            input,
            format!(
                "expected a hashable {role}, found {} (unhashable in Python)",
                item.describe()
            ),
        );
    }
    Ok((rest, item))
}

/// Parses `(',' element)* ','? close` after the elements already in `items`
/// (or `element (',' element)* ','? close` when there are none yet).
/// Returns the elements and whether any comma was seen.
fn elements<'a>(
    input: &'a str,
    depth: usize,
    close: char,
    role: Option<&'static str>,
    mut items: Vec<Spanned>,
) -> Res<'a, (Vec<Spanned>, bool)> {
    let expected = match close {
        ']' => "expected ',' or ']'",
        ')' => "expected ',' or ')'",
        _ => "expected ',' or '}'",
    };
    let (mut rest, _) = ws(input)?;
    if items.is_empty() {
        if let Some(after) = rest.strip_prefix(close) {
            return Ok((after, (items, false)));
        }
        let (after, item) = element(rest, depth, role)?;
        items.push(item);
        rest = after;
    }
    let mut comma = false;
    loop {
        let (here, _) = ws(rest)?;
        if let Some(after) = here.strip_prefix(close) {
            return Ok((after, (items, comma)));
        }
        let Some(after) = here.strip_prefix(',') else {
            return fail(here, expected);
        };
        comma = true;
        let (here, _) = ws(after)?;
        if let Some(after) = here.strip_prefix(close) {
            return Ok((after, (items, comma)));
        }
        let (after, item) = element(here, depth, role)?;
        items.push(item);
        rest = after;
    }
}

/// `depth` here already counts this container.
fn list(input: &str, depth: usize) -> Res<'_, Node> {
    let (rest, _) = char('[').parse(input)?;
    let (rest, (items, _)) = elements(rest, depth, ']', None, Vec::new())?;
    Ok((rest, Node::List(items)))
}

fn parenthesised(input: &str, depth: usize) -> Res<'_, Node> {
    let (rest, _) = char('(').parse(input)?;
    let (rest, _) = ws(rest)?;
    if let Some(after) = rest.strip_prefix(')') {
        return Ok((after, Node::Tuple(Vec::new())));
    }
    let (after_first, first) = element(rest, depth, None)?;
    let (here, _) = ws(after_first)?;
    if let Some(after) = here.strip_prefix(')') {
        return Ok((after, first.node));
    }
    let (rest, (items, _)) = elements(after_first, depth, ')', None, vec![first])?;
    Ok((rest, Node::Tuple(items)))
}

fn braced(input: &str, depth: usize) -> Res<'_, Node> {
    let (rest, _) = char('{').parse(input)?;
    let (rest, _) = ws(rest)?;
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((after, Node::Dict(Vec::new())));
    }
    let (after_first, first) = element(rest, depth, Some("dict key or set element"))?;
    let (here, _) = ws(after_first)?;
    if let Some(after_colon) = here.strip_prefix(':') {
        return dict_rest(after_colon, depth, first);
    }
    if !here.starts_with([',', '}']) {
        return fail(here, "expected ':', ',' or '}'");
    }
    let (rest, (items, _)) = elements(after_first, depth, '}', Some("set element"), vec![first])?;
    Ok((rest, Node::Set(items)))
}

fn dict_rest(after_colon: &str, depth: usize, first_key: Spanned) -> Res<'_, Node> {
    let (rest, _) = ws(after_colon)?;
    let (mut rest, first_value) = element(rest, depth, None)?;
    let mut pairs = vec![(first_key, first_value)];
    loop {
        let (here, _) = ws(rest)?;
        if let Some(after) = here.strip_prefix('}') {
            return Ok((after, Node::Dict(pairs)));
        }
        let Some(after) = here.strip_prefix(',') else {
            return fail(here, "expected ',' or '}'");
        };
        let (here, _) = ws(after)?;
        if let Some(after) = here.strip_prefix('}') {
            return Ok((after, Node::Dict(pairs)));
        }
        let (after_key, key) = element(here, depth, Some("dict key"))?;
        let (here, _) = ws(after_key)?;
        let Some(after_colon) = here.strip_prefix(':') else {
            return fail(here, "expected ':' after the dict key");
        };
        let (here, _) = ws(after_colon)?;
        let (after_value, value) = element(here, depth, None)?;
        pairs.push((key, value));
        rest = after_value;
    }
}

// ---------------------------------------------------------------------------
// Rendering

fn write_py_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\'' => f.write_str("\\'")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            // Every Unicode control character is below U+0100.
            c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("'")
}

fn write_items(f: &mut fmt::Formatter<'_>, items: &[PyValue]) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Str(s) => write_py_str(f, s),
            PyValue::Int(n) => write!(f, "{n}"),
            // `{:?}` always carries '.' or an exponent, so it stays a float,
            // and is the shortest text that reads back as the same f64.
            PyValue::Float(x) if x.is_finite() => write!(f, "{x:?}"),
            PyValue::Float(x) => write_py_str(f, &x.to_string()),
            PyValue::Bool(true) => f.write_str("True"),
            PyValue::Bool(false) => f.write_str("False"),
            PyValue::None => f.write_str("None"),
            PyValue::List(items) => {
                f.write_str("[")?;
                write_items(f, items)?;
                f.write_str("]")
            }
            PyValue::Tuple(items) => {
                f.write_str("(")?;
                write_items(f, items)?;
                if items.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
            PyValue::Set(items) if items.is_empty() => f.write_str("set()"),
            PyValue::Set(items) => {
                f.write_str("{")?;
                write_items(f, items)?;
                f.write_str("}")
            }
            PyValue::Dict(pairs) => {
                f.write_str("{")?;
                for (index, (key, value)) in pairs.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::frameworks::inject::testing::err_of;
    use crate::frameworks::inject::{PyValue, parse_inject, parse_literal};

    #[test]
    fn inject_rejects_operators_f_strings_and_comments_where_they_start() {
        let e = err_of(parse_inject("{'had' + 'oop'}"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (8, "expected ':', ',' or '}'")
        );
        let e = err_of(parse_inject("{f'{x}'}"));
        assert_eq!(e.position, 2);
        assert!(e.message.contains("string prefix f"), "{}", e.message);
        let e = err_of(parse_inject("['spark'] # hi"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (11, "expected the end of the input")
        );
        let e = err_of(parse_inject("[lambda: 1]"));
        assert_eq!(e.position, 2);
        let e = err_of(parse_inject("{'a': 1 if x else 2}"));
        assert_eq!(e.position, 9);
    }

    #[test]
    fn literal_reads_every_python_kind() {
        use PyValue::*;
        assert_eq!(
            parse_literal("[1, -2, +3, 1.5, -.5, 2., 1e3, True, False, None, 'a', \"b\", (), (1,), {1, 2}, {'k': [()]}, set( )]")
                .unwrap(),
            List(vec![
                Int(1),
                Int(-2),
                Int(3),
                Float(1.5),
                Float(-0.5),
                Float(2.0),
                Float(1000.0),
                Bool(true),
                Bool(false),
                None,
                Str("a".into()),
                Str("b".into()),
                Tuple(vec![]),
                Tuple(vec![Int(1)]),
                Set(vec![Int(1), Int(2)]),
                Dict(vec![(Str("k".into()), List(vec![Tuple(vec![])]))]),
                Set(vec![]),
            ])
        );
    }

    #[test]
    fn literal_parenthesised_value_is_not_a_tuple() {
        assert_eq!(parse_literal("(1)").unwrap(), PyValue::Int(1));
        assert_eq!(
            parse_literal("((1, 2))").unwrap(),
            PyValue::Tuple(vec![PyValue::Int(1), PyValue::Int(2)])
        );
    }

    #[test]
    fn literal_nesting_is_limited_to_32_levels() {
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(parse_literal(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        let e = err_of(parse_literal(&deep));
        assert_eq!(
            (e.position, e.message.as_str()),
            (33, "nesting deeper than 32")
        );
        // Unbalanced depth must not recurse without bound either.
        assert!(parse_literal(&"({[".repeat(100_000)).is_err());
    }

    #[test]
    fn literal_rejects_unhashable_keys_and_set_elements() {
        let e = err_of(parse_literal("{'a': 1, [1]: 2}"));
        assert_eq!(e.position, 10);
        assert!(
            e.message
                .starts_with("expected a hashable dict key, found a list")
        );
        assert!(parse_literal("{{}}").is_err());
        assert!(parse_literal("{(1, [2])}").is_err());
        assert!(parse_literal("{(1, (2,)): 3}").is_ok());
    }

    #[test]
    fn literal_renders_python_syntax() {
        use PyValue::*;
        let value = Dict(vec![
            (Str("it's \\ \n\u{7}".into()), Tuple(vec![Int(1)])),
            (Int(2), Set(vec![])),
            (Bool(true), List(vec![None, Float(1.0), Float(1e20)])),
        ]);
        assert_eq!(
            value.to_string(),
            r"{'it\'s \\ \n\x07': (1,), 2: set(), True: [None, 1.0, 1e20]}"
        );
        assert_eq!(Float(f64::NAN).to_string(), "'NaN'");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "'-inf'");
        assert_eq!(Dict(vec![]).to_string(), "{}");
    }

    fn leaf() -> impl Strategy<Value = PyValue> {
        prop_oneof![
            any::<String>().prop_map(PyValue::Str),
            any::<i64>().prop_map(PyValue::Int),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(PyValue::Float),
            any::<bool>().prop_map(PyValue::Bool),
            Just(PyValue::None),
        ]
    }

    fn hashable() -> impl Strategy<Value = PyValue> {
        prop_oneof![
            3 => leaf(),
            1 => proptest::collection::vec(leaf(), 0..3).prop_map(PyValue::Tuple),
        ]
    }

    fn py_value() -> impl Strategy<Value = PyValue> {
        leaf().prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(PyValue::List),
                proptest::collection::vec(inner.clone(), 0..5).prop_map(PyValue::Tuple),
                proptest::collection::vec(hashable(), 0..5).prop_map(PyValue::Set),
                proptest::collection::vec((hashable(), inner), 0..5).prop_map(PyValue::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn literal_round_trips_through_its_rendering(value in py_value()) {
            prop_assert_eq!(parse_literal(&value.to_string()).unwrap(), value);
        }
    }
}
