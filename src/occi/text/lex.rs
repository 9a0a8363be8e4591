//! The lexical layer of the OCCI text rendering, shared by every header
//! parser: whitespace, header-name characters, quoted strings (and mapping a
//! place in a decoded value back to what the user typed), dotted attribute
//! names, comma-separated lists and `;`-separated parameters, and running a
//! parser over a header value into a [`TextError`] that points at a character.

use std::borrow::Cow;

use nom::{
    Parser,
    bytes::complete::take_while,
    character::complete::{char, satisfy},
    combinator::recognize,
};

use super::{END_OF_INPUT, SNIPPET_CHARS, TextError};
use crate::parsing::{self, Wording, column, fail, offset_in};

/// The OCCI errors say "expected" themselves, so these are what was expected.
pub(crate) enum TextWording {}

impl Wording for TextWording {
    const UNLABELLED: &'static str = "valid input";
    const INCOMPLETE: &'static str = "more input";
}

pub(crate) type PErr<'a> = parsing::PErr<'a, TextWording>;
pub(crate) type Res<'a, O> = parsing::Res<'a, O, TextWording>;

/// Turns a recoverable failure of `parser` into a committed one that says
/// what was expected at the place `parser` started.
pub(crate) fn expect<'a, O, P>(
    mut parser: P,
    expected: &'static str,
) -> impl FnMut(&'a str) -> Res<'a, O>
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

/// Parses `value`, the tail of `base` (a header value or a body line), and
/// points an error at its character in `base`, which is what the user sees.
pub(crate) fn run<'a, T>(
    field: &'static str,
    base: &'a str,
    value: &'a str,
    line: Option<usize>,
    parser: fn(&'a str) -> Res<'a, T>,
) -> Result<T, TextError> {
    parsing::finish(value, parser)
        .map_err(|e| error_at(field, base, e.at, e.message.into_owned(), line))
}

pub(crate) fn error_at(
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

pub(crate) fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 token characters, which is what a header name is made of.
pub(crate) fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

pub(crate) fn ws(input: &str) -> Res<'_, &str> {
    take_while(is_ows).parse(input)
}

/// Parses `item (',' item)*` up to the end of the value, allowing a
/// trailing comma. Items must fail with `Failure` once they have started.
pub(crate) fn comma_list<'a, T>(
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
pub(crate) fn after_parameter<'a>(input: &'a str, expected: &'static str) -> Res<'a, bool> {
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
pub(crate) fn at_element_end(input: &str) -> bool {
    input.is_empty() || input.starts_with(',')
}

/// A quoted string: its decoded value and the raw text between the quotes,
/// which is kept so errors inside the value can point into the original.
pub(crate) struct QuotedString<'a> {
    pub(crate) value: String,
    pub(crate) raw: &'a str,
}

pub(crate) fn quoted_string(input: &str) -> Res<'_, QuotedString<'_>> {
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
pub(crate) fn within_quoted<'a, T>(
    quoted: &QuotedString<'a>,
    check: impl for<'b> FnOnce(&'b str) -> Result<T, (usize, Cow<'static, str>)>,
) -> Result<T, nom::Err<PErr<'a>>> {
    check(&quoted.value).map_err(|(offset, expected)| {
        nom::Err::Failure(PErr::new(raw_at(quoted.raw, offset), expected))
    })
}

/// Runs a nom parser to completion on a decoded value and reports an error
/// as (offset in the decoded value, expected).
pub(crate) fn complete_in<'b, T>(
    decoded: &'b str,
    parser: impl FnOnce(&'b str) -> Res<'b, T>,
) -> Result<T, (usize, Cow<'static, str>)> {
    parsing::finish(decoded, parser).map_err(|e| (offset_in(decoded, e.at), e.message))
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

pub(crate) fn attribute_name(input: &str) -> Res<'_, &str> {
    let (mut rest, _) = expect(name_component, ATTRIBUTE_NAME)(input)?;
    while let Some(after_dot) = rest.strip_prefix('.') {
        let (next, _) = expect(name_component, "a name part after '.'")(after_dot)?;
        rest = next;
    }
    let consumed = input.len().saturating_sub(rest.len());
    Ok((rest, input.get(..consumed).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use crate::occi::text::testing::{err_of, string};
    use crate::occi::text::{Attribute, AttributeValue, parse_attributes};

    #[test]
    fn attribute_value_keeps_commas_inside_quotes() {
        assert_eq!(
            parse_attributes("a=\"x,y=z\", b=\"\"").unwrap(),
            vec![string("a", "x,y=z"), string("b", "")]
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
    fn attribute_error_position_counts_characters_not_bytes() {
        let e = err_of(parse_attributes("a=\"ünïcödé\", b c"));
        assert_eq!(e.position, 16);
    }

    #[test]
    fn error_snippet_is_at_most_twenty_characters() {
        let e = err_of(parse_attributes("a=this_is_a_very_long_unquoted_word"));
        assert_eq!(e.found.chars().count(), 20);
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
}
