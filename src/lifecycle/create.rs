//! Creating a cluster: the one use case every way in calls (the OCCI interface, the
//! dashboard). It checks the request against the manifest, builds the spec, resolves it
//! against the catalogue, asks the provider whether it can run the plan and for what it
//! needs to act for the caller later, makes the cluster's keys, and stores the cluster
//! with its deploy job (unless staged) in one transaction. Nothing is stored when any of
//! that refuses.

use std::sync::Arc;

use chrono::Utc;

use super::Lifecycle;
use crate::auth::Identity;
use crate::cluster::keys::KeyPair;
use crate::cluster::lifetime::{self, LifetimeError};
use crate::cluster::spec::SpecError;
use crate::cluster::{Cluster, ClusterSpec, Outputs};
use crate::compose::NOVA_USER_DATA_LIMIT;
use crate::domain::attributes::{PROVIDER, USES};
use crate::domain::{ClusterId, ClusterState, ProviderKind};
use crate::frameworks::catalogue::Catalogue;
use crate::frameworks::request::ComponentRequest;
use crate::frameworks::resolve::{Offer, ResolveError, resolve_using};
use crate::manifest::{AttributeError, Manifest};
use crate::occi::text::Attribute;
use crate::providers::{Inadmissible, ProviderError, Providers};
use crate::store::{Store, StoreError};

/// What a create asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// The request's attributes, as given (OCCI's `X-OCCI-Attribute`, the dashboard's
    /// fields): checked against the manifest.
    pub attributes: Vec<Attribute>,
    /// The components, when the caller chose them as values (the dashboard's
    /// checkboxes) rather than in the `inject` attribute.
    pub components: Option<Vec<ComponentRequest>>,
    /// The clusters it uses as its OCCI links name them (UUIDs), besides those of the
    /// `icclab.disco.uses` attribute.
    pub uses: Vec<String>,
}

/// Why a create was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The attributes do not fit the manifest: each problem names its attribute.
    #[error("{}", AttributeError::joined(.0))]
    Attributes(Vec<AttributeError>),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Lifetime(#[from] LifetimeError),
    #[error(
        "{PROVIDER}: provider {kind} is not available on this server; expected one of {}",
        available.join(", ")
    )]
    ProviderUnavailable {
        kind: ProviderKind,
        available: Vec<&'static str>,
    },
    #[error(transparent)]
    Resolution(#[from] ResolveError),
    /// The provider cannot run the plan (too many slaves for this machine, say).
    #[error(transparent)]
    Unsupported(#[from] Inadmissible),
    /// The provider could not get what it acts with later, for now (Keystone is
    /// unreachable): worth another try.
    #[error("{0}")]
    DelegationUnavailable(String),
    /// The provider may not act for this caller (the cloud refused).
    #[error("{0}")]
    DelegationRefused(String),
    /// The node scripts, with the user's init actions, would not fit a server's user
    /// data.
    #[error(
        "{attribute}: the {group} node's user data would be {size} bytes (base64-encoded, as \
         Nova counts it); Nova takes at most {limit}: give fewer or smaller init actions, or \
         give them as URLs with their sha256"
    )]
    UserDataTooBig {
        attribute: &'static str,
        group: crate::frameworks::catalogue::NodeGroup,
        size: usize,
        limit: usize,
    },
    /// A cluster of that name exists for the tenant.
    #[error("{0}")]
    NameTaken(String),
    /// The provider takes one tenant's clusters, and another tenant has some: why.
    #[error("{PROVIDER}: {0}")]
    SoleTenant(&'static str),
    /// A cluster it uses is not among the tenant's.
    #[error("{USES}: you have no cluster {0:?}")]
    UsedUnknown(String),
    /// A cluster it uses is not ready.
    #[error("{USES}: {name} is {state}: a cluster can use only ready clusters")]
    UsedNotReady { name: String, state: ClusterState },
    #[error("creating the cluster: {0}")]
    Internal(#[source] anyhow::Error),
}

impl CreateError {
    /// The request's to correct (a form shows it again with the reason), rather than
    /// the server's or a peer's to fix.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            CreateError::DelegationUnavailable(_) | CreateError::Internal(_)
        )
    }
}

impl From<StoreError> for CreateError {
    fn from(error: StoreError) -> CreateError {
        match error {
            StoreError::NameTaken(_) => CreateError::NameTaken(error.to_string()),
            StoreError::UsedNotReady { name, state } => CreateError::UsedNotReady { name, state },
            other => CreateError::Internal(other.into()),
        }
    }
}

/// What creating a cluster needs.
#[derive(Clone)]
pub struct Creator {
    pub manifest: Arc<Manifest>,
    pub catalogue: Arc<Catalogue>,
    pub providers: Providers,
    /// The provider of requests that name none.
    pub default_provider: ProviderKind,
    pub store: Store,
    pub lifecycle: Lifecycle,
    /// The lifetimes the operator allows.
    pub lifetimes: crate::domain::LifetimePolicy,
}

impl Creator {
    /// Creates the caller's cluster: checked, resolved, admitted, stored with its deploy
    /// job (unless staged), and the worker woken. Returns the cluster as stored.
    pub async fn create(
        &self,
        caller: &Identity,
        request: CreateRequest,
    ) -> Result<Cluster, CreateError> {
        let provided: &[&str] = if request.components.is_some() {
            &[crate::domain::attributes::INJECT]
        } else {
            &[]
        };
        let checked = self
            .manifest
            .check_request_with(&request.attributes, provided)
            .map_err(CreateError::Attributes)?;
        let id = ClusterId::new();
        let mut spec = ClusterSpec::build(id, &checked, self.default_provider, request.components)?;
        spec.lifetime = lifetime::at_create(|name| checked.get(name), Utc::now(), &self.lifetimes)?;
        let kind = spec.request.provider;
        let provider =
            self.providers
                .get(kind)
                .ok_or_else(|| CreateError::ProviderUnavailable {
                    kind,
                    available: self.providers.kinds(),
                })?;
        let references =
            crate::cluster::spec::used_references(checked.string(USES), &request.uses)?;
        let used = self.used(caller, &references).await?;
        let offers: Vec<Offer> = used.iter().map(offer).collect();
        let plan = resolve_using(&spec.request, &self.catalogue, &offers)?;
        spec.uses = used.iter().map(|c| c.id).collect();
        provider.admits(&plan)?;
        spec.hide_secret_parameters(&plan);
        let delegation = provider.delegate(caller, id).await.map_err(|e| match e {
            ProviderError::Transient(reason) => CreateError::DelegationUnavailable(reason),
            ProviderError::Permanent(reason) => CreateError::DelegationRefused(reason),
        })?;
        let keys = KeyPair::generate(&format!("disco-{}", id.short()))
            .map_err(|e| CreateError::Internal(e.into()))?;
        let now = Utc::now();
        let state_reason = if spec.staged {
            "staged: deploy it with POST ?action=deploy"
        } else {
            "queued for deployment"
        };
        let cluster = Cluster {
            id,
            tenant: caller.tenant.clone(),
            spec,
            plan,
            delegation,
            state: ClusterState::Pending,
            state_reason: state_reason.to_string(),
            outputs: Outputs::default(),
            keys,
            created_at: now,
            updated_at: now,
            health: None,
            activity: None,
        };
        // With what the used clusters export (their secrets hidden: on OpenStack, where
        // the limit is, they are a few bytes).
        let (group, size) = self
            .lifecycle
            .compose_shown(&cluster)
            .await
            .map_err(CreateError::Internal)?
            .user_data_size();
        if size > NOVA_USER_DATA_LIMIT {
            return Err(CreateError::UserDataTooBig {
                attribute: if cluster.plan.init.is_empty() {
                    crate::domain::attributes::INJECT
                } else {
                    crate::domain::attributes::INIT
                },
                group,
                size,
                limit: NOVA_USER_DATA_LIMIT,
            });
        }
        match provider.sole_tenant() {
            None => self.store.insert_cluster(cluster.clone()).await?,
            Some(why) => match self
                .store
                .insert_cluster_of_sole_tenant(cluster.clone())
                .await
            {
                Err(StoreError::OtherTenant(_)) => return Err(CreateError::SoleTenant(why)),
                other => other?,
            },
        }
        tracing::info!(cluster = %cluster.id, name = %cluster.spec.request.name,
            provider = %kind, components = ?cluster.spec.component_names(),
            staged = cluster.spec.staged, "cluster created");
        self.lifecycle.wake();
        Ok(cluster)
    }

    /// The caller's clusters a create names, each ready.
    async fn used(
        &self,
        caller: &Identity,
        references: &[String],
    ) -> Result<Vec<Cluster>, CreateError> {
        let mut used = Vec::with_capacity(references.len());
        for reference in references {
            let cluster = self
                .store
                .cluster_by_reference(&caller.tenant, reference)
                .await
                .map_err(|e| CreateError::Internal(e.into()))?
                .ok_or_else(|| CreateError::UsedUnknown(reference.clone()))?;
            if cluster.state != ClusterState::Ready {
                return Err(CreateError::UsedNotReady {
                    name: cluster.spec.request.name.to_string(),
                    state: cluster.state,
                });
            }
            if !used.iter().any(|u: &Cluster| u.id == cluster.id) {
                used.push(cluster);
            }
        }
        Ok(used)
    }
}

/// What a used cluster offers, as resolution sees it.
fn offer(cluster: &Cluster) -> Offer {
    Offer {
        cluster: cluster.id,
        name: cluster.spec.request.name.to_string(),
        provider: cluster.plan.provider,
        components: cluster
            .plan
            .components
            .iter()
            .map(|c| {
                let exported = cluster
                    .outputs
                    .exports
                    .get(&c.name)
                    .map(|e| e.keys().cloned().collect())
                    .unwrap_or_default();
                (c.name.clone(), exported)
            })
            .collect(),
    }
}
