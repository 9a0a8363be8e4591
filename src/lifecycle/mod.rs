//! The lifecycle worker: takes queued deploy and delete jobs from the store and drives the
//! cluster's provider until the cluster is ready, failed or deleted.
//!
//! Jobs run concurrently, one task each, but never two for one cluster: a delete waits
//! for the deploy it overtook to see the cluster deleting and end, then finds whatever it
//! made. Which job is running lives only in memory, so a job interrupted by a crash or a
//! stop is still queued on disk and runs again on the next start. Providers are
//! idempotent, so running again finds what the first attempt made.
//!
//! This file holds the worker loop, the polling, the recording of each attempt and the one
//! way a job fails its cluster; each kind of job is in its own file (`deploy`, `delete`),
//! and `watcher` keeps asking whether ready clusters still run.

mod activity;
mod ask;
pub mod cancel;
pub mod create;
pub mod decommission;
mod delete;
mod deploy;
pub mod expiry;
pub mod health;
mod operate;
pub mod scale;
mod silence;
pub mod templates;
mod watcher;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::domain::ProviderKind;
use crate::metrics::Metrics;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument;

use crate::cluster::{Cluster, LostSlave};
use crate::compose::{Composer, Composition, Facts};
use crate::config::JobSettings;
use crate::domain::{ClusterId, ClusterState};
use crate::frameworks::catalogue::Catalogue;
use crate::providers::preflight::Needs;
use crate::providers::{Provider, Providers};
use crate::store::news::News;
use crate::store::{Job, JobKind, JobOutcome, Store, StoreError};

/// How often a job asks its provider for news: every 1/25 of the time it has waited so
/// far, within these bounds. A change is then noticed at most 4% late (2% on average),
/// whether the cloud takes ten seconds or an hour, with a number of polls that grows only
/// with the logarithm of the time.
const LAST_POLL: Duration = Duration::from_secs(15);
const POLL_FRACTION: u32 = 25;

/// The wait after `waited`, no shorter than what the provider calls cheap.
fn next_poll(waited: Duration, first: Duration) -> Duration {
    (waited / POLL_FRACTION).clamp(first.min(LAST_POLL), LAST_POLL)
}
/// The longest wait before a job that hit a transient error runs again.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Lifecycle {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    providers: Providers,
    settings: JobSettings,
    catalogue: Arc<Catalogue>,
    composer: Arc<Composer>,
    wake: Notify,
    /// Wakes the jobs waiting for their provider: a node said something happened.
    nudged: Notify,
    /// The clusters' collection URL (`http://127.0.0.1:8888/disco`): nodes report their
    /// stages to `<this>/UUID/report`. `None`: they do not report.
    reports_to: Option<String>,
    /// How long deleted clusters are kept before the watcher purges them; `None`:
    /// forever (`store.keep_deleted_days` = 0).
    keep_deleted: Option<chrono::Duration>,
    metrics: Arc<Metrics>,
}

/// How one attempt at a job ended.
enum Attempt {
    Finished(JobOutcome, String),
    Retry(String),
}

/// Whether a job that fails its cluster asks the provider to stop what the cluster still
/// runs: nodes a deploy started would otherwise go on costing after nobody waits for them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    WhatRuns,
    Nothing,
}

impl Lifecycle {
    pub fn new(
        store: Store,
        providers: Providers,
        settings: JobSettings,
        catalogue: Arc<Catalogue>,
        composer: Arc<Composer>,
        reports_to: Option<String>,
        keep_deleted_days: u32,
    ) -> Lifecycle {
        Lifecycle {
            inner: Arc::new(Inner {
                store,
                providers,
                settings,
                catalogue,
                composer,
                wake: Notify::new(),
                nudged: Notify::new(),
                reports_to,
                keep_deleted: (keep_deleted_days > 0)
                    .then(|| chrono::Duration::days(i64::from(keep_deleted_days))),
                metrics: Arc::default(),
            }),
        }
    }

    /// What a cluster's plan composes to, as shown to its owner: its node scripts and
    /// Heat template, with what the clusters it uses export but their secrets.
    pub async fn compose_shown(&self, cluster: &Cluster) -> Result<Composition, anyhow::Error> {
        let mut facts = facts(cluster);
        self.add_used(cluster, &mut facts).await?;
        for values in facts.used.values_mut() {
            for used in values.values_mut().filter(|v| v.secret) {
                used.value = crate::frameworks::plan::REDACTED.to_string();
            }
        }
        Ok(self
            .inner
            .composer
            .compose(&cluster.plan, &self.inner.catalogue, &facts)?)
    }

    /// What creating `cluster` asks of its cloud, from the layout its Heat template is
    /// rendered from (with the clusters it uses): for the quota pre-flight.
    pub async fn needs(&self, cluster: &Cluster) -> Result<Needs, StoreError> {
        let mut facts = facts(cluster);
        self.add_used(cluster, &mut facts).await?;
        let layout = crate::compose::heat::Layout::of(&cluster.plan, &facts.used_clusters);
        Ok(Needs::of_create(&cluster.plan, &layout))
    }

    /// Adds to the facts what the clusters `cluster` uses export, for the dependencies
    /// they serve it, and their networks; a used cluster gone (it cannot be while this
    /// one is not deleted) gives nothing.
    pub(crate) async fn add_used(
        &self,
        cluster: &Cluster,
        facts: &mut Facts,
    ) -> Result<(), StoreError> {
        // Each used cluster read once: every dependency it serves comes from it.
        let mut serving_clusters = BTreeMap::new();
        for used in &cluster.plan.uses {
            if let Some(serving) = self
                .inner
                .store
                .cluster(Some(&cluster.tenant), used.cluster)
                .await?
            {
                facts.used_clusters.push(crate::compose::UsedCluster {
                    name: serving.spec.request.name.to_string(),
                    network: serving.outputs.network.clone(),
                    security_group: serving.outputs.security_group.clone(),
                });
                serving_clusters.insert(used.cluster, serving);
            }
        }
        let used = &mut facts.used;
        for (dependency, by) in cluster.plan.served() {
            let Some(serving) = serving_clusters.get(&by) else {
                continue;
            };
            let mut values: BTreeMap<String, crate::compose::UsedValue> = serving
                .outputs
                .exports
                .get(dependency)
                .map(|exports| {
                    exports
                        .iter()
                        .map(|(name, export)| {
                            (
                                name.clone(),
                                crate::compose::UsedValue {
                                    value: export.value.clone(),
                                    secret: export.secret,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            // DISCO_USES_<DEPENDENCY>_CLUSTER: which cluster serves it, by name.
            values
                .entry("cluster".to_string())
                .or_insert_with(|| crate::compose::UsedValue {
                    value: serving.spec.request.name.to_string(),
                    secret: false,
                });
            used.insert(dependency.to_string(), values);
        }
        Ok(())
    }

    /// What the service counts for `GET /metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// A transient error of `provider`, counted: the job runs again later.
    fn provider_retry(&self, provider: ProviderKind, error: String) -> Attempt {
        self.count_provider_error(provider, "transient");
        Attempt::Retry(error)
    }

    /// A permanent error of `provider`, counted: the job fails its cluster.
    fn provider_failed(&self, provider: ProviderKind) {
        self.count_provider_error(provider, "permanent");
    }

    fn count_provider_error(&self, provider: ProviderKind, kind: &str) {
        self.inner
            .metrics
            .provider_errors
            .with_label_values(&[provider.as_str(), kind])
            .inc();
    }

    /// Tells the workers a job was queued, so they need not wait for their next poll:
    /// this process's, and the other replicas'.
    pub fn wake(&self) {
        self.wake_here();
        self.inner.store.publish(News::Queued);
    }

    /// Tells the running jobs to look at their provider now rather than at their next
    /// poll (a node reported that it finished or failed, a cancel was asked): this
    /// process's, and the other replicas'.
    pub fn nudge(&self) {
        self.nudge_here();
        self.inner.store.publish(News::Nudge);
    }

    /// Wakes this process's worker only.
    fn wake_here(&self) {
        self.inner.wake.notify_one();
    }

    /// Nudges this process's running jobs only.
    fn nudge_here(&self) {
        self.inner.nudged.notify_waiters();
    }

    /// Hands what the other replicas sharing the store tell to this process's worker,
    /// jobs and event streams, until the result is dropped; `None` when there are no
    /// others to hear (SQLite).
    pub fn listen_to_replicas(&self) -> Option<crate::store::news::Listening> {
        let this = self.clone();
        self.inner.store.listen(move |news| match news {
            News::Changed(cluster) => this.inner.store.notifier().notify(cluster),
            News::Queued => this.wake_here(),
            News::Nudge => this.nudge_here(),
        })
    }

    /// Waits until the next look at a provider is due, or a nudge.
    async fn pause(&self, waited: Duration, provider: &dyn Provider) {
        tokio::select! {
            _ = tokio::time::sleep(next_poll(waited, provider.first_poll())) => {}
            _ = self.inner.nudged.notified() => {}
        }
    }

    /// Runs jobs until `shutdown` turns true, renewing their leases every third of the
    /// lease time. A job whose lease another replica took over (this one could not
    /// renew it in time) is stopped here. Jobs still running at the end are dropped and
    /// their leases let go: they are still queued on disk, and another replica, or this
    /// one's next start, runs them again.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let store = &self.inner.store;
        match store.release_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                jobs = n,
                replica = %store.replica().name,
                "taking back the jobs this replica ran before it stopped"
            ),
            Err(e) => tracing::error!(error = %e, "letting go of this replica's old leases"),
        }
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, (Job, AbortHandle)> = HashMap::new();
        let poll = Duration::from_secs(self.inner.settings.poll_interval_secs.max(1));
        let mut renew =
            tokio::time::interval((store.replica().lease / 3).max(Duration::from_millis(100)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watcher = tokio::spawn(self.clone().watch(shutdown.clone()));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let busy: Vec<ClusterId> = running.values().map(|(job, _)| job.cluster_id).collect();
            match store.next_job(busy.clone()).await {
                Ok(Some(job)) => {
                    if let Some(from) = &job.taken_from {
                        self.inner.metrics.lease_takeovers.inc();
                        tracing::warn!(job = job.id, cluster = %job.cluster_id, replica = %from, "taking over a job whose replica's lease ran out");
                    }
                    let this = self.clone();
                    let task_job = job.clone();
                    let span = tracing::info_span!("job", id = job.id, cluster = %job.cluster_id, kind = ?job.kind);
                    let handle =
                        tasks.spawn(async move { this.run_job(task_job).await }.instrument(span));
                    running.insert(handle.id(), (job, handle));
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "reading the job queue"),
            }
            let wait = self.until_next_due(busy, poll).await;
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                _ = renew.tick() => self.renew(&running).await,
                Some(joined) = tasks.join_next_with_id() => {
                    let (id, panic) = match joined {
                        Ok((id, ())) => (id, None),
                        Err(e) => (e.id(), e.is_panic().then(|| e.to_string())),
                    };
                    if let Some((job, _)) = running.remove(&id)
                        && let Some(panic) = panic
                    {
                        self.job_panicked(&job, &panic).await;
                    }
                }
            }
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        watcher.abort();
        if let Err(e) = store.release_leases().await {
            tracing::error!(error = %e, "letting go of this replica's leases");
        }
    }

    /// Renews the leases of the jobs running here, and stops those whose lease is no
    /// longer this replica's: another took them over, and a job runs in one place.
    async fn renew(&self, running: &HashMap<tokio::task::Id, (Job, AbortHandle)>) {
        if running.is_empty() {
            return;
        }
        match self.inner.store.renew_leases().await {
            Ok(held) => {
                for (job, handle) in running.values() {
                    if !held.contains(&job.id) {
                        tracing::error!(job = job.id, cluster = %job.cluster_id, "the job's lease ran out and another replica took it over: stopping it here");
                        handle.abort();
                    }
                }
            }
            // The leases run out if this goes on: the jobs are then stopped at the
            // first renewal that reaches the database, if another replica took them.
            Err(e) => tracing::error!(error = %e, "renewing the leases of the jobs running here"),
        }
    }

    /// Runs every job that is due now, and those they queue, until none is left; returns
    /// how many ran. For tests and one-shot tools: the server uses `run`.
    pub async fn run_pending_jobs(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        while let Some(job) = self.inner.store.next_job(Vec::new()).await? {
            self.run_job(job).await;
            count += 1;
        }
        Ok(count)
    }

    async fn until_next_due(&self, busy: Vec<ClusterId>, poll: Duration) -> Duration {
        match self.inner.store.next_due(busy).await {
            Ok(Some(due)) => (due - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(poll),
            _ => poll,
        }
    }

    async fn run_job(&self, job: Job) {
        let running = self
            .inner
            .metrics
            .jobs_running
            .with_label_values(&[job.kind.as_str()]);
        running.inc();
        // Counted down however the job ends, a panic too.
        let _running = scopeguard(move || running.dec());
        let attempt = match job.kind {
            JobKind::Deploy => self.deploy(&job).await,
            JobKind::Delete => self.delete(&job).await,
            JobKind::Stop => self.stop_cluster(&job).await,
            JobKind::Start => self.start_cluster(&job).await,
            JobKind::Scale => self.scale_cluster(&job).await,
            JobKind::Repair => self.repair_cluster(&job).await,
        };
        // A transient error on the last attempt allowed is a failure like any other.
        let attempts = job.attempts + 1;
        let attempt = match attempt {
            Ok(Attempt::Retry(error)) if attempts >= self.inner.settings.max_attempts => {
                let reason = format!("gave up after {attempts} attempts: {error}");
                self.fail(&job, reason, Stop::WhatRuns).await
            }
            attempt => attempt,
        };
        let store = &self.inner.store;
        let recorded = match attempt {
            Ok(Attempt::Finished(outcome, note)) => {
                tracing::info!(job = job.id, cluster = %job.cluster_id, ?outcome, "{note}");
                store.finish_job(job.id, outcome, &note).await
            }
            Ok(Attempt::Retry(error)) => self.retry_later(&job, attempts, &error).await,
            Err(e) => {
                tracing::error!(job = job.id, cluster = %job.cluster_id, error = %e, "job hit a store error; it stays queued");
                let delay = Duration::from_secs(self.inner.settings.poll_interval_secs.max(1));
                store
                    .retry_job(job.id, Utc::now() + delay, &e.to_string())
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(job = job.id, error = %e, "recording the job's outcome");
        }
    }

    /// Leaves a job that hit a transient error on its `attempts`th attempt queued, to run
    /// again after a delay that doubles with each attempt, up to `MAX_RETRY_DELAY`; unless
    /// its cluster is no longer the job's to act on (a delete overtook a deploy): the job
    /// then ends cancelled.
    async fn retry_later(&self, job: &Job, attempts: u32, error: &str) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let delay = Duration::from_secs(1 << attempts.min(9)).min(MAX_RETRY_DELAY);
        let reason = format!("retrying in {}s after: {error}", delay.as_secs());
        if !store
            .set_reason(job.cluster_id, job.kind.mover(), &reason)
            .await?
        {
            let note = format!("the cluster moved on (deleted?) before a retry after: {error}");
            tracing::info!(job = job.id, cluster = %job.cluster_id, "{note}");
            return store.finish_job(job.id, JobOutcome::Cancelled, &note).await;
        }
        tracing::warn!(job = job.id, cluster = %job.cluster_id, attempts, ?delay, "transient error, will retry: {error}");
        store.retry_job(job.id, Utc::now() + delay, error).await
    }

    async fn job_panicked(&self, job: &Job, panic: &str) {
        tracing::error!(job = job.id, cluster = %job.cluster_id, "job panicked: {panic}");
        let reason = "internal error while running the job; see the server log";
        // The job's own record keeps the panic's words, which the user is not shown.
        if let Err(e) = self.fail(job, reason.into(), Stop::Nothing).await {
            tracing::error!(error = %e, "recording the panic");
        }
        if let Err(e) = self
            .inner
            .store
            .finish_job(job.id, JobOutcome::Failed, panic)
            .await
        {
            tracing::error!(error = %e, "recording the panic");
        }
    }

    /// The one way a job fails its cluster: moves it to failed with `reason` (what the
    /// user reads), stops what it runs if asked, and ends the job as failed with the same
    /// words. A cluster that is no longer the job's to move (a delete overtook the deploy)
    /// is left alone, its tear-down to the delete, and the job ends cancelled.
    async fn fail(&self, job: &Job, reason: String, stop: Stop) -> Result<Attempt, StoreError> {
        let id = job.cluster_id;
        // A repair that fails leaves the cluster as it was: ready, its health saying what
        // still fails.
        let (to, stop) = match job.kind {
            JobKind::Repair => (ClusterState::Ready, Stop::Nothing),
            _ => (ClusterState::Failed, stop),
        };
        if !self
            .inner
            .store
            .transition(id, job.kind.mover(), to, &reason, None)
            .await?
        {
            return Ok(cancelled(&format!(
                "the cluster moved on (deleted?) before the job could fail it: {reason}"
            )));
        }
        if stop == Stop::WhatRuns {
            self.stop_failed(id).await;
        }
        Ok(Attempt::Finished(JobOutcome::Failed, reason))
    }

    /// Asks the provider to stop what a cluster that just failed still runs.
    async fn stop_failed(&self, id: ClusterId) {
        let Ok(Some(cluster)) = self.inner.store.cluster(None, id).await else {
            return;
        };
        if let Some(provider) = self.inner.providers.get(cluster.spec.request.provider)
            && let Err(e) = provider.stop(&cluster).await
        {
            tracing::warn!(cluster = %id, error = %e, "stopping what a failed cluster runs");
        }
    }

    /// The cluster a job acts on, if it is still the job's to move (a deploy's cluster may
    /// be deleting); and its provider.
    async fn target(
        &self,
        job: &Job,
    ) -> Result<Result<(Cluster, Arc<dyn Provider>), Attempt>, StoreError> {
        let Some(cluster) = self.inner.store.cluster(None, job.cluster_id).await? else {
            return Ok(Err(cancelled("the cluster is gone")));
        };
        if !job.kind.mover().acts_from(cluster.state) {
            return Ok(Err(cancelled(&format!("the cluster is {}", cluster.state))));
        }
        match self.inner.providers.get(cluster.spec.request.provider) {
            Some(provider) => Ok(Ok((cluster, Arc::clone(provider)))),
            None => {
                let reason = format!(
                    "provider {} is not available on this server (available: {})",
                    cluster.spec.request.provider,
                    self.inner.providers.kinds().join(", ")
                );
                Ok(Err(self.fail(job, reason, Stop::Nothing).await?))
            }
        }
    }
}

impl Lifecycle {
    /// The cluster's composition as its nodes run it, reporting to this server when the
    /// provider runs nodes; the reason, for the user, when it cannot be composed.
    async fn composition_for(
        &self,
        cluster: &Cluster,
        provider: &dyn Provider,
    ) -> Result<Result<Composition, String>, StoreError> {
        let mut facts = facts(cluster);
        self.add_used(cluster, &mut facts).await?;
        if let Some(reports_to) = &self.inner.reports_to
            && provider.runs_nodes()
        {
            facts.report_url = Some(format!("{reports_to}/{}/report", cluster.id));
            facts.report_token = Some(self.inner.store.report_token(cluster.id).await?);
        }
        Ok(self
            .inner
            .composer
            .compose(&cluster.plan, &self.inner.catalogue, &facts)
            .map_err(|e| format!("composing the deployment: {e}")))
    }

    /// The provider's outputs of a cluster that is ready, with what its components
    /// export: made of its facts (the addresses as stored merged with the provider's
    /// newest), and read from the files its steps wrote. A file that cannot be read now
    /// leaves its output out, and says so in the log, never its content.
    async fn with_exports(
        &self,
        cluster: &Cluster,
        provider: &dyn Provider,
        composition: &Composition,
        mut outputs: crate::cluster::Outputs,
    ) -> crate::cluster::Outputs {
        use crate::cluster::exports;
        let files = cluster.plan.output_files();
        let mut read = match provider.read_shared(cluster, composition, &files).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(cluster = %cluster.id, error = %e, "reading the outputs' files");
                Default::default()
            }
        };
        // What the master reported of them (VMs), as stored now.
        if let Ok(Some(now)) = self.inner.store.cluster(None, cluster.id).await {
            for (file, content) in now.outputs.reported_files.0 {
                read.entry(file).or_insert(content);
            }
        }
        if let Some(missing) = files.iter().find(|f| !read.contains_key(*f))
            && cluster.plan.provider == crate::domain::ProviderKind::Local
        {
            tracing::warn!(cluster = %cluster.id, file = %missing, "an output's file is not there");
        }
        let mut known = cluster.outputs.clone();
        known.merge(outputs.clone());
        outputs.exports = exports::collect(&cluster.plan, &known, &read);
        outputs
    }

    /// The cluster as stored now, if it is still the job's to move (a delete may have
    /// overtaken it): with what the provider recorded so far.
    async fn still_its(&self, job: &Job) -> Result<Option<Cluster>, StoreError> {
        Ok(self
            .inner
            .store
            .cluster(None, job.cluster_id)
            .await?
            .filter(|now| job.kind.mover().acts_from(now.state)))
    }
}

/// The facts of a cluster its composition needs.
pub fn facts(cluster: &Cluster) -> Facts {
    Facts {
        cluster_id: cluster.id.to_string(),
        cluster_name: cluster.spec.request.name.to_string(),
        key_name: cluster.keys.name.clone(),
        public_key: cluster.keys.public_key.clone(),
        report_url: None,
        report_token: None,
        used: BTreeMap::new(),
        used_clusters: Vec::new(),
    }
}

/// A reason of a cluster on its way, with the slaves given up on so far.
fn with_losses(reason: &str, lost: &[LostSlave]) -> String {
    if lost.is_empty() {
        return reason.to_string();
    }
    let nodes: Vec<&str> = lost.iter().map(|slave| slave.node.as_str()).collect();
    format!(
        "{reason}; {} failed and {} stopped ({} allows it)",
        nodes.join(", "),
        if nodes.len() == 1 { "was" } else { "were" },
        crate::domain::attributes::MIN_SLAVES
    )
}

fn cancelled(why: &str) -> Attempt {
    Attempt::Finished(JobOutcome::Cancelled, why.to_string())
}

#[cfg(test)]
mod tests;

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
