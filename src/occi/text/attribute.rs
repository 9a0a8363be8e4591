//! The `X-OCCI-Attribute`, `Link` and `X-OCCI-Location` header values.
//! They share the typed attribute value (a quoted string, integer, float or
//! bool), which a link also carries for its own attributes, and a location
//! is a bare URI.

use nom::{
    Parser,
    branch::alt,
    bytes::complete::{take_while, take_while1},
    character::complete::{char, digit0, digit1, one_of},
    combinator::{opt, recognize},
    error::{ErrorKind, ParseError},
};

use super::lex::{
    PErr, Res, after_parameter, at_element_end, attribute_name, comma_list, expect, is_ows,
    quoted_string, ws,
};
use super::{Attribute, AttributeValue, Link};
use crate::parsing::fail;

// ---------------------------------------------------------------------------
// Attribute values

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
// X-OCCI-Attribute

pub(crate) fn attributes_value(input: &str) -> Res<'_, Vec<Attribute>> {
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

pub(crate) fn links_value(input: &str) -> Res<'_, Vec<Link>> {
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

pub(crate) fn locations_value(input: &str) -> Res<'_, Vec<String>> {
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
    use crate::occi::text::testing::{err_of, string};
    use crate::occi::text::{
        Attribute, AttributeValue, Link, parse_attributes, parse_links, parse_locations,
    };

    const REAL_ATTRIBUTES: &str = "icclab.disco.components.heat.networkname=\"disco-net\",icclab.disco.components.heat.externalnetworkname=\"public\",icclab.disco.components.heat.masterimage=\"ubuntu-22.04\",icclab.disco.components.heat.slavecount=\"2\",icclab.disco.deployer.username=\"$OS_USERNAME\",icclab.disco.deployer.password=\"$OS_PASSWORD\",icclab.disco.dependencies.inject=\"{'hadoop': '', 'spark': '', 'jupyter': ''}\"";

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
}
