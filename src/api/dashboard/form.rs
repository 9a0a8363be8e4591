//! What the dashboard's forms send, read: fields by name, and the create form translated
//! into the create use case's request, in one function, so that what a create takes can
//! change without touching the pages.

use crate::cluster::spec::SpecError;
use crate::domain::ComponentName;
use crate::domain::Scalar;
use crate::domain::attributes::{
    HEAT_PREFIX, INIT, INJECT, PROVIDER, SLAVE_COUNT, STAGE, TEMPLATE, USES,
    parse_component_parameter,
};
use crate::frameworks::inject::parse_inject;
use crate::frameworks::request::ComponentRequest;
use crate::lifecycle::create::{CreateError, CreateRequest};
use crate::occi::text::Attribute;
use crate::templates::Template;

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

/// The create form filled in from a template: its components ticked, their parameters,
/// slave count, provider and nodes in their fields (`create_request` read backwards).
pub(crate) fn template_form(template: &Template) -> Vec<(String, String)> {
    let mut form = vec![("template".to_string(), template.name.to_string())];
    let inject = template
        .attributes
        .get(INJECT)
        .and_then(Scalar::as_str)
        .and_then(|text| parse_inject(text).ok());
    for component in inject.map(|i| i.components).unwrap_or_default() {
        form.push(("component".to_string(), component.name.to_string()));
        for (param, value) in &component.params {
            form.push((
                format!("param.{}.{param}", component.name),
                value.to_string(),
            ));
        }
    }
    for (name, value) in &template.attributes {
        let key = if name == SLAVE_COUNT {
            "slaves".to_string()
        } else if name == PROVIDER {
            "provider".to_string()
        } else if let Some(node) = name.strip_prefix(HEAT_PREFIX) {
            node.to_string()
        } else if let Some((component, param)) = parse_component_parameter(name) {
            format!("param.{component}.{param}")
        } else {
            continue;
        };
        form.push((key, value.to_string()));
    }
    if template.attributes.get(STAGE) == Some(&Scalar::Bool(true)) {
        form.push(("stage".to_string(), "true".to_string()));
    }
    form
}

/// The create request, from the create form: the components chosen as values, the
/// rest as the attributes an OCCI request would give.
pub(crate) fn create_request(form: &[(String, String)]) -> Result<CreateRequest, CreateError> {
    let string = |name: &str, value: &str| Attribute {
        name: name.to_string(),
        value: Scalar::String(value.to_string()),
    };
    let value = |key: &str| field(form, key);
    let chosen = chosen_components(form);
    let components = chosen
        .iter()
        .map(|v| {
            Ok(ComponentRequest {
                name: ComponentName::parse(v).map_err(|expected| SpecError::Invalid {
                    attribute: "component",
                    expected,
                })?,
                params: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    let mut attributes = vec![
        string("icclab.disco.name", &value("name")),
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
    // Typed over several lines: the attribute takes the JSON on one.
    let init = value("init");
    if !init.trim().is_empty() {
        let actions = crate::frameworks::init::parse(&init).map_err(SpecError::Init)?;
        let one_line =
            serde_json::to_string(&actions).map_err(|e| CreateError::Internal(e.into()))?;
        attributes.push(string(INIT, &one_line));
    }
    // The clusters it uses: the select's chosen options, each a name.
    let uses: Vec<&str> = form
        .iter()
        .filter(|(key, v)| key == "uses" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    if !uses.is_empty() {
        attributes.push(string(USES, &uses.join(",")));
    }
    if value("stage") == "true" {
        attributes.push(string("icclab.disco.stage", "true"));
    }
    // The template the form was filled in from: what the form does not say comes from it.
    if !value("template").is_empty() {
        attributes.push(string(TEMPLATE, &value("template")));
    }
    Ok(CreateRequest {
        uses: Vec::new(),
        attributes,
        components: Some(components),
    })
}
