//! Creating a cluster: the one use case every way in calls (the OCCI interface, the
//! dashboard). It checks the request against the manifest, builds the spec, resolves it
//! against the catalogue, asks the provider whether it can run the plan, whether the
//! caller's project has room for it (the pre-flight, which a dry run stops after) and for
//! what it needs to act for the caller later, makes the cluster's keys, and stores the cluster
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
use crate::domain::attributes::component_parameter;
use crate::domain::attributes::{DEPLOYER_TYPE, INJECT, NAME, PROVIDER, STAGE, TEMPLATE, USES};
use crate::domain::{ClusterId, ClusterState, ProviderKind, Scalar};
use crate::frameworks::catalogue::Catalogue;
use crate::frameworks::inject::{component_names, literal_of};
use crate::frameworks::plan::REDACTED;
use crate::frameworks::request::ComponentRequest;
use crate::frameworks::resolve::{Offer, ResolveError, resolve_using};
use crate::manifest::{AttributeError, Manifest};
use crate::occi::text::Attribute;
use crate::providers::preflight::{Preflight, QuotaError};
use crate::providers::{Inadmissible, Provider, ProviderError, Providers};
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
    /// The template a create names is neither the operator's nor the caller's.
    #[error(
        "{TEMPLATE}: unknown template {name:?}; known templates: {}",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    UnknownTemplate { name: String, known: Vec<String> },
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
    /// The project's quotas are short, an image or flavor is missing, or the cloud could
    /// not be asked (the provider's pre-flight).
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// A cluster of that name exists for the tenant.
    #[error("{0}")]
    NameTaken(String),
    /// A staged cluster's change names what only a create says.
    #[error(
        "{0}: fixed at create (with the cluster's name, provider, deployer and template); \
         create another cluster to change it"
    )]
    FixedWhenStaged(String),
    /// A staged cluster's change came once it was no longer staged: its state.
    #[error("{0}")]
    WrongState(String),
    /// The provider takes one tenant's clusters, and another tenant has some: why.
    #[error("{PROVIDER}: {0}")]
    SoleTenant(&'static str),
    /// A cluster it uses is not among the tenant's.
    #[error("{USES}: you have no cluster {0:?}")]
    UsedUnknown(String),
    /// Two clusters it uses are on different networks.
    #[error(
        "{USES}: {first} and {other} are on different networks, and a cluster is put on one: use clusters of one network"
    )]
    UsedApart { first: String, other: String },
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
        match self {
            CreateError::DelegationUnavailable(_) | CreateError::Internal(_) => false,
            CreateError::Quota(quota) => !quota.is_unavailable(),
            _ => true,
        }
    }
}

impl From<StoreError> for CreateError {
    fn from(error: StoreError) -> CreateError {
        match error {
            StoreError::NameTaken(_) => CreateError::NameTaken(error.to_string()),
            StoreError::UsedNotReady { name, state } => CreateError::UsedNotReady { name, state },
            StoreError::WrongState { .. } => CreateError::WrongState(error.to_string()),
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
    /// The operator's templates and each tenant's, which a create may start from.
    pub templates: super::templates::TemplateBook,
}

impl Creator {
    /// Creates the caller's cluster: checked, resolved, admitted (its quotas too), stored
    /// with its deploy job (unless staged), and the worker woken. Returns the cluster as
    /// stored.
    pub async fn create(
        &self,
        caller: &Identity,
        request: CreateRequest,
    ) -> Result<Cluster, CreateError> {
        let (mut cluster, _) = self.check(caller, request).await?;
        let id = cluster.id;
        let kind = cluster.spec.request.provider;
        let provider = self.provider(kind)?;
        // Last, as it makes something in the cloud (an application credential), which a
        // refusal after it takes back.
        cluster.delegation = provider.delegate(caller, id).await.map_err(|e| match e {
            ProviderError::Transient(reason) => CreateError::DelegationUnavailable(reason),
            ProviderError::Permanent(reason) => CreateError::DelegationRefused(reason),
        })?;
        let inserted = match provider.sole_tenant() {
            None => self.store.insert_cluster(cluster.clone()).await,
            Some(_) => {
                self.store
                    .insert_cluster_of_sole_tenant(cluster.clone())
                    .await
            }
        };
        if let Err(refused) = inserted {
            provider.undelegate(&cluster).await;
            return Err(match (refused, provider.sole_tenant()) {
                (StoreError::OtherTenant(_), Some(why)) => CreateError::SoleTenant(why),
                (other, _) => other.into(),
            });
        }
        tracing::info!(cluster = %cluster.id, name = %cluster.spec.request.name,
            provider = %kind, components = ?cluster.spec.component_names(),
            staged = cluster.spec.staged, "cluster created");
        self.lifecycle.wake();
        Ok(cluster)
    }

    /// What a create and its dry run share: the cluster the request makes (not stored,
    /// with no delegation yet) once checked, resolved and admitted, and the provider's
    /// pre-flight of it (the project's quotas, its images and flavors), made with the
    /// caller's identity before anything is made in the cloud.
    async fn check(
        &self,
        caller: &Identity,
        request: CreateRequest,
    ) -> Result<(Cluster, Preflight), CreateError> {
        let id = ClusterId::new();
        let attributes = self
            .templates
            .apply(
                &caller.tenant,
                request.attributes,
                request.components.as_deref(),
            )
            .await?;
        let (spec, plan) = self
            .prepare(
                &caller.tenant,
                id,
                &attributes,
                request.components,
                &request.uses,
                Utc::now(),
            )
            .await?;
        let provider = self.provider(spec.request.provider)?;
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
            delegation: Default::default(),
            state: ClusterState::Pending,
            state_reason: state_reason.to_string(),
            outputs: Outputs::default(),
            keys,
            created_at: now,
            updated_at: now,
            health: None,
            activity: None,
        };
        self.check_user_data(&cluster).await?;
        let needs = self
            .lifecycle
            .needs(&cluster)
            .await
            .map_err(|e| CreateError::Internal(e.into()))?;
        let preflight = provider.preflight(caller, &cluster.plan, &needs).await?;
        Ok((cluster, preflight))
    }

    /// A create that makes nothing (`?dry_run=true`): the cluster it would make, not
    /// stored, and what it would use; refused as the create would be, up to the
    /// delegation (no application credential is made).
    pub async fn dry_run(
        &self,
        caller: &Identity,
        request: CreateRequest,
    ) -> Result<(Cluster, Preflight), CreateError> {
        self.check(caller, request).await
    }

    /// Deploys the caller's staged cluster (`?action=deploy`): checked against the
    /// caller's project first (the pre-flight, as at its create: the project may have
    /// less left now), then its deploy job stored. `None` when it has no such cluster;
    /// a cluster no longer pending is the store's 409.
    pub async fn deploy_staged(
        &self,
        caller: &Identity,
        id: ClusterId,
    ) -> Result<Option<Cluster>, CreateError> {
        let Some(cluster) = self.store.cluster(Some(&caller.tenant), id).await? else {
            return Ok(None);
        };
        if cluster.state == ClusterState::Pending {
            let needs = self
                .lifecycle
                .needs(&cluster)
                .await
                .map_err(|e| CreateError::Internal(e.into()))?;
            self.provider(cluster.spec.request.provider)?
                .preflight(caller, &cluster.plan, &needs)
                .await?;
        }
        Ok(self.store.request_deploy(&caller.tenant, id).await?)
    }

    /// Whether the cluster's node scripts fit Nova's user data (with what the used
    /// clusters export, their secrets hidden: a few bytes there); a `400` naming the
    /// size otherwise. For the providers whose nodes boot with it: OpenStack, and the
    /// file provider, whose Heat template is for OpenStack; not the local provider.
    async fn check_user_data(&self, cluster: &Cluster) -> Result<(), CreateError> {
        if cluster.plan.provider == ProviderKind::Local {
            return Ok(());
        }
        let (group, size) = self
            .lifecycle
            .compose_shown(cluster)
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
        Ok(())
    }

    /// The caller's clusters a create names, each ready.
    async fn used(
        &self,
        tenant: &crate::domain::TenantId,
        references: &[String],
    ) -> Result<Vec<Cluster>, CreateError> {
        let mut used = Vec::with_capacity(references.len());
        for reference in references {
            let cluster = self
                .store
                .cluster_by_reference(tenant, reference)
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
        // A cluster is put on one network: the clusters it uses must share it.
        let mut networks = used
            .iter()
            .filter_map(|c| c.outputs.network.as_deref().map(|n| (c, n)));
        if let Some((first, network)) = networks.next()
            && let Some((other, _)) = networks.find(|(_, n)| n != &network)
        {
            return Err(CreateError::UsedApart {
                first: first.spec.request.name.to_string(),
                other: other.spec.request.name.to_string(),
            });
        }
        Ok(used)
    }

    /// The spec and plan `attributes` make for cluster `id`: checked against the manifest,
    /// resolved against the catalogue and admitted by the provider, secrets hidden in
    /// the spec. `since` is when its lifetime counts from.
    ///
    /// The clusters it uses (`icclab.disco.uses`, and `links`, the UUIDs its OCCI links
    /// name) are the tenant's and ready, and serve what its components take from them.
    async fn prepare(
        &self,
        tenant: &crate::domain::TenantId,
        id: ClusterId,
        attributes: &[Attribute],
        components: Option<Vec<ComponentRequest>>,
        links: &[String],
        since: chrono::DateTime<Utc>,
    ) -> Result<(ClusterSpec, crate::frameworks::plan::Plan), CreateError> {
        let provided: &[&str] = if components.is_some() {
            &[crate::domain::attributes::INJECT]
        } else {
            &[]
        };
        let checked = self
            .manifest
            .check_request_with(attributes, provided)
            .map_err(CreateError::Attributes)?;
        let mut spec = ClusterSpec::build(id, &checked, self.default_provider, components)?;
        spec.lifetime = lifetime::at_create(|name| checked.get(name), since, &self.lifetimes)?;
        let references = crate::cluster::spec::used_references(checked.string(USES), links)?;
        let used = self.used(tenant, &references).await?;
        let offers: Vec<Offer> = used.iter().map(offer).collect();
        let plan = resolve_using(&spec.request, &self.catalogue, &offers)?;
        spec.uses = used.iter().map(|c| c.id).collect();
        if !used.is_empty() {
            // All of them, however named (links too), as the cluster shows them and a
            // staged change takes them again.
            let names: Vec<String> = used
                .iter()
                .map(|c| c.spec.request.name.to_string())
                .collect();
            spec.attributes
                .insert(USES.to_string(), Scalar::String(names.join(",")));
        }
        self.provider(spec.request.provider)?.admits(&plan)?;
        spec.hide_secret_parameters(&plan);
        Ok((spec, plan))
    }

    fn provider(&self, kind: ProviderKind) -> Result<&Arc<dyn Provider>, CreateError> {
        self.providers
            .get(kind)
            .ok_or_else(|| CreateError::ProviderUnavailable {
                kind,
                available: self.providers.kinds(),
            })
    }

    /// A change of the tenant's staged cluster before its deploy (DTK's "stage, then
    /// customise"): `changes` over the attributes it was created with, checked, resolved
    /// and admitted as a create's are, then its spec and plan stored together while it
    /// is still staged. `None` when the tenant has no such cluster; nothing changes on a
    /// refusal.
    ///
    /// A change of what the cluster needs of the cloud (its slaves, flavors, images,
    /// network) is checked against the caller's project as a create is (the pre-flight,
    /// with the caller's identity).
    pub async fn update_staged(
        &self,
        caller: &Identity,
        id: ClusterId,
        changes: Vec<Attribute>,
    ) -> Result<Option<Cluster>, CreateError> {
        let tenant = &caller.tenant;
        let Some(cluster) = self.store.cluster(Some(tenant), id).await? else {
            return Ok(None);
        };
        if cluster.state != ClusterState::Pending || !cluster.spec.staged {
            return Err(StoreError::WrongState {
                state: cluster.state,
                action: "a change of its attributes",
                needed: "pending (staged, before ?action=deploy)",
            }
            .into());
        }
        if let Some(fixed) = changes
            .iter()
            .find(|a| FIXED_WHEN_STAGED.contains(&a.name.as_str()) || a.name.starts_with(DEPLOYER))
        {
            return Err(CreateError::FixedWhenStaged(
                fixed.name.chars().take(80).collect(),
            ));
        }
        let attributes = staged_attributes(&cluster, changes);
        let (mut spec, plan) = self
            .prepare(tenant, id, &attributes, None, &[], cluster.created_at)
            .await?;
        // What a create alone decides stays: its name and whether it is staged.
        spec.request.name = cluster.spec.request.name.clone();
        spec.deployer = cluster.spec.deployer.clone();
        let mut changed = cluster.clone();
        changed.spec = spec.clone();
        changed.plan = plan.clone();
        self.check_user_data(&changed).await?;
        let needs = |cluster: &Cluster| {
            let cluster = cluster.clone();
            async move {
                self.lifecycle
                    .needs(&cluster)
                    .await
                    .map_err(|e| CreateError::Internal(e.into()))
            }
        };
        let after = needs(&changed).await?;
        if after != needs(&cluster).await?
            || changed.plan.infrastructure != cluster.plan.infrastructure
        {
            self.provider(changed.spec.request.provider)?
                .preflight(caller, &changed.plan, &after)
                .await?;
        }
        let updated = self.store.update_staged(tenant, id, spec, plan).await?;
        if let Some(cluster) = &updated {
            tracing::info!(cluster = %cluster.id, components = ?cluster.spec.component_names(),
                slaves = cluster.spec.request.slaves.get(), "staged cluster changed");
        }
        Ok(updated)
    }
}

/// What names a cluster, where it runs and as whom: a create's to say, not a change's.
const FIXED_WHEN_STAGED: [&str; 5] = [NAME, PROVIDER, STAGE, TEMPLATE, DEPLOYER_TYPE];
const DEPLOYER: &str = "icclab.disco.deployer.";

/// A staged cluster's attributes after `changes`: those it was created with (as shown,
/// secrets left out) under the changes. The secret parameters it was given (shown
/// hidden) are taken again from its plan, unless changed: in its components when they
/// are not changed, as attributes while their component is still requested by name.
fn staged_attributes(cluster: &Cluster, changes: Vec<Attribute>) -> Vec<Attribute> {
    let changed = |name: &str| changes.iter().any(|a| a.name == name);
    let planned = |component: &str, param: &str| {
        cluster
            .plan
            .components
            .iter()
            .find(|c| c.name == component)
            .and_then(|c| c.params.get(param))
            .cloned()
    };
    let hidden = |value: &Scalar| value.as_str() == Some(REDACTED);
    let mut attributes: Vec<Attribute> = cluster
        .spec
        .attributes
        .iter()
        .filter(|(name, value)| !changed(name) && !hidden(value) && name.as_str() != INJECT)
        .map(|(name, value)| Attribute {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    // The init actions are shown summed up: they go again whole, unless changed.
    if let Some(init) = attributes
        .iter_mut()
        .find(|a| a.name == crate::domain::attributes::INIT)
        && let Ok(json) = serde_json::to_string(&cluster.plan.init)
    {
        init.value = Scalar::String(json);
    }
    let mut components = cluster.spec.request.components.clone();
    if !changed(INJECT) {
        for component in &mut components {
            let name = component.name.to_string();
            for (param, value) in component.params.iter_mut() {
                if hidden(value)
                    && let Some(real) = planned(&name, param)
                {
                    *value = real;
                }
            }
        }
        attributes.push(Attribute {
            name: INJECT.to_string(),
            value: Scalar::String(literal_of(&components).to_string()),
        });
    }
    let requested: Vec<String> = match changes.iter().find(|a| a.name == INJECT) {
        Some(inject) => inject
            .value
            .as_str()
            .and_then(component_names)
            .unwrap_or_default(),
        None => components.iter().map(|c| c.name.to_string()).collect(),
    };
    for (component, params) in &cluster.spec.request.parameters {
        for (param, value) in params {
            let name = component_parameter(component, param);
            if hidden(value)
                && !changed(&name)
                && requested.contains(component)
                && let Some(real) = planned(component, param)
            {
                attributes.push(Attribute { name, value: real });
            }
        }
    }
    attributes.extend(changes);
    attributes
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
