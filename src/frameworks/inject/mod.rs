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
//! [`PyValue`]'s `Display` writes a literal this parser reads back as the
//! same value. Python has no literal for NaN or infinity, so such floats
//! (which the parser never produces) are written as the strings `'NaN'`,
//! `'inf'` and `'-inf'`.

use std::collections::BTreeMap;
use std::fmt;

use nom::{
    Parser,
    branch::alt,
    bytes::complete::{take_while, take_while_m_n, take_while1},
    character::complete::{char, digit0, digit1, one_of},
    combinator::{opt, recognize},
};

use crate::parsing::{self, Wording, column, fail, offset_in};

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

/// A parameter value for one component.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One component to install and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentRequest {
    pub name: String,
    pub params: BTreeMap<String, ParamValue>,
}

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

/// Parses the Python literal subset described in the module docs.
pub fn parse_literal(input: &str) -> Result<PyValue, InjectError> {
    parse_spanned(input).map(Spanned::into_value)
}

/// Parses an inject value: a dict of component name to `''`, `None`, a
/// version string or a dict of parameters; or a set, list or tuple of
/// component names.
pub fn parse_inject(input: &str) -> Result<Inject, InjectError> {
    let root = parse_spanned(input)?;
    let error =
        |node: &Spanned, message: String| InjectError::new(input, node.offset(input), message);
    let mut components: Vec<ComponentRequest> = Vec::new();
    let mut add = |key: &Spanned, params| {
        let name = component_name(key).map_err(|message| error(key, message))?;
        if components.iter().any(|c| c.name == name) {
            return Err(error(key, format!("duplicate component '{name}'")));
        }
        components.push(ComponentRequest {
            name: name.to_owned(),
            params,
        });
        Ok(())
    };
    match &root.node {
        Node::Dict(pairs) => {
            for (key, value) in pairs {
                // Name the component in parameter errors only once it is
                // known to be a valid name.
                let name = component_name(key).map_err(|message| error(key, message))?;
                let params =
                    component_params(name, value).map_err(|(at, message)| error(at, message))?;
                add(key, params)?;
            }
        }
        Node::Set(items) | Node::List(items) | Node::Tuple(items) => {
            for item in items {
                add(item, BTreeMap::new())?;
            }
        }
        Node::Leaf(_) => {
            return Err(error(
                &root,
                format!(
                    "expected a dict, set, list or tuple of component names, found {}",
                    root.describe()
                ),
            ));
        }
    }
    Ok(Inject { components })
}

impl Inject {
    /// The canonical literal: a dict with `''` for a component without
    /// parameters and a dict of parameters otherwise.
    pub fn to_literal(&self) -> PyValue {
        PyValue::Dict(
            self.components
                .iter()
                .map(|component| {
                    let params = if component.params.is_empty() {
                        PyValue::Str(String::new())
                    } else {
                        PyValue::Dict(
                            component
                                .params
                                .iter()
                                .map(|(key, value)| (PyValue::Str(key.clone()), value.to_py()))
                                .collect(),
                        )
                    };
                    (PyValue::Str(component.name.clone()), params)
                })
                .collect(),
        )
    }
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_literal())
    }
}

impl ParamValue {
    fn to_py(&self) -> PyValue {
        match self {
            ParamValue::Str(s) => PyValue::Str(s.clone()),
            ParamValue::Int(n) => PyValue::Int(*n),
            ParamValue::Float(x) => PyValue::Float(*x),
            ParamValue::Bool(b) => PyValue::Bool(*b),
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_py())
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

// ---------------------------------------------------------------------------
// Parser plumbing

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
struct Spanned {
    /// Length of the input remaining where the value starts.
    rest_len: usize,
    node: Node,
}

enum Node {
    Leaf(PyValue),
    List(Vec<Spanned>),
    Tuple(Vec<Spanned>),
    Set(Vec<Spanned>),
    Dict(Vec<(Spanned, Spanned)>),
}

impl Spanned {
    fn offset(&self, input: &str) -> usize {
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

    fn describe(&self) -> &'static str {
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

fn parse_spanned(input: &str) -> Result<Spanned, InjectError> {
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
// Scalars

fn py_string(input: &str) -> Res<'_, String> {
    let mut chars = input.chars();
    let Some(quote @ ('\'' | '"')) = chars.next() else {
        return fail(input, "expected a string");
    };
    let mut rest = chars.as_str();
    let mut value = String::new();
    loop {
        let mut chars = rest.chars();
        match chars.next() {
            None => return fail(rest, format!("expected a closing {quote}")),
            Some(c) if c == quote => return Ok((chars.as_str(), value)),
            Some('\n' | '\r') => {
                return fail(
                    rest,
                    format!("expected a closing {quote} before the end of the line"),
                );
            }
            Some('\\') => {
                let (after, c) = escape(rest, chars.as_str())?;
                value.push(c);
                rest = after;
            }
            Some(c) => {
                value.push(c);
                rest = chars.as_str();
            }
        }
    }
}

/// `backslash` starts at the `\`, `after` just past it.
fn escape<'a>(backslash: &'a str, after: &'a str) -> Res<'a, char> {
    let mut chars = after.chars();
    let c = match chars.next() {
        Some('\\') => '\\',
        Some('\'') => '\'',
        Some('"') => '"',
        Some('n') => '\n',
        Some('t') => '\t',
        Some('r') => '\r',
        Some('x') => return hex_escape(backslash, chars.as_str(), 'x', 2),
        Some('u') => return hex_escape(backslash, chars.as_str(), 'u', 4),
        Some('U') => return hex_escape(backslash, chars.as_str(), 'U', 8),
        _ => {
            return fail(
                backslash,
                "expected an escape sequence: \\\\, \\', \\\", \\n, \\t, \\r, \\xHH, \\uHHHH or \\UHHHHHHHH",
            );
        }
    };
    Ok((chars.as_str(), c))
}

fn hex_escape<'a>(
    backslash: &'a str,
    digits: &'a str,
    letter: char,
    count: usize,
) -> Res<'a, char> {
    let parsed: Res<'a, &'a str> =
        take_while_m_n(count, count, |c: char| c.is_ascii_hexdigit()).parse(digits);
    let Ok((rest, hex)) = parsed else {
        let good = digits
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(digits.len());
        return fail(
            digits.get(good..).unwrap_or_default(),
            format!("expected a hex digit (\\{letter} takes {count})"),
        );
    };
    match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
        Some(c) => Ok((rest, c)),
        None => fail(
            backslash,
            "expected a Unicode scalar value (not a surrogate, at most \\U0010ffff)",
        ),
    }
}

fn number(input: &str) -> Res<'_, PyValue> {
    let (unsigned, _) = opt(one_of("+-")).parse(input)?;
    let parsed: Res<'_, &str> = recognize((
        alt((
            recognize((digit1, opt((char('.'), digit0)))),
            recognize((char('.'), digit1)),
        )),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(unsigned);
    let Ok((rest, body)) = parsed else {
        return fail(unsigned, "expected a digit");
    };
    // Without this, `1e`, `0x1f` or `1_000` would be read as `1` or `0`
    // followed by a confusing "expected ','" error.
    if let Some(c) = rest.chars().next()
        && (c.is_alphanumeric() || c == '_' || c == '.')
    {
        return fail(rest, "expected a digit or the end of the number");
    }
    let text = input
        .get(..input.len().saturating_sub(rest.len()))
        .unwrap_or_default();
    if body.contains(['.', 'e', 'E']) {
        return match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok((rest, PyValue::Float(x))),
            _ => fail(input, "expected a finite float (this one overflows)"),
        };
    }
    // Python rejects `007`, but accepts `000`.
    if body.starts_with('0') && body.bytes().any(|b| b != b'0') {
        return fail(unsigned, "expected a decimal integer without leading zeros");
    }
    match text.parse::<i64>() {
        Ok(n) => Ok((rest, PyValue::Int(n))),
        Err(_) => fail(
            input,
            "expected an integer between -9223372036854775808 and 9223372036854775807",
        ),
    }
}

fn name(input: &str) -> Res<'_, Node> {
    let (rest, ident) = take_while1(|c: char| c.is_alphanumeric() || c == '_').parse(input)?;
    match ident {
        "True" => return Ok((rest, Node::Leaf(PyValue::Bool(true)))),
        "False" => return Ok((rest, Node::Leaf(PyValue::Bool(false)))),
        "None" => return Ok((rest, Node::Leaf(PyValue::None))),
        "set" => {
            let (after, _) = ws(rest)?;
            if let Some(inside) = after.strip_prefix('(') {
                let (inside, _) = ws(inside)?;
                return match inside.strip_prefix(')') {
                    Some(after) => Ok((after, Node::Set(Vec::new()))),
                    None => fail(inside, "expected ')': only the empty set() is allowed"),
                };
            }
        }
        _ => {}
    }
    let is_prefix = matches!(
        ident.to_ascii_lowercase().as_str(),
        "f" | "r" | "b" | "u" | "rb" | "br" | "fr" | "rf"
    );
    if is_prefix && rest.starts_with(['\'', '"']) {
        return fail(
            input,
            format!(
                "expected a plain string, found the string prefix {ident}: f-strings, bytes and raw strings are not allowed"
            ),
        );
    }
    let shown: String = ident.chars().take(40).collect();
    fail(
        input,
        format!(
            "expected {A_VALUE}, found the name '{shown}': names, calls and operators are not allowed"
        ),
    )
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
// Inject semantics

fn is_component_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A string as a Python literal, shortened so an error message stays short.
fn shown(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        PyValue::Str(s.to_owned()).to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{}...", PyValue::Str(head))
    }
}

fn component_name(key: &Spanned) -> Result<&str, String> {
    match &key.node {
        Node::Leaf(PyValue::Str(name)) if is_component_name(name) => Ok(name),
        Node::Leaf(PyValue::Str(name)) => Err(format!(
            "expected a component name (a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'), found {}",
            shown(name)
        )),
        _ => Err(format!(
            "expected a component name string, found {}",
            key.describe()
        )),
    }
}

fn component_params<'s>(
    name: &str,
    value: &'s Spanned,
) -> Result<BTreeMap<String, ParamValue>, (&'s Spanned, String)> {
    let mut params = BTreeMap::new();
    match &value.node {
        Node::Leaf(PyValue::None) => {}
        Node::Leaf(PyValue::Str(version)) => {
            if !version.is_empty() {
                params.insert("version".to_owned(), ParamValue::Str(version.clone()));
            }
        }
        Node::Dict(pairs) => {
            for (key, param) in pairs {
                let key_name = match &key.node {
                    Node::Leaf(PyValue::Str(k)) if is_param_name(k) => k,
                    Node::Leaf(PyValue::Str(k)) => {
                        return Err((
                            key,
                            format!(
                                "component '{name}': expected a parameter name ([a-z][a-z0-9_]*), found {}",
                                shown(k)
                            ),
                        ));
                    }
                    _ => {
                        return Err((
                            key,
                            format!(
                                "component '{name}': expected a parameter name string, found {}",
                                key.describe()
                            ),
                        ));
                    }
                };
                let scalar = match &param.node {
                    Node::Leaf(PyValue::Str(s)) => ParamValue::Str(s.clone()),
                    Node::Leaf(PyValue::Int(n)) => ParamValue::Int(*n),
                    Node::Leaf(PyValue::Float(x)) => ParamValue::Float(*x),
                    Node::Leaf(PyValue::Bool(b)) => ParamValue::Bool(*b),
                    _ => {
                        return Err((
                            param,
                            format!(
                                "component '{name}', parameter '{key_name}': expected a string, number or bool, found {}",
                                param.describe()
                            ),
                        ));
                    }
                };
                if params.insert(key_name.clone(), scalar).is_some() {
                    return Err((
                        key,
                        format!("component '{name}': duplicate parameter '{key_name}'"),
                    ));
                }
            }
        }
        _ => {
            return Err((
                value,
                format!(
                    "component '{name}': expected '', a version string, None or a dict of parameters, found {}",
                    value.describe()
                ),
            ));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err_of<T: fmt::Debug>(result: Result<T, InjectError>) -> InjectError {
        match result {
            Ok(v) => panic!("expected an error, parsed {v:?}"),
            Err(e) => e,
        }
    }

    fn names(inject: &Inject) -> Vec<&str> {
        inject.components.iter().map(|c| c.name.as_str()).collect()
    }

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
    fn inject_reads_nested_parameter_dicts_versions_and_none() {
        let inject = parse_inject(
            "{'spark': {'workers_memory': '2g', 'cores': 2, 'ratio': 0.5, 'ui': True}, \
             'jupyter': '', 'hadoop': '3.3.6', 'zeppelin': None}",
        )
        .unwrap();
        assert_eq!(names(&inject), ["spark", "jupyter", "hadoop", "zeppelin"]);
        let spark = &inject.components[0].params;
        assert_eq!(spark["workers_memory"], ParamValue::Str("2g".into()));
        assert_eq!(spark["cores"], ParamValue::Int(2));
        assert_eq!(spark["ratio"], ParamValue::Float(0.5));
        assert_eq!(spark["ui"], ParamValue::Bool(true));
        assert!(inject.components[1].params.is_empty());
        assert_eq!(
            inject.components[2].params["version"],
            ParamValue::Str("3.3.6".into())
        );
        assert!(inject.components[3].params.is_empty());
    }

    #[test]
    fn inject_rejects_a_function_call_at_its_first_character() {
        let e = err_of(parse_inject("__import__('os').system('rm -rf /')"));
        assert_eq!(e.position, 1);
        assert!(
            e.message.contains("found the name '__import__'"),
            "{}",
            e.message
        );
        let e = err_of(parse_inject("{'hadoop': __import__('os')}"));
        assert_eq!(e.position, 12);
        let e = err_of(parse_inject("  exec('x')"));
        assert_eq!(e.position, 3);
    }

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
    fn inject_rejects_a_duplicate_component_naming_it() {
        let e = err_of(parse_inject("{'spark': '', 'hadoop': '', 'spark': '2'}"));
        assert_eq!(e.position, 29);
        assert_eq!(e.message, "duplicate component 'spark'");
        let e = err_of(parse_inject("['spark', 'spark']"));
        assert_eq!(e.position, 11);
    }

    #[test]
    fn inject_rejects_bad_component_names() {
        let e = err_of(parse_inject("{'Hadoop': ''}"));
        assert_eq!(e.position, 2);
        assert!(e.message.ends_with("found 'Hadoop'"), "{}", e.message);
        assert!(parse_inject("['1spark']").is_err());
        assert!(parse_inject("['']").is_err());
        assert!(parse_inject("['a b']").is_err());
        let longest = format!("['{}']", "a".repeat(63));
        assert!(parse_inject(&longest).is_ok());
        let too_long = format!("['{}']", "a".repeat(64));
        assert!(parse_inject(&too_long).is_err());
        let e = err_of(parse_inject("{1: ''}"));
        assert_eq!(
            e.message,
            "expected a component name string, found an integer"
        );
    }

    #[test]
    fn inject_rejects_bad_parameters_naming_component_and_parameter() {
        let e = err_of(parse_inject("{'spark': {'cores': [2]}}"));
        assert_eq!(e.position, 21);
        assert_eq!(
            e.message,
            "component 'spark', parameter 'cores': expected a string, number or bool, found a list"
        );
        let e = err_of(parse_inject("{'spark': {'Cores': 2}}"));
        assert_eq!(e.position, 12);
        assert!(
            e.message
                .starts_with("component 'spark': expected a parameter name")
        );
        let e = err_of(parse_inject("{'spark': {'cores': 2, 'cores': 3}}"));
        assert_eq!(e.message, "component 'spark': duplicate parameter 'cores'");
        let e = err_of(parse_inject("{'spark': 2}"));
        assert_eq!(e.position, 11);
        assert!(e.message.starts_with("component 'spark': expected ''"));
        assert!(parse_inject("{'spark': {'cores': None}}").is_err());
    }

    #[test]
    fn inject_rejects_a_scalar_at_the_top_level_naming_it() {
        let e = err_of(parse_inject("  'hadoop'"));
        assert_eq!(e.position, 3);
        assert_eq!(
            e.message,
            "expected a dict, set, list or tuple of component names, found a string"
        );
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
    fn literal_string_escapes_are_decoded() {
        assert_eq!(
            parse_literal(r#"'a\\b\'c\"d\ne\tf\rg\x41\u00e9\U0001F600"h'"#).unwrap(),
            PyValue::Str("a\\b'c\"d\ne\tf\rgAé😀\"h".into())
        );
        assert_eq!(
            parse_literal(r#""it's""#).unwrap(),
            PyValue::Str("it's".into())
        );
    }

    #[test]
    fn literal_rejects_bad_escapes_and_unterminated_strings_exactly() {
        let e = err_of(parse_literal(r"['ok', 'a\qb']"));
        assert_eq!(e.position, 10);
        assert!(e.message.starts_with("expected an escape sequence"));
        let e = err_of(parse_literal(r"'\x4g'"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (5, "expected a hex digit (\\x takes 2)")
        );
        let e = err_of(parse_literal(r"'\ud800'"));
        assert_eq!(e.position, 2);
        let e = err_of(parse_literal("['abc"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (6, "expected a closing '")
        );
        let e = err_of(parse_literal("'ab\ncd'"));
        assert_eq!(e.position, 4);
    }

    #[test]
    fn literal_numbers_are_strict() {
        let e = err_of(parse_literal("007"));
        assert_eq!(
            e.message,
            "expected a decimal integer without leading zeros"
        );
        assert_eq!(parse_literal("000").unwrap(), PyValue::Int(0));
        let e = err_of(parse_literal("[1_000]"));
        assert_eq!(e.position, 3);
        let e = err_of(parse_literal("0x1f"));
        assert_eq!(e.position, 2);
        let e = err_of(parse_literal("1e"));
        assert_eq!(e.position, 2);
        let e = err_of(parse_literal("9223372036854775808"));
        assert!(e.message.starts_with("expected an integer between"));
        assert_eq!(
            parse_literal("-9223372036854775808").unwrap(),
            PyValue::Int(i64::MIN)
        );
        let e = err_of(parse_literal("1e999"));
        assert_eq!(e.message, "expected a finite float (this one overflows)");
        let e = err_of(parse_literal("- 1"));
        assert_eq!((e.position, e.message.as_str()), (2, "expected a digit"));
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
    fn literal_rejects_unsupported_set_calls() {
        let e = err_of(parse_literal("set(['a'])"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (5, "expected ')': only the empty set() is allowed")
        );
        let e = err_of(parse_literal("set"));
        assert_eq!(e.position, 1);
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

    // ---- properties

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

    fn param_value() -> impl Strategy<Value = ParamValue> {
        prop_oneof![
            any::<String>().prop_map(ParamValue::Str),
            any::<i64>().prop_map(ParamValue::Int),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(ParamValue::Float),
            any::<bool>().prop_map(ParamValue::Bool),
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
                if components.iter().any(|c| c.name == name) {
                    continue;
                }
                let value = match (params.len(), spelling) {
                    (0, 0) => PyValue::Str(String::new()),
                    (0, _) => PyValue::None,
                    _ => match (params.get("version"), params.len(), spelling) {
                        (Some(ParamValue::Str(v)), 1, 0) if !v.is_empty() => {
                            PyValue::Str(v.clone())
                        }
                        _ => PyValue::Dict(
                            params
                                .iter()
                                .map(|(k, v)| (PyValue::Str(k.clone()), v.to_py()))
                                .collect(),
                        ),
                    },
                };
                pairs.push((PyValue::Str(name.clone()), value));
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
        fn literal_round_trips_through_its_rendering(value in py_value()) {
            prop_assert_eq!(parse_literal(&value.to_string()).unwrap(), value);
        }

        #[test]
        fn inject_round_trips_through_a_rendered_dict((inject, literal) in inject_and_literal()) {
            prop_assert_eq!(&parse_inject(&literal.to_string()).unwrap(), &inject);
            prop_assert_eq!(parse_inject(&inject.to_string()).unwrap(), inject);
        }
    }
}
