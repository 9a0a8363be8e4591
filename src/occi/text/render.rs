//! The canonical text rendering: `Display` for categories, attribute
//! values, attributes and links, written so that every value is one line,
//! a valid header value, and parses back as the same value.

use std::fmt;

use super::{Attribute, Category, CategoryClass, Link};
use crate::domain::Scalar;
use crate::domain::text::is_refused;

impl fmt::Display for CategoryClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CategoryClass::Kind => "kind",
            CategoryClass::Mixin => "mixin",
            CategoryClass::Action => "action",
        })
    }
}

/// Writes `s` as an HTTP quoted-string in the only escaping the parser undoes. Any other
/// control character or line separator (which a create refuses, but a value stored before
/// it did may hold) is written as `\u{1b}`: not read back as the character, but never a
/// header value that cannot be sent nor a terminal escape in a `text/plain` body.
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
                c if is_refused(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
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

/// A value as OCCI's text rendering writes it: strings quoted and escaped, floats
/// always with '.' or an exponent, so that the parser reads back the same value.
pub struct OcciValue<'a>(pub &'a Scalar);

impl fmt::Display for OcciValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Scalar::String(s) => write!(f, "{}", Quoted(s)),
            Scalar::Integer(n) => write!(f, "{n}"),
            // `{:?}` always includes '.' or an exponent and is the shortest
            // form that reads back as the same f64.
            Scalar::Float(x) if x.is_finite() => write!(f, "{x:?}"),
            Scalar::Float(x) => write!(f, "{}", Quoted(&format!("{x}"))),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, OcciValue(&self.value))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::OcciValue;
    use crate::domain::Scalar;
    use crate::domain::text::is_refused;
    use crate::occi::text::testing::{REAL_CATEGORY, string};
    use crate::occi::text::{
        Attribute, Category, CategoryClass, Link, parse_attributes, parse_categories, parse_links,
    };

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
    fn other_control_characters_and_separators_render_escaped_on_one_line() {
        let stored = "a\0b\u{1b}]0;title\u{7}c\u{7f}d\u{85}e\u{2028}f";
        let rendered = string("icclab.disco.name", stored).to_string();
        assert_eq!(
            rendered,
            r#"icclab.disco.name="a\u{0}b\u{1b}]0;title\u{7}c\u{7f}d\u{85}e\u{2028}f""#
        );
        assert!(
            actix_web::http::header::HeaderValue::from_str(&rendered).is_ok(),
            "a valid header value"
        );
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
                value: Scalar::Float(x),
            };
            assert_eq!(parse_attributes(&a.to_string()).unwrap(), vec![a]);
        }
        assert_eq!(OcciValue(&Scalar::Float(3.0)).to_string(), "3.0");
    }

    #[test]
    fn attribute_non_finite_floats_render_as_quoted_strings() {
        assert_eq!(OcciValue(&Scalar::Float(f64::NAN)).to_string(), "\"NaN\"");
        assert_eq!(
            OcciValue(&Scalar::Float(f64::INFINITY)).to_string(),
            "\"inf\""
        );
        assert_eq!(
            OcciValue(&Scalar::Float(f64::NEG_INFINITY)).to_string(),
            "\"-inf\""
        );
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,6}(\\.[A-Za-z_][A-Za-z0-9_-]{0,6}){0,3}"
    }

    /// Any text a create accepts, and the three controls the grammar escapes.
    fn text_strategy() -> impl Strategy<Value = String> {
        any::<String>().prop_map(|s| {
            s.chars()
                .filter(|c| !is_refused(*c) || matches!(c, '\n' | '\r' | '\t'))
                .collect()
        })
    }

    fn value_strategy() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            text_strategy().prop_map(Scalar::String),
            any::<i64>().prop_map(Scalar::Integer),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(Scalar::Float),
            any::<bool>().prop_map(Scalar::Bool),
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
            proptest::option::of(text_strategy()),
            proptest::option::of(text_strategy()),
            proptest::option::of(text_strategy()),
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
            text_strategy(),
            proptest::option::of(text_strategy()),
            proptest::option::of(text_strategy()),
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

    proptest! {
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
