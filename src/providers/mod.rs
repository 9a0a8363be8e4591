//! Providers turn a cluster into machines and take them away again. The lifecycle calls
//! them from its jobs, never from a request handler.
//!
//! Every call must be idempotent: a job that died half-way runs again from the start after
//! a restart, so `deploy` finds what an earlier attempt made instead of making it twice.

pub mod file;
pub mod local;
pub mod openstack;
pub mod preflight;
#[cfg(feature = "bench-provider")]
pub mod timed;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::Identity;
use crate::cluster::{Cluster, Delegation, Outputs};
use crate::compose::Composition;
use crate::domain::activity::ComponentActivity;
use crate::domain::health::{CheckOutcome, RepairTarget};
use crate::domain::{ClusterId, ProviderKind, Resize};
use crate::frameworks::plan::Plan;
use preflight::{Needs, Preflight, QuotaError};

/// Where a deployment stands, as the provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The nodes are being created.
    Deploying(Outputs),
    /// The nodes exist; their software is being installed.
    Installing(Outputs),
    /// Everything is up.
    Ready(Outputs),
    /// It will not get further; the reason is the provider's own words.
    Failed { reason: String, outputs: Outputs },
}

/// Where a tear-down stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Teardown {
    InProgress,
    Gone,
}

/// Where a stop stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suspension {
    InProgress,
    /// Nothing of the cluster runs; it keeps what it needs to start again.
    Stopped,
}

/// Whether a ready cluster is still running, as the provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// It stopped; the reason says what is gone.
    Stopped(String),
}

/// Why a provider cannot run a plan at all: names the attribute at fault and what the
/// provider allows; shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {reason}")]
pub struct Inadmissible {
    pub attribute: &'static str,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth another attempt: the peer was unreachable or answered 5xx.
    #[error("{0}")]
    Transient(String),
    /// Another attempt would fail the same way; the reason is shown to the user.
    #[error("{0}")]
    Permanent(String),
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Whether the provider runs node scripts, which then report their stages (with a
    /// token that must not end up where nothing runs, such as the file provider's file).
    fn runs_nodes(&self) -> bool {
        true
    }

    /// The shortest wait between two looks at a deploy or delete: how cheap a look is.
    fn first_poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(500)
    }

    /// How long a stop, start or resize the provider was asked for may take to show in
    /// what it observes, once asked (the ask in flight when a crash cut it short): an
    /// attempt after the crash observes that long before it asks again, so that the
    /// provider is not asked twice. Nothing by default: an ask is done when answered.
    fn asks_show_within(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// What the provider is, for the query interface (`GET /-/`).
    fn summary(&self) -> String {
        format!("the {} provider", self.kind())
    }

    /// Why the provider takes the clusters of one tenant only, if it does (the local
    /// provider when every cluster runs as DISCO's own user).
    fn sole_tenant(&self) -> Option<&'static str> {
        None
    }

    /// At create: whether the provider can run this plan at all; the error names the
    /// attribute at fault and is shown to the user. Everything by default.
    fn admits(&self, _plan: &Plan) -> Result<(), Inadmissible> {
        Ok(())
    }

    /// At create and scale-out, on the request path and with the caller's own identity,
    /// before anything is made: whether the project has room for `needs` of a cluster
    /// running `plan` and has the images and flavors it names; what it would use. Admits
    /// everything by default.
    async fn preflight(
        &self,
        _caller: &Identity,
        _plan: &Plan,
        needs: &Needs,
    ) -> Result<Preflight, QuotaError> {
        Ok(Preflight::unlimited(needs))
    }

    /// At create, on the request path: what the provider needs to act for the caller
    /// later (a Keystone application credential). Nothing by default.
    async fn delegate(
        &self,
        _caller: &Identity,
        _cluster: ClusterId,
    ) -> Result<Delegation, ProviderError> {
        Ok(Delegation::default())
    }

    /// Takes back what `delegate` made, for a create refused after it (the cluster is
    /// never stored). Nothing by default.
    async fn undelegate(&self, _cluster: &Cluster) {}

    /// Starts creating the cluster's resources, or finds those an earlier attempt made.
    async fn deploy(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError>;

    /// Where the deployment stands now.
    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError>;

    /// Starts tearing the cluster's resources down; nothing there is `Gone`.
    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError>;

    /// Where the tear-down stands now.
    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError>;

    /// Whether the provider can stop a cluster and start it again (`suspend`, `resume`).
    fn stops(&self) -> bool {
        false
    }

    /// Starts stopping a ready cluster's nodes (`?action=stop`), keeping its addresses,
    /// keys and data; a cluster already stopped is `Stopped`. Providers that cannot stop
    /// a cluster say so.
    async fn suspend(&self, _cluster: &Cluster) -> Result<Suspension, ProviderError> {
        Err(ProviderError::Permanent(format!(
            "the {} provider cannot stop a cluster",
            self.kind()
        )))
    }

    /// Where the stop stands now.
    async fn observe_suspend(&self, cluster: &Cluster) -> Result<Suspension, ProviderError> {
        self.suspend(cluster).await
    }

    /// Starts a stopped cluster's nodes again (`?action=start`), or finds those an
    /// earlier attempt started; ready once its components pass the checks a deploy's do.
    async fn resume(
        &self,
        _cluster: &Cluster,
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        Err(ProviderError::Permanent(format!(
            "the {} provider cannot start a cluster",
            self.kind()
        )))
    }

    /// Where the start stands now.
    async fn observe_resume(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        self.observe(cluster).await
    }

    /// Whether the provider can resize a running cluster (`?action=scale`).
    fn resizes(&self) -> bool {
        false
    }

    /// Resizes a ready cluster from `resize.from` slaves to its plan's `resize.to`: new
    /// slaves run the whole node script, leaving ones their decommission steps and then
    /// go (the highest-numbered first). Ready once every node passes its checks.
    async fn resize(
        &self,
        _cluster: &Cluster,
        _resize: Resize,
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        Err(ProviderError::Permanent(format!(
            "the {} provider cannot resize a cluster",
            self.kind()
        )))
    }

    /// Before a cancelled scale-out's resize back (`back.to..back.from` are the new
    /// slaves): gives those slaves up, so that they go without decommission steps (they
    /// hold nothing yet). Nothing by default: the leaving slaves of a VM scale-out that
    /// was cancelled have no agent running yet, and are not asked.
    async fn abandon_slaves(&self, _cluster: &Cluster, _back: Resize) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Whether the provider runs the leaving slaves' decommission steps itself (the local
    /// provider, on this machine). Otherwise the slaves run them when they are asked to
    /// (`GET /disco/UUID/report?node=...`), and the lifecycle waits for their reports
    /// before it resizes.
    fn decommissions(&self) -> bool {
        false
    }

    /// Where the resize stands now.
    async fn observe_resize(
        &self,
        cluster: &Cluster,
        _resize: Resize,
    ) -> Result<Progress, ProviderError> {
        self.observe(cluster).await
    }

    /// After a deploy failed for a reason of the lifecycle's own (its deadline, too
    /// many transient errors): stops what still runs, where that is the provider's way
    /// with failed clusters. Nothing by default (a failed stack is kept for inspection).
    async fn stop(&self, _cluster: &Cluster) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Gives back what a cluster whose deploy failed long ago still holds (its stack, its
    /// addresses, its directory), keeping what DISCO stores of it (its record, task tree
    /// and reports): `jobs.cleanup_failed_after`. `true` once nothing is left (a later
    /// delete finds nothing to remove); `false` while it goes. Nothing by default.
    async fn release(&self, _cluster: &Cluster) -> Result<bool, ProviderError> {
        Ok(true)
    }

    /// Whether a ready cluster is still running: asked at start-up and then now and
    /// again. Providers that cannot tell cheaply say it runs.
    async fn check(&self, _cluster: &Cluster) -> Result<Liveness, ProviderError> {
        Ok(Liveness::Running)
    }

    /// Every component's checks on every node of a ready cluster, as they stand now, and
    /// what the provider itself sees of the nodes (a server in `ERROR`): the cluster's
    /// health. Nothing by default; where the nodes report their own checks
    /// (`heartbeats`), only what the provider sees.
    async fn probe(&self, _cluster: &Cluster) -> Result<Vec<CheckOutcome>, ProviderError> {
        Ok(Vec::new())
    }

    /// Whether the nodes send their checks' outcomes themselves (a health reporter on
    /// each VM) instead of the provider running them.
    fn heartbeats(&self) -> bool {
        false
    }

    /// Whether the provider can start a ready cluster's failing components again
    /// (`?action=repair`).
    fn repairs(&self) -> bool {
        false
    }

    /// Whether a repair's steps are run by the nodes' agents, which ask DISCO for them
    /// (`GET /disco/UUID/health/repair?node=...`) and report them as a deploy's steps,
    /// instead of by the provider (`repair`): VMs, which DISCO has no way into.
    fn repairs_by_agent(&self) -> bool {
        false
    }

    /// Starts the start and smoke steps of `targets`' components again on their nodes,
    /// or finds those an earlier attempt started; ready once they ran and the targets'
    /// checks pass. Nothing else of the cluster is touched, and a repair that fails
    /// stops nothing.
    async fn repair(
        &self,
        _cluster: &Cluster,
        _targets: &[RepairTarget],
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        Err(ProviderError::Permanent(format!(
            "the {} provider cannot repair a cluster",
            self.kind()
        )))
    }

    /// Where the repair stands now.
    async fn observe_repair(
        &self,
        cluster: &Cluster,
        targets: &[RepairTarget],
    ) -> Result<Progress, ProviderError> {
        let _ = (cluster, targets);
        Err(ProviderError::Permanent(format!(
            "the {} provider cannot repair a cluster",
            self.kind()
        )))
    }

    /// Whether a ready cluster is in use, each component that can tell answering (its
    /// `activity` step, on the master); `None` when the provider cannot ask, or no
    /// component can tell.
    async fn activity(
        &self,
        _cluster: &Cluster,
        _composition: &Composition,
    ) -> Result<Option<Vec<ComponentActivity>>, ProviderError> {
        Ok(None)
    }

    /// The content of files under the cluster's shared directory (its outputs' files),
    /// by path; those it cannot read are left out. None by default: a provider whose
    /// nodes are elsewhere has them reported (`POST /disco/UUID/outputs`).
    async fn read_shared(
        &self,
        _cluster: &Cluster,
        _composition: &Composition,
        _files: &[String],
    ) -> Result<std::collections::BTreeMap<String, String>, ProviderError> {
        Ok(Default::default())
    }

    /// Every event of the cluster's stack (Heat's), oldest first, as its owner asks
    /// for them (`GET /disco/UUID/events?source=heat`); `None` where the provider makes
    /// no stack.
    async fn stack_events(
        &self,
        _cluster: &Cluster,
    ) -> Result<Option<crate::cluster::heat_events::HeatEvents>, ProviderError> {
        Ok(None)
    }

    /// The clusters the provider holds anything of now (processes, addresses, files),
    /// found without asking the store, and only those surely this server's (another on
    /// the machine may hold clusters of its own): the watcher looks among them for what
    /// outlived its cluster. Nothing by default.
    async fn holdings(&self) -> Result<Vec<ClusterId>, ProviderError> {
        Ok(Vec::new())
    }

    /// Removes whatever the provider holds of a cluster that is deleted, or that the store
    /// does not know, with nothing but its id to go by.
    async fn remove_holdings(&self, _id: ClusterId) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The providers this server runs, by kind.
#[derive(Clone, Default)]
pub struct Providers {
    by_kind: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Providers {
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Self {
        self.by_kind.insert(provider.kind().as_str(), provider);
        self
    }

    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn Provider>> {
        self.by_kind.get(kind.as_str())
    }

    /// Every provider this server runs.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.by_kind.values()
    }

    /// The kinds available, for error messages and the query interface.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.by_kind.keys().copied().collect()
    }
}
