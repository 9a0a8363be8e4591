//! The OCCI 1.2 HTTP text rendering (OGF GFD.185): parsing and canonical
//! rendering of the `Category`, `X-OCCI-Attribute`, `Link` and
//! `X-OCCI-Location` header values, and of a `text/plain` body that carries
//! the same headers one per line.
//!
//! This module owns the grammar only: it knows nothing about which kinds,
//! mixins or attributes the service defines. Every parse function takes one
//! header value (without the `Name:` prefix) and either returns the whole of
//! it parsed or a [`TextError`] that points at the offending character.
//!
//! Grammar decisions worth knowing:
//! - Whitespace means space and horizontal tab (HTTP's OWS), and is allowed
//!   around `;`, `=` and `,`. A trailing `;` after a category or link and a
//!   trailing `,` after the last list element are tolerated because real
//!   clients send them.
//! - Parameter names (`scheme`, `class`, `rel`, ...) are case-insensitive, and
//!   so is the `class` value, which may also be unquoted as GFD.185 allows.
//!   Unknown or repeated category parameters are errors.
//! - Quoted strings understand `\"`, `\\`, and `\n`, `\r`, `\t` for newline,
//!   carriage return and tab (so that multi-line values such as SSH private keys
//!   fit in one header); any other backslash is kept with the character after
//!   it, so `"C:\data"` means what it says.
//! - A category scheme must be non-empty and free of whitespace; it is not
//!   required to end in `#`.
//! - Strings are rendered with `"`, `\`, newline, carriage return and tab
//!   escaped, so every rendered value is one line and a valid header value.
//! - Floats render through `{:?}`, which always carries a `.` or an exponent,
//!   so they parse back as the same `f64`. NaN and infinities cannot be
//!   written in the grammar (the parser rejects them), so they render as the
//!   quoted strings `"NaN"`, `"inf"` and `"-inf"`.

use std::borrow::Cow;
use std::fmt;

use nom::{
    Parser,
    branch::alt,
    bytes::complete::{take_while, take_while1},
    character::complete::{char, digit0, digit1, one_of, satisfy},
    combinator::{opt, recognize},
    error::{ErrorKind, ParseError},
};

use crate::parsing::{self, Wording, column, fail, offset_in};

/// Which of the three OCCI category types a `Category` value describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CategoryClass {
    Kind,
    Mixin,
    Action,
}

impl fmt::Display for CategoryClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CategoryClass::Kind => "kind",
            CategoryClass::Mixin => "mixin",
            CategoryClass::Action => "action",
        })
    }
}

/// One category from a `Category` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub term: String,
    pub scheme: String,
    pub class: CategoryClass,
    pub title: Option<String>,
    pub rel: Option<String>,
    pub location: Option<String>,
    /// Attribute names with any `{required}`/`{immutable}` suffix removed.
    pub attributes: Vec<String>,
    /// Action type identifiers (`scheme#term`).
    pub actions: Vec<String>,
}

/// The typed value of an `X-OCCI-Attribute` (or link attribute).
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

/// One `name=value` pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

/// One link from a `Link` header value.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub target: String,
    pub rel: String,
    pub self_location: Option<String>,
    pub category: Option<String>,
    pub attributes: Vec<Attribute>,
}

/// Everything a request carried in its OCCI headers or `text/plain` body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextRequest {
    pub categories: Vec<Category>,
    pub attributes: Vec<Attribute>,
    pub links: Vec<Link>,
    pub locations: Vec<String>,
}

/// Why a header value (or a `text/plain` body) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// The header whose value was wrong, e.g. `"Category"`, or
    /// `"text/plain body"` when a body line is not a known header at all.
    pub field: &'static str,
    /// 1-based character column of the offending character: in the header
    /// value for the `parse_*` value functions, in the line for
    /// [`parse_plain_body`].
    pub position: usize,
    /// The body line (1-based) the error is on; `None` for a header value.
    pub line: Option<usize>,
    pub expected: String,
    /// Up to 20 characters found at `position`, or `"end of input"`.
    pub found: String,
}

const END_OF_INPUT: &str = "end of input";
const SNIPPET_CHARS: usize = 20;

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: at ", self.field)?;
        if let Some(line) = self.line {
            write!(f, "line {line}, ")?;
        }
        write!(
            f,
            "character {}: expected {}, found ",
            self.position, self.expected
        )?;
        if self.found == END_OF_INPUT {
            f.write_str(END_OF_INPUT)
        } else {
            // Debug quoting escapes control characters that would otherwise
            // garble a log line or an HTTP response body.
            write!(f, "{:?}", self.found)
        }
    }
}

impl std::error::Error for TextError {}

/// Parses one `Category` header value: one or more comma-separated categories.
pub fn parse_categories(value: &str) -> Result<Vec<Category>, TextError> {
    run("Category", value, value, None, categories_value)
}

/// Parses one `X-OCCI-Attribute` header value: one or more comma-separated
/// `name=value` pairs.
pub fn parse_attributes(value: &str) -> Result<Vec<Attribute>, TextError> {
    run("X-OCCI-Attribute", value, value, None, attributes_value)
}

/// Parses one `Link` header value: one or more comma-separated links.
pub fn parse_links(value: &str) -> Result<Vec<Link>, TextError> {
    run("Link", value, value, None, links_value)
}

/// Parses one `X-OCCI-Location` header value: comma-separated URIs.
pub fn parse_locations(value: &str) -> Result<Vec<String>, TextError> {
    run("X-OCCI-Location", value, value, None, locations_value)
}

/// Parses a `text/plain` body: one `Name: value` line per header, with the
/// names `Category`, `X-OCCI-Attribute`, `Link` and `X-OCCI-Location`
/// matched case-insensitively. Blank lines and CRLF line ends are fine.
pub fn parse_plain_body(body: &str) -> Result<TextRequest, TextError> {
    const BODY: &str = "text/plain body";
    const KNOWN: &str = "a header named Category, X-OCCI-Attribute, Link or X-OCCI-Location";
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut request = TextRequest::default();
    for (index, raw_line) in body.split('\n').enumerate() {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.chars().all(is_ows) {
            continue;
        }
        let number = Some(index + 1);
        let start = line.trim_start_matches(is_ows);
        let name_len = start.find(|c: char| !is_tchar(c)).unwrap_or(start.len());
        let (name, after_name) = start.split_at(name_len);
        if name.is_empty() {
            return Err(error_at(BODY, line, start, KNOWN.into(), number));
        }
        let header = match name.to_ascii_lowercase().as_str() {
            "category" => Header::Category,
            "x-occi-attribute" => Header::Attribute,
            "link" => Header::Link,
            "x-occi-location" => Header::Location,
            _ => {
                let mut err = error_at(BODY, line, start, KNOWN.into(), number);
                err.found = name.chars().take(SNIPPET_CHARS).collect();
                return Err(err);
            }
        };
        let after_ws = after_name.trim_start_matches(is_ows);
        let Some(value) = after_ws.strip_prefix(':') else {
            return Err(error_at(
                header.field(),
                line,
                after_ws,
                "':' after the header name".into(),
                number,
            ));
        };
        let field = header.field();
        match header {
            Header::Category => {
                request
                    .categories
                    .extend(run(field, line, value, number, categories_value)?)
            }
            Header::Attribute => {
                request
                    .attributes
                    .extend(run(field, line, value, number, attributes_value)?)
            }
            Header::Link => request
                .links
                .extend(run(field, line, value, number, links_value)?),
            Header::Location => {
                request
                    .locations
                    .extend(run(field, line, value, number, locations_value)?)
            }
        }
    }
    Ok(request)
}

#[derive(Clone, Copy)]
enum Header {
    Category,
    Attribute,
    Link,
    Location,
}

impl Header {
    fn field(self) -> &'static str {
        match self {
            Header::Category => "Category",
            Header::Attribute => "X-OCCI-Attribute",
            Header::Link => "Link",
            Header::Location => "X-OCCI-Location",
        }
    }
}

// ---------------------------------------------------------------------------
// Rendering

/// Writes `s` as an HTTP quoted-string in the only escaping the parser undoes.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                _ => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; scheme={}; class=\"{}\"",
            self.term,
            Quoted(&self.scheme),
            self.class
        )?;
        for (name, value) in [
            ("title", &self.title),
            ("rel", &self.rel),
            ("location", &self.location),
        ] {
            if let Some(value) = value {
                write!(f, "; {name}={}", Quoted(value))?;
            }
        }
        if !self.attributes.is_empty() {
            write!(f, "; attributes={}", Quoted(&self.attributes.join(" ")))?;
        }
        if !self.actions.is_empty() {
            write!(f, "; actions={}", Quoted(&self.actions.join(" ")))?;
        }
        Ok(())
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::String(s) => write!(f, "{}", Quoted(s)),
            AttributeValue::Integer(n) => write!(f, "{n}"),
            // `{:?}` always includes '.' or an exponent and is the shortest
            // form that reads back as the same f64.
            AttributeValue::Float(x) if x.is_finite() => write!(f, "{x:?}"),
            AttributeValue::Float(x) => write!(f, "{}", Quoted(&format!("{x}"))),
            AttributeValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>; rel={}", self.target, Quoted(&self.rel))?;
        if let Some(location) = &self.self_location {
            write!(f, "; self={}", Quoted(location))?;
        }
        if let Some(category) = &self.category {
            write!(f, "; category={}", Quoted(category))?;
        }
        for attribute in &self.attributes {
            write!(f, "; {attribute}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Parser plumbing

/// The OCCI errors say "expected" themselves, so these are what was expected.
enum TextWording {}

impl Wording for TextWording {
    const UNLABELLED: &'static str = "valid input";
    const INCOMPLETE: &'static str = "more input";
}

type PErr<'a> = parsing::PErr<'a, TextWording>;
type Res<'a, O> = parsing::Res<'a, O, TextWording>;

/// Turns a recoverable failure of `parser` into a committed one that says
/// what was expected at the place `parser` started.
fn expect<'a, O, P>(mut parser: P, expected: &'static str) -> impl FnMut(&'a str) -> Res<'a, O>
where
    P: Parser<&'a str, Output = O, Error = PErr<'a>>,
{
    move |input| {
        parser.parse(input).map_err(|e| match e {
            nom::Err::Error(_) => nom::Err::Failure(PErr::new(input, expected)),
            other => other,
        })
    }
}

fn run<'a, T>(
    field: &'static str,
    base: &'a str,
    value: &'a str,
    line: Option<usize>,
    parser: fn(&'a str) -> Res<'a, T>,
) -> Result<T, TextError> {
    parsing::finish(value, parser)
        .map_err(|e| error_at(field, base, e.at, e.message.into_owned(), line))
}

fn error_at(
    field: &'static str,
    base: &str,
    at: &str,
    expected: String,
    line: Option<usize>,
) -> TextError {
    let offset = offset_in(base, at);
    let rest = base.get(offset..).unwrap_or_default();
    let found = if rest.is_empty() {
        END_OF_INPUT.to_owned()
    } else {
        rest.chars().take(SNIPPET_CHARS).collect()
    };
    TextError {
        field,
        position: column(base, offset),
        line,
        expected,
        found,
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 token characters, which is what a header name is made of.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn ws(input: &str) -> Res<'_, &str> {
    take_while(is_ows).parse(input)
}

/// Parses `item (',' item)*` up to the end of the value, allowing a
/// trailing comma. Items must fail with `Failure` once they have started.
fn comma_list<'a, T>(
    input: &'a str,
    mut item: impl FnMut(&'a str) -> Res<'a, T>,
    separator: &'static str,
) -> Res<'a, Vec<T>> {
    let (mut input, _) = ws(input)?;
    let mut items = Vec::new();
    loop {
        let (rest, parsed) = item(input)?;
        items.push(parsed);
        let (rest, _) = ws(rest)?;
        if rest.is_empty() {
            return Ok((rest, items));
        }
        let Some(after_comma) = rest.strip_prefix(',') else {
            return fail(rest, separator);
        };
        let (after_comma, _) = ws(after_comma)?;
        if after_comma.is_empty() {
            return Ok((after_comma, items));
        }
        input = after_comma;
    }
}

/// After a parameter value: `;` continues, `,` or the end finishes the
/// element (leaving the `,` for [`comma_list`]). Returns whether to go on.
fn after_parameter<'a>(input: &'a str, expected: &'static str) -> Res<'a, bool> {
    let (input, _) = ws(input)?;
    if input.is_empty() || input.starts_with(',') {
        return Ok((input, false));
    }
    match input.strip_prefix(';') {
        Some(rest) => Ok((rest, true)),
        None => fail(input, expected),
    }
}

/// Whether a parameter list has ended: nothing more, or the next element.
fn at_element_end(input: &str) -> bool {
    input.is_empty() || input.starts_with(',')
}

// ---------------------------------------------------------------------------
// Lexical pieces

/// A quoted string: its decoded value and the raw text between the quotes,
/// which is kept so errors inside the value can point into the original.
struct QuotedString<'a> {
    value: String,
    raw: &'a str,
}

fn quoted_string(input: &str) -> Res<'_, QuotedString<'_>> {
    let (body, _) = char('"').parse(input)?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => {
                let (raw, rest) = body.split_at(index);
                let rest = rest.strip_prefix('"').unwrap_or(rest);
                return Ok((rest, QuotedString { value, raw }));
            }
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\' | 'n' | 'r' | 't'))) => {
                    value.push(unescape(escaped))
                }
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            other => value.push(other),
        }
    }
    fail(body.get(body.len()..).unwrap_or_default(), "a closing '\"'")
}

/// The character an escape sequence `\\c` stands for.
fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        other => other,
    }
}

/// Maps a byte offset in a decoded quoted value back to the raw text, so an
/// error found in the decoded value points at the character the user typed.
fn raw_at(raw: &str, decoded_offset: usize) -> &str {
    let mut decoded = 0;
    let mut chars = raw.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if decoded >= decoded_offset {
            return raw.get(index..).unwrap_or_default();
        }
        if c == '\\'
            && let Some(&(_, escaped @ ('"' | '\\' | 'n' | 'r' | 't'))) = chars.peek()
        {
            chars.next();
            decoded += unescape(escaped).len_utf8();
            continue;
        }
        decoded += c.len_utf8();
    }
    raw.get(raw.len()..).unwrap_or_default()
}

/// Runs `check` over a decoded quoted value and re-anchors its error in
/// the raw text of the original value.
fn within_quoted<'a, T>(
    quoted: &QuotedString<'a>,
    check: impl for<'b> FnOnce(&'b str) -> Result<T, (usize, Cow<'static, str>)>,
) -> Result<T, nom::Err<PErr<'a>>> {
    check(&quoted.value).map_err(|(offset, expected)| {
        nom::Err::Failure(PErr::new(raw_at(quoted.raw, offset), expected))
    })
}

/// Runs a nom parser to completion on a decoded value and reports an error
/// as (offset in the decoded value, expected).
fn complete_in<'b, T>(
    decoded: &'b str,
    parser: impl FnOnce(&'b str) -> Res<'b, T>,
) -> Result<T, (usize, Cow<'static, str>)> {
    parsing::finish(decoded, parser).map_err(|e| (offset_in(decoded, e.at), e.message))
}

fn term(input: &str) -> Res<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphanumeric()),
        take_while(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
    ))
    .parse(input)
}

fn is_term(s: &str) -> bool {
    matches!(term(s), Ok((rest, _)) if rest.is_empty())
}

fn name_component(input: &str) -> Res<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
    ))
    .parse(input)
}

const ATTRIBUTE_NAME: &str =
    "an attribute name (letters, digits, '_' and '-', in parts separated by '.')";

fn attribute_name(input: &str) -> Res<'_, &str> {
    let (mut rest, _) = expect(name_component, ATTRIBUTE_NAME)(input)?;
    while let Some(after_dot) = rest.strip_prefix('.') {
        let (next, _) = expect(name_component, "a name part after '.'")(after_dot)?;
        rest = next;
    }
    let consumed = input.len().saturating_sub(rest.len());
    Ok((rest, input.get(..consumed).unwrap_or_default()))
}

const UNQUOTED: &str =
    "a number, true, false or a double-quoted string (strings must be double-quoted)";

fn attribute_value(input: &str) -> Res<'_, AttributeValue> {
    if input.starts_with('"') {
        let (rest, quoted) = quoted_string(input)?;
        return Ok((rest, AttributeValue::String(quoted.value)));
    }
    let (rest, token) = take_while(|c: char| !matches!(c, ',' | ';') && !is_ows(c)).parse(input)?;
    if token.is_empty() {
        return fail(
            input,
            "a value (a double-quoted string, a number, true or false)",
        );
    }
    match token {
        "true" => return Ok((rest, AttributeValue::Bool(true))),
        "false" => return Ok((rest, AttributeValue::Bool(false))),
        _ => {}
    }
    let integer: Res<'_, &str> = recognize((opt(one_of("+-")), digit1)).parse(token);
    if let Ok(("", _)) = integer {
        return match token.parse::<i64>() {
            Ok(n) => Ok((rest, AttributeValue::Integer(n))),
            Err(_) => fail(
                input,
                "an integer between -9223372036854775808 and 9223372036854775807",
            ),
        };
    }
    if let Ok(("", _)) = float_literal(token) {
        return match token.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok((rest, AttributeValue::Float(x))),
            _ => fail(input, "a finite number"),
        };
    }
    fail(input, UNQUOTED)
}

/// `[+-]? (digits ['.' digits*] | '.' digits) [e [+-]? digits]`, with at
/// least a '.' or an exponent so it is not an integer.
fn float_literal(input: &str) -> Res<'_, &str> {
    let (rest, text) = recognize((
        opt(one_of("+-")),
        alt((
            recognize((digit1, opt((char('.'), digit0)))),
            recognize((char('.'), digit1)),
        )),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(input)?;
    if text.contains(['.', 'e', 'E']) {
        Ok((rest, text))
    } else {
        Err(nom::Err::Error(PErr::from_error_kind(
            input,
            ErrorKind::Float,
        )))
    }
}

// ---------------------------------------------------------------------------
// Category

const CATEGORY_PARAMETER: &str =
    "a parameter named scheme, class, title, rel, location, attributes or actions";
const CLASS_VALUE: &str = "class=\"kind|mixin|action\"";

fn categories_value(input: &str) -> Res<'_, Vec<Category>> {
    comma_list(
        input,
        category,
        "',' between categories or the end of the value",
    )
}

fn category(input: &str) -> Res<'_, Category> {
    let (rest, term) = expect(
        term,
        "a category term (a letter or digit, then letters, digits, '-', '_' or '.')",
    )(input)?;
    let (rest, _) = ws(rest)?;
    let (mut rest, _) = expect(char(';'), "';' after the category term")(rest)?;

    let mut scheme = None;
    let mut class = None;
    let mut title = None;
    let mut rel = None;
    let mut location = None;
    let mut attributes = None;
    let mut actions = None;
    loop {
        let (here, _) = ws(rest)?;
        if at_element_end(here) {
            rest = here;
            break;
        }
        let (after_name, name) = expect(
            take_while1(|c: char| c.is_ascii_alphabetic()),
            CATEGORY_PARAMETER,
        )(here)?;
        let name = name.to_ascii_lowercase();
        let already = match name.as_str() {
            "scheme" => scheme.is_some(),
            "class" => class.is_some(),
            "title" => title.is_some(),
            "rel" => rel.is_some(),
            "location" => location.is_some(),
            "attributes" => attributes.is_some(),
            "actions" => actions.is_some(),
            _ => return fail(here, CATEGORY_PARAMETER),
        };
        if already {
            return fail(here, format!("no second {name} parameter"));
        }
        let (after_eq, _) = ws(after_name)?;
        let (after_eq, _) = expect(char('='), "'=' after the parameter name")(after_eq)?;
        let (value_at, _) = ws(after_eq)?;
        let after_value = match name.as_str() {
            "class" => {
                let (after, parsed) = class_value(value_at)?;
                class = Some(parsed);
                after
            }
            _ => {
                let (after, quoted) = expect(quoted_string, "a double-quoted value")(value_at)?;
                match name.as_str() {
                    "scheme" => {
                        within_quoted(&quoted, check_scheme)?;
                        scheme = Some(quoted.value);
                    }
                    "attributes" => {
                        attributes =
                            Some(within_quoted(&quoted, |v| complete_in(v, attribute_list))?)
                    }
                    "actions" => actions = Some(within_quoted(&quoted, action_list)?),
                    "title" => title = Some(quoted.value),
                    "rel" => rel = Some(quoted.value),
                    _ => location = Some(quoted.value),
                }
                after
            }
        };
        let (after, more) = after_parameter(
            after_value,
            "';' between parameters, ',' before the next category, or the end of the value",
        )?;
        rest = after;
        if !more {
            break;
        }
    }
    let Some(scheme) = scheme else {
        return fail(rest, "a scheme=\"...\" parameter");
    };
    let Some(class) = class else {
        return fail(rest, "a class=\"kind|mixin|action\" parameter");
    };
    Ok((
        rest,
        Category {
            term: term.to_owned(),
            scheme,
            class,
            title,
            rel,
            location,
            attributes: attributes.unwrap_or_default(),
            actions: actions.unwrap_or_default(),
        },
    ))
}

fn class_from(word: &str) -> Option<CategoryClass> {
    match word.to_ascii_lowercase().as_str() {
        "kind" => Some(CategoryClass::Kind),
        "mixin" => Some(CategoryClass::Mixin),
        "action" => Some(CategoryClass::Action),
        _ => None,
    }
}

/// GFD.185 allows the class bare as well as quoted.
fn class_value(input: &str) -> Res<'_, CategoryClass> {
    if input.starts_with('"') {
        let (rest, quoted) = quoted_string(input)?;
        return match class_from(&quoted.value) {
            Some(class) => Ok((rest, class)),
            None => fail(quoted.raw, CLASS_VALUE),
        };
    }
    let (rest, word) = take_while(|c: char| c.is_ascii_alphabetic()).parse(input)?;
    match class_from(word) {
        Some(class) => Ok((rest, class)),
        None => fail(input, CLASS_VALUE),
    }
}

fn check_scheme(scheme: &str) -> Result<(), (usize, Cow<'static, str>)> {
    if scheme.is_empty() {
        return Err((0, Cow::Borrowed("a non-empty scheme URI")));
    }
    match scheme.find(|c: char| c.is_whitespace() || c.is_control()) {
        Some(offset) => Err((offset, Cow::Borrowed("a scheme URI without spaces"))),
        None => Ok(()),
    }
}

/// Attribute names separated by whitespace, each optionally followed by a
/// `{required immutable}`-style property block, which is dropped.
fn attribute_list(input: &str) -> Res<'_, Vec<String>> {
    let (mut rest, _) = ws(input)?;
    let mut names = Vec::new();
    while !rest.is_empty() {
        let (after_name, name) = attribute_name(rest)?;
        let after_props = match after_name.strip_prefix('{') {
            Some(inside) => {
                let (after, _) = take_while(|c: char| c != '{' && c != '}').parse(inside)?;
                match after.strip_prefix('}') {
                    Some(after) => after,
                    None => return fail(after, "'}' closing the attribute properties"),
                }
            }
            None => after_name,
        };
        names.push(name.to_owned());
        let (after_space, space) = ws(after_props)?;
        if space.is_empty() && !after_space.is_empty() {
            return fail(after_space, "a space between attribute names");
        }
        rest = after_space;
    }
    Ok((rest, names))
}

/// Action type identifiers (`scheme#term`) separated by whitespace.
fn action_list(input: &str) -> Result<Vec<String>, (usize, Cow<'static, str>)> {
    let mut actions = Vec::new();
    let mut offset = 0;
    for piece in input.split_inclusive(is_ows) {
        let token = piece.trim_end_matches(is_ows);
        if !token.is_empty() {
            let valid = token
                .rsplit_once('#')
                .is_some_and(|(scheme, term)| !scheme.is_empty() && is_term(term));
            if !valid {
                return Err((
                    offset,
                    Cow::Borrowed("an action type identifier 'scheme#term'"),
                ));
            }
            actions.push(token.to_owned());
        }
        offset += piece.len();
    }
    Ok(actions)
}

// ---------------------------------------------------------------------------
// X-OCCI-Attribute

fn attributes_value(input: &str) -> Res<'_, Vec<Attribute>> {
    comma_list(
        input,
        attribute,
        "',' between attributes or the end of the value",
    )
}

fn attribute(input: &str) -> Res<'_, Attribute> {
    let (rest, name) = attribute_name(input)?;
    let (rest, _) = ws(rest)?;
    let (rest, _) = expect(char('='), "'=' after the attribute name")(rest)?;
    let (rest, _) = ws(rest)?;
    let (rest, value) = attribute_value(rest)?;
    Ok((
        rest,
        Attribute {
            name: name.to_owned(),
            value,
        },
    ))
}

// ---------------------------------------------------------------------------
// Link

fn links_value(input: &str) -> Res<'_, Vec<Link>> {
    comma_list(input, link, "',' between links or the end of the value")
}

fn is_uri_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | '"' | ',')
}

fn link(input: &str) -> Res<'_, Link> {
    let (rest, _) = expect(char('<'), "'<' opening the link target")(input)?;
    let (rest, target) = expect(
        take_while1(|c: char| is_uri_char(c) || c == ','),
        "the link target URI",
    )(rest)?;
    let (rest, _) = expect(char('>'), "'>' closing the link target")(rest)?;
    let (rest, _) = ws(rest)?;
    let (mut rest, _) = expect(char(';'), "';' after the link target")(rest)?;

    let mut rel = None;
    let mut self_location = None;
    let mut category = None;
    let mut attributes = Vec::new();
    loop {
        let (here, _) = ws(rest)?;
        if at_element_end(here) {
            rest = here;
            break;
        }
        let (after_name, name) = expect(
            attribute_name,
            "a parameter name (rel, self, category or an attribute name)",
        )(here)?;
        let (after_eq, _) = ws(after_name)?;
        let (after_eq, _) = expect(char('='), "'=' after the parameter name")(after_eq)?;
        let (value_at, _) = ws(after_eq)?;
        let lower = name.to_ascii_lowercase();
        let reserved = match lower.as_str() {
            "rel" => Some(&mut rel),
            "self" => Some(&mut self_location),
            "category" => Some(&mut category),
            _ => None,
        };
        let after_value = match reserved {
            Some(slot) => {
                if slot.is_some() {
                    return fail(here, format!("no second {lower} parameter"));
                }
                let (after, quoted) = expect(quoted_string, "a double-quoted value")(value_at)?;
                *slot = Some(quoted.value);
                after
            }
            None => {
                let (after, value) = attribute_value(value_at)?;
                attributes.push(Attribute {
                    name: name.to_owned(),
                    value,
                });
                after
            }
        };
        let (after, more) = after_parameter(
            after_value,
            "';' between parameters, ',' before the next link, or the end of the value",
        )?;
        rest = after;
        if !more {
            break;
        }
    }
    let Some(rel) = rel else {
        return fail(rest, "a rel=\"...\" parameter");
    };
    Ok((
        rest,
        Link {
            target: target.to_owned(),
            rel,
            self_location,
            category,
            attributes,
        },
    ))
}

// ---------------------------------------------------------------------------
// X-OCCI-Location

fn locations_value(input: &str) -> Res<'_, Vec<String>> {
    comma_list(
        input,
        |i| {
            let (rest, uri) = expect(
                take_while1(|c: char| !c.is_whitespace() && !c.is_control() && c != ','),
                "a URI",
            )(i)?;
            Ok((rest, uri.to_owned()))
        },
        "',' between locations or the end of the value (a URI cannot contain spaces)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REAL_ATTRIBUTES: &str = "icclab.disco.components.heat.networkname=\"disco-net\",icclab.disco.components.heat.externalnetworkname=\"public\",icclab.disco.components.heat.masterimage=\"ubuntu-22.04\",icclab.disco.components.heat.slavecount=\"2\",icclab.disco.deployer.username=\"$OS_USERNAME\",icclab.disco.deployer.password=\"$OS_PASSWORD\",icclab.disco.dependencies.inject=\"{'hadoop': '', 'spark': '', 'jupyter': ''}\"";
    const REAL_CATEGORY: &str =
        "disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\";";

    fn string(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.to_owned(),
            value: AttributeValue::String(value.to_owned()),
        }
    }

    fn kind(term: &str, scheme: &str) -> Category {
        Category {
            term: term.to_owned(),
            scheme: scheme.to_owned(),
            class: CategoryClass::Kind,
            title: None,
            rel: None,
            location: None,
            attributes: vec![],
            actions: vec![],
        }
    }

    fn err_of<T: fmt::Debug>(result: Result<T, TextError>) -> TextError {
        match result {
            Ok(v) => panic!("expected an error, parsed {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_the_real_disco_attribute_header() {
        let attributes = parse_attributes(REAL_ATTRIBUTES).unwrap();
        assert_eq!(
            attributes,
            vec![
                string("icclab.disco.components.heat.networkname", "disco-net"),
                string("icclab.disco.components.heat.externalnetworkname", "public"),
                string("icclab.disco.components.heat.masterimage", "ubuntu-22.04"),
                string("icclab.disco.components.heat.slavecount", "2"),
                string("icclab.disco.deployer.username", "$OS_USERNAME"),
                string("icclab.disco.deployer.password", "$OS_PASSWORD"),
                string(
                    "icclab.disco.dependencies.inject",
                    "{'hadoop': '', 'spark': '', 'jupyter': ''}"
                ),
            ]
        );
    }

    #[test]
    fn parses_the_real_disco_category_with_its_trailing_semicolon() {
        assert_eq!(
            parse_categories(REAL_CATEGORY).unwrap(),
            vec![kind("disco", "http://schemas.cloudcomplab.ch/occi/sm#")]
        );
    }

    #[test]
    fn category_renders_canonically() {
        let category = parse_categories(REAL_CATEGORY).unwrap().remove(0);
        assert_eq!(
            category.to_string(),
            "disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\""
        );
        let mut full = category;
        full.title = Some("say \"hi\" \\o/".to_owned());
        full.rel = Some("http://schemas.ogf.org/occi/core#resource".to_owned());
        full.location = Some("/disco/".to_owned());
        full.attributes = vec!["a.b".to_owned(), "c".to_owned()];
        full.actions = vec!["http://x/y#start".to_owned()];
        assert_eq!(
            full.to_string(),
            "disco; scheme=\"http://schemas.cloudcomplab.ch/occi/sm#\"; class=\"kind\"; \
             title=\"say \\\"hi\\\" \\\\o/\"; rel=\"http://schemas.ogf.org/occi/core#resource\"; \
             location=\"/disco/\"; attributes=\"a.b c\"; actions=\"http://x/y#start\""
        );
    }

    #[test]
    fn category_tolerates_whitespace_case_and_a_bare_class() {
        let parsed = parse_categories("  disco ;SCHEME = \"http://s#\" ;  Class=KIND ; ").unwrap();
        assert_eq!(parsed, vec![kind("disco", "http://s#")]);
    }

    #[test]
    fn category_reads_every_optional_parameter() {
        let parsed = parse_categories(
            "compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"; \
             title=\"Compute; the \\\"VM\\\"\"; rel=\"http://schemas.ogf.org/occi/core#resource\"; \
             location=\"/compute/\"; attributes=\"occi.compute.cores{required} occi.compute.speed  \
             occi.core.id{immutable required}\"; \
             actions=\"http://schemas.ogf.org/occi/infrastructure/compute/action#start http://x#stop\"",
        )
        .unwrap();
        assert_eq!(parsed.len(), 1);
        let c = &parsed[0];
        assert_eq!(c.title.as_deref(), Some("Compute; the \"VM\""));
        assert_eq!(c.location.as_deref(), Some("/compute/"));
        assert_eq!(
            c.attributes,
            ["occi.compute.cores", "occi.compute.speed", "occi.core.id"]
        );
        assert_eq!(
            c.actions,
            [
                "http://schemas.ogf.org/occi/infrastructure/compute/action#start",
                "http://x#stop"
            ]
        );
    }

    #[test]
    fn category_header_may_carry_several_categories() {
        let parsed = parse_categories(
            "disco; scheme=\"http://a#\"; class=\"kind\";, shell; scheme=\"http://b#\"; class=mixin,",
        )
        .unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].term, "shell");
        assert_eq!(parsed[1].class, CategoryClass::Mixin);
    }

    #[test]
    fn category_without_scheme_names_the_missing_parameter_at_its_end() {
        let e = err_of(parse_categories("disco; class=\"kind\""));
        assert_eq!(e.position, 20);
        assert_eq!(e.expected, "a scheme=\"...\" parameter");
        assert_eq!(e.found, "end of input");
    }

    #[test]
    fn category_without_class_names_the_missing_parameter() {
        let e = err_of(parse_categories("disco; scheme=\"http://a#\", x"));
        assert_eq!(e.position, 26);
        assert_eq!(e.expected, "a class=\"kind|mixin|action\" parameter");
    }

    #[test]
    fn category_class_error_points_inside_the_quotes() {
        let e = err_of(parse_categories(
            "disco; scheme=\"http://a#\"; class=\"kinds\"",
        ));
        assert_eq!(e.position, 35);
        assert_eq!(e.expected, "class=\"kind|mixin|action\"");
        assert_eq!(e.found, "kinds\"");
    }

    #[test]
    fn category_rejects_unknown_and_repeated_parameters() {
        let e = err_of(parse_categories("disco; scheme=\"a#\"; colour=\"red\""));
        assert_eq!(e.position, 21);
        assert!(e.expected.contains("scheme, class"));
        let e = err_of(parse_categories("disco; scheme=\"a#\"; Scheme=\"b#\""));
        assert_eq!(e.position, 21);
        assert_eq!(e.expected, "no second scheme parameter");
    }

    #[test]
    fn category_rejects_a_bad_term_and_a_missing_semicolon() {
        let e = err_of(parse_categories("-disco; scheme=\"a#\"; class=kind"));
        assert_eq!(
            (e.position, e.found.as_str()),
            (1, "-disco; scheme=\"a#\";")
        );
        let e = err_of(parse_categories("disco scheme=\"a#\""));
        assert_eq!(e.position, 7);
        assert_eq!(e.expected, "';' after the category term");
    }

    #[test]
    fn category_scheme_with_a_space_is_reported_where_the_space_is() {
        let e = err_of(parse_categories("d; scheme=\"http:// x#\"; class=kind"));
        assert_eq!(e.position, 19);
        assert_eq!(e.expected, "a scheme URI without spaces");
    }

    #[test]
    fn category_attribute_list_errors_point_past_escapes() {
        // The `\\` before the bad name is one character in the value but two
        // in the header; the position must count what the user typed.
        let e = err_of(parse_categories(
            "d; scheme=\"s#\"; class=kind; title=\"\\\\\"; attributes=\"ok \\\\bad\"",
        ));
        assert_eq!(e.position, 56);
        assert_eq!(e.found, "\\\\bad\"");
        let e = err_of(parse_categories(
            "d; scheme=\"s#\"; class=kind; attributes=\"a{required\"",
        ));
        assert_eq!(e.expected, "'}' closing the attribute properties");
        assert_eq!(e.position, 51);
    }

    #[test]
    fn category_action_must_be_a_type_identifier() {
        let e = err_of(parse_categories(
            "d; scheme=\"s#\"; class=kind; actions=\"http://x#a nohash\"",
        ));
        assert_eq!(e.position, 49);
        assert_eq!(e.found, "nohash\"");
    }

    #[test]
    fn attribute_value_keeps_commas_inside_quotes() {
        assert_eq!(
            parse_attributes("a=\"x,y=z\", b=\"\"").unwrap(),
            vec![string("a", "x,y=z"), string("b", "")]
        );
    }

    #[test]
    fn attribute_value_escapes_newlines_so_a_private_key_fits_in_one_header() {
        let key = "-----BEGIN KEY-----\nabc\r\n\tdef\n-----END KEY-----\n";
        let rendered = string("ssh_private_key", key).to_string();
        assert!(!rendered.contains(['\n', '\r', '\t']), "{rendered}");
        assert_eq!(
            parse_attributes(&rendered).unwrap(),
            vec![string("ssh_private_key", key)]
        );
    }

    #[test]
    fn attribute_value_keeps_single_quotes_and_unknown_escapes() {
        assert_eq!(
            parse_attributes(r#"path="C:\data\x 'x'", q="say \"hi\" \\ bye""#).unwrap(),
            vec![
                string("path", r"C:\data\x 'x'"),
                string("q", r#"say "hi" \ bye"#)
            ]
        );
    }

    #[test]
    fn attribute_unquoted_values_are_typed() {
        let values: Vec<_> = parse_attributes(
            "a=42, b=-7, c=+3, d=2.5, e=-1e-3, f=.5, g=6., h=1E10, i=true, j=false",
        )
        .unwrap()
        .into_iter()
        .map(|a| a.value)
        .collect();
        use AttributeValue::*;
        assert_eq!(
            values,
            vec![
                Integer(42),
                Integer(-7),
                Integer(3),
                Float(2.5),
                Float(-1e-3),
                Float(0.5),
                Float(6.0),
                Float(1e10),
                Bool(true),
                Bool(false)
            ]
        );
    }

    #[test]
    fn attribute_unquoted_word_is_rejected_saying_strings_must_be_quoted() {
        let e = err_of(parse_attributes("a.b=\"x\", c=disco-net"));
        assert_eq!(e.position, 12);
        assert!(e.expected.contains("strings must be double-quoted"));
        assert_eq!(e.found, "disco-net");
        for word in ["True", "nan", "inf", "1.2.3", "0x10", "'x'"] {
            assert!(parse_attributes(&format!("a={word}")).is_err(), "{word}");
        }
    }

    #[test]
    fn attribute_missing_equals_is_reported_at_the_exact_character() {
        let e = err_of(parse_attributes(
            "icclab.disco.components.heat.slavecount abc",
        ));
        assert_eq!(e.position, 41);
        assert_eq!(
            e.to_string(),
            "X-OCCI-Attribute: at character 41: expected '=' after the attribute name, found \"abc\""
        );
    }

    #[test]
    fn attribute_error_position_counts_characters_not_bytes() {
        let e = err_of(parse_attributes("a=\"ünïcödé\", b c"));
        assert_eq!(e.position, 16);
    }

    #[test]
    fn attribute_unclosed_quote_is_reported_at_the_end() {
        let e = err_of(parse_attributes("a=\"abc\\\""));
        assert_eq!(e.position, 9);
        assert_eq!(e.expected, "a closing '\"'");
        assert_eq!(
            e.to_string(),
            "X-OCCI-Attribute: at character 9: expected a closing '\"', found end of input"
        );
    }

    #[test]
    fn attribute_rejects_overflow_infinity_and_empty_values() {
        let e = err_of(parse_attributes("n=9223372036854775808"));
        assert_eq!(e.position, 3);
        assert!(e.expected.starts_with("an integer between"));
        assert_eq!(
            parse_attributes("n=-9223372036854775808").unwrap()[0].value,
            AttributeValue::Integer(i64::MIN)
        );
        let e = err_of(parse_attributes("x=1e999"));
        assert_eq!(e.expected, "a finite number");
        let e = err_of(parse_attributes("x= , y=1"));
        assert_eq!(e.position, 4);
    }

    #[test]
    fn attribute_list_tolerates_whitespace_and_a_trailing_comma() {
        assert_eq!(
            parse_attributes(" a = 1 ,\tb=\"2\" , ").unwrap(),
            vec![
                Attribute {
                    name: "a".into(),
                    value: AttributeValue::Integer(1)
                },
                string("b", "2")
            ]
        );
        assert!(parse_attributes("a=1,,b=2").is_err());
        assert!(parse_attributes("").is_err());
    }

    #[test]
    fn attribute_names_follow_the_dotted_grammar() {
        let e = err_of(parse_attributes("occi..x=1"));
        assert_eq!(
            (e.position, e.expected.as_str()),
            (6, "a name part after '.'")
        );
        let e = err_of(parse_attributes("9lives=1"));
        assert_eq!(e.position, 1);
        assert!(parse_attributes("_a-b.c_d-9=1").is_ok());
    }

    #[test]
    fn attribute_floats_render_so_that_they_parse_back() {
        for x in [
            1.0,
            0.1,
            1e16,
            1e-7,
            -0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let a = Attribute {
                name: "x".into(),
                value: AttributeValue::Float(x),
            };
            assert_eq!(parse_attributes(&a.to_string()).unwrap(), vec![a]);
        }
        assert_eq!(AttributeValue::Float(3.0).to_string(), "3.0");
    }

    #[test]
    fn attribute_non_finite_floats_render_as_quoted_strings() {
        assert_eq!(AttributeValue::Float(f64::NAN).to_string(), "\"NaN\"");
        assert_eq!(AttributeValue::Float(f64::INFINITY).to_string(), "\"inf\"");
        assert_eq!(
            AttributeValue::Float(f64::NEG_INFINITY).to_string(),
            "\"-inf\""
        );
    }

    #[test]
    fn link_reads_target_rel_self_category_and_attributes() {
        let links = parse_links(
            "</network/123>; rel=\"http://schemas.ogf.org/occi/infrastructure#network\"; \
             self=\"/link/networkinterface/456\"; \
             category=\"http://schemas.ogf.org/occi/infrastructure#networkinterface\"; \
             occi.networkinterface.interface=\"eth0\"; occi.x.mtu=1500;",
        )
        .unwrap();
        assert_eq!(
            links,
            vec![Link {
                target: "/network/123".into(),
                rel: "http://schemas.ogf.org/occi/infrastructure#network".into(),
                self_location: Some("/link/networkinterface/456".into()),
                category: Some(
                    "http://schemas.ogf.org/occi/infrastructure#networkinterface".into()
                ),
                attributes: vec![
                    string("occi.networkinterface.interface", "eth0"),
                    Attribute {
                        name: "occi.x.mtu".into(),
                        value: AttributeValue::Integer(1500)
                    }
                ],
            }]
        );
        assert_eq!(
            links[0].to_string(),
            "</network/123>; rel=\"http://schemas.ogf.org/occi/infrastructure#network\"; \
             self=\"/link/networkinterface/456\"; \
             category=\"http://schemas.ogf.org/occi/infrastructure#networkinterface\"; \
             occi.networkinterface.interface=\"eth0\"; occi.x.mtu=1500"
        );
    }

    #[test]
    fn link_requires_brackets_and_rel() {
        let e = err_of(parse_links("/x; rel=\"a#b\""));
        assert_eq!(
            (e.position, e.expected.as_str()),
            (1, "'<' opening the link target")
        );
        let e = err_of(parse_links("</x; rel=\"a#b\""));
        assert_eq!(
            (e.position, e.expected.as_str()),
            (5, "'>' closing the link target")
        );
        let e = err_of(parse_links("</x>; self=\"/l\""));
        assert_eq!(
            (e.position, e.expected.as_str()),
            (16, "a rel=\"...\" parameter")
        );
        let e = err_of(parse_links("</x>; rel=a#b"));
        assert_eq!(
            (e.position, e.expected.as_str()),
            (11, "a double-quoted value")
        );
    }

    #[test]
    fn locations_are_split_on_commas_and_trimmed() {
        assert_eq!(
            parse_locations(" /disco/1 ,http://h/disco/2,\t/x?a=b&c=d , ").unwrap(),
            vec!["/disco/1", "http://h/disco/2", "/x?a=b&c=d"]
        );
        let e = err_of(parse_locations("/a b"));
        assert_eq!(e.position, 4);
        assert!(parse_locations(" ").is_err());
    }

    #[test]
    fn plain_body_collects_every_header_case_insensitively() {
        let body = format!(
            "\r\nCATEGORY: {REAL_CATEGORY}\r\n\r\nx-occi-attribute: a=1\r\nX-OCCI-Attribute: b=\"two\"\n\
             link: </x>; rel=\"a#b\"\nX-OCCI-Location: /p, /q\n  \n"
        );
        let request = parse_plain_body(&body).unwrap();
        assert_eq!(request.categories.len(), 1);
        assert_eq!(request.attributes.len(), 2);
        assert_eq!(request.links.len(), 1);
        assert_eq!(request.locations, ["/p", "/q"]);
        assert_eq!(parse_plain_body("").unwrap(), TextRequest::default());
    }

    #[test]
    fn plain_body_names_an_unknown_header() {
        let e = err_of(parse_plain_body(
            "Category: d; scheme=\"s#\"; class=kind\nContent-Type: text/plain",
        ));
        assert_eq!(e.line, Some(2));
        assert_eq!(e.position, 1);
        assert_eq!(e.found, "Content-Type");
        assert_eq!(
            e.to_string(),
            "text/plain body: at line 2, character 1: expected a header named Category, \
             X-OCCI-Attribute, Link or X-OCCI-Location, found \"Content-Type\""
        );
    }

    #[test]
    fn plain_body_errors_carry_line_and_column_in_that_line() {
        let e = err_of(parse_plain_body(
            "\nX-OCCI-Attribute: a=1\nX-OCCI-Attribute: b=oops\n",
        ));
        assert_eq!(
            (e.field, e.line, e.position),
            ("X-OCCI-Attribute", Some(3), 21)
        );
        let e = err_of(parse_plain_body("Category d; scheme=\"http://x#\""));
        assert_eq!((e.field, e.position), ("Category", 10));
        assert_eq!(e.expected, "':' after the header name");
    }

    #[test]
    fn error_snippet_is_at_most_twenty_characters() {
        let e = err_of(parse_attributes("a=this_is_a_very_long_unquoted_word"));
        assert_eq!(e.found.chars().count(), 20);
    }

    // ---- properties

    fn name_strategy() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,6}(\\.[A-Za-z_][A-Za-z0-9_-]{0,6}){0,3}"
    }

    fn value_strategy() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            any::<String>().prop_map(AttributeValue::String),
            any::<i64>().prop_map(AttributeValue::Integer),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(AttributeValue::Float),
            any::<bool>().prop_map(AttributeValue::Bool),
        ]
    }

    fn attribute_strategy() -> impl Strategy<Value = Attribute> {
        (name_strategy(), value_strategy()).prop_map(|(name, value)| Attribute { name, value })
    }

    fn category_strategy() -> impl Strategy<Value = Category> {
        let scheme = "[a-z]{1,6}://[a-z.]{1,10}(/[a-z0-9_~%-]{0,6}){0,3}#";
        (
            "[A-Za-z0-9][A-Za-z0-9._-]{0,10}",
            scheme,
            prop_oneof![
                Just(CategoryClass::Kind),
                Just(CategoryClass::Mixin),
                Just(CategoryClass::Action)
            ],
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
            proptest::collection::vec(name_strategy(), 0..4),
            proptest::collection::vec((scheme, "[a-z0-9][a-z0-9_-]{0,6}"), 0..3),
        )
            .prop_map(
                |(term, scheme, class, title, rel, location, attributes, actions)| Category {
                    term,
                    scheme,
                    class,
                    title,
                    rel,
                    location,
                    attributes,
                    actions: actions.into_iter().map(|(s, t)| s + &t).collect(),
                },
            )
    }

    fn link_strategy() -> impl Strategy<Value = Link> {
        (
            "(/[a-z0-9._~%?=&-]{1,8}){1,3}",
            any::<String>(),
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
            proptest::collection::vec(
                attribute_strategy().prop_filter("not a reserved name", |a| {
                    !matches!(
                        a.name.to_ascii_lowercase().as_str(),
                        "rel" | "self" | "category"
                    )
                }),
                0..4,
            ),
        )
            .prop_map(|(target, rel, self_location, category, attributes)| Link {
                target,
                rel,
                self_location,
                category,
                attributes,
            })
    }

    /// Strings made of the grammar's own punctuation reach far deeper into
    /// the parser than arbitrary unicode does.
    fn grammar_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("<"),
                Just(">"),
                Just(";"),
                Just(","),
                Just("="),
                Just("\""),
                Just("\\"),
                Just(" "),
                Just("{"),
                Just("}"),
                Just("#"),
                Just("."),
                Just("scheme"),
                Just("class"),
                Just("kind"),
                Just("rel"),
                Just("a"),
                Just("attributes"),
                Just("actions"),
                Just("1"),
                Just("e"),
                Just("-"),
                Just("true"),
                Just("é"),
                Just("\r\n"),
                Just("Category:"),
                Just("X-OCCI-Attribute:"),
                Just("Link:"),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    fn parse_everything(input: &str) {
        let _ = parse_categories(input);
        let _ = parse_attributes(input);
        let _ = parse_links(input);
        let _ = parse_locations(input);
        let _ = parse_plain_body(input);
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_unicode(input in any::<String>()) {
            parse_everything(&input);
        }

        #[test]
        fn parsers_never_panic_on_grammar_fragments(input in grammar_soup()) {
            parse_everything(&input);
        }

        #[test]
        fn errors_point_inside_the_input_or_just_past_it(input in grammar_soup()) {
            if let Err(e) = parse_categories(&input) {
                prop_assert!(e.position >= 1 && e.position <= input.chars().count() + 1);
            }
            if let Err(e) = parse_attributes(&input) {
                prop_assert!(e.position >= 1 && e.position <= input.chars().count() + 1);
            }
        }

        #[test]
        fn category_round_trips_through_its_rendering(categories in proptest::collection::vec(category_strategy(), 1..3)) {
            let rendered: Vec<String> = categories.iter().map(ToString::to_string).collect();
            prop_assert_eq!(parse_categories(&rendered.join(", ")).unwrap(), categories);
        }

        #[test]
        fn attribute_round_trips_through_its_rendering(attributes in proptest::collection::vec(attribute_strategy(), 1..5)) {
            let rendered: Vec<String> = attributes.iter().map(ToString::to_string).collect();
            prop_assert_eq!(parse_attributes(&rendered.join(",")).unwrap(), attributes);
        }

        #[test]
        fn link_round_trips_through_its_rendering(links in proptest::collection::vec(link_strategy(), 1..3)) {
            let rendered: Vec<String> = links.iter().map(ToString::to_string).collect();
            prop_assert_eq!(parse_links(&rendered.join(", ")).unwrap(), links);
        }
    }
}
