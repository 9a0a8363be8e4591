//! The text renderings. text/occi puts the lines in response headers, text/plain in the
//! body, one `Name: value` a line; both come from the same list of lines.

use super::text::{Category, CategoryClass};
use super::{QueryInterface, Resource};

/// One rendered line: a header name and its value.
pub type Line = (&'static str, String);

pub const CATEGORY: &str = "Category";
pub const ATTRIBUTE: &str = "X-OCCI-Attribute";
pub const LINK: &str = "Link";
pub const LOCATION: &str = "X-OCCI-Location";

/// A resource: its kind, one attribute a line, then its action links.
pub fn resource_lines(resource: &Resource) -> Vec<Line> {
    let mut lines = vec![(CATEGORY, bare_category(&resource.kind).to_string())];
    lines.extend(
        resource
            .attributes
            .iter()
            .map(|attribute| (ATTRIBUTE, attribute.to_string())),
    );
    lines.extend(resource.actions.iter().map(|link| (LINK, link.to_string())));
    lines
}

/// A collection: one location a line.
pub fn location_lines(locations: &[String]) -> Vec<Line> {
    locations
        .iter()
        .map(|location| (LOCATION, location.clone()))
        .collect()
}

/// The query interface: one Category line per kind, mixin and action.
pub fn query_lines(query: &QueryInterface) -> Vec<Line> {
    query
        .kinds
        .iter()
        .map(|kind| &kind.category)
        .chain(&query.mixins)
        .chain(&query.actions)
        .map(|category| (CATEGORY, category.to_string()))
        .collect()
}

/// text/plain: the lines as the body.
pub fn plain_body(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect()
}

/// text/uri-list: one URI a line (RFC 2483 wants CRLF).
pub fn uri_list(locations: &[String]) -> String {
    locations
        .iter()
        .map(|location| format!("{location}\r\n"))
        .collect()
}

/// A resource's category names its kind only: term, scheme and class.
fn bare_category(kind: &Category) -> Category {
    Category {
        term: kind.term.clone(),
        scheme: kind.scheme.clone(),
        class: CategoryClass::Kind,
        title: None,
        rel: None,
        location: None,
        attributes: Vec::new(),
        actions: Vec::new(),
    }
}
