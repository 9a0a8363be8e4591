//! The `openstack` provider: a cluster is a Heat stack, created, watched and deleted in
//! the owner's project with an application credential the owner's token made for this
//! cluster at create, and which is deleted with it.
//!
//! Why not a trust to a DISCO service user, as Magnum and Sahara keep theirs: Heat itself
//! makes a trust when it creates a stack, and Keystone refuses to make one from a
//! trust-scoped token unless the cloud allows redelegation, which stock Keystone does
//! not. An application credential's tokens are ordinary project tokens, so Heat works
//! with them on any Keystone since Queens; it must be unrestricted for Heat's trust.
//!
//! The stack's name derives from the cluster's id (`disco-<short id>`) and the stack is
//! tagged with the whole id, so a deploy that runs again after a crash finds the stack the
//! first attempt made instead of making a second. A create still in flight when the
//! service died can land after the restart made its own stack (Heat checks names before
//! storing, not atomically): such a second stack is deleted before the cluster is called
//! ready, and delete removes every stack tagged with the cluster. Unreachable peers and 5xx answers are transient (the job retries with
//! backoff); Heat's 4xx reasons are kept verbatim as the cluster's failure reason.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Progress, Provider, ProviderError, Suspension, Teardown};
use crate::auth::Identity;
use crate::cluster::heat_events::HeatEvents;
use crate::cluster::{Cluster, Delegation, LostSlave, Outputs};
use crate::compose::Composition;
use crate::compose::heat::WEB_UI_OUTPUT;
use crate::config::OpenstackSettings;
use crate::domain::health::CheckOutcome;
use crate::domain::node::{slave_index, slave_name};
use crate::domain::{ClusterId, ProviderKind, Resize};
use crate::openstack::events;
use crate::openstack::heat::{CreateStack, Heat, HeatError, Stack, StackResource};
use crate::openstack::keystone::{Keystone, KeystoneError, Token};

/// Tokens are renewed this long before they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// The slaves' resource group in the cluster template, and its parameter naming the
/// members DISCO gave up on.
const SLAVES_GROUP: &str = "slaves";
const REMOVED_SLAVES: &str = "removed_slaves";
/// The wait condition of a slave's member stack (heat-templates/cluster-slave.yaml).
const WAIT_CONDITION: &str = "wait_condition";

pub struct OpenstackProvider {
    keystone: Keystone,
    settings: OpenstackSettings,
    environment: Option<HeatEnvironment>,
    /// Tokens by application credential id, reused until shortly before they expire.
    tokens: Mutex<HashMap<String, Token>>,
    /// Calls made to Heat and Keystone, for measuring what a cluster costs.
    heat_calls: AtomicU64,
    keystone_calls: AtomicU64,
}

/// The operator's Heat environment(s), merged, and the files their registries name.
#[derive(Debug, Clone)]
pub struct HeatEnvironment {
    pub environment: Value,
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the openstack provider needs openstack.auth_url (or OS_AUTH_URL, or --cloud)")]
    NoKeystone,
    #[error("heat environment {path}: {problem}")]
    Environment { path: String, problem: String },
    #[error("{0}")]
    Keystone(#[from] KeystoneError),
}

impl HeatEnvironment {
    /// Reads environment files as python-heatclient's `-e` does: later files win, and
    /// every file a `resource_registry` names is sent along under that name.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Option<HeatEnvironment>, SetupError> {
        if paths.is_empty() {
            return Ok(None);
        }
        let mut merged = serde_json::json!({});
        let mut files = BTreeMap::new();
        for path in paths {
            let path = path.as_ref();
            let problem = |problem: String| SetupError::Environment {
                path: path.display().to_string(),
                problem,
            };
            let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
            let environment: Value =
                serde_saphyr::from_str(&text).map_err(|e| problem(e.to_string()))?;
            if let Some(registry) = environment["resource_registry"].as_object() {
                for target in registry.values().filter_map(Value::as_str) {
                    if target.ends_with(".yaml") || target.ends_with(".template") {
                        let file = path.parent().unwrap_or(Path::new(".")).join(target);
                        let body = std::fs::read_to_string(&file)
                            .map_err(|e| problem(format!("{}: {e}", file.display())))?;
                        files.insert(target.to_string(), body);
                    }
                }
            }
            merge(&mut merged, environment);
        }
        Ok(Some(HeatEnvironment {
            environment: merged,
            files,
        }))
    }
}

/// Deep-merges `from` into `into`: objects key by key, anything else replaced.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge(into.entry(key).or_insert(Value::Null), value);
            }
        }
        (into, from) => *into = from,
    }
}

impl OpenstackProvider {
    pub fn new(settings: &OpenstackSettings) -> Result<OpenstackProvider, SetupError> {
        let Some(auth_url) = &settings.auth_url else {
            return Err(SetupError::NoKeystone);
        };
        Ok(OpenstackProvider {
            keystone: Keystone::new(auth_url, timeout(settings))?,
            settings: settings.clone(),
            environment: HeatEnvironment::load(&settings.heat_environment)?,
            tokens: Mutex::new(HashMap::new()),
            heat_calls: AtomicU64::new(0),
            keystone_calls: AtomicU64::new(0),
        })
    }

    /// (Heat calls, Keystone calls) made so far.
    pub fn calls(&self) -> (u64, u64) {
        (
            self.heat_calls.load(Ordering::Relaxed),
            self.keystone_calls.load(Ordering::Relaxed),
        )
    }

    /// The stack of a cluster: named after its id, so reruns find it.
    pub fn stack_name(cluster: &Cluster) -> String {
        format!("disco-{}", cluster.id.short())
    }

    /// The tag every stack of the cluster carries: its name is short and could repeat.
    fn tag(cluster: &Cluster) -> String {
        format!("disco-cluster-{}", cluster.id)
    }

    /// The cluster's stacks in Heat, oldest first: those tagged with its id, and the one
    /// it recorded.
    async fn stacks_of(&self, heat: &Heat, cluster: &Cluster) -> Result<Vec<Stack>, ProviderError> {
        let tag = Self::tag(cluster);
        let recorded = cluster.outputs.stack_id.as_deref();
        self.count();
        Ok(heat
            .stacks_named(&Self::stack_name(cluster))
            .await
            .map_err(heat_error)?
            .into_iter()
            .filter(|s| s.tagged(&tag) || Some(s.id.as_str()) == recorded)
            .collect())
    }

    /// Deletes the cluster's stacks other than `keep`; true while one is still going.
    /// One Heat could not delete (`DELETE_FAILED`, or a refused delete) does not hold the
    /// cluster back: it is logged, and the cluster's delete tries again, as it removes
    /// every stack tagged with the cluster.
    async fn remove_duplicates(
        &self,
        heat: &Heat,
        cluster: &Cluster,
        keep: &str,
    ) -> Result<bool, ProviderError> {
        let others: Vec<Stack> = self
            .stacks_of(heat, cluster)
            .await?
            .into_iter()
            .filter(|s| s.id != keep)
            .collect();
        let mut going = false;
        for stack in &others {
            match stack.stack_status.as_str() {
                "DELETE_IN_PROGRESS" => going = true,
                "DELETE_FAILED" => tracing::warn!(
                    cluster = %cluster.id,
                    stack = %stack.id,
                    reason = stack.stack_status_reason.as_deref().unwrap_or_default(),
                    "a second stack of the cluster could not be deleted; deleting the cluster tries again"
                ),
                _ => {
                    tracing::warn!(
                        cluster = %cluster.id,
                        stack = %stack.id,
                        kept = %keep,
                        "deleting a second stack of the cluster: a create sent before a restart landed after it"
                    );
                    match self.delete_stack(heat, stack).await {
                        Ok(()) => going = true,
                        Err(ProviderError::Transient(e)) => {
                            return Err(ProviderError::Transient(e));
                        }
                        Err(ProviderError::Permanent(e)) => tracing::warn!(
                            cluster = %cluster.id,
                            stack = %stack.id,
                            "Heat refused to delete a second stack of the cluster ({e}); deleting the cluster tries again"
                        ),
                    }
                }
            }
        }
        Ok(going)
    }

    /// Asks Heat to delete every stack of the cluster not already being deleted
    /// (`DELETE_FAILED` ones too when `retry_failed`); `Gone` once none is left.
    async fn tear_down(
        &self,
        heat: &Heat,
        cluster: &Cluster,
        retry_failed: bool,
    ) -> Result<Teardown, ProviderError> {
        let stacks = self.stacks_of(heat, cluster).await?;
        if !retry_failed
            && let Some(failed) = stacks.iter().find(|s| s.stack_status == "DELETE_FAILED")
        {
            return Err(ProviderError::Permanent(
                failed
                    .stack_status_reason
                    .clone()
                    .unwrap_or_else(|| "DELETE_FAILED".into()),
            ));
        }
        for stack in stacks
            .iter()
            .filter(|s| s.stack_status != "DELETE_IN_PROGRESS")
        {
            self.delete_stack(heat, stack).await?;
        }
        if stacks.is_empty() {
            self.forget_credential(cluster).await;
            Ok(Teardown::Gone)
        } else {
            Ok(Teardown::InProgress)
        }
    }

    /// Asks Heat to delete a stack; one it is already acting on (409) is left to it.
    async fn delete_stack(&self, heat: &Heat, stack: &Stack) -> Result<(), ProviderError> {
        self.count();
        match heat.delete_stack(&stack.stack_name, &stack.id).await {
            Ok(()) | Err(HeatError::Refused { status: 409, .. }) => Ok(()),
            Err(e) => Err(heat_error(e)),
        }
    }

    /// A token acting for the cluster's owner, from the cluster's application credential.
    async fn token_for(&self, cluster: &Cluster) -> Result<Token, ProviderError> {
        let delegation = &cluster.delegation;
        let (Some(id), Some(secret)) = (
            delegation.application_credential_id.as_deref(),
            delegation.application_credential_secret.as_ref(),
        ) else {
            return Err(ProviderError::Permanent(
                "the cluster has no credential for DISCO to act with; create it again with Keystone authentication".into(),
            ));
        };
        if let Some(token) = self.cached(id) {
            return Ok(token);
        }
        self.keystone_calls.fetch_add(1, Ordering::Relaxed);
        let token = self
            .keystone
            .application_credential(id, secret)
            .await
            .map_err(keystone_error)?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(id.to_string(), token.clone());
        }
        Ok(token)
    }

    fn cached(&self, credential: &str) -> Option<Token> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(credential)
            .filter(|t| t.fresh_for(TOKEN_MARGIN))
            .cloned()
    }

    async fn heat_for(&self, cluster: &Cluster) -> Result<Heat, ProviderError> {
        let token = self.token_for(cluster).await?;
        let endpoint = token
            .endpoint(
                "orchestration",
                &self.settings.interface,
                self.settings.region(),
            )
            .ok_or_else(|| {
                ProviderError::Permanent(format!(
                    "no {} orchestration (Heat) endpoint{} in the project's catalog",
                    self.settings.interface,
                    self.settings
                        .region()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default()
                ))
            })?;
        Heat::new(&endpoint, token.id.clone(), timeout(&self.settings)).map_err(heat_error)
    }

    fn count(&self) {
        self.heat_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The cluster's stack: the one recorded at create, else the oldest tagged with its id.
    async fn stack_of(
        &self,
        heat: &Heat,
        cluster: &Cluster,
    ) -> Result<Option<Stack>, ProviderError> {
        let name = Self::stack_name(cluster);
        let id = match &cluster.outputs.stack_id {
            Some(id) => id.clone(),
            // The oldest not being deleted (a second one may be, by `remove_duplicates`).
            None => match self
                .stacks_of(heat, cluster)
                .await?
                .into_iter()
                .find(|s| !s.stack_status.starts_with("DELETE_"))
            {
                Some(stack) => stack.id,
                None => return Ok(None),
            },
        };
        self.count();
        match heat.stack(&name, &id).await {
            Ok(stack) => Ok(Some(stack)),
            Err(HeatError::NotFound) => Ok(None),
            Err(e) => Err(heat_error(e)),
        }
    }

    /// The client for the cluster and its stack, which must exist.
    async fn existing_stack(&self, cluster: &Cluster) -> Result<(Heat, Stack), ProviderError> {
        let heat = self.heat_for(cluster).await?;
        match self.stack_of(&heat, cluster).await? {
            Some(stack) => Ok((heat, stack)),
            None => Err(ProviderError::Permanent(format!(
                "the stack {} is no longer in Heat",
                Self::stack_name(cluster)
            ))),
        }
    }

    async fn progress(
        &self,
        heat: &Heat,
        cluster: &Cluster,
        stack: &Stack,
    ) -> Result<Progress, ProviderError> {
        let mut outputs = outputs_of(stack);
        outputs.lost_slaves = Some(lost_of(cluster, stack));
        let events = self.new_events(heat, cluster, stack).await;
        let master_made = cluster
            .outputs
            .heat_events
            .iter()
            .chain(events.iter())
            .any(|e| e.resource == "master" && e.stack.is_none() && e.status == "CREATE_COMPLETE");
        let reason = || {
            stack
                .stack_status_reason
                .clone()
                .unwrap_or_else(|| stack.stack_status.clone())
        };
        let progress = match stack.stack_status.as_str() {
            // Ready only once it is the cluster's one stack.
            // (An update during a create is one that removes slaves given up on.)
            "CREATE_COMPLETE" | "UPDATE_COMPLETE"
                if self.remove_duplicates(heat, cluster, &stack.id).await? =>
            {
                Progress::Installing(outputs)
            }
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" => Progress::Ready(outputs),
            "UPDATE_IN_PROGRESS" => Progress::Installing(outputs),
            "CREATE_FAILED" | "UPDATE_FAILED" => {
                match self.give_up_failed_slaves(heat, cluster, stack).await? {
                    Some(progress) => progress,
                    None => Progress::Failed {
                        reason: reason(),
                        outputs,
                    },
                }
            }
            // The nodes exist once the master server does (Heat's events say when);
            // until the wait conditions complete they are installing.
            "CREATE_IN_PROGRESS" if master_made => Progress::Installing(outputs),
            "CREATE_IN_PROGRESS" => Progress::Deploying(outputs),
            _ => Progress::Failed {
                reason: reason(),
                outputs,
            },
        };
        Ok(carrying(progress, events))
    }

    /// Heat's events since the last one the cluster kept: the tree's create_node times.
    /// Once every server of a create is made, only the stack's end is news enough to
    /// ask for them.
    /// They never decide a deploy: when Heat will not list them, the look goes on with
    /// none (the stack's status decides) and the next one asks again from the same
    /// marker.
    async fn new_events(&self, heat: &Heat, cluster: &Cluster, stack: &Stack) -> HeatEvents {
        let kept = &cluster.outputs.heat_events;
        if stack.stack_status == "CREATE_IN_PROGRESS"
            && events::servers_made(kept, &standing(cluster))
        {
            return HeatEvents::default();
        }
        match events::events_after(heat, stack, kept.last_id(), events::PAGES_PER_LOOK).await {
            Ok((events, calls)) => {
                self.heat_calls.fetch_add(calls as u64, Ordering::Relaxed);
                events
            }
            Err(e) => {
                tracing::warn!(cluster = %cluster.id, error = %e, "cannot read the stack's Heat events; going on without them");
                HeatEvents::default()
            }
        }
    }

    /// After a failed create or update: when what failed is slaves alone and
    /// `minslaves` still holds, an update that removes them (the group's count less
    /// them, their names in `removed_slaves`, so that Heat never makes them again), and
    /// the cluster installs on without them. Below `minslaves`, the cluster fails
    /// saying so. `None` when something else failed: the stack's own reason stands.
    async fn give_up_failed_slaves(
        &self,
        heat: &Heat,
        cluster: &Cluster,
        stack: &Stack,
    ) -> Result<Option<Progress>, ProviderError> {
        self.count();
        // Depth 2 for each member's own resources: Heat's group passes a member's failure
        // up with a space put after every colon of it ("slaves: 2"), the node's words
        // included; its wait condition keeps them as the node signalled them.
        let resources = heat
            .resources_to_depth(&stack.stack_name, &stack.id, 2)
            .await
            .map_err(heat_error)?;
        let signalled: HashMap<&str, &str> = resources
            .iter()
            .filter(|r| r.resource_name == WAIT_CONDITION && r.resource_status == "CREATE_FAILED")
            .filter_map(|r| {
                Some((
                    r.parent_resource.as_deref()?,
                    r.resource_status_reason.as_deref()?,
                ))
            })
            .collect();
        let mut failed = Vec::new();
        // Stacks made before slaves could be given up on have no parameter to say it.
        if !stack.parameters.contains_key(REMOVED_SLAVES) {
            return Ok(None);
        }
        for resource in resources
            .iter()
            .filter(|r| r.resource_status.ends_with("_FAILED"))
        {
            // What failed inside a slave's member stack: the member says it.
            if resource
                .parent_resource
                .as_deref()
                .is_some_and(|parent| parent.parse::<u16>().is_ok())
            {
                continue;
            }
            match (
                resource.parent_resource.as_deref(),
                resource.resource_name.parse::<u16>(),
            ) {
                // A slave that did not come up, in a place the cluster has.
                (Some(SLAVES_GROUP), Ok(member))
                    if resource.resource_status == "CREATE_FAILED"
                        && member < cluster.plan.slave_count() =>
                {
                    failed.push(LostSlave {
                        node: slave_name(member),
                        reason: member_failure(
                            member,
                            signalled
                                .get(resource.resource_name.as_str())
                                .copied()
                                .or(resource.resource_status_reason.as_deref()),
                        ),
                    });
                }
                // The group fails with its member.
                (None, _) if resource.resource_name == SLAVES_GROUP => {}
                _ => return Ok(None),
            }
        }
        if failed.is_empty() {
            return Ok(None);
        }
        let mut lost = lost_of(cluster, stack);
        for slave in failed {
            if !lost.iter().any(|known| known.node == slave.node) {
                lost.push(slave);
            }
        }
        lost.sort_by_key(|slave| slave_index(&slave.node));
        let mut outputs = outputs_of(stack);
        if let Some(reason) = cluster.refuse_losses(&lost) {
            outputs.lost_slaves = Some(lost_of(cluster, stack));
            return Ok(Some(Progress::Failed { reason, outputs }));
        }
        let (count, removed) = heat_shape(cluster.plan.slave_count(), &lost);
        // Asked already (Heat shows the update's parameters before its status): not twice.
        if slave_count_of(stack) != Some(count) || removed_of(stack).join(",") != removed {
            tracing::warn!(cluster = %cluster.id, removed = %removed, "slaves failed: removing them, the cluster goes on without them");
            self.count();
            match heat
                .update_parameters(
                    &stack.stack_name,
                    &stack.id,
                    &BTreeMap::from([
                        ("slave_count".to_string(), Value::from(count.to_string())),
                        (REMOVED_SLAVES.to_string(), Value::from(removed)),
                    ]),
                )
                .await
            {
                // An update sent before a crash runs: it is this one.
                Ok(()) | Err(HeatError::Refused { status: 409, .. }) => {}
                Err(e) => return Err(heat_error(e)),
            }
        }
        outputs.lost_slaves = Some(lost);
        Ok(Some(Progress::Installing(outputs)))
    }

    /// Where a resize stands: done once Heat completed an update to the new shape (until
    /// it takes the update, the stack shows the old one); a new slave that failed is
    /// given up on as in a create.
    async fn resize_progress(
        &self,
        heat: &Heat,
        cluster: &Cluster,
        stack: &Stack,
        resize: Resize,
    ) -> Result<Progress, ProviderError> {
        let mut outputs = outputs_of(stack);
        outputs.lost_slaves = Some(lost_of(cluster, stack));
        // The new slaves' servers: the scale's create_node times.
        let events = if resize.to > resize.from {
            self.new_events(heat, cluster, stack).await
        } else {
            HeatEvents::default()
        };
        let shaped = slave_count_of(stack).map(|count| count + removed_of(stack).len() as u16)
            == Some(resize.to);
        let progress = match stack.stack_status.as_str() {
            "UPDATE_COMPLETE" if shaped => Progress::Ready(outputs),
            "UPDATE_FAILED" => match self.give_up_failed_slaves(heat, cluster, stack).await? {
                Some(progress) => progress,
                None => Progress::Failed {
                    reason: format!(
                        "Heat could not resize the stack: {}",
                        stack
                            .stack_status_reason
                            .as_deref()
                            .unwrap_or("UPDATE_FAILED")
                    ),
                    outputs,
                },
            },
            _ => Progress::Installing(outputs),
        };
        Ok(carrying(progress, events))
    }

    /// Deletes the cluster's application credential: DISCO can no longer act for the owner.
    async fn forget_credential(&self, cluster: &Cluster) {
        let delegation = &cluster.delegation;
        let (Some(user), Some(id)) = (
            delegation.user_id.as_deref(),
            delegation.application_credential_id.as_deref(),
        ) else {
            return;
        };
        let token = match self.token_for(cluster).await {
            Ok(token) => token,
            Err(e) => {
                tracing::warn!(cluster = %cluster.id, "cannot remove the cluster's application credential: {e}");
                return;
            }
        };
        self.keystone_calls.fetch_add(1, Ordering::Relaxed);
        match self
            .keystone
            .delete_application_credential(&token, user, id)
            .await
        {
            Ok(()) => tracing::info!(cluster = %cluster.id, "application credential removed"),
            Err(e) => {
                tracing::warn!(cluster = %cluster.id, "cannot remove the cluster's application credential: {e}")
            }
        }
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(id);
        }
    }
}

#[async_trait]
impl Provider for OpenstackProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openstack
    }

    /// Heat's API passes a stack update, suspend or resume to its engine over RPC, and
    /// the stack shows it once the engine took it: an ask sent just before a crash may
    /// show a moment after the next attempt first looks. The API gives up on its engine
    /// after its RPC timeout (`rpc_response_timeout`, 60 s by default).
    fn asks_show_within(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    async fn undelegate(&self, cluster: &Cluster) {
        self.forget_credential(cluster).await;
    }

    async fn preflight(
        &self,
        caller: &Identity,
        plan: &crate::frameworks::plan::Plan,
        needs: &super::preflight::Needs,
    ) -> Result<super::preflight::Preflight, super::preflight::QuotaError> {
        match &caller.token {
            Some(token) => crate::openstack::quota::check(token, &self.settings, plan, needs).await,
            // Without a token `delegate` refuses the create, saying why.
            None => Ok(super::preflight::Preflight::unlimited(needs)),
        }
    }

    async fn delegate(
        &self,
        caller: &Identity,
        cluster: ClusterId,
    ) -> Result<Delegation, ProviderError> {
        let token = caller.token.as_ref().ok_or_else(|| {
            ProviderError::Permanent(
                "the openstack provider acts for Keystone users: this server's auth.mode must be \"keystone\"".into(),
            )
        })?;
        self.keystone_calls.fetch_add(1, Ordering::Relaxed);
        let (id, secret) = self
            .keystone
            .create_application_credential(
                token,
                &format!("disco-{cluster}"),
                &format!("DISCO acts with it for cluster {cluster}; deleted with the cluster"),
            )
            .await
            .map_err(|e| match e {
                e if e.is_transient() => ProviderError::Transient(e.to_string()),
                e => ProviderError::Permanent(format!(
                    "Keystone would not make the application credential DISCO acts with later: {e}"
                )),
            })?;
        Ok(Delegation {
            creation_token: Some(token.id.clone()),
            user_id: Some(token.user_id.clone()),
            application_credential_id: Some(id),
            application_credential_secret: Some(secret),
        })
    }

    async fn deploy(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let heat = self.heat_for(cluster).await?;
        if let Some(stack) = self.stack_of(&heat, cluster).await? {
            return self.progress(&heat, cluster, &stack).await;
        }
        let template: Value = serde_saphyr::from_str(&composition.template)
            .map_err(|e| ProviderError::Permanent(format!("the composed template: {e}")))?;
        let name = Self::stack_name(cluster);
        // Heat makes a trust from the creating token, which Keystone refuses to
        // application-credential tokens: the stack is created with the owner's own token.
        let owner_token = cluster.delegation.creation_token.clone().ok_or_else(|| {
            ProviderError::Permanent(
                "the stack was not created while DISCO still had your token (it is kept only until the stack exists); delete the cluster and create it again".into(),
            )
        })?;
        let creator =
            Heat::new(heat.endpoint(), owner_token, timeout(&self.settings)).map_err(heat_error)?;
        let request = CreateStack {
            stack_name: &name,
            template: &template,
            parameters: BTreeMap::new(),
            environment: self.environment.as_ref().map(|e| &e.environment),
            files: self
                .environment
                .as_ref()
                .map(|e| e.files.clone())
                .unwrap_or_default()
                .into_iter()
                .chain(composition.files.clone())
                .collect(),
            timeout_mins: self.settings.stack_timeout_mins,
            disable_rollback: self.settings.disable_rollback,
            tags: format!("disco,{}", Self::tag(cluster)),
        };
        self.count();
        let id = match creator.create_stack(&request).await {
            Ok(id) => id,
            // A create sent by an earlier attempt (before a crash) can land after this
            // attempt looked for it: the stack is there, so carry on with it.
            Err(HeatError::Refused { status: 409, .. }) => {
                if let Some(stack) = self.stack_of(&heat, cluster).await? {
                    return self.progress(&heat, cluster, &stack).await;
                }
                self.count();
                let named = heat.stacks_named(&name).await.map_err(heat_error)?;
                return Err(if named.is_empty() {
                    ProviderError::Transient(format!(
                        "Heat says {name} exists but does not list it yet"
                    ))
                } else {
                    ProviderError::Permanent(format!(
                        "the project already has a stack named {name} that is not this cluster's; delete the cluster and create it again"
                    ))
                });
            }
            Err(HeatError::Refused { status: 401, .. }) => {
                return Err(ProviderError::Permanent(
                    "your token expired before the stack was created; delete the cluster and create it again".into(),
                ));
            }
            Err(e) => return Err(heat_error(e)),
        };
        tracing::info!(cluster = %cluster.id, stack = %name, id = %id, "stack created");
        Ok(Progress::Deploying(Outputs {
            stack_id: Some(id),
            stack_status: Some("CREATE_IN_PROGRESS".into()),
            ..Outputs::default()
        }))
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        self.progress(&heat, cluster, &stack).await
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let heat = match self.heat_for(cluster).await {
            Ok(heat) => heat,
            // A cluster that never got a credential never made a stack.
            Err(_) if cluster.delegation.application_credential_id.is_none() => {
                return Ok(Teardown::Gone);
            }
            Err(e) => return Err(e),
        };
        self.tear_down(&heat, cluster, true).await
    }

    /// Heat deletes the failed stack (and any duplicate); the application credential
    /// stays, for the delete of the record to come.
    async fn release(&self, cluster: &Cluster) -> Result<bool, ProviderError> {
        let heat = match self.heat_for(cluster).await {
            Ok(heat) => heat,
            Err(_) if cluster.delegation.application_credential_id.is_none() => return Ok(true),
            Err(e) => return Err(e),
        };
        let stacks = self.stacks_of(&heat, cluster).await?;
        // One that failed to delete is asked again, round after round.
        for stack in stacks
            .iter()
            .filter(|s| s.stack_status != "DELETE_IN_PROGRESS")
        {
            self.delete_stack(&heat, stack).await?;
        }
        Ok(stacks.is_empty())
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let heat = self.heat_for(cluster).await?;
        self.tear_down(&heat, cluster, false).await
    }

    fn resizes(&self) -> bool {
        true
    }

    fn stops(&self) -> bool {
        true
    }

    /// A stack update of `slave_count` and `removed_slaves` alone (PATCH: the template
    /// and every other parameter kept). The slaves' group adds members, each with its
    /// own wait condition that its node script signals, or removes the highest-numbered
    /// ones (whose agents ran their decommission steps before: the lifecycle waited).
    async fn resize(
        &self,
        cluster: &Cluster,
        resize: Resize,
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        // The slaves given up on that keep their places; a scale-in takes those of the
        // others above the new count.
        let (count, removed) = heat_shape(resize.to, &lost_of(cluster, &stack));
        if slave_count_of(&stack) == Some(count)
            && removed_of(&stack).join(",") == removed
            && stack.stack_status.starts_with("UPDATE_")
        {
            return self.resize_progress(&heat, cluster, &stack, resize).await;
        }
        self.count();
        let mut parameters =
            BTreeMap::from([("slave_count".to_string(), Value::from(count.to_string()))]);
        // A stack made before slaves could be given up on has no such parameter.
        if stack.parameters.contains_key(REMOVED_SLAVES) {
            parameters.insert(REMOVED_SLAVES.to_string(), Value::from(removed));
        }
        heat.update_parameters(&stack.stack_name, &stack.id, &parameters)
            .await
            .map_err(heat_error)?;
        Ok(Progress::Installing(outputs_of(&stack)))
    }

    async fn observe_resize(
        &self,
        cluster: &Cluster,
        resize: Resize,
    ) -> Result<Progress, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        self.resize_progress(&heat, cluster, &stack, resize).await
    }

    /// Heat's `suspend` stack action: Nova suspends every server (memory kept on the
    /// hypervisor); addresses, volumes and the stack stay.
    async fn suspend(&self, cluster: &Cluster) -> Result<Suspension, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        match stack.stack_status.as_str() {
            "SUSPEND_COMPLETE" => Ok(Suspension::Stopped),
            "SUSPEND_IN_PROGRESS" => Ok(Suspension::InProgress),
            _ => {
                self.count();
                under_way(
                    heat.stack_action(&stack.stack_name, &stack.id, "suspend")
                        .await,
                )?;
                Ok(Suspension::InProgress)
            }
        }
    }

    async fn observe_suspend(&self, cluster: &Cluster) -> Result<Suspension, ProviderError> {
        let (_, stack) = self.existing_stack(cluster).await?;
        match stack.stack_status.as_str() {
            "SUSPEND_COMPLETE" => Ok(Suspension::Stopped),
            "SUSPEND_FAILED" => Err(ProviderError::Permanent(format!(
                "Heat could not suspend the stack: {}",
                stack
                    .stack_status_reason
                    .as_deref()
                    .unwrap_or("SUSPEND_FAILED")
            ))),
            // In progress, or not begun yet (Heat takes the action asynchronously).
            _ => Ok(Suspension::InProgress),
        }
    }

    /// Heat's `resume` stack action: the servers come back as they were, services and
    /// all, so nothing is installed again.
    async fn resume(
        &self,
        cluster: &Cluster,
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        match stack.stack_status.as_str() {
            "RESUME_COMPLETE" | "RESUME_IN_PROGRESS" | "RESUME_FAILED" => Ok(resumption(&stack)),
            _ => {
                self.count();
                under_way(
                    heat.stack_action(&stack.stack_name, &stack.id, "resume")
                        .await,
                )?;
                Ok(Progress::Installing(outputs_of(&stack)))
            }
        }
    }

    async fn observe_resume(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let (_, stack) = self.existing_stack(cluster).await?;
        Ok(resumption(&stack))
    }

    /// Heat's events now (its first pages); those the cluster kept once its stack was
    /// released or deleted (Heat shows a deleted stack with no events), and with those
    /// kept where Heat lists fewer.
    async fn stack_events(&self, cluster: &Cluster) -> Result<Option<HeatEvents>, ProviderError> {
        let kept = &cluster.outputs.heat_events;
        if cluster.outputs.released_at.is_some() {
            return Ok(Some(kept.clone()));
        }
        let heat = self.heat_for(cluster).await?;
        let stack = match self.stack_of(&heat, cluster).await? {
            Some(stack) if !stack.stack_status.starts_with("DELETE_") => stack,
            _ => return Ok(Some(kept.clone())),
        };
        let (listed, calls) = events::events_after(&heat, &stack, None, events::PAGES_AT_MOST)
            .await
            .map_err(heat_error)?;
        self.heat_calls.fetch_add(calls as u64, Ordering::Relaxed);
        Ok(Some(listed.or_kept(kept)))
    }

    /// The nodes report their own checks (the health reporter each node script installs).
    fn heartbeats(&self) -> bool {
        true
    }

    /// Each node's agent runs the repair's steps, asked by DISCO.
    fn repairs(&self) -> bool {
        true
    }

    fn repairs_by_agent(&self) -> bool {
        true
    }

    /// What Heat says of the cluster's servers: one `server` check per node, failing
    /// when its resource failed (a server Heat could not create, resume or check).
    async fn probe(&self, cluster: &Cluster) -> Result<Vec<CheckOutcome>, ProviderError> {
        let (heat, stack) = self.existing_stack(cluster).await?;
        self.count();
        let resources = heat
            .resources_to_depth(&stack.stack_name, &stack.id, 2)
            .await
            .map_err(heat_error)?;
        Ok(server_checks(cluster, &resources))
    }
}

/// The cluster's servers among a stack's resources (to nested depth 2), as health
/// checks: the master's `master`, each slave member's `server` (its member stack is the
/// group's member named by its index).
fn server_checks(cluster: &Cluster, resources: &[StackResource]) -> Vec<CheckOutcome> {
    let lost = cluster.outputs.lost_nodes();
    resources
        .iter()
        .filter(|r| r.resource_type == "OS::Nova::Server")
        .filter_map(|r| {
            let node = match (r.parent_resource.as_deref(), r.resource_name.as_str()) {
                (None, "master") => "master".to_string(),
                (Some(member), "server") => {
                    let member: u16 = member.parse().ok()?;
                    (member < cluster.plan.slave_count()).then(|| slave_name(member))?
                }
                _ => return None,
            };
            if lost.contains(&node.as_str()) {
                return None;
            }
            let passing = !r.resource_status.ends_with("_FAILED");
            Some(CheckOutcome {
                node,
                component: "server".to_string(),
                check: "heat resource".to_string(),
                passing,
                output: if passing {
                    String::new()
                } else {
                    format!(
                        "{}: {}",
                        r.resource_status,
                        r.resource_status_reason
                            .as_deref()
                            .unwrap_or("no reason given")
                    )
                },
            })
        })
        .collect()
}

/// The nodes of the cluster's plan but the slaves given up on.
fn standing(cluster: &Cluster) -> Vec<String> {
    let lost = cluster.outputs.lost_nodes();
    let mut nodes = cluster.plan.node_names();
    nodes.retain(|node| !lost.contains(&node.as_str()));
    nodes
}

/// The stack's `slave_count`, as Heat shows it.
fn slave_count_of(stack: &Stack) -> Option<u16> {
    match stack.parameters.get("slave_count")? {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// The members of the slaves' group DISCO gave up on, as the stack's `removed_slaves`
/// says (Heat shows a list parameter as comma-separated text).
fn removed_of(stack: &Stack) -> Vec<String> {
    let text = match stack.parameters.get(REMOVED_SLAVES) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|name| name.trim().trim_matches(|c| c == '\'' || c == '"'))
        .filter(|name| name.parse::<u16>().is_ok())
        .map(str::to_string)
        .collect()
}

/// The slaves given up on that hold places in the cluster's plan: the stack's
/// `removed_slaves`, with the reasons the cluster stored.
fn lost_of(cluster: &Cluster, stack: &Stack) -> Vec<LostSlave> {
    removed_of(stack)
        .iter()
        .filter_map(|member| member.parse::<u16>().ok())
        .filter(|member| *member < cluster.plan.slave_count())
        .map(|member| {
            let node = slave_name(member);
            let reason = cluster
                .outputs
                .lost()
                .iter()
                .find(|known| known.node == node)
                .map(|known| known.reason.clone())
                .unwrap_or_else(|| format!("{node}: it failed to come up (Heat)"));
            LostSlave { node, reason }
        })
        .collect()
}

/// What Heat's group holds for `slaves` places of which `lost` are given up on: its
/// count, and the members it must not have (comma-separated), those within the places.
fn heat_shape(slaves: u16, lost: &[LostSlave]) -> (u16, String) {
    let removed: Vec<u16> = lost
        .iter()
        .filter_map(|slave| slave_index(&slave.node))
        .filter(|member| *member < slaves)
        .collect();
    let count = slaves.saturating_sub(u16::try_from(removed.len()).unwrap_or(u16::MAX));
    let names: Vec<String> = removed.iter().map(u16::to_string).collect();
    (count, names.join(","))
}

/// Why a member of the slaves' group failed, from Heat's words: what its node
/// signalled, where that is what failed it, as `slaves:N: what failed`.
fn member_failure(member: u16, reason: Option<&str>) -> String {
    let node = slave_name(member);
    let reason = reason.unwrap_or("it failed to come up");
    let said = match reason.rsplit_once("resources.wait_condition: ") {
        Some((_, said)) => said,
        None => return format!("{node}: {reason}"),
    };
    // The node names itself; Heat shows the name with a space after its colon.
    let said = said
        .strip_prefix(&format!("{node}: "))
        .or_else(|| said.strip_prefix(&format!("slaves: {}: ", member + 1)))
        .unwrap_or(said);
    format!("{node}: {}", said.trim_end())
}

/// Where a resume stands, from its stack: in progress until Heat says it completed
/// (a stack still `SUSPEND_COMPLETE` has not begun it).
fn resumption(stack: &Stack) -> Progress {
    let outputs = outputs_of(stack);
    match stack.stack_status.as_str() {
        "RESUME_COMPLETE" => Progress::Ready(outputs),
        "RESUME_FAILED" => Progress::Failed {
            reason: format!(
                "Heat could not resume the stack: {}",
                stack
                    .stack_status_reason
                    .as_deref()
                    .unwrap_or("RESUME_FAILED")
            ),
            outputs,
        },
        _ => Progress::Installing(outputs),
    }
}

/// What the cluster keeps of its stack: the status, `external_ip` as soon as Heat has
/// it, and once the stack is complete the template's other outputs (`master_private_ip`,
/// `slave_ips`, `web_ui_<key>`): before that Heat resolves them from resources that may
/// not exist yet, to nothing or to an error. Values of another shape are left out.
/// The progress with the look's new events on its outputs, whichever way it went: a
/// stack that failed between two looks brings the failure's events with its end.
fn carrying(mut progress: Progress, events: HeatEvents) -> Progress {
    match &mut progress {
        Progress::Deploying(outputs)
        | Progress::Installing(outputs)
        | Progress::Ready(outputs)
        | Progress::Failed { outputs, .. } => outputs.heat_events = events,
    }
    progress
}

fn outputs_of(stack: &Stack) -> Outputs {
    let text = |key: &str| {
        stack
            .output(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut outputs = Outputs {
        stack_id: Some(stack.id.clone()),
        stack_status: Some(stack.stack_status.clone()),
        stack_status_reason: stack.stack_status_reason.clone(),
        external_ip: text("external_ip"),
        ..Outputs::default()
    };
    if !matches!(
        stack.stack_status.as_str(),
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "RESUME_COMPLETE"
    ) {
        return outputs;
    }
    outputs.master_private_ip = text("master_private_ip");
    outputs.network = text("network_id");
    outputs.security_group = text("security_group_id");
    outputs.slave_ips = stack
        .output("slave_ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    outputs.web_uis = stack
        .outputs
        .iter()
        .filter_map(|o| {
            let key = o.output_key.strip_prefix(WEB_UI_OUTPUT)?;
            let url = o.output_value.as_str().filter(|u| !u.is_empty())?;
            Some((key.to_string(), url.to_string()))
        })
        .collect();
    outputs
}

fn timeout(settings: &OpenstackSettings) -> Duration {
    Duration::from_secs(settings.request_timeout_secs.max(1))
}

fn keystone_error(e: KeystoneError) -> ProviderError {
    if e.is_transient() {
        ProviderError::Transient(e.to_string())
    } else {
        ProviderError::Permanent(e.to_string())
    }
}

/// A stack action sent: Heat took it, or refused it because an action runs on the stack
/// (409), which is the one an earlier attempt sent before a crash (Heat shows the new
/// status only once its engine began it).
fn under_way(sent: Result<(), HeatError>) -> Result<(), ProviderError> {
    match sent {
        Ok(()) | Err(HeatError::Refused { status: 409, .. }) => Ok(()),
        Err(e) => Err(heat_error(e)),
    }
}

fn heat_error(e: HeatError) -> ProviderError {
    if e.is_transient() {
        ProviderError::Transient(e.to_string())
    } else {
        ProviderError::Permanent(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_look_s_events_go_with_whatever_progress_it_ends_in() {
        let failure: HeatEvents = serde_json::from_value(serde_json::json!([{
            "id": "e1",
            "time": "2026-12-01T23:00:00Z",
            "resource": "server",
            "type": "OS::Nova::Server",
            "status": "CREATE_FAILED",
            "reason": "Server is in ERROR",
            "node": "slaves:2",
        }]))
        .expect("events");
        // What giving up on failed slaves returns: fresh outputs of the stack.
        for progress in [
            Progress::Failed {
                reason: "below minslaves".into(),
                outputs: Outputs::default(),
            },
            Progress::Installing(Outputs::default()),
            Progress::Deploying(Outputs::default()),
            Progress::Ready(Outputs::default()),
        ] {
            let (Progress::Failed { outputs, .. }
            | Progress::Installing(outputs)
            | Progress::Deploying(outputs)
            | Progress::Ready(outputs)) = carrying(progress, failure.clone());
            assert_eq!(outputs.heat_events, failure);
        }
    }

    fn resource(name: &str, parent: Option<&str>, status: &str) -> StackResource {
        serde_json::from_value(serde_json::json!({
            "resource_name": name,
            "resource_type": "OS::Nova::Server",
            "resource_status": status,
            "resource_status_reason": "Server is in ERROR",
            "parent_resource": parent,
        }))
        .expect("a resource")
    }

    #[test]
    fn a_failed_server_resource_fails_its_node_s_server_check_and_others_pass() {
        let cluster = crate::cluster::testing::cluster(&[
            ("icclab.disco.dependencies.inject", "['spark']"),
            ("icclab.disco.components.heat.slavecount", "2"),
        ]);
        let checks = server_checks(
            &cluster,
            &[
                resource("master", None, "CREATE_COMPLETE"),
                resource("server", Some("0"), "CHECK_FAILED"),
                resource("server", Some("1"), "RESUME_COMPLETE"),
                // A member beyond the plan's slaves (one being removed) is no node's.
                resource("server", Some("5"), "CREATE_FAILED"),
            ],
        );
        let failing: Vec<(&str, &str)> = checks
            .iter()
            .filter(|c| !c.passing)
            .map(|c| (c.node.as_str(), c.output.as_str()))
            .collect();
        assert_eq!(
            failing,
            vec![("slaves:1", "CHECK_FAILED: Server is in ERROR")]
        );
        assert_eq!(checks.len(), 3);
    }

    /// A stack as Heat's `GET /stacks/{name}/{id}` shows it.
    fn stack(status: &str, outputs: Value) -> Stack {
        serde_json::from_value(serde_json::json!({
            "id": "2f0e5a1c-0000-4000-8000-000000000001",
            "stack_name": "disco-2f0e5a1c",
            "stack_status": status,
            "stack_status_reason": "Stack CREATE completed successfully",
            "outputs": outputs,
        }))
        .expect("a stack")
    }

    #[test]
    fn a_complete_stack_gives_its_addresses_and_web_uis() {
        let outputs = outputs_of(&stack(
            "CREATE_COMPLETE",
            serde_json::json!([
                {"output_key": "external_ip", "output_value": "172.24.4.10",
                 "description": "Floating IP of the master node"},
                {"output_key": "master_private_ip", "output_value": "10.0.0.5"},
                {"output_key": "slave_ips", "output_value": ["10.0.0.6", "10.0.0.7"]},
                {"output_key": "ssh_key_name", "output_value": "disco-2f0e5a1c"},
                {"output_key": "node_signals", "output_value": {"master": "{}", "slaves": {}}},
                {"output_key": "web_ui_spark_spark_master",
                 "output_value": "http://172.24.4.10:8080/"},
                {"output_key": "web_ui_jupyter_jupyterlab",
                 "output_value": "http://172.24.4.10:8888/lab"},
            ]),
        ));
        assert_eq!(
            outputs.stack_id.as_deref(),
            Some("2f0e5a1c-0000-4000-8000-000000000001")
        );
        assert_eq!(outputs.stack_status.as_deref(), Some("CREATE_COMPLETE"));
        assert_eq!(outputs.external_ip.as_deref(), Some("172.24.4.10"));
        assert_eq!(outputs.master_private_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(outputs.slave_ips, ["10.0.0.6", "10.0.0.7"]);
        assert_eq!(
            outputs.web_uis,
            BTreeMap::from([
                (
                    "jupyter_jupyterlab".to_string(),
                    "http://172.24.4.10:8888/lab".to_string()
                ),
                (
                    "spark_spark_master".to_string(),
                    "http://172.24.4.10:8080/".to_string()
                ),
            ])
        );
    }

    #[test]
    fn a_stack_in_progress_gives_only_its_status_and_external_ip() {
        let outputs = outputs_of(&stack(
            "CREATE_IN_PROGRESS",
            serde_json::json!([
                {"output_key": "external_ip", "output_value": "172.24.4.10"},
                {"output_key": "master_private_ip", "output_value": "10.0.0.5"},
                {"output_key": "slave_ips", "output_value": [null, null]},
                {"output_key": "web_ui_spark_spark_master", "output_value": null,
                 "output_error": "The Referenced Attribute (master_floating_ip floating_ip_address) is incorrect."},
            ]),
        ));
        assert_eq!(outputs.external_ip.as_deref(), Some("172.24.4.10"));
        assert_eq!(outputs.master_private_ip, None);
        assert!(outputs.slave_ips.is_empty());
        assert!(outputs.web_uis.is_empty());
    }

    #[test]
    fn outputs_of_another_shape_or_missing_are_left_out() {
        let outputs = outputs_of(&stack(
            "CREATE_COMPLETE",
            serde_json::json!([
                {"output_key": "external_ip", "output_value": ""},
                {"output_key": "master_private_ip", "output_value": ["10.0.0.5"]},
                {"output_key": "slave_ips", "output_value": "10.0.0.6"},
                {"output_key": "web_ui_spark_spark_master", "output_value": null},
            ]),
        ));
        assert_eq!(outputs.external_ip, None);
        assert_eq!(outputs.master_private_ip, None);
        assert!(outputs.slave_ips.is_empty());
        assert!(outputs.web_uis.is_empty());
        let none = outputs_of(&stack("CREATE_COMPLETE", serde_json::json!([])));
        assert_eq!(none.stack_status.as_deref(), Some("CREATE_COMPLETE"));
        assert!(none.slave_ips.is_empty() && none.web_uis.is_empty());
    }

    #[test]
    fn a_failed_member_says_what_its_node_signalled_once_named() {
        assert_eq!(
            member_failure(
                1,
                Some(
                    "WaitConditionFailure: resources.wait_condition: slaves: 2: spark install failed with return code 100"
                )
            ),
            "slaves:2: spark install failed with return code 100"
        );
        assert_eq!(
            member_failure(0, Some("Resource CREATE failed: quota exceeded")),
            "slaves:1: Resource CREATE failed: quota exceeded"
        );
        assert_eq!(member_failure(4, None), "slaves:5: it failed to come up");
        // As the member's own wait condition keeps it: the node's words as they were.
        assert_eq!(
            member_failure(
                1,
                Some(
                    "WaitConditionFailure: resources.wait_condition: slaves:2: init x failed with return code 7: no space on slaves:2 "
                )
            ),
            "slaves:2: init x failed with return code 7: no space on slaves:2"
        );
    }

    #[test]
    fn the_group_keeps_the_places_of_the_slaves_given_up_on_below_the_count() {
        let lost = |nodes: &[&str]| -> Vec<LostSlave> {
            nodes
                .iter()
                .map(|node| LostSlave {
                    node: node.to_string(),
                    reason: String::new(),
                })
                .collect()
        };
        // Four places, slaves 2 and 4 given up on: members 0 and 2 remain.
        assert_eq!(
            heat_shape(4, &lost(&["slaves:2", "slaves:4"])),
            (2, "1,3".into())
        );
        // Scaled in to 2: the place of slave 4 goes, and slave 2 keeps its own.
        assert_eq!(
            heat_shape(2, &lost(&["slaves:2", "slaves:4"])),
            (1, "1".into())
        );
        assert_eq!(heat_shape(1, &lost(&["slaves:2"])), (1, String::new()));
        assert_eq!(heat_shape(3, &[]), (3, String::new()));
        let shown = |value: Value| {
            let mut stack = stack("UPDATE_COMPLETE", serde_json::json!([]));
            stack.parameters.insert(REMOVED_SLAVES.into(), value);
            removed_of(&stack)
        };
        assert_eq!(shown(Value::from("1,3")), ["1", "3"]);
        assert_eq!(shown(Value::from("['1', '3']")), ["1", "3"]);
        assert!(shown(Value::from("")).is_empty());
        assert_eq!(slave_index("slaves:2"), Some(1));
        assert_eq!(slave_index("slaves:0"), None);
        assert_eq!(slave_index("master"), None);
    }
}
