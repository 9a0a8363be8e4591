//! OCCI: the HTTP renderings of OGF GFD.185 (text/occi, text/plain, text/uri-list) and
//! the JSON rendering (application/occi+json), parsers and renderers both. Nothing here
//! knows what a cluster is: the API turns clusters into `Resource`s and the manifest into
//! `KindDescription`s.

pub mod json;
pub mod render;
pub mod text;

use crate::domain::Scalar;
use text::{Attribute, Category, Link};

/// One OCCI resource instance, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub kind: Category,
    pub title: Option<String>,
    /// Absolute URL of the resource.
    pub location: String,
    pub attributes: Vec<Attribute>,
    /// Actions that may be invoked now, as links `<location?action=term>; rel="scheme#term"`.
    pub actions: Vec<Link>,
}

/// How an attribute of a kind is described in the query interface.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDescription {
    pub name: String,
    pub kind: &'static str,
    pub json_type: &'static str,
    pub required: bool,
    pub mutable: bool,
    pub default: Option<Scalar>,
    pub description: String,
    pub pattern: bool,
    pub values: Vec<String>,
}

/// A kind in the query interface (`GET /-/`).
#[derive(Debug, Clone, PartialEq)]
pub struct KindDescription {
    /// term, scheme, title, rel, location, attribute names and action ids.
    pub category: Category,
    pub attributes: Vec<AttributeDescription>,
}

/// Everything `GET /-/` lists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryInterface {
    pub kinds: Vec<KindDescription>,
    pub mixins: Vec<Category>,
    pub actions: Vec<Category>,
}

/// The media types we render, in the order we prefer them when a client accepts any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    TextPlain,
    TextOcci,
    UriList,
    Json,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::TextPlain => "text/plain",
            MediaType::TextOcci => "text/occi",
            MediaType::UriList => "text/uri-list",
            MediaType::Json => "application/occi+json",
        }
    }

    /// The media type named by `essence` (type/subtype, lowercase, no parameters).
    pub fn from_essence(essence: &str) -> Option<MediaType> {
        match essence {
            "text/plain" => Some(MediaType::TextPlain),
            "text/occi" => Some(MediaType::TextOcci),
            "text/uri-list" => Some(MediaType::UriList),
            "application/occi+json" | "application/json" => Some(MediaType::Json),
            _ => None,
        }
    }
}
