//! The check of a create request's attributes against the manifest: each given attribute
//! must be known, settable by a request, given once and of its type; the defaults fill in
//! what was not given and a required attribute without one is missing. Every problem is
//! found and counted, each naming its attribute; a reason shows the first few of them, a
//! name or a value only as an escaped excerpt, and a secret's value never.
//!
//! A request is as large as its client likes (a header of 30,000 names), and its refusal
//! must not be larger: the reason holds `SHOWN` problems and the count of the others, and
//! only those shown are given a suggestion.

use std::collections::{BTreeMap, BTreeSet};

use super::{AttributeSpec, Manifest, SetBy};
use crate::domain::Scalar;
use crate::domain::text::{EXCERPT_CHARS, code_point, first_refused, quoted_excerpt};
use crate::occi::text::Attribute;

/// How many problems a reason shows; the others are counted.
pub const SHOWN: usize = 10;

/// A name longer than this is no misspelling of an attribute's: no suggestion is looked
/// for (the comparison costs the product of the lengths).
const SUGGESTED_NAME_CHARS: usize = 128;

/// Why a request's attributes were refused; each names the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("{}: unknown attribute of kind {kind}{hint}", shown(name))]
    Unknown {
        name: String,
        kind: String,
        hint: String,
    },
    #[error("{}: set by the service, a request cannot set it", shown(name))]
    ReadOnly { name: String },
    #[error("{}: given more than once", shown(name))]
    Duplicate { name: String },
    #[error("{}: expected {expected}, got {got}", shown(name))]
    Invalid {
        name: String,
        expected: String,
        got: String,
    },
    #[error("{}: required attribute is missing ({expected})", shown(name))]
    Missing { name: String, expected: String },
}

/// What a string attribute may not hold, in words.
const WITHOUT_CONTROLS: &str =
    "text without control characters (C0, DEL, C1) or line and paragraph separators";

/// A name as a reason shows it: as given when it is a short name of the grammar's
/// characters, else an escaped, quoted excerpt.
fn shown(name: &str) -> String {
    let plain = name.chars().count() <= EXCERPT_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if plain {
        name.to_string()
    } else {
        quoted_excerpt(name)
    }
}

/// A request's attributes after the manifest's check: every user attribute with a
/// default is present, every value has its attribute's type.
#[derive(Debug, Clone, Default)]
pub struct CheckedAttributes {
    values: BTreeMap<String, Scalar>,
    secret: BTreeSet<String>,
}

impl CheckedAttributes {
    pub fn get(&self, name: &str) -> Option<&Scalar> {
        self.values.get(name)
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Scalar::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.contains(name)
    }

    /// Every attribute, secrets included: for building the spec, never for rendering.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Scalar)> {
        self.values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    /// The attributes that may be stored and shown.
    pub fn public(&self) -> BTreeMap<String, Scalar> {
        self.values
            .iter()
            .filter(|(name, _)| !self.secret.contains(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

impl Manifest {
    /// Checks a request's attributes: every problem found is returned, in the order given.
    pub fn check_request(
        &self,
        given: &[Attribute],
    ) -> Result<CheckedAttributes, Vec<AttributeError>> {
        self.check_request_with(given, &[])
    }

    /// As `check_request`, where the request gave the attributes named in `provided` by
    /// other means (the dashboard's component checkboxes for `inject`): they are not
    /// missing.
    pub fn check_request_with(
        &self,
        given: &[Attribute],
        provided: &[&str],
    ) -> Result<CheckedAttributes, Vec<AttributeError>> {
        let mut errors = Vec::new();
        let mut checked = CheckedAttributes::default();
        for attribute in given {
            let name = attribute.name.as_str();
            let Some(spec) = self.attribute(name) else {
                // Past the problems a reason shows, a suggestion would never be read.
                let hint = if errors.len() < SHOWN {
                    self.hint_for(name)
                } else {
                    String::new()
                };
                errors.push(AttributeError::Unknown {
                    name: name.to_string(),
                    kind: self.kind.term.clone(),
                    hint,
                });
                continue;
            };
            if spec.set_by == SetBy::Service {
                errors.push(AttributeError::ReadOnly {
                    name: name.to_string(),
                });
                continue;
            }
            if checked.values.contains_key(name) {
                errors.push(AttributeError::Duplicate {
                    name: name.to_string(),
                });
                continue;
            }
            if let Scalar::String(text) = &attribute.value
                && let Some((at, c)) = first_refused(text)
            {
                errors.push(AttributeError::Invalid {
                    name: name.to_string(),
                    expected: WITHOUT_CONTROLS.to_string(),
                    got: if spec.secret {
                        "a control character".to_string()
                    } else {
                        format!("{} at character {at}", code_point(c))
                    },
                });
                continue;
            }
            match spec.coerce(&attribute.value) {
                Some(value) => {
                    if spec.secret {
                        checked.secret.insert(name.to_string());
                    }
                    checked.values.insert(name.to_string(), value);
                }
                None => errors.push(AttributeError::Invalid {
                    name: name.to_string(),
                    expected: spec.expectation(),
                    got: describe(&attribute.value, spec.secret),
                }),
            }
        }
        for spec in self.user_attributes() {
            let name = spec.name.as_str();
            if checked.values.contains_key(name) || provided.contains(&name) {
                continue;
            }
            if let Some(default) = &spec.default {
                checked.values.insert(name.to_string(), default.clone());
            } else if spec.required && !errors.iter().any(|e| e.names(name)) {
                errors.push(AttributeError::Missing {
                    name: name.to_string(),
                    expected: spec.expectation(),
                });
            }
        }
        if errors.is_empty() {
            Ok(checked)
        } else {
            Err(errors)
        }
    }

    /// The attributes a request may set, patterns excluded.
    fn user_attributes(&self) -> impl Iterator<Item = &AttributeSpec> {
        self.attributes
            .iter()
            .filter(|spec| spec.set_by == SetBy::User && !spec.name.is_pattern())
    }

    fn hint_for(&self, name: &str) -> String {
        const LISTED: &str = "; GET /-/ lists the attributes it accepts";
        if name.chars().count() > SUGGESTED_NAME_CHARS {
            return LISTED.to_string();
        }
        let closest = self
            .user_attributes()
            .map(|spec| {
                let candidate = spec.name.as_str();
                (strsim::damerau_levenshtein(name, candidate), candidate)
            })
            .min();
        match closest {
            Some((distance, candidate)) if distance <= 4 => {
                format!("; did you mean {candidate}? (GET /-/ lists them all)")
            }
            _ => LISTED.to_string(),
        }
    }
}

impl AttributeError {
    /// Several problems as one line, each naming its attribute: the first `SHOWN`, then
    /// how many there were.
    pub fn joined(errors: &[AttributeError]) -> String {
        let mut reasons: Vec<String> = errors.iter().take(SHOWN).map(ToString::to_string).collect();
        if errors.len() > SHOWN {
            reasons.push(format!(
                "and {} more problems ({} in all; the first {SHOWN} are shown)",
                errors.len() - SHOWN,
                errors.len()
            ));
        }
        reasons.join("; ")
    }

    fn names(&self, attribute: &str) -> bool {
        match self {
            AttributeError::Unknown { name, .. }
            | AttributeError::ReadOnly { name }
            | AttributeError::Duplicate { name }
            | AttributeError::Invalid { name, .. }
            | AttributeError::Missing { name, .. } => name == attribute,
        }
    }
}

/// A value as shown in an error: a string as a quoted, escaped excerpt; a secret is
/// never repeated.
fn describe(value: &Scalar, secret: bool) -> String {
    match value {
        _ if secret => "a value of the wrong type".to_string(),
        Scalar::String(text) => quoted_excerpt(text),
        other => crate::occi::text::OcciValue(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, value: Scalar) -> Attribute {
        Attribute {
            name: name.to_string(),
            value,
        }
    }

    fn s(text: &str) -> Scalar {
        Scalar::String(text.to_string())
    }

    const INJECT: &str = "icclab.disco.dependencies.inject";
    const SLAVES: &str = "icclab.disco.components.heat.slavecount";

    #[test]
    fn quoted_integers_are_accepted_and_defaults_filled_in() {
        let manifest = Manifest::built_in().expect("manifest");
        let checked = manifest
            .check_request(&[attr(INJECT, s("{'spark': ''}")), attr(SLAVES, s(" 3 "))])
            .expect("valid");
        assert_eq!(checked.get(SLAVES), Some(&Scalar::Integer(3)));
        assert_eq!(
            checked.string("icclab.disco.components.heat.externalnetworkname"),
            Some("public")
        );
        assert_eq!(
            checked.get("icclab.disco.stage"),
            Some(&Scalar::Bool(false))
        );
    }

    #[test]
    fn an_out_of_range_slave_count_names_the_bounds() {
        let manifest = Manifest::built_in().expect("manifest");
        let errors = manifest
            .check_request(&[attr(INJECT, s("{}")), attr(SLAVES, Scalar::Integer(101))])
            .expect_err("out of range");
        assert_eq!(
            errors[0].to_string(),
            "icclab.disco.components.heat.slavecount: expected an integer from 0 to 100, got 101"
        );
    }

    #[test]
    fn an_unknown_attribute_suggests_the_closest_known_one() {
        let manifest = Manifest::built_in().expect("manifest");
        let errors = manifest
            .check_request(&[
                attr(INJECT, s("{}")),
                attr("icclab.disco.components.heat.slavecont", s("2")),
            ])
            .expect_err("unknown");
        let text = errors[0].to_string();
        assert!(
            text.contains("did you mean icclab.disco.components.heat.slavecount?"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_required_attribute_and_a_state_attribute_are_both_reported() {
        let manifest = Manifest::built_in().expect("manifest");
        let errors = manifest
            .check_request(&[attr("external_ip", s("1.2.3.4"))])
            .expect_err("invalid");
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            vec![
                "external_ip: set by the service, a request cannot set it".to_string(),
                format!(
                    "{INJECT}: required attribute is missing (a Python literal in a quoted string)"
                ),
            ]
        );
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_echoed() {
        let manifest = Manifest::built_in().expect("manifest");
        let errors = manifest
            .check_request(&[
                attr(INJECT, s("{}")),
                attr("icclab.disco.deployer.password", Scalar::Integer(123456789)),
            ])
            .expect_err("invalid");
        assert!(!errors[0].to_string().contains("123456789"));
    }

    #[test]
    fn secrets_are_kept_out_of_the_public_attributes() {
        let manifest = Manifest::built_in().expect("manifest");
        let checked = manifest
            .check_request(&[
                attr(INJECT, s("{}")),
                attr("icclab.disco.deployer.password", s("hunter2")),
            ])
            .expect("valid");
        assert!(checked.is_secret("icclab.disco.deployer.password"));
        assert!(
            !checked
                .public()
                .contains_key("icclab.disco.deployer.password")
        );
    }

    #[test]
    fn a_reason_shows_the_first_problems_and_counts_the_others() {
        let manifest = Manifest::built_in().expect("manifest");
        let given: Vec<Attribute> = (0..30_000).map(|_| attr("x", Scalar::Integer(1))).collect();
        let errors = manifest.check_request(&given).expect_err("unknown");
        assert_eq!(errors.len(), 30_001, "every name, and the missing inject");
        let reason = AttributeError::joined(&errors);
        assert!(reason.len() < 2048, "{} bytes", reason.len());
        assert_eq!(reason.matches("x: unknown attribute").count(), SHOWN);
        assert!(
            reason.ends_with("and 29991 more problems (30001 in all; the first 10 are shown)"),
            "{reason}"
        );
    }

    #[test]
    fn a_long_or_strange_name_is_shown_as_an_escaped_excerpt() {
        let manifest = Manifest::built_in().expect("manifest");
        let long = format!("icclab.disco.components.spark.{}", "v".repeat(100_000));
        let errors = manifest
            .check_request(&[
                attr(INJECT, s("{}")),
                attr(&long, s("1")),
                attr("foo\n2026-01-01T00:00:00Z ERROR FORGED", s("1")),
            ])
            .expect_err("refused");
        let reason = AttributeError::joined(&errors);
        assert!(reason.len() < 1024, "{reason}");
        assert!(!reason.contains('\n'), "{reason}");
        assert!(
            reason.contains(r#""foo\n2026-01-01T00:00:00Z ERROR FORGED": unknown attribute"#),
            "{reason}"
        );
    }

    #[test]
    fn control_characters_in_a_string_are_refused_naming_the_attribute() {
        let manifest = Manifest::built_in().expect("manifest");
        for bad in [
            "a\0b",
            "a\u{1b}]0;x\u{7}",
            "a\u{7f}",
            "a\u{85}",
            "a\u{2028}",
            "a\nb",
        ] {
            let errors = manifest
                .check_request(&[
                    attr(INJECT, s("{}")),
                    attr("icclab.disco.components.heat.masterimage", s(bad)),
                ])
                .expect_err(bad);
            let reason = AttributeError::joined(&errors);
            assert!(
                reason.starts_with(
                    "icclab.disco.components.heat.masterimage: expected text without control"
                ),
                "{reason}"
            );
            assert!(reason.contains("at character 2"), "{reason}");
        }
        let errors = manifest
            .check_request(&[
                attr(INJECT, s("{}")),
                attr("icclab.disco.deployer.password", s("hunter\u{1b}2")),
            ])
            .expect_err("secret");
        let reason = AttributeError::joined(&errors);
        assert!(
            reason.ends_with("got a control character") && !reason.contains("hunter"),
            "{reason}"
        );
    }
}
