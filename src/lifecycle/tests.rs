//! The lifecycle against a scripted provider: the error paths a real peer will not
//! produce on demand (transient failures, panics, a deploy that never finishes).

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::cluster::Outputs;
use crate::domain::{ClusterId, ProviderKind, TenantId};
use crate::providers::{Progress, ProviderError, Teardown};
use crate::store::Backend;
use crate::store::testing::on_both_backends;

/// Answers `deploy`/`observe` with the scripted results in order; the last one repeats.
struct Scripted {
    script: Mutex<VecDeque<Step>>,
}

#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a script of a few steps, in a test"
)]
enum Step {
    Progress(Progress),
    Transient,
    Permanent,
    Panic,
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(steps.into()),
        })
    }

    fn next(&self) -> Result<Progress, ProviderError> {
        let step = {
            let mut script = self.script.lock().expect("lock");
            if script.len() > 1 {
                script.pop_front()
            } else {
                script.front().cloned()
            }
        };
        match step.expect("a scripted step") {
            Step::Progress(p) => Ok(p),
            Step::Transient => Err(ProviderError::Transient("connection refused".into())),
            Step::Permanent => Err(ProviderError::Permanent("quota exceeded".into())),
            Step::Panic => panic!("scripted panic"),
        }
    }
}

#[async_trait]
impl Provider for Scripted {
    fn kind(&self) -> ProviderKind {
        ProviderKind::File
    }
    async fn deploy(&self, _: &Cluster, _: &Composition) -> Result<Progress, ProviderError> {
        self.next()
    }
    async fn observe(&self, _: &Cluster) -> Result<Progress, ProviderError> {
        self.next()
    }
    async fn delete(&self, _: &Cluster) -> Result<Teardown, ProviderError> {
        Ok(Teardown::Gone)
    }
    async fn observe_delete(&self, _: &Cluster) -> Result<Teardown, ProviderError> {
        Ok(Teardown::Gone)
    }
}

/// A provider whose deploy, once called, waits until the test lets it go on, then makes a
/// node and answers with `then`; its delete finds and removes the nodes, as a real
/// provider's would. It keeps count of what it holds and of what each delete found.
struct Gated {
    entered: Notify,
    release: Notify,
    then: Step,
    nodes: Mutex<u32>,
    found_by_delete: Mutex<Vec<u32>>,
    stops: Mutex<u32>,
}

impl Gated {
    fn new(then: Step) -> Arc<Gated> {
        Arc::new(Gated {
            entered: Notify::new(),
            release: Notify::new(),
            then,
            nodes: Mutex::new(0),
            found_by_delete: Mutex::new(Vec::new()),
            stops: Mutex::new(0),
        })
    }

    /// Waits until a deploy is in the provider's hands.
    async fn deploying(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.entered.notified())
            .await
            .expect("the deploy reached the provider");
    }

    fn nodes(&self) -> u32 {
        *self.nodes.lock().expect("lock")
    }

    fn found_by_delete(&self) -> Vec<u32> {
        self.found_by_delete.lock().expect("lock").clone()
    }

    fn stops(&self) -> u32 {
        *self.stops.lock().expect("lock")
    }
}

#[async_trait]
impl Provider for Gated {
    fn kind(&self) -> ProviderKind {
        ProviderKind::File
    }
    async fn deploy(&self, _: &Cluster, _: &Composition) -> Result<Progress, ProviderError> {
        self.entered.notify_one();
        self.release.notified().await;
        *self.nodes.lock().expect("lock") += 1;
        Scripted::new(vec![self.then.clone()]).next()
    }
    async fn observe(&self, _: &Cluster) -> Result<Progress, ProviderError> {
        Scripted::new(vec![self.then.clone()]).next()
    }
    async fn delete(&self, _: &Cluster) -> Result<Teardown, ProviderError> {
        let mut nodes = self.nodes.lock().expect("lock");
        self.found_by_delete.lock().expect("lock").push(*nodes);
        *nodes = 0;
        Ok(Teardown::Gone)
    }
    async fn observe_delete(&self, _: &Cluster) -> Result<Teardown, ProviderError> {
        Ok(Teardown::Gone)
    }
    async fn stop(&self, _: &Cluster) -> Result<(), ProviderError> {
        *self.stops.lock().expect("lock") += 1;
        Ok(())
    }
}

struct Bed {
    store: Store,
    lifecycle: Lifecycle,
    id: ClusterId,
    _scratch: crate::store::testing::Scratch,
}

async fn bed(backend: Backend, steps: Vec<Step>, adjust: impl FnOnce(&mut JobSettings)) -> Bed {
    bed_with(backend, Scripted::new(steps), adjust).await
}

async fn bed_with(
    backend: Backend,
    provider: Arc<dyn Provider>,
    adjust: impl FnOnce(&mut JobSettings),
) -> Bed {
    let (store, scratch, _) = crate::store::testing::store_on(backend).await;
    let mut settings = JobSettings {
        enabled: true,
        poll_interval_secs: 1,
        max_attempts: 3,
        deploy_timeout_secs: 60,
        delete_timeout_secs: 60,
        watch_interval_secs: 30,
        default_max_age: None,
        default_on_expiry: crate::domain::OnExpiry::Stop,
        longest_max_age: None,
        default_max_idle: None,
        shortest_max_idle: crate::domain::Span::from_secs(300),
        expiry_warning_secs: 3600,
        cleanup_failed_after: None,
        health: crate::config::HealthSettings {
            autorepair_after: 2,
            autorepairs_per_hour: 3,
            heartbeat_timeout_secs: 120,
        },
        lease_secs: 30,
    };
    adjust(&mut settings);
    let providers = Providers::default().with(provider);
    let catalogue = Arc::new(crate::frameworks::testing::standard());
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("heat-templates");
    let composer = Arc::new(Composer::load(&templates).expect("templates"));
    let lifecycle = Lifecycle::new(
        store.clone(),
        providers,
        settings,
        Arc::clone(&catalogue),
        composer,
        None,
        30,
    );
    let cluster = crate::cluster::testing::cluster_in(
        &catalogue,
        TenantId::default_tenant(),
        &[("icclab.disco.dependencies.inject", "['spark']")],
    );
    let id = cluster.id;
    store.insert_cluster(cluster).await.expect("insert");
    Bed {
        store,
        lifecycle,
        id,
        _scratch: scratch,
    }
}

impl Bed {
    async fn cluster(&self) -> Cluster {
        self.store
            .cluster(None, self.id)
            .await
            .expect("read")
            .expect("found")
    }

    async fn states(&self) -> Vec<ClusterState> {
        self.store
            .transitions(self.id)
            .await
            .expect("history")
            .into_iter()
            .map(|t| t.to)
            .collect()
    }
}

fn with_ip(ip: &str) -> Outputs {
    Outputs {
        external_ip: Some(ip.into()),
        ..Outputs::default()
    }
}

async fn progress_moves_the_cluster_through_each_state_and_keeps_the_outputs(backend: Backend) {
    let bed = bed(
        backend,
        vec![
            Step::Progress(Progress::Deploying(Outputs::default())),
            Step::Progress(Progress::Installing(with_ip("192.0.2.7"))),
            Step::Progress(Progress::Ready(Outputs {
                stack_status: Some("CREATE_COMPLETE".into()),
                ..Outputs::default()
            })),
        ],
        |_| {},
    )
    .await;
    assert_eq!(bed.lifecycle.run_pending_jobs().await.expect("ran"), 1);
    let cluster = bed.cluster().await;
    assert_eq!(cluster.state, ClusterState::Ready);
    assert_eq!(
        cluster.outputs.external_ip.as_deref(),
        Some("192.0.2.7"),
        "earlier outputs kept"
    );
    assert_eq!(
        cluster.outputs.stack_status.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        bed.states().await,
        vec![
            ClusterState::Pending,
            ClusterState::Deploying,
            ClusterState::Installing,
            ClusterState::Ready
        ]
    );
}

async fn a_permanent_error_fails_the_cluster_with_the_providers_words(backend: Backend) {
    let bed = bed(backend, vec![Step::Permanent], |_| {}).await;
    bed.lifecycle.run_pending_jobs().await.expect("ran");
    let cluster = bed.cluster().await;
    assert_eq!(cluster.state, ClusterState::Failed);
    assert_eq!(cluster.state_reason, "quota exceeded");
}

async fn a_transient_error_is_retried_later_and_gives_up_after_max_attempts(backend: Backend) {
    let bed = bed(backend, vec![Step::Transient], |s| s.max_attempts = 2).await;
    bed.lifecycle.run_pending_jobs().await.expect("ran");
    let cluster = bed.cluster().await;
    assert_eq!(cluster.state, ClusterState::Deploying, "still trying");
    assert!(
        cluster
            .state_reason
            .starts_with("retrying in 2s after: connection refused"),
        "{}",
        cluster.state_reason
    );
    assert!(
        bed.store.next_job(vec![]).await.expect("next").is_none(),
        "not due yet"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(bed.lifecycle.run_pending_jobs().await.expect("ran"), 1);
    let cluster = bed.cluster().await;
    assert_eq!(cluster.state, ClusterState::Failed);
    assert_eq!(
        cluster.state_reason,
        "gave up after 2 attempts: connection refused"
    );
}

async fn a_deploy_that_never_finishes_fails_at_its_deadline(backend: Backend) {
    let bed = bed(
        backend,
        vec![Step::Progress(Progress::Installing(Outputs::default()))],
        |s| s.deploy_timeout_secs = 1,
    )
    .await;
    bed.lifecycle.run_pending_jobs().await.expect("ran");
    let cluster = bed.cluster().await;
    assert_eq!(cluster.state, ClusterState::Failed);
    assert_eq!(cluster.state_reason, "the deploy did not finish within 1 s");
}

async fn a_delete_overtaking_a_deploy_stops_the_deploy_and_tears_down(backend: Backend) {
    let bed = bed(
        backend,
        vec![Step::Progress(Progress::Installing(Outputs::default()))],
        |_| {},
    )
    .await;
    let runner = bed.lifecycle.clone();
    let deploying = tokio::spawn(async move { runner.run_pending_jobs().await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(bed.cluster().await.state, ClusterState::Installing);
    bed.store
        .request_delete(&TenantId::default_tenant(), bed.id)
        .await
        .expect("delete")
        .expect("found");
    // The deploy notices at its next poll and stands back; the delete then runs.
    let ran = tokio::time::timeout(std::time::Duration::from_secs(10), deploying)
        .await
        .expect("finished")
        .expect("joined")
        .expect("ran");
    assert_eq!(ran, 2);
    assert!(
        bed.store
            .cluster(None, bed.id)
            .await
            .expect("read")
            .is_none(),
        "deleted"
    );
    assert_eq!(
        bed.states().await.last().copied(),
        Some(ClusterState::Deleted)
    );
}

/// Whether the cluster is deleted; waits for it up to `within`.
async fn deleted_within(bed: &Bed, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if bed.states().await.last() == Some(&ClusterState::Deleted) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn request_delete(bed: &Bed) {
    bed.store
        .request_delete(&TenantId::default_tenant(), bed.id)
        .await
        .expect("delete")
        .expect("found");
    bed.lifecycle.wake();
}

async fn a_delete_requested_while_the_provider_deploys_runs_after_it_and_removes_its_nodes(
    backend: Backend,
) {
    let gated = Gated::new(Step::Progress(Progress::Installing(Outputs::default())));
    let bed = bed_with(backend, gated.clone(), |_| {}).await;
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(bed.lifecycle.clone().run(stopped));
    gated.deploying().await;
    request_delete(&bed).await;
    // A delete that ran beside the deploy would find nothing and finish at once.
    let early = deleted_within(&bed, std::time::Duration::from_secs(1)).await;
    gated.release.notify_one();
    assert!(
        deleted_within(&bed, std::time::Duration::from_secs(10)).await,
        "never deleted"
    );
    stop.send(true).expect("stop");
    worker.await.expect("the worker did not panic");
    assert!(
        !early,
        "the delete finished while the deploy was still making nodes"
    );
    assert_eq!(
        (gated.found_by_delete(), gated.nodes()),
        (vec![1], 0),
        "the delete found the node the deploy made, and nothing is left"
    );
}

async fn a_deploy_failing_after_a_delete_was_requested_leaves_the_cluster_to_the_delete(
    backend: Backend,
) {
    let gated = Gated::new(Step::Permanent);
    let bed = bed_with(backend, gated.clone(), |_| {}).await;
    let runner = bed.lifecycle.clone();
    let jobs = tokio::spawn(async move { runner.run_pending_jobs().await });
    gated.deploying().await;
    request_delete(&bed).await;
    gated.release.notify_one();
    let ran = jobs.await.expect("joined").expect("ran");
    assert_eq!(ran, 2, "the deploy, then the delete");
    let states = bed.states().await;
    assert_eq!(
        states.last(),
        Some(&ClusterState::Deleted),
        "the DELETE was carried out: {states:?}"
    );
    assert!(!states.contains(&ClusterState::Failed), "{states:?}");
    assert_eq!(gated.found_by_delete(), vec![1]);
    assert_eq!(
        gated.stops(),
        0,
        "what the delete tears down is not stopped first"
    );
}

async fn a_deploy_hitting_a_transient_error_after_a_delete_was_requested_ends_without_retrying(
    backend: Backend,
) {
    let gated = Gated::new(Step::Transient);
    let bed = bed_with(backend, gated.clone(), |_| {}).await;
    let deploy = bed
        .store
        .next_job(vec![])
        .await
        .expect("next")
        .expect("the deploy");
    let runner = bed.lifecycle.clone();
    let running = tokio::spawn(async move { runner.run_job(deploy).await });
    gated.deploying().await;
    request_delete(&bed).await;
    gated.release.notify_one();
    running.await.expect("joined");
    let cluster = bed.cluster().await;
    assert_eq!(
        (cluster.state, cluster.state_reason.as_str()),
        (ClusterState::Deleting, "delete requested"),
        "the deploy writes nothing on a cluster being deleted"
    );
    assert!(
        !bed.store
            .has_queued_job(bed.id, JobKind::Deploy)
            .await
            .expect("query"),
        "the deploy is not retried"
    );
    assert_eq!(bed.lifecycle.run_pending_jobs().await.expect("ran"), 1);
    assert_eq!((gated.found_by_delete(), gated.nodes()), (vec![1], 0));
}

async fn a_panicking_job_fails_its_cluster_and_the_worker_carries_on(backend: Backend) {
    let bed = bed(backend, vec![Step::Panic], |_| {}).await;
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(bed.lifecycle.clone().run(stopped));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while bed.cluster().await.state != ClusterState::Failed {
        assert!(std::time::Instant::now() < deadline, "never failed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        bed.cluster().await.state_reason,
        "internal error while running the job; see the server log"
    );
    stop.send(true).expect("stop");
    tokio::time::timeout(std::time::Duration::from_secs(5), worker)
        .await
        .expect("the worker stops")
        .expect("the worker did not panic");
}

#[test]
fn polls_come_at_a_twenty_fifth_of_the_wait_within_bounds() {
    let first = Duration::from_millis(500);
    assert_eq!(next_poll(Duration::ZERO, first), first);
    assert_eq!(
        next_poll(Duration::from_secs(50), first),
        Duration::from_secs(2)
    );
    assert_eq!(next_poll(Duration::from_secs(3600), first), LAST_POLL);
    // A provider whose looks are cheap is looked at more often early on.
    let cheap = Duration::from_millis(100);
    assert_eq!(next_poll(Duration::from_secs(1), cheap), cheap);
    assert_eq!(
        next_poll(Duration::from_secs(5), cheap),
        Duration::from_millis(200)
    );
    // Nor may a provider ask for less often than the longest wait.
    assert_eq!(
        next_poll(Duration::ZERO, Duration::from_secs(60)),
        LAST_POLL
    );
}

async fn provider_errors_are_counted_by_provider_and_kind(backend: Backend) {
    let bed = bed(backend, vec![Step::Transient, Step::Permanent], |s| {
        s.max_attempts = 3
    })
    .await;
    bed.lifecycle.run_pending_jobs().await.expect("ran");
    let provider = bed.cluster().await.spec.request.provider;
    let errors = &bed.lifecycle.metrics().provider_errors;
    let count = |kind: &str| errors.with_label_values(&[provider.as_str(), kind]).get();
    assert_eq!(
        (count("transient"), count("permanent")),
        (1, 0),
        "the first attempt"
    );
    let running = &bed.lifecycle.metrics().jobs_running;
    assert_eq!(
        running.with_label_values(&["deploy"]).get(),
        0,
        "none runs once it ended"
    );

    let failing = self::bed(backend, vec![Step::Permanent], |_| {}).await;
    failing.lifecycle.run_pending_jobs().await.expect("ran");
    let errors = &failing.lifecycle.metrics().provider_errors;
    assert_eq!(
        errors
            .with_label_values(&[provider.as_str(), "permanent"])
            .get(),
        1
    );
}

on_both_backends!(
    progress_moves_the_cluster_through_each_state_and_keeps_the_outputs,
    a_permanent_error_fails_the_cluster_with_the_providers_words,
    a_transient_error_is_retried_later_and_gives_up_after_max_attempts,
    a_deploy_that_never_finishes_fails_at_its_deadline,
    a_delete_overtaking_a_deploy_stops_the_deploy_and_tears_down,
    a_delete_requested_while_the_provider_deploys_runs_after_it_and_removes_its_nodes,
    a_deploy_failing_after_a_delete_was_requested_leaves_the_cluster_to_the_delete,
    a_deploy_hitting_a_transient_error_after_a_delete_was_requested_ends_without_retrying,
    a_panicking_job_fails_its_cluster_and_the_worker_carries_on,
    provider_errors_are_counted_by_provider_and_kind,
);
