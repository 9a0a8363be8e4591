//! Building and running the service: the store, the providers, the lifecycle worker and
//! the HTTP server, wired together from `Settings`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::api::{self, AppState};
use crate::auth::{Authenticator, KeystoneAuth, NoAuth};
use crate::compose::Composer;
use crate::config::{AuthMode, Settings};
use crate::domain::ProviderKind;
use crate::frameworks::catalogue::Catalogue;
use crate::lifecycle::Lifecycle;
use crate::lifecycle::create::Creator;
use crate::lifecycle::templates::TemplateBook;
use crate::manifest::Manifest;
use crate::openstack::keystone::Keystone;
use crate::providers::Providers;
use crate::providers::file::FileProvider;
use crate::providers::local::LocalProvider;
use crate::providers::openstack::OpenstackProvider;
use crate::store::Store;
use crate::templates::Templates;

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    worker: Option<tokio::task::JoinHandle<()>>,
    stop_worker: watch::Sender<bool>,
    store: Store,
    /// This replica's name, held while the server lives (when it runs jobs).
    _replica_name: Option<crate::store::NameHeld>,
    /// A SQLite store held as this process's alone while the server lives.
    _sole_server: Option<crate::store::SoleServer>,
    /// What the other replicas tell, heard while the server lives (PostgreSQL).
    _listening: Option<crate::store::news::Listening>,
}

/// The providers this server offers: file and local always; OpenStack when the operator
/// configured a cloud for it, and required when it is the default.
fn providers(settings: &Settings) -> anyhow::Result<Providers> {
    let file: Arc<dyn crate::providers::Provider> =
        Arc::new(FileProvider::new(settings.provider.file.dir.clone()));
    #[cfg(feature = "bench-provider")]
    let file: Arc<dyn crate::providers::Provider> =
        match crate::providers::timed::Timed::from_env(Arc::clone(&file)) {
            Some(timed) => Arc::new(timed),
            None => file,
        };
    let mut providers = Providers::default().with(file);
    match LocalProvider::new(settings.provider.local.clone(), &settings.data_dir) {
        Ok(provider) => providers = providers.with(Arc::new(provider)),
        Err(e) if settings.provider.default == ProviderKind::Local => {
            return Err(e).context("the local provider");
        }
        Err(e) => tracing::warn!("the local provider is not available: {e}"),
    }
    let wants_openstack = settings.provider.default == ProviderKind::Openstack;
    if wants_openstack || settings.openstack.has_keystone() {
        match OpenstackProvider::new(&settings.openstack) {
            Ok(provider) => providers = providers.with(Arc::new(provider)),
            Err(e) if wants_openstack => return Err(e).context("the openstack provider"),
            Err(e) => tracing::warn!("the openstack provider is not available: {e}"),
        }
    }
    Ok(providers)
}

/// Who may call: anyone with auth `none`, Keystone's users with `keystone`.
fn authenticator(settings: &Settings) -> anyhow::Result<Arc<dyn Authenticator>> {
    Ok(match settings.auth.mode {
        AuthMode::None => Arc::new(NoAuth),
        AuthMode::Keystone => {
            let openstack = &settings.openstack;
            let Some(auth_url) = &openstack.auth_url else {
                anyhow::bail!(
                    "auth.mode = \"keystone\" needs openstack.auth_url (or --cloud, or OS_AUTH_URL)"
                );
            };
            Arc::new(KeystoneAuth::new(
                Keystone::new(
                    auth_url,
                    Duration::from_secs(openstack.request_timeout_secs),
                )?,
                &openstack.user_domain,
                &openstack.project_domain,
            ))
        }
    })
}

impl Application {
    /// Opens the store, binds the listener (port 0 picks a free one) and starts the
    /// lifecycle worker, which resumes every job left queued by an earlier run.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let settings = Arc::new(settings);
        let manifest = Arc::new(
            Manifest::load(settings.manifest_path()).context("loading the service manifest")?,
        );
        let location = settings.store_location();
        let store = Store::connect(location.clone())
            .await
            .with_context(|| format!("opening the store ({location})"))?
            .for_replica(settings.replica());
        tracing::info!(store = %location, replica = %store.replica().name, "store open");
        // A SQLite store has one server, which alone writes it: what it answered stays
        // current until its own next write.
        let sole_server = store.hold_sole_server().await?;
        // A replica that runs jobs holds its name: it takes back the jobs leased in it.
        let replica_name = if settings.jobs.enabled {
            Some(store.hold_replica_name().await?)
        } else {
            None
        };
        let providers = providers(&settings)?;
        let auth = authenticator(&settings)?;
        let catalogue = Arc::new(
            Catalogue::load(&settings.catalogue.frameworks_dir)
                .context("loading the component catalogue")?,
        );
        let templates = Arc::new(
            Templates::load(
                &settings.catalogue.cluster_templates_dir,
                &manifest,
                &catalogue,
            )
            .context("loading the cluster templates")?,
        );
        let composer = Arc::new(
            Composer::load(&settings.catalogue.templates_dir).context("loading the templates")?,
        );
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("listening on {}", settings.server.listen))?;
        let port = listener.local_addr()?.port();
        let location = manifest.kind.location.clone();
        let lifecycle = Lifecycle::new(
            store.clone(),
            providers.clone(),
            settings.jobs.clone(),
            Arc::clone(&catalogue),
            composer,
            Some(format!(
                "{}/{}",
                report_base(&settings, port),
                location.trim_matches('/')
            )),
            settings.store.keep_deleted_days,
        );
        // The metrics count the steps and deploys that finish from now on.
        *lifecycle.metrics().marks.lock().await = store
            .high_marks()
            .await
            .context("reading the store's high marks")?;
        let listening = lifecycle.listen_to_replicas();
        let (stop_worker, stopped) = watch::channel(false);
        let worker = settings
            .jobs
            .enabled
            .then(|| tokio::spawn(lifecycle.clone().run(stopped)));

        let creator = Creator {
            manifest: Arc::clone(&manifest),
            catalogue: Arc::clone(&catalogue),
            providers: providers.clone(),
            default_provider: settings.provider.default,
            store: store.clone(),
            lifecycle: lifecycle.clone(),
            lifetimes: settings.jobs.lifetimes(),
            templates: TemplateBook {
                operator: templates,
                store: store.clone(),
                manifest: Arc::clone(&manifest),
                catalogue: Arc::clone(&catalogue),
            },
        };
        let state = web::Data::new(AppState {
            store: store.clone(),
            manifest: Arc::clone(&manifest),
            catalogue,
            auth,
            lifecycle: lifecycle.clone(),
            creator,
            providers,
            settings: Arc::clone(&settings),
            shown: sole_server.is_some().then(api::Shown::default),
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(api::body_deadline))
                .wrap(from_fn(api::guard))
                .wrap(from_fn(api::metrics::record))
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .configure(|cfg| api::configure(cfg, &location))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        // The head of a request within request_timeout_secs (the body: api::deadline),
        // and a closing connection's last bytes too.
        .client_request_timeout(Duration::from_secs(settings.server.request_timeout_secs))
        .client_disconnect_timeout(Duration::from_secs(settings.server.request_timeout_secs))
        // A client that closes its end has gone: drop what it was sent (an event stream
        // would otherwise live on until a write to it fails, a keepalive later).
        .h1_allow_half_closed(false)
        .listen(listener)?
        .run();
        tracing::info!(port, data_dir = %settings.data_dir.display(), "DISCO is listening");
        let server_settings = &settings.server;
        if server_settings.listen.ip().is_unspecified()
            && server_settings.allowed_hosts.is_empty()
            && server_settings.public_url.is_none()
        {
            tracing::warn!(
                "listening on {} but only localhost and loopback addresses are served as Host: \
                 list the names clients use in server.allowed_hosts",
                server_settings.listen
            );
        }
        Ok(Application {
            port,
            server,
            lifecycle,
            worker,
            stop_worker,
            store,
            _replica_name: replica_name,
            _sole_server: sole_server,
            _listening: listening,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The lifecycle, so tests can run queued jobs themselves.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves until the server is stopped (SIGINT or SIGTERM: requests in flight finish),
    /// then stops the worker; its unfinished jobs stay queued for the next start.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        let _ = self.stop_worker.send(true);
        if let Some(worker) = self.worker
            && tokio::time::timeout(Duration::from_secs(5), worker)
                .await
                .is_err()
        {
            tracing::warn!("the lifecycle worker did not stop within 5 s");
        }
        served.context("running the HTTP server")
    }
}

/// Where nodes send their reports: `server.public_url`, else the address this server
/// listens on (a wildcard address as loopback, which local nodes reach).
fn report_base(settings: &Settings, port: u16) -> String {
    if let Some(configured) = &settings.server.public_url {
        return crate::config::base(configured).to_string();
    }
    let ip = settings.server.listen.ip();
    let ip = if ip.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    };
    format!("http://{}", std::net::SocketAddr::new(ip, port))
}
