//! The `Category` header value: one or more categories, each a term and
//! its `scheme`, `class`, `title`, `rel`, `location`, `attributes` and
//! `actions` parameters.

use std::borrow::Cow;

use nom::{
    Parser,
    bytes::complete::{take_while, take_while1},
    character::complete::{char, satisfy},
    combinator::recognize,
};

use super::lex::{
    Res, after_parameter, at_element_end, attribute_name, comma_list, complete_in, expect, is_ows,
    quoted_string, within_quoted, ws,
};
use super::{Category, CategoryClass};
use crate::parsing::fail;

const CATEGORY_PARAMETER: &str =
    "a parameter named scheme, class, title, rel, location, attributes or actions";
const CLASS_VALUE: &str = "class=\"kind|mixin|action\"";

pub(crate) fn categories_value(input: &str) -> Res<'_, Vec<Category>> {
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

fn term(input: &str) -> Res<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphanumeric()),
        take_while(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
    ))
    .parse(input)
}

pub(super) fn is_term(s: &str) -> bool {
    matches!(term(s), Ok((rest, _)) if rest.is_empty())
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

pub(super) fn check_scheme(scheme: &str) -> Result<(), (usize, Cow<'static, str>)> {
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

#[cfg(test)]
mod tests {
    use crate::occi::text::testing::{REAL_CATEGORY, err_of};
    use crate::occi::text::{Category, CategoryClass, parse_categories};

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

    #[test]
    fn parses_the_real_disco_category_with_its_trailing_semicolon() {
        assert_eq!(
            parse_categories(REAL_CATEGORY).unwrap(),
            vec![kind("disco", "http://schemas.cloudcomplab.ch/occi/sm#")]
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
}
