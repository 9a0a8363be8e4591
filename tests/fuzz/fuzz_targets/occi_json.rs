//! The application/occi+json parser, `disco::occi::json::parse_resource`.
//!
//! Asserts: no panic; a body that parses renders through the crate's JSON
//! renderer (`json::resource`, which writes the kind as `scheme+term` and
//! the attributes as JSON scalars) into a body that parses back to the same
//! request, floats compared by their bits. A rendered resource always has a
//! kind and never mixins, so a request without a kind gets `"kind": null`
//! and each mixin is written as the id `json::resource` writes for that
//! category as a kind.
#![no_main]

use disco::occi::Resource;
use disco::occi::json::{parse_resource, resource};
use disco::occi::text::{Category, CategoryClass};
use disco_fuzz::assert_same;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn placeholder() -> Category {
    Category {
        term: String::new(),
        scheme: String::new(),
        class: CategoryClass::Kind,
        title: None,
        rel: None,
        location: None,
        attributes: Vec::new(),
        actions: Vec::new(),
    }
}

fn as_resource(kind: Category, attributes: Vec<disco::occi::text::Attribute>) -> Resource {
    Resource {
        id: "00000000-0000-0000-0000-000000000000".into(),
        kind,
        title: None,
        location: "http://127.0.0.1/disco/00000000-0000-0000-0000-000000000000".into(),
        attributes,
        actions: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = parse_resource(data) else {
        return;
    };
    let kind = request
        .categories
        .iter()
        .find(|c| c.class == CategoryClass::Kind)
        .cloned();
    let mixins: Vec<Value> = request
        .categories
        .iter()
        .filter(|c| c.class == CategoryClass::Mixin)
        .map(|mixin| resource(&as_resource(mixin.clone(), Vec::new()))["kind"].clone())
        .collect();
    let has_kind = kind.is_some();
    let mut rendered = resource(&as_resource(
        kind.unwrap_or_else(placeholder),
        request.attributes.clone(),
    ));
    if !has_kind {
        rendered["kind"] = Value::Null;
    }
    rendered["mixins"] = Value::Array(mixins);
    let body = serde_json::to_string(&rendered).expect("a Value always serialises");
    let again = parse_resource(body.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "rendered body {body} of {:?} is refused: {e}",
            String::from_utf8_lossy(data)
        )
    });
    assert_same("application/occi+json resource", &body, &request, &again);
});
