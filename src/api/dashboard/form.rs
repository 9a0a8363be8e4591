//! What the dashboard's forms send, read: fields by name, and the create form translated
//! into the create request's attributes, in one function, so that the way a cluster is
//! created can change without touching the pages.

use crate::occi::text::{Attribute, AttributeValue};

/// A form field's value, trimmed; empty when absent.
pub(crate) fn field(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// The components ticked on the create form, as sent.
pub(crate) fn chosen_components(form: &[(String, String)]) -> Vec<&str> {
    form.iter()
        .filter(|(k, _)| k == "component")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The create request's attributes, from the create form.
pub(crate) fn create_attributes(form: &[(String, String)]) -> Vec<Attribute> {
    let string = |name: &str, value: &str| Attribute {
        name: name.to_string(),
        value: AttributeValue::String(value.to_string()),
    };
    let value = |key: &str| field(form, key);
    let chosen = chosen_components(form);
    let components: Vec<String> = chosen
        .iter()
        .map(|v| format!("'{}'", v.replace(['\'', '\\'], "")))
        .collect();
    let mut attributes = vec![
        string("icclab.disco.name", &value("name")),
        string(
            "icclab.disco.dependencies.inject",
            &format!("[{}]", components.join(", ")),
        ),
        string("icclab.disco.components.heat.slavecount", &value("slaves")),
    ];
    // Fields left empty keep the server's defaults.
    if !value("provider").is_empty() {
        attributes.push(string("icclab.disco.provider", &value("provider")));
    }
    for key in ["masterimage", "slaveimage", "masterflavor", "slaveflavor"] {
        let v = value(key);
        if !v.is_empty() {
            attributes.push(string(&format!("icclab.disco.components.heat.{key}"), &v));
        }
    }
    for (key, v) in form {
        // Parameters of chosen components, those given: an empty field keeps the default.
        if let Some(rest) = key.strip_prefix("param.")
            && let Some((component, _)) = rest.split_once('.')
            && chosen.contains(&component)
            && !v.is_empty()
        {
            attributes.push(string(&format!("icclab.disco.components.{rest}"), v));
        }
    }
    if value("stage") == "true" {
        attributes.push(string("icclab.disco.stage", "true"));
    }
    attributes
}
