//! The literal's scalars: strings and their escapes, numbers, and the
//! names Python allows in a literal (`True`, `False`, `None` and the empty
//! `set()`); any other name is refused where it starts.

use nom::{
    Parser,
    branch::alt,
    bytes::complete::{take_while_m_n, take_while1},
    character::complete::{char, digit0, digit1, one_of},
    combinator::{opt, recognize},
};

use super::{A_VALUE, Node, PyValue, Res, ws};
use crate::parsing::fail;

pub(crate) fn py_string(input: &str) -> Res<'_, String> {
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

pub(crate) fn number(input: &str) -> Res<'_, PyValue> {
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

pub(crate) fn name(input: &str) -> Res<'_, Node> {
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

#[cfg(test)]
mod tests {
    use crate::frameworks::inject::testing::err_of;
    use crate::frameworks::inject::{PyValue, parse_inject, parse_literal};

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
    fn literal_rejects_unsupported_set_calls() {
        let e = err_of(parse_literal("set(['a'])"));
        assert_eq!(
            (e.position, e.message.as_str()),
            (5, "expected ')': only the empty set() is allowed")
        );
        let e = err_of(parse_literal("set"));
        assert_eq!(e.position, 1);
    }
}
