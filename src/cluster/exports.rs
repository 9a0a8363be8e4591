//! What a ready cluster exports to other clusters: each component's `[[outputs]]` with
//! its value, made from the cluster's facts or read from the file a step wrote. Secret
//! values are kept like the SSH private key: shown to the owner only where asked, never
//! in listings, never in logs (`Debug` hides them).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Outputs;
use crate::frameworks::catalogue::{LONGEST_VALUE, OutputSource, fill};
use crate::frameworks::plan::Plan;

/// One output's value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub value: String,
    #[serde(default)]
    pub secret: bool,
    pub description: String,
}

impl fmt::Debug for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secret {
            "<secret>"
        } else {
            self.value.as_str()
        };
        f.debug_struct("Export")
            .field("value", &value)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The exports of a cluster: by component, then by output name.
pub type Exports = BTreeMap<String, BTreeMap<String, Export>>;

/// The address other clusters reach the master at: on its cluster's network where it
/// has one, else the address the provider gave it.
pub fn master_address(outputs: &Outputs) -> Option<&str> {
    outputs
        .master_private_ip
        .as_deref()
        .or(outputs.external_ip.as_deref())
}

/// Every output of the plan with its value; an output whose file is missing (its
/// step did not write it) is left out.
pub fn collect(plan: &Plan, outputs: &Outputs, read: &BTreeMap<String, String>) -> Exports {
    let mut exports = Exports::new();
    for component in &plan.components {
        for output in &component.outputs {
            let value = match &output.source {
                OutputSource::Value(template) => fill(template, |fact| match fact {
                    "master" => master_address(outputs).unwrap_or_default().to_string(),
                    "external_ip" => outputs.external_ip.clone().unwrap_or_default(),
                    "slaves" => outputs.slave_ips.join(","),
                    "version" => component.version.clone(),
                    other => other
                        .strip_prefix("param.")
                        .and_then(|p| component.params.get(p))
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                }),
                OutputSource::File(file) => match read.get(file) {
                    Some(content) => content.clone(),
                    None => continue,
                },
            };
            // A shell variable cannot hold a NUL.
            if value.len() > LONGEST_VALUE || value.contains('\0') {
                continue;
            }
            exports.entry(component.name.clone()).or_default().insert(
                output.name.clone(),
                Export {
                    value,
                    secret: output.secret,
                    description: output.description.clone(),
                },
            );
        }
    }
    exports
}
