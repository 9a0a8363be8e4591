//! The JSON rendering (application/occi+json, OCCI 1.2): resources (a listing streams
//! them inside `{"resources": [...]}`: `api::listing`), the query interface, and the
//! parser of a resource sent to be created.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::text::{self, Attribute, Category, CategoryClass, TextRequest};
use super::{KindDescription, QueryInterface, Resource};
use crate::domain::Scalar;
use crate::domain::attributes::INIT;
use crate::domain::text::quoted_excerpt;

pub fn resource(resource: &Resource) -> Value {
    let attributes: Map<String, Value> = resource
        .attributes
        .iter()
        .map(|attribute| (attribute.name.clone(), value(&attribute.value)))
        .collect();
    let actions: Vec<Value> = resource
        .actions
        .iter()
        .map(|link| Value::String(link.rel.clone()))
        .collect();
    json!({
        "kind": category_id(&resource.kind),
        "id": resource.id,
        "title": resource.title,
        "location": resource.location,
        "attributes": attributes,
        "actions": actions,
        "mixins": [],
        "links": [],
    })
}

pub fn query_interface(query: &QueryInterface) -> Value {
    json!({
        "kinds": query.kinds.iter().map(kind).collect::<Vec<_>>(),
        "mixins": query.mixins.iter().map(category).collect::<Vec<_>>(),
        "actions": query.actions.iter().map(category).collect::<Vec<_>>(),
    })
}

fn kind(kind: &KindDescription) -> Value {
    let mut described = category(&kind.category);
    let attributes: Map<String, Value> = kind
        .attributes
        .iter()
        .map(|a| {
            let mut spec = json!({
                "type": a.json_type,
                "disco_type": a.kind,
                "required": a.required,
                "mutable": a.mutable,
                "description": a.description,
            });
            if let Some(default) = &a.default {
                spec["default"] = value(default);
            }
            if a.pattern {
                spec["pattern"] = Value::Bool(true);
            }
            if !a.values.is_empty() {
                spec["enum"] = json!(a.values);
            }
            (a.name.clone(), spec)
        })
        .collect();
    described["attributes"] = Value::Object(attributes);
    described["actions"] = json!(kind.category.actions);
    described
}

fn category(category: &Category) -> Value {
    let mut described = json!({ "term": category.term, "scheme": category.scheme });
    for (key, field) in [
        ("title", &category.title),
        ("parent", &category.rel),
        ("location", &category.location),
    ] {
        if let Some(text) = field {
            described[key] = Value::String(text.clone());
        }
    }
    described
}

fn category_id(category: &Category) -> String {
    format!("{}{}", category.scheme, category.term)
}

fn value(value: &Scalar) -> Value {
    match value {
        Scalar::String(s) => Value::String(s.clone()),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::Float(f) => Value::from(*f),
        Scalar::Bool(b) => Value::Bool(*b),
    }
}

/// A resource as a client sends it to be created.
#[derive(Debug, Deserialize)]
struct IncomingResource {
    kind: Option<String>,
    #[serde(default)]
    mixins: Vec<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// Why a JSON body was refused; the message names the field.
#[derive(Debug, thiserror::Error)]
#[error("application/occi+json body: {0}")]
pub struct JsonError(String);

/// Reads a resource to create into the same shape the text renderings give, held to the
/// same grammar: names and category identifiers that a header could not carry are
/// refused here, so that nothing below sees a name that the text renderings could not.
pub fn parse_resource(body: &[u8]) -> Result<TextRequest, JsonError> {
    let incoming: IncomingResource =
        serde_json::from_slice(body).map_err(|e| JsonError(e.to_string()))?;
    let mut request = TextRequest::default();
    for (id, class) in incoming
        .kind
        .iter()
        .map(|id| (id, CategoryClass::Kind))
        .chain(incoming.mixins.iter().map(|id| (id, CategoryClass::Mixin)))
    {
        request.categories.push(split_category_id(id, class)?);
    }
    for (name, raw) in incoming.attributes {
        if !text::is_attribute_name(&name) {
            return Err(JsonError(format!(
                "attributes: {} is not an attribute name; expected letters, digits, '_' and \
                 '-', in parts separated by '.'",
                quoted_excerpt(&name)
            )));
        }
        let value = match raw {
            Value::String(s) => Scalar::String(s),
            Value::Bool(b) => Scalar::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Scalar::Integer(i),
                None => Scalar::Float(n.as_f64().ok_or_else(|| {
                    JsonError(format!(
                        "attributes.{name}: expected a number that fits 64 bits"
                    ))
                })?),
            },
            // The init actions' JSON may come as it is, rather than as a string of it.
            structured @ (Value::Array(_) | Value::Object(_)) if name == INIT => {
                Scalar::String(structured.to_string())
            }
            other => {
                return Err(JsonError(format!(
                    "attributes.{name}: expected a string, number or boolean, got {}",
                    kind_of(&other)
                )));
            }
        };
        request.attributes.push(Attribute { name, value });
    }
    Ok(request)
}

/// `scheme#term` into a category: the scheme keeps its `#`.
fn split_category_id(id: &str, class: CategoryClass) -> Result<Category, JsonError> {
    let field = match class {
        CategoryClass::Mixin => "mixins",
        _ => "kind",
    };
    let refused = || {
        JsonError(format!(
            "{field}: expected scheme#term, such as http://schemas.cloudcomplab.ch/occi/sm#disco \
             (a scheme without spaces; a term of letters, digits, '-', '_' and '.'); got {}",
            quoted_excerpt(id)
        ))
    };
    let hash = id.rfind('#').ok_or_else(refused)?;
    let (scheme, term) = id.split_at(hash + 1);
    if !text::is_category_id(scheme, term) {
        return Err(refused());
    }
    Ok(Category {
        term: term.to_string(),
        scheme: scheme.to_string(),
        class,
        title: None,
        rel: None,
        location: None,
        attributes: Vec::new(),
        actions: Vec::new(),
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_resource_becomes_categories_and_attributes() {
        let body = br#"{"kind": "http://schemas.cloudcomplab.ch/occi/sm#disco",
            "attributes": {"icclab.disco.components.heat.slavecount": 2,
                           "icclab.disco.stage": true,
                           "icclab.disco.dependencies.inject": "{'spark': ''}"}}"#;
        let request = parse_resource(body).expect("parses");
        assert_eq!(request.categories[0].term, "disco");
        assert_eq!(
            request.categories[0].scheme,
            "http://schemas.cloudcomplab.ch/occi/sm#"
        );
        assert!(request.attributes.contains(&Attribute {
            name: "icclab.disco.components.heat.slavecount".into(),
            value: Scalar::Integer(2)
        }));
    }

    #[test]
    fn floats_read_back_exactly_as_they_were_written() {
        // Inputs the fuzzer found drifting by one step in the last digit.
        for text in [
            "1.5e-30",
            "10000000000256556560",
            "-77777777777777777777777777777777777777770.0",
        ] {
            // Rust's own parsing gives the nearest f64, as serde_json must.
            let expected: f64 = text.parse().expect("a number");
            let body = format!(r#"{{"kind": "s#disco", "attributes": {{"a.b": {text}}}}}"#);
            let request = parse_resource(body.as_bytes()).expect("parses");
            let Scalar::Float(read) = request.attributes[0].value else {
                panic!("{text} read as {:?}", request.attributes[0].value);
            };
            assert_eq!(read.to_bits(), expected.to_bits(), "{text}");
            let again = format!(r#"{{"kind": "s#disco", "attributes": {{"a.b": {read:?}}}}}"#);
            let reread = parse_resource(again.as_bytes()).expect("parses");
            assert_eq!(reread.attributes[0].value, Scalar::Float(read), "{text}");
        }
    }

    #[test]
    fn a_nested_attribute_value_is_refused_naming_the_attribute() {
        let err = parse_resource(br#"{"kind": "s#disco", "attributes": {"a.b": {"c": 1}}}"#)
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "application/occi+json body: attributes.a.b: expected a string, number or boolean, got an object"
        );
    }

    #[test]
    fn a_kind_without_a_hash_is_refused() {
        let err = parse_resource(br#"{"kind": "disco"}"#).expect_err("refused");
        assert!(err.to_string().contains("scheme#term"), "{err}");
    }

    #[test]
    fn a_kind_a_header_could_not_carry_is_refused_escaped() {
        for kind in [
            r#""http://schemas.cloudcomplab.ch/occi/sm#disco\n2026-01-01T00:00:00Z ERROR FORGED""#,
            r#""http://x y#disco""#,
            r#""http://x#""#,
        ] {
            let body = format!(r#"{{"kind": {kind}}}"#);
            let err = parse_resource(body.as_bytes()).expect_err(kind);
            let text = err.to_string();
            assert!(text.starts_with("application/occi+json body: kind: expected scheme#term"));
            assert!(!text.contains('\n'), "{text}");
        }
        let err =
            parse_resource(br#"{"kind": "s#disco", "mixins": ["s#a b"]}"#).expect_err("mixin");
        assert!(err.to_string().contains("mixins: expected"), "{err}");
    }

    #[test]
    fn an_attribute_name_a_header_could_not_carry_is_refused_escaped() {
        for name in [
            r#"foo\n2026-01-01T00:00:00Z ERROR FORGED"#,
            "a..b",
            "9lives",
            "",
            "a b",
            r#"a\u001b[31m"#,
        ] {
            let body = format!(r#"{{"kind": "s#disco", "attributes": {{"{name}": 1}}}}"#);
            let err = parse_resource(body.as_bytes()).expect_err(name);
            let text = err.to_string();
            assert!(
                text.starts_with("application/occi+json body: attributes: \""),
                "{text}"
            );
            assert!(text.contains("is not an attribute name"), "{text}");
            assert!(!text.contains(['\n', '\u{1b}']), "{text}");
        }
        let err =
            parse_resource(br#"{"kind": "s#disco", "attributes": {"foo\n2026 ERROR FORGED": 1}}"#)
                .expect_err("refused");
        assert!(
            err.to_string()
                .contains(r#"attributes: "foo\n2026 ERROR FORGED" is not an attribute name"#),
            "{err}"
        );
    }
}
