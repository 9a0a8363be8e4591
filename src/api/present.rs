//! How clusters and the manifest are shown: a cluster becomes an OCCI `Resource`, the
//! manifest a `QueryInterface`, and either becomes a response in the negotiated rendering.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use chrono::SecondsFormat;

use super::error::ApiError;
use crate::cluster::Cluster;
use crate::domain::attributes::{EXPIRE_AT, MAX_AGE, MAX_IDLE, ON_EXPIRY};
use crate::domain::{ClusterState, Scalar};
use crate::frameworks::catalogue::Catalogue;
use crate::manifest::{Manifest, SetBy};
use crate::occi::render::{self, Line};
use crate::occi::text::{Attribute, Category, CategoryClass, Link};
use crate::occi::{
    AttributeDescription, KindDescription, MediaType, QueryInterface, Resource, json,
};
use crate::providers::Providers;
use crate::templates::{Origin, TEMPLATE_SCHEME, Template};

/// Whether a rendering may show the cluster's SSH private key: only the cluster's own
/// rendering for its owner does, never a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateKey {
    Shown,
    Hidden,
}

pub fn cluster_resource(
    cluster: &Cluster,
    manifest: &Manifest,
    base_url: &str,
    key: PrivateKey,
) -> Resource {
    let location = cluster_location(manifest, base_url, cluster.id);
    let string = |name: &str, value: &str| Attribute {
        name: name.to_string(),
        value: Scalar::String(value.to_string()),
    };
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    let time = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);

    let mut attributes = vec![
        string("occi.core.id", &cluster.id.to_string()),
        string("occi.core.title", cluster.spec.request.name.as_str()),
    ];
    attributes.extend(
        cluster
            .spec
            .attributes
            .iter()
            .map(|(name, value)| Attribute {
                name: name.clone(),
                value: value.clone(),
            }),
    );
    let outputs = &cluster.outputs;
    attributes.extend([
        string("icclab.disco.state", cluster.state.as_str()),
        string("icclab.disco.state_reason", &cluster.state_reason),
        string("icclab.disco.created", &time(&cluster.created_at)),
        string("icclab.disco.updated", &time(&cluster.updated_at)),
        string("mcn.service.state", cluster.state.mcn_service_state()),
        string("stackid", &optional(&outputs.stack_id)),
        string("stack_status", &optional(&outputs.stack_status)),
        string(
            "stack_status_reason",
            &optional(&outputs.stack_status_reason),
        ),
        string("external_ip", &optional(&outputs.external_ip)),
        string(
            "icclab.disco.master_private_ip",
            &optional(&outputs.master_private_ip),
        ),
        string("icclab.disco.slave_ips", &outputs.slave_ips.join(",")),
    ]);
    // The lifetime in effect (the operator's default included), and when it ends.
    let lifetime = &cluster.spec.lifetime;
    if let Some(age) = lifetime.max_age {
        set(&mut attributes, string(MAX_AGE, &age.to_string()));
    }
    if let Some(at) = lifetime.expire_at {
        set(&mut attributes, string(EXPIRE_AT, &time(&at)));
    }
    if let Some(idle) = lifetime.max_idle {
        set(&mut attributes, string(MAX_IDLE, &idle.to_string()));
    }
    if let Some(activity) = cluster
        .activity
        .as_ref()
        .filter(|_| cluster.state == ClusterState::Ready)
    {
        attributes.extend([
            string(
                "icclab.disco.idle_since",
                &if activity.busy {
                    String::new()
                } else {
                    time(&activity.last_active)
                },
            ),
            string("icclab.disco.activity", &activity.what),
        ]);
    }
    if let Some(expiry) = cluster.expiry()
        && !matches!(
            cluster.state,
            ClusterState::Deleting | ClusterState::Deleted
        )
    {
        set(
            &mut attributes,
            string(ON_EXPIRY, lifetime.on_expiry.as_str()),
        );
        attributes.push(string("icclab.disco.expires_at", &time(&expiry.at)));
        attributes.push(string(
            "icclab.disco.expires_because",
            &format!("{}: it is then {}", expiry.why, lifetime.on_expiry.done()),
        ));
    }
    let lost = outputs.lost_nodes();
    if !lost.is_empty() {
        attributes.push(string("icclab.disco.failed_slaves", &lost.join(",")));
    }
    if let Some(health) = cluster.shown_health() {
        attributes.extend([
            string("icclab.disco.health", health.status.as_str()),
            string("icclab.disco.health_reason", &health.reason),
            string("icclab.disco.health_checked", &time(&health.checked)),
        ]);
    }
    attributes.extend(
        outputs
            .web_uis
            .iter()
            .map(|(key, url)| string(&format!("icclab.disco.web_ui.{key}"), url)),
    );
    // What it offers other clusters, but its secrets (GET /disco/UUID/outputs).
    attributes.extend(outputs.exports.iter().flat_map(|(component, exports)| {
        exports
            .iter()
            .filter(|(_, export)| !export.secret)
            .map(move |(name, export)| {
                string(
                    &format!("icclab.disco.outputs.{component}.{name}"),
                    &export.value,
                )
            })
    }));
    if let Some(network) = &outputs.network {
        attributes.push(string("icclab.disco.network", network));
    }
    if let Some(group) = &outputs.security_group {
        attributes.push(string("icclab.disco.security_group", group));
    }
    attributes.extend([
        string("ssh_key_name", &cluster.keys.name),
        string("ssh_public_key", &cluster.keys.public_key),
    ]);
    if key == PrivateKey::Shown {
        attributes.push(string("ssh_private_key", cluster.keys.expose_private_key()));
    }
    // The actions the cluster takes in its state.
    let offered = |term: &str| {
        use crate::domain::ClusterState::*;
        matches!(
            (term, cluster.state),
            ("deploy", Pending) | ("stop" | "scale", Ready) | ("start", Stopped)
        )
    };
    let actions = manifest
        .actions
        .iter()
        .filter(|action| offered(&action.term))
        .map(|action| Link {
            target: format!("{location}?action={}", action.term),
            rel: action.id(),
            self_location: None,
            category: None,
            attributes: Vec::new(),
        })
        .collect();
    Resource {
        id: cluster.id.to_string(),
        kind: Category {
            term: manifest.kind.term.clone(),
            scheme: manifest.kind.scheme.clone(),
            class: CategoryClass::Kind,
            title: None,
            rel: None,
            location: None,
            attributes: Vec::new(),
            actions: Vec::new(),
        },
        title: Some(cluster.spec.request.name.to_string()),
        location,
        attributes,
        actions,
    }
}

/// Where a cluster is: its kind's location and its id under `base_url`.
pub fn cluster_location(
    manifest: &Manifest,
    base_url: &str,
    id: crate::domain::ClusterId,
) -> String {
    format!("{base_url}{}{id}", manifest.kind.location)
}

/// The scheme of the mixins that stand for the catalogue's components in `GET /-/`.
pub const COMPONENT_SCHEME: &str = "http://schemas.cloudcomplab.ch/occi/sm/disco/component#";

/// The scheme of the mixins that stand for this server's providers in `GET /-/`.
pub const PROVIDER_SCHEME: &str = "http://schemas.cloudcomplab.ch/occi/sm/disco/provider#";

pub fn query_interface(
    manifest: &Manifest,
    catalogue: &Catalogue,
    providers: &Providers,
    templates: &[(Origin, Template)],
) -> QueryInterface {
    // A pattern such as `icclab.disco.components.<component>.<param>` is not an attribute
    // name in the text grammar; the JSON rendering describes it.
    let attribute_names = manifest
        .attributes
        .iter()
        .filter(|spec| !spec.name.is_pattern())
        .map(|spec| {
            let flag = if spec.required {
                "{required}"
            } else if spec.set_by == SetBy::Service {
                "{immutable}"
            } else {
                ""
            };
            format!("{}{flag}", spec.name.as_str())
        })
        .collect();
    let kind = KindDescription {
        category: Category {
            term: manifest.kind.term.clone(),
            scheme: manifest.kind.scheme.clone(),
            class: CategoryClass::Kind,
            title: Some(manifest.kind.title.clone()),
            rel: manifest.kind.rel.clone(),
            location: Some(manifest.kind.location.clone()),
            attributes: attribute_names,
            actions: manifest.actions.iter().map(|a| a.id()).collect(),
        },
        attributes: manifest
            .attributes
            .iter()
            .map(|spec| AttributeDescription {
                name: spec.name.as_str().to_string(),
                kind: spec.kind.as_str(),
                json_type: spec.kind.occi_json_type(),
                required: spec.required,
                mutable: spec.set_by == SetBy::User && spec.mutable,
                default: spec.default.clone(),
                description: spec.description.clone(),
                pattern: spec.name.is_pattern(),
                values: spec.values.clone(),
            })
            .collect(),
    };
    let actions = manifest
        .actions
        .iter()
        .map(|action| Category {
            term: action.term.clone(),
            scheme: action.scheme.clone(),
            class: CategoryClass::Action,
            title: Some(action.title.clone()),
            rel: None,
            location: None,
            attributes: action.attributes.clone(),
            actions: Vec::new(),
        })
        .collect();
    // Each component is listed as a mixin whose attributes are its parameters, so a
    // client can see what it may request and set.
    let mixins = catalogue
        .iter()
        .map(|component| Category {
            term: component.name.clone(),
            scheme: COMPONENT_SCHEME.to_string(),
            class: CategoryClass::Mixin,
            title: Some(format!(
                "{} {}: {}",
                component.name, component.version, component.description
            )),
            rel: None,
            location: None,
            attributes: component
                .parameters
                .keys()
                .map(|param| format!("icclab.disco.components.{}.{param}", component.name))
                .collect(),
            actions: Vec::new(),
        })
        .chain(providers.iter().map(|provider| Category {
            term: provider.kind().as_str().to_string(),
            scheme: PROVIDER_SCHEME.to_string(),
            class: CategoryClass::Mixin,
            title: Some(provider.summary()),
            rel: None,
            location: None,
            attributes: Vec::new(),
            actions: Vec::new(),
        }))
        // Each template is a mixin a create applies with its Category: its title its
        // description, its attributes those it fixes.
        .chain(templates.iter().map(|(_, template)| Category {
            term: template.name.to_string(),
            scheme: TEMPLATE_SCHEME.to_string(),
            class: CategoryClass::Mixin,
            title: Some(template.description.clone()),
            rel: None,
            location: None,
            attributes: template.attributes.keys().cloned().collect(),
            actions: Vec::new(),
        }))
        .collect();
    QueryInterface {
        kinds: vec![kind],
        mixins,
        actions,
    }
}

/// A template as the API shows it (JSON): what it fixes, how many nodes it makes, whose.
pub fn template(template: &Template, origin: Origin, manifest: &Manifest) -> serde_json::Value {
    serde_json::json!({
        "name": template.name,
        "description": template.description,
        "origin": origin,
        "category": format!("{TEMPLATE_SCHEME}{}", template.name),
        "nodes": template.nodes(manifest),
        "components": template.component_names(),
        "attributes": template.attributes,
    })
}

/// One resource in the negotiated rendering.
pub fn resource(
    status: StatusCode,
    media: MediaType,
    resource: &Resource,
) -> Result<HttpResponse, ApiError> {
    match media {
        MediaType::Json => Ok(HttpResponse::build(status).json(json::resource(resource))),
        _ => lines(status, media, &render::resource_lines(resource)),
    }
}

/// A list of locations in text/occi: one `X-OCCI-Location` header.
pub fn occi_locations(locations: &[String]) -> Result<HttpResponse, ApiError> {
    lines(
        StatusCode::OK,
        MediaType::TextOcci,
        &render::location_lines(locations),
    )
}

pub fn query(media: MediaType, query: &QueryInterface) -> Result<HttpResponse, ApiError> {
    match media {
        MediaType::Json => Ok(HttpResponse::Ok().json(json::query_interface(query))),
        _ => lines(StatusCode::OK, media, &render::query_lines(query)),
    }
}

/// The answer to a create: 201, Location, and the new location in the rendering asked for.
pub fn created(media: MediaType, resource: &Resource) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, header_value(&resource.location)?));
    match media {
        MediaType::Json => Ok(response.json(json::resource(resource))),
        MediaType::UriList => Ok(response
            .content_type("text/uri-list")
            .body(render::uri_list(std::slice::from_ref(&resource.location)))),
        _ => lines_into(
            response,
            media,
            &render::location_lines(std::slice::from_ref(&resource.location)),
        ),
    }
}

/// text/occi: the lines as headers and "OK" as the body; text/plain: the lines as the body.
fn lines(status: StatusCode, media: MediaType, lines: &[Line]) -> Result<HttpResponse, ApiError> {
    lines_into(HttpResponse::build(status), media, lines)
}

fn lines_into(
    mut response: HttpResponseBuilder,
    media: MediaType,
    lines: &[Line],
) -> Result<HttpResponse, ApiError> {
    if media == MediaType::TextOcci {
        // Locations go in one comma-separated header (GFD.185 allows it): a listing of
        // hundreds of clusters would otherwise be more headers than clients accept.
        let (locations, others): (Vec<&Line>, Vec<&Line>) = lines
            .iter()
            .partition(|(name, _)| *name == render::LOCATION);
        for (name, value) in others {
            response.append_header((
                HeaderName::from_static(header_name(name)),
                header_value(value)?,
            ));
        }
        if !locations.is_empty() {
            let joined: Vec<&str> = locations.iter().map(|(_, v)| v.as_str()).collect();
            response.append_header((
                HeaderName::from_static(header_name(render::LOCATION)),
                header_value(&joined.join(", "))?,
            ));
        }
        return Ok(response.content_type("text/occi").body("OK\n"));
    }
    Ok(response
        .content_type("text/plain; charset=utf-8")
        .body(render::plain_body(lines)))
}

/// HTTP/2-safe lowercase names for the rendering's header names.
fn header_name(name: &str) -> &'static str {
    match name {
        render::CATEGORY => "category",
        render::ATTRIBUTE => "x-occi-attribute",
        render::LINK => "link",
        _ => "x-occi-location",
    }
}

fn header_value(value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering a header value: {e}")))
}

/// Sets `attribute` among `attributes`: replaced where it is, else added.
fn set(attributes: &mut Vec<Attribute>, attribute: Attribute) {
    match attributes.iter_mut().find(|a| a.name == attribute.name) {
        Some(there) => *there = attribute,
        None => attributes.push(attribute),
    }
}
