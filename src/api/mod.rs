//! The REST interface: OCCI routes for the disco kind and the query interface. Handlers
//! read the store and queue jobs; they never wait on a provider. Every request first
//! passes `guard` (Host, Origin) and `deadline` (how long its body may take), which
//! `startup` wraps around the whole application, dashboard included.

mod clusters;
pub mod dashboard;
mod deadline;
pub mod error;
mod guard;
mod health;
mod heat_events;
pub mod listing;
pub mod metrics;
mod negotiate;
mod outputs;
mod present;
mod request;
pub mod shown;
mod tasks;
mod templates;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Authenticator, Identity};
use crate::config::Settings;
use crate::frameworks::catalogue::Catalogue;
use crate::lifecycle::Lifecycle;
use crate::lifecycle::create::Creator;
use crate::manifest::Manifest;
use crate::providers::Providers;
use crate::store::Store;
pub use deadline::body_deadline;
use error::ApiError;
pub use guard::guard;
use negotiate::{Produces, Rendering, negotiation};
pub use shown::Shown;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub manifest: Arc<Manifest>,
    pub catalogue: Arc<Catalogue>,
    pub auth: Arc<dyn Authenticator>,
    pub lifecycle: Lifecycle,
    /// The create use case, which the OCCI interface and the dashboard share.
    pub creator: Creator,
    pub providers: Providers,
    pub settings: Arc<Settings>,
    /// The answers of `GET /disco/UUID` kept until the store's next write: where this
    /// process is its store's one server only (`Store::hold_sole_server`).
    pub shown: Option<shown::Shown>,
}

impl AppState {
    /// The scheme and host clients reach us at, for absolute URLs: `public_url`, else
    /// what the guard let through (a Host we answer to, or what a trusted proxy said),
    /// never an unchecked header.
    fn base_url(&self, req: &HttpRequest) -> String {
        let server = &self.settings.server;
        if let Some(configured) = &server.public_url {
            return crate::config::base(configured).to_string();
        }
        guard::client_origin(req, server)
            .map(|client| client.base_url())
            .unwrap_or_else(|_| guard::fallback_base(server))
    }

    async fn identify(&self, req: &HttpRequest) -> Result<Identity, ApiError> {
        Ok(self.auth.authenticate(&request::credentials(req)).await?)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, location: &str) {
    let collection = location.trim_end_matches('/').to_string();
    cfg.service(
        web::resource(["/-/", "/.well-known/org/ogf/occi/-/"])
            .wrap(from_fn(|req, next| {
                negotiation(Produces::Entity, req, next)
            }))
            .route(web::get().to(query_interface)),
    )
    .route("/metrics", web::get().to(metrics::metrics))
    .service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .route(web::head().to(healthz)),
    )
    .service(
        web::resource([format!("{collection}/"), collection.clone()])
            .wrap(from_fn(|req, next| {
                negotiation(Produces::Collection, req, next)
            }))
            .route(web::get().to(clusters::list))
            .route(web::post().to(clusters::create)),
    )
    .route(
        &format!("{collection}/components"),
        web::get().to(clusters::components),
    )
    // Before every `{collection}/{id}…`, which would take `templates` for an id.
    .service(
        web::resource([
            format!("{collection}/templates/"),
            format!("{collection}/templates"),
        ])
        .route(web::get().to(templates::list))
        .route(web::post().to(templates::create)),
    )
    .service(
        web::resource(format!("{collection}/templates/{{name}}"))
            .route(web::get().to(templates::show))
            .route(web::delete().to(templates::delete)),
    )
    // A cluster's own resource, the most asked for (every poll of its state), before the
    // routes of its parts: a request tries the routes in order, each a regular expression.
    .service(
        web::resource(format!("{collection}/{{id}}"))
            .wrap(from_fn(|req, next| {
                negotiation(Produces::Entity, req, next)
            }))
            .route(web::get().to(clusters::show))
            .route(web::delete().to(clusters::delete))
            .route(web::post().to(clusters::action)),
    )
    .route(
        &format!("{collection}/{{id}}/plan"),
        web::get().to(clusters::plan),
    )
    .route(
        &format!("{collection}/{{id}}/template"),
        web::get().to(clusters::template),
    )
    .service(
        web::resource(format!("{collection}/{{id}}/outputs"))
            .route(web::get().to(outputs::show))
            .route(web::post().to(outputs::report)),
    )
    .service(
        web::resource(format!("{collection}/{{id}}/report"))
            .route(web::post().to(tasks::report))
            .route(web::get().to(tasks::membership)),
    )
    .service(
        web::resource(format!("{collection}/{{id}}/health"))
            .route(web::post().to(health::heartbeat))
            .route(web::get().to(health::show)),
    )
    .route(
        &format!("{collection}/{{id}}/health/repair"),
        web::get().to(health::repair_for_agent),
    )
    .service(
        web::resource(format!("{collection}/{{id}}/tasks"))
            .wrap(from_fn(|req, next| {
                negotiation(Produces::TaskTree, req, next)
            }))
            .route(web::get().to(tasks::tasks)),
    )
    .route(
        &format!("{collection}/{{id}}/events"),
        web::get().to(tasks::events),
    )
    .route(
        &format!("{collection}/{{id}}/logs"),
        web::get().to(tasks::logs),
    )
    // Every dashboard page holds the browser's CSRF token and the caller's clusters
    // (one its private key): nothing a shared cache or the browser's may keep.
    .service(
        web::scope("/dashboard")
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .route("", web::get().to(dashboard::clusters))
            .route("/", web::get().to(dashboard::clusters))
            .route("/states", web::get().to(dashboard::states))
            .route("/app.js", web::get().to(dashboard::script))
            .route("/login", web::get().to(dashboard::login_form))
            .route("/login", web::post().to(dashboard::login))
            .route("/logout", web::post().to(dashboard::logout))
            .route("/new", web::get().to(dashboard::new_form))
            .route("/new", web::post().to(dashboard::create))
            .route("/clusters/{id}", web::get().to(dashboard::cluster))
            .route("/clusters/{id}/key", web::get().to(dashboard::key))
            .route("/clusters/{id}/events", web::get().to(dashboard::events))
            .route(
                "/clusters/{id}/timeline",
                web::get().to(dashboard::timeline),
            )
            .route("/clusters/{id}/delete", web::post().to(dashboard::delete))
            .route("/clusters/{id}/deploy", web::post().to(dashboard::deploy))
            .route("/clusters/{id}/repair", web::post().to(dashboard::repair))
            .route(
                "/clusters/{id}/{operation}",
                web::post().to(dashboard::operate),
            ),
    );
}

/// The query interface: the kind, its actions, and the mixins a create may name (the
/// components, providers and templates: the operator's, and with credentials the
/// caller's tenant's too).
async fn query_interface(
    req: HttpRequest,
    Rendering(media): Rendering,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credentials = request::credentials(&req);
    let templates = if credentials.token.is_some()
        || credentials.user.is_some()
        || credentials.tenant.is_some()
    {
        let identity = state.identify(&req).await?;
        state.creator.templates.list(&identity.tenant).await?
    } else {
        state
            .creator
            .templates
            .operator
            .iter()
            .map(|t| (crate::templates::Origin::Operator, t.clone()))
            .collect()
    };
    let query = present::query_interface(
        &state.manifest,
        &state.catalogue,
        &state.providers,
        &templates,
    );
    present::query(media, &query)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}
