//! The check of a create request's attributes against the manifest: each given attribute
//! must be known, settable by a request, given once and of its type; the defaults fill in
//! what was not given and a required attribute without one is missing. Every problem is
//! reported, each naming its attribute, and a secret's value is never repeated.

use std::collections::{BTreeMap, BTreeSet};

use super::{AttributeSpec, Manifest, SetBy};
use crate::domain::Scalar;
use crate::occi::text::Attribute;

/// Why a request's attributes were refused; each names the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("{name}: unknown attribute of kind {kind}{hint}")]
    Unknown {
        name: String,
        kind: String,
        hint: String,
    },
    #[error("{name}: set by the service, a request cannot set it")]
    ReadOnly { name: String },
    #[error("{name}: given more than once")]
    Duplicate { name: String },
    #[error("{name}: expected {expected}, got {got}")]
    Invalid {
        name: String,
        expected: String,
        got: String,
    },
    #[error("{name}: required attribute is missing ({expected})")]
    Missing { name: String, expected: String },
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
                errors.push(AttributeError::Unknown {
                    name: name.to_string(),
                    kind: self.kind.term.clone(),
                    hint: self.hint_for(name),
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
            _ => "; GET /-/ lists the attributes it accepts".to_string(),
        }
    }
}

impl AttributeError {
    /// Several problems as one line, each naming its attribute.
    pub fn joined(errors: &[AttributeError]) -> String {
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
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

/// A value as shown in an error: quoted if it was a string; a secret is never repeated.
fn describe(value: &Scalar, secret: bool) -> String {
    if secret {
        return "a value of the wrong type".to_string();
    }
    let mut text = crate::occi::text::OcciValue(value).to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(57).collect::<String>() + "...";
    }
    text
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
}
