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
//!   escaped, and any other control character or line separator as `\u{1b}`
//!   (which parses back as that text, not the character: a create refuses
//!   them, so only a value stored before it did holds one), so every rendered
//!   value is one line and a valid header value.
//! - Floats render through `{:?}`, which always carries a `.` or an exponent,
//!   so they parse back as the same `f64`. NaN and infinities cannot be
//!   written in the grammar (the parser rejects them), so they render as the
//!   quoted strings `"NaN"`, `"inf"` and `"-inf"`.
//!
//! The pieces: `lex` (whitespace, quoted strings, names, lists, and turning
//! a parse failure into a [`TextError`]), `category` (the `Category`
//! value), `attribute` (the `X-OCCI-Attribute`, `Link` and `X-OCCI-Location`
//! values) and `render` (the canonical `Display` forms).

mod attribute;
mod category;
mod lex;
mod render;
#[cfg(test)]
mod testing;

use std::fmt;

pub use render::OcciValue;

use crate::domain::Scalar;

use attribute::{attributes_value, links_value, locations_value};
use category::categories_value;
use lex::{error_at, is_ows, is_tchar, run};

/// Which of the three OCCI category types a `Category` value describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CategoryClass {
    Kind,
    Mixin,
    Action,
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

/// One `name=value` pair: the typed value of an `X-OCCI-Attribute` (or link
/// attribute) is the service's one scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: Scalar,
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

/// Whether `name` is an attribute name of the grammar (parts of letters, digits, `_`
/// and `-`, separated by `.`): the JSON rendering's names are held to it too.
pub fn is_attribute_name(name: &str) -> bool {
    matches!(lex::attribute_name(name), Ok(("", _)))
}

/// Whether `scheme` and `term` make a category identifier of the grammar: the JSON
/// rendering's `kind` and `mixins` are held to it too.
pub fn is_category_id(scheme: &str, term: &str) -> bool {
    category::is_term(term) && category::check_scheme(scheme).is_ok()
}

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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{REAL_CATEGORY, err_of};
    use super::{
        TextRequest, parse_attributes, parse_categories, parse_links, parse_locations,
        parse_plain_body,
    };

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
    }
}
