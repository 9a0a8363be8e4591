//! What the dashboard's pages show: the handlebars templates (compiled into the binary,
//! HTML-escaped), the data each is drawn from, and the rendered page with its security
//! headers.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;

use super::form::field;
use super::node_choices;
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::cluster::Cluster;

fn templates() -> &'static Handlebars<'static> {
    static TEMPLATES: OnceLock<Handlebars<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(false);
        for (name, text) in [
            ("layout", include_str!("templates/layout.hbs")),
            ("clusters", include_str!("templates/clusters.hbs")),
            ("new", include_str!("templates/new.hbs")),
            ("cluster", include_str!("templates/cluster.hbs")),
            ("login", include_str!("templates/login.hbs")),
        ] {
            // The templates are part of the binary: a broken one is a bug found by any
            // test that renders it.
            if let Err(e) = hb.register_template_string(name, text) {
                tracing::error!(template = name, error = %e, "dashboard template");
            }
        }
        hb
    })
}

pub(crate) fn page(name: &str, data: &serde_json::Value) -> Result<HttpResponse, ApiError> {
    let html = templates()
        .render(name, data)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering {name}: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(html))
}

/// `data` with the header's values added.
pub(crate) fn with_chrome(
    mut data: serde_json::Value,
    chrome: serde_json::Value,
) -> serde_json::Value {
    if let (Some(data), Some(chrome)) = (data.as_object_mut(), chrome.as_object()) {
        for (key, value) in chrome {
            data.entry(key.clone()).or_insert(value.clone());
        }
    }
    data
}

#[derive(Serialize)]
pub(crate) struct Row {
    id: String,
    name: String,
    components: String,
    provider: String,
    nodes: u16,
    state: String,
    created: String,
}

pub(crate) fn row(cluster: &Cluster) -> Row {
    Row {
        id: cluster.id.to_string(),
        name: cluster.spec.name.to_string(),
        components: cluster.plan.component_names().join(", "),
        provider: cluster.spec.provider.to_string(),
        nodes: cluster.plan.slave_count() + 1,
        state: cluster.state.to_string(),
        created: cluster.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

pub(crate) fn new_form_data(
    state: &AppState,
    csrf: &str,
    form: &[(String, String)],
    error: Option<String>,
    choices: Option<&crate::openstack::nodes::NodeChoices>,
) -> serde_json::Value {
    let value = |key: &str| field(form, key);
    let chosen: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "component")
        .map(|(_, v)| v.clone())
        .collect();
    let provider = match value("provider") {
        p if p.is_empty() => state.settings.provider.default.to_string(),
        p => p,
    };
    let providers: Vec<_> = state
        .providers
        .kinds()
        .into_iter()
        .map(|name| json!({ "name": name, "selected": name == provider }))
        .collect();
    let components: Vec<_> = state
        .catalogue
        .iter()
        .map(|c| {
            let params: Vec<_> = c
                .parameters
                .iter()
                .map(|(name, p)| {
                    json!({
                        "name": name,
                        "kind": p.kind.as_str(),
                        "secret": p.secret,
                        "description": p.description,
                        "default": match &p.default {
                            crate::cluster::spec::Scalar::String(s) => s.clone(),
                            crate::cluster::spec::Scalar::Integer(i) => i.to_string(),
                            crate::cluster::spec::Scalar::Float(f) => f.to_string(),
                            crate::cluster::spec::Scalar::Bool(b) => b.to_string(),
                        },
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "version": c.version,
                "description": c.description,
                "providers": c.providers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                "depends": c.depends_on.join(","),
                "checked": chosen.contains(&c.name),
                "params": params,
            })
        })
        .collect();
    let or = |key: &str, default: &str| match value(key) {
        v if v.is_empty() => default.to_string(),
        v => v,
    };
    json!({
        "csrf": csrf,
        "error": error,
        "providers": providers,
        "components": components,
        "nodes": node_choices::fields(form, choices),
        "form": {
            "name": value("name"),
            "slaves": or("slaves", "2"),
            "stage": value("stage") == "true",
        },
    })
}
