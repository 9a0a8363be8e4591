//! What a component offers other clusters (`[[outputs]]`) and what it takes from another
//! cluster (`[uses]`), as `component.toml` declares them, checked at load.
//!
//! An output's value is either a text made of the cluster's facts (`value = "spark://
//! {master}:7077"`) or the content of a file one of the component's steps writes in the
//! cluster's shared directory (`file = "spark/client/spark-defaults.conf"`). A value made
//! of a secret parameter must be declared `secret`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Parameter;
use crate::domain::ProviderKind;

/// The facts an output's `value` may name, besides `{param.NAME}`.
pub const FACTS: [&str; 4] = ["master", "external_ip", "slaves", "version"];

/// The most bytes one output's value may hold (a file's content included).
pub const LONGEST_VALUE: usize = 64 * 1024;

/// Where an output's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputSource {
    /// A text with `{fact}` and `{param.NAME}` placeholders.
    Value(String),
    /// A file under the cluster's shared directory, relative to it.
    File(String),
}

/// One output of a component, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    pub description: String,
    pub source: OutputSource,
    #[serde(default)]
    pub secret: bool,
    /// The providers that have it; empty: every provider the component runs on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderKind>,
}

impl Output {
    pub fn on(&self, provider: ProviderKind) -> bool {
        self.providers.is_empty() || self.providers.contains(&provider)
    }
}

/// What a component takes of one of its dependencies when another cluster serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepts {
    pub description: String,
    /// The dependency's outputs the component needs.
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    name: String,
    description: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    providers: Vec<ProviderKind>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccepts {
    description: String,
    #[serde(default)]
    outputs: Vec<String>,
}

/// Checks a component's outputs against its parameters and providers.
pub(super) fn check_outputs(
    raw: &[RawOutput],
    parameters: &BTreeMap<String, Parameter>,
    providers: &[ProviderKind],
) -> Result<Vec<Output>, String> {
    let mut seen: BTreeSet<(String, ProviderKind)> = BTreeSet::new();
    let mut outputs = Vec::with_capacity(raw.len());
    for output in raw {
        let name = &output.name;
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(format!("output {name:?}: name must be [a-z][a-z0-9_]*"));
        }
        if let Some(other) = output.providers.iter().find(|p| !providers.contains(p)) {
            return Err(format!(
                "output {name}: provider {other} is not one of the component's"
            ));
        }
        let on: Vec<ProviderKind> = if output.providers.is_empty() {
            providers.to_vec()
        } else {
            output.providers.clone()
        };
        for provider in on {
            if !seen.insert((name.clone(), provider)) {
                return Err(format!("output {name} is declared twice for {provider}"));
            }
        }
        let source = match (&output.value, &output.file) {
            (Some(value), None) => {
                let secret_params = placeholders(value)
                    .map_err(|p| format!("output {name}: {p}"))?
                    .into_iter()
                    .filter_map(|p| p.strip_prefix("param.").map(str::to_string))
                    .map(|param| match parameters.get(&param) {
                        None => Err(format!(
                            "output {name}: {{param.{param}}} names no parameter of the component"
                        )),
                        Some(spec) => Ok(spec.secret),
                    })
                    .collect::<Result<Vec<bool>, String>>()?;
                if secret_params.contains(&true) && !output.secret {
                    return Err(format!(
                        "output {name}: it shows a secret parameter, so it must be secret"
                    ));
                }
                OutputSource::Value(value.clone())
            }
            (None, Some(file)) => {
                let plain = !file.is_empty()
                    && std::path::Path::new(file)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !plain {
                    return Err(format!(
                        "output {name}: file {file:?} must be a path inside the cluster's shared directory"
                    ));
                }
                OutputSource::File(file.clone())
            }
            _ => return Err(format!("output {name}: give exactly one of value, file")),
        };
        outputs.push(Output {
            name: name.clone(),
            description: output.description.clone(),
            source,
            secret: output.secret,
            providers: output.providers.clone(),
        });
    }
    Ok(outputs)
}

pub(super) fn check_uses(raw: &BTreeMap<String, RawAccepts>) -> BTreeMap<String, Accepts> {
    raw.iter()
        .map(|(dependency, accepts)| {
            (
                dependency.clone(),
                Accepts {
                    description: accepts.description.clone(),
                    outputs: accepts.outputs.clone(),
                },
            )
        })
        .collect()
}

/// The placeholders of a value, `{master}` as `master`; an unknown one or an unclosed
/// brace is refused.
pub fn placeholders(value: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("an unclosed {{ in {value:?}"))?;
        let name = &after[..close];
        let known =
            FACTS.contains(&name) || name.strip_prefix("param.").is_some_and(|p| !p.is_empty());
        if !known {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}, {{param.NAME}}",
                FACTS.map(|f| format!("{{{f}}}")).join(", ")
            ));
        }
        found.push(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// A value with its placeholders filled in by `fact` (`master`, `param.token`, ...).
pub fn fill(value: &str, fact: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push_str(&fact(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_s_placeholders_are_facts_or_parameters_and_fill_in_order() {
        assert_eq!(
            placeholders("spark://{master}:7077/{param.x}"),
            Ok(vec!["master", "param.x"])
        );
        assert!(
            placeholders("{nope}")
                .unwrap_err()
                .contains("unknown placeholder {nope}")
        );
        assert!(placeholders("{master").unwrap_err().contains("unclosed"));
        assert_eq!(
            fill("tls://{master}:8786", |f| format!("<{f}>")),
            "tls://<master>:8786"
        );
    }
}
