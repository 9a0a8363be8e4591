use std::time::Duration;

use chrono::Utc;

use super::db::params;
use super::testing::{on_both_backends, scratch_on, store_on};
use super::{Backend, JobKind, JobOutcome, Store, StoreError};
use crate::cluster::Cluster;
use crate::domain::state::Mover;
use crate::domain::{ClusterState, TenantId};

fn cluster(tenant: &str, attributes: &[(&str, &str)]) -> Cluster {
    let mut cluster = crate::cluster::testing::cluster_in(
        &crate::frameworks::testing::standard(),
        TenantId::parse(tenant).expect("tenant"),
        attributes,
    );
    cluster.state_reason = "queued".into();
    cluster
}

const INJECT: (&str, &str) = ("icclab.disco.dependencies.inject", "['spark']");

async fn a_cluster_reads_back_as_stored_with_its_deploy_job_queued(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.spec, new.spec);
    assert_eq!(
        read.keys.expose_private_key(),
        new.keys.expose_private_key()
    );
    assert!(
        store
            .has_queued_job(new.id, JobKind::Deploy)
            .await
            .expect("query")
    );
    let transitions = store.transitions(new.id).await.expect("history");
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (None, ClusterState::Pending)
    );
}

async fn a_staged_cluster_gets_no_job_until_deploy_is_requested_once(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT, ("icclab.disco.stage", "true")]);
    let tenant = new.tenant.clone();
    store.insert_cluster(new.clone()).await.expect("insert");
    assert!(
        !store
            .has_queued_job(new.id, JobKind::Deploy)
            .await
            .expect("query")
    );
    store
        .request_deploy(&tenant, new.id)
        .await
        .expect("deploy")
        .expect("found");
    store
        .request_deploy(&tenant, new.id)
        .await
        .expect("deploy again")
        .expect("found");
    let first = store.next_job(vec![]).await.expect("next").expect("job");
    store
        .finish_job(first.id, JobOutcome::Done, "")
        .await
        .expect("finish");
    assert!(
        store.next_job(vec![]).await.expect("next").is_none(),
        "one job, not two"
    );
}

async fn names_are_unique_per_tenant_among_live_clusters(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let named = [INJECT, ("icclab.disco.name", "lab")];
    store
        .insert_cluster(cluster("a", &named))
        .await
        .expect("first");
    let err = store
        .insert_cluster(cluster("a", &named))
        .await
        .expect_err("taken");
    assert!(
        matches!(err, StoreError::NameTaken(ref n) if n == "lab"),
        "{err}"
    );
    store
        .insert_cluster(cluster("b", &named))
        .await
        .expect("another tenant may");
}

async fn a_transition_the_lifecycle_forbids_is_refused_and_changes_nothing(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    assert!(
        store
            .transition(new.id, Mover::Deploy, ClusterState::Deploying, "go", None)
            .await
            .expect("ok")
    );
    assert!(
        store
            .transition(new.id, Mover::Deploy, ClusterState::Ready, "up", None)
            .await
            .expect("ok")
    );
    let moved = store
        .transition(
            new.id,
            Mover::Deploy,
            ClusterState::Deploying,
            "again?",
            None,
        )
        .await
        .expect("ok");
    assert!(!moved);
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (read.state, read.state_reason.as_str()),
        (ClusterState::Ready, "up")
    );
}

async fn delete_queues_one_delete_however_often_asked_after_the_deploy_it_overtakes(
    backend: Backend,
) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    let tenant = new.tenant.clone();
    store.insert_cluster(new.clone()).await.expect("insert");
    let deploy = store.next_job(vec![]).await.expect("next").expect("job");
    // The deploy had hit a transient error and waits to retry when the delete comes.
    let later = Utc::now() + chrono::Duration::seconds(60);
    store
        .retry_job(deploy.id, later, "peer down")
        .await
        .expect("retry");
    for _ in 0..3 {
        let deleting = store
            .request_delete(&tenant, new.id)
            .await
            .expect("delete")
            .expect("found");
        assert_eq!(deleting.state, ClusterState::Deleting);
    }
    // The deploy runs first, now, to find the cluster deleting and end by itself.
    let first = store
        .next_job(vec![])
        .await
        .expect("next")
        .expect("the deploy");
    assert_eq!((first.id, first.kind), (deploy.id, JobKind::Deploy));
    assert!(
        store.next_job(vec![new.id]).await.expect("next").is_none(),
        "no second job of a cluster that has one running"
    );
    store
        .finish_job(first.id, JobOutcome::Cancelled, "deleting")
        .await
        .expect("finish");
    let job = store
        .next_job(vec![])
        .await
        .expect("next")
        .expect("the delete");
    assert_eq!(job.kind, JobKind::Delete);
    store
        .finish_job(job.id, JobOutcome::Done, "deleted")
        .await
        .expect("finish");
    assert!(
        store.next_job(vec![]).await.expect("next").is_none(),
        "one delete"
    );
    let other = TenantId::parse("other").expect("tenant");
    assert!(
        store
            .request_delete(&other, new.id)
            .await
            .expect("query")
            .is_none()
    );
}

async fn a_cluster_s_jobs_wait_while_one_of_them_runs_but_other_clusters_jobs_do_not(
    backend: Backend,
) {
    let (store, _scratch, _) = store_on(backend).await;
    let (a, b) = (cluster("t", &[INJECT]), cluster("t", &[INJECT]));
    store.insert_cluster(a.clone()).await.expect("insert a");
    store.insert_cluster(b.clone()).await.expect("insert b");
    store
        .request_delete(&a.tenant, a.id)
        .await
        .expect("delete")
        .expect("found");
    let next = store
        .next_job(vec![a.id])
        .await
        .expect("next")
        .expect("b's deploy");
    assert_eq!((next.cluster_id, next.kind), (b.id, JobKind::Deploy));
    assert!(
        store
            .next_job(vec![a.id, b.id])
            .await
            .expect("next")
            .is_none()
    );
    // Nor is the worker woken for jobs it may not start: it would wake again at once.
    assert!(
        store
            .next_due(vec![a.id, b.id])
            .await
            .expect("due")
            .is_none()
    );
    assert!(store.next_due(vec![a.id]).await.expect("due").is_some());
}

async fn only_a_writer_whose_state_it_is_changes_a_cluster_s_reason(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    store
        .request_delete(&new.tenant, new.id)
        .await
        .expect("delete")
        .expect("found");
    for by in [Mover::Deploy, Mover::Watcher] {
        assert!(
            !store
                .set_reason(new.id, by, "retrying")
                .await
                .expect("write")
        );
        assert!(
            !store
                .transition(new.id, by, ClusterState::Failed, "late", None)
                .await
                .expect("write")
        );
    }
    assert!(
        store
            .set_reason(new.id, Mover::Delete, "retrying in 2s")
            .await
            .expect("write")
    );
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (read.state, read.state_reason.as_str()),
        (ClusterState::Deleting, "retrying in 2s")
    );
    let history = store.transitions(new.id).await.expect("history");
    assert_eq!(history.len(), 2, "a new reason is not a transition");
}

async fn a_retried_job_is_not_due_until_its_time(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    let job = store.next_job(vec![]).await.expect("next").expect("job");
    let later = Utc::now() + chrono::Duration::seconds(60);
    store
        .retry_job(job.id, later, "peer down")
        .await
        .expect("retry");
    assert!(store.next_job(vec![]).await.expect("next").is_none());
    let due = store
        .next_due(vec![])
        .await
        .expect("due")
        .expect("a queued job");
    assert!((due - later).num_milliseconds().abs() < 5);
}

async fn reopening_the_database_keeps_everything(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let new = cluster("t", &[INJECT]);
    {
        let store = Store::connect(location.clone()).await.expect("open");
        store.insert_cluster(new.clone()).await.expect("insert");
    }
    let store = Store::connect(location).await.expect("reopen");
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(read.spec, new.spec);
    assert_eq!(store.clusters(&new.tenant).await.expect("list").len(), 1);
}

#[tokio::test]
async fn the_database_is_its_owner_s_alone_even_in_a_directory_others_may_pass() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let path = data.join("disco.db");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let store = Store::open(&path).await.expect("open");
    store
        .insert_cluster(cluster("a", &[INJECT]))
        .await
        .expect("insert");
    drop(store);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);

    // A database left readable (made by an older DISCO), in a directory opened to search
    // for local clusters' users: the database is closed again, the directory left so.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let store = Store::open(&path).await.expect("reopen");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&data), 0o711);
    for entry in std::fs::read_dir(&data).expect("list").flatten() {
        assert_eq!(mode(&entry.path()) & 0o077, 0, "{}", entry.path().display());
    }
    drop(store);

    // Readable or writable by others, the directory is closed.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Store::open(&path).await.expect("reopen");
    assert_eq!(mode(&data), 0o700);
}

async fn a_sole_tenant_provider_takes_no_second_tenant_while_the_first_has_live_clusters(
    backend: Backend,
) {
    let (store, _scratch, _) = store_on(backend).await;
    let first = cluster("a", &[INJECT]);
    store
        .insert_cluster_of_sole_tenant(first.clone())
        .await
        .expect("the first tenant");
    store
        .insert_cluster_of_sole_tenant(cluster("a", &[INJECT, ("icclab.disco.name", "two")]))
        .await
        .expect("the same tenant again");
    let refused = store
        .insert_cluster_of_sole_tenant(cluster("b", &[INJECT]))
        .await;
    assert!(
        matches!(refused, Err(StoreError::OtherTenant(_))),
        "{refused:?}"
    );
    // Without the rule, the other tenant is stored.
    store
        .insert_cluster(cluster("b", &[INJECT, ("icclab.disco.name", "plain")]))
        .await
        .expect("no rule");
}

/// How many samples the store holds.
async fn sample_count(store: &Store) -> i64 {
    store
        .call(|conn| {
            conn.query_row("SELECT COUNT(*) FROM stage_durations", params![], |r| {
                r.get(0)
            })
        })
        .await
        .expect("count")
}

async fn the_move_that_ends_a_run_keeps_how_long_its_steps_took_the_latest_of_each_alone(
    backend: Backend,
) {
    use crate::domain::{Report, ReportStatus};
    use crate::frameworks::catalogue::NodeGroup;
    use crate::tasks::eta::{RUNS_KEPT, StageKey};

    let (store, _scratch, _) = store_on(backend).await;
    let install = StageKey {
        component: "spark".into(),
        phase: "install".into(),
        group: NodeGroup::Master,
    };
    let mut last = None;
    for run in 0..RUNS_KEPT + 5 {
        let name = format!("c{run}");
        let new = cluster("t", &[INJECT, ("icclab.disco.name", &name)]);
        store.insert_cluster(new.clone()).await.expect("insert");
        for to in [ClusterState::Deploying, ClusterState::Installing] {
            assert!(
                store
                    .transition(new.id, Mover::Deploy, to, "", None)
                    .await
                    .expect("move")
            );
        }
        let token = store.report_token(new.id).await.expect("token");
        for status in [ReportStatus::Executing, ReportStatus::Succeeded] {
            let report = Report {
                at: Utc::now(),
                node: "master".into(),
                stage: "spark install".into(),
                status,
                rc: Some(0),
                output: String::new(),
                error: String::new(),
            };
            store
                .add_report(new.id, token.clone(), report)
                .await
                .expect("report");
        }
        if run == 0 {
            let none = store.expectations(&new).await.expect("read");
            assert!(none.is_empty(), "nothing before the first run ends");
        }
        store
            .transition(new.id, Mover::Deploy, ClusterState::Ready, "up", None)
            .await
            .expect("ready");
        last = Some(new);
    }
    let last = last.expect("a cluster");
    let expected = store
        .expectations(&last)
        .await
        .expect("read")
        .get(&install)
        .expect("the install's runs");
    assert_eq!(expected.runs, RUNS_KEPT);
    // Of each key (the master's and the slave's creation, the install) the latest
    // RUNS_KEPT alone.
    let kept = sample_count(&store).await;
    assert_eq!(kept, 3 * RUNS_KEPT as i64);
    // A ready cluster the watcher finds failed ended no run.
    store
        .transition(last.id, Mover::Watcher, ClusterState::Failed, "gone", None)
        .await
        .expect("failed");
    assert_eq!(sample_count(&store).await, kept);
}

/// How many rows of each table that names a cluster name `id`, and whether its own is.
async fn rows_of(store: &Store, id: crate::domain::ClusterId) -> Vec<(String, i64)> {
    store
        .call(move |conn| {
            let mut counts = Vec::new();
            for table in [
                "clusters",
                "transitions",
                "jobs",
                "report_tokens",
                "reports",
                "heartbeats",
                "stage_durations",
                "uses",
            ] {
                let column = if table == "clusters" {
                    "id"
                } else {
                    "cluster_id"
                };
                let n: i64 = conn.query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?1"),
                    params![id.to_string()],
                    |r| r.get(0),
                )?;
                counts.push((table.to_string(), n));
            }
            Ok(counts)
        })
        .await
        .expect("counts")
}

/// A cluster deployed (with a report, a heartbeat and its step durations), then deleted.
async fn deployed_then_deleted(store: &Store, name: &str) -> crate::domain::ClusterId {
    use crate::domain::{Report, ReportStatus};
    let new = cluster("t", &[INJECT, ("icclab.disco.name", name)]);
    store.insert_cluster(new.clone()).await.expect("insert");
    for to in [ClusterState::Deploying, ClusterState::Installing] {
        assert!(
            store
                .transition(new.id, Mover::Deploy, to, "", None)
                .await
                .expect("move")
        );
    }
    let token = store.report_token(new.id).await.expect("token");
    for status in [ReportStatus::Executing, ReportStatus::Succeeded] {
        let report = Report {
            at: Utc::now(),
            node: "master".into(),
            stage: "spark install".into(),
            status,
            rc: Some(0),
            output: String::new(),
            error: String::new(),
        };
        store
            .add_report(new.id, token.clone(), report)
            .await
            .expect("report");
    }
    let id = new.id;
    store
        .call(move |conn| {
            conn.execute(
                "INSERT INTO heartbeats (cluster_id, node, at, checks) VALUES (?1, 'master', ?2, '[]')",
                params![id.to_string(), super::rows::timestamp(Utc::now())],
            )?;
            Ok(())
        })
        .await
        .expect("heartbeat");
    store
        .transition(new.id, Mover::Deploy, ClusterState::Ready, "up", None)
        .await
        .expect("ready");
    let tenant = TenantId::parse("t").expect("tenant");
    store.request_delete(&tenant, new.id).await.expect("delete");
    assert!(
        store
            .transition(
                new.id,
                Mover::Delete,
                ClusterState::Deleted,
                "deleted",
                None
            )
            .await
            .expect("deleted")
    );
    new.id
}

async fn a_purge_forgets_clusters_deleted_before_its_time_with_every_row_naming_them(
    backend: Backend,
) {
    let (store, _scratch, _) = store_on(backend).await;
    let old = deployed_then_deleted(&store, "old").await;
    let before = rows_of(&store, old).await;
    for (table, n) in &before {
        if table != "uses" {
            assert!(
                *n > 0,
                "{table} has rows of the cluster before the purge: {before:?}"
            );
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cut = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let recent = deployed_then_deleted(&store, "recent").await;
    let live = cluster("t", &[INJECT, ("icclab.disco.name", "live")]);
    store.insert_cluster(live.clone()).await.expect("insert");

    assert_eq!(store.purge_deleted(cut).await.expect("purge"), 1);
    assert!(
        rows_of(&store, old).await.iter().all(|(_, n)| *n == 0),
        "{:?}",
        rows_of(&store, old).await
    );
    assert_eq!(store.state_of(old).await.expect("read"), None);
    assert_eq!(
        store.state_of(recent).await.expect("read"),
        Some(ClusterState::Deleted),
        "deleted after the cut: kept"
    );
    assert!(store.cluster(None, live.id).await.expect("read").is_some());
    assert_eq!(store.purge_deleted(cut).await.expect("again"), 0);
}

/// Stores opened at once on one new database: each migrates or waits for the one that
/// does (under the lock), and all of them find the whole schema, applied once.
async fn stores_opened_at_once_migrate_the_database_once(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let opens = (0..4).map(|_| Store::connect(location.clone()));
    let stores: Vec<Store> = futures_util::future::join_all(opens)
        .await
        .into_iter()
        .map(|opened| opened.expect("open"))
        .collect();
    let known = super::migrations::migrations_count();
    for store in &stores {
        let version = store
            .read(|conn| super::migrations::version(conn))
            .await
            .expect("version");
        assert_eq!(version, known);
    }
    let new = cluster("t", &[INJECT]);
    stores[0].insert_cluster(new.clone()).await.expect("insert");
    assert!(
        stores[3]
            .cluster(None, new.id)
            .await
            .expect("read")
            .is_some()
    );
}

/// Begins a write transaction that sets the cluster's reason to `reason` and holds it
/// open for `hold` before it commits; returns once it has written (the handle ends
/// with its commit).
async fn hold_a_write_transaction(
    store: &Store,
    id: crate::domain::ClusterId,
    reason: &'static str,
    hold: std::time::Duration,
) -> tokio::task::JoinHandle<Result<(), StoreError>> {
    let (began, begun) = tokio::sync::oneshot::channel();
    let writer = store.clone();
    let writing = tokio::spawn(async move {
        writer
            .call(move |conn| {
                let tx = conn.transaction()?;
                tx.execute(
                    "UPDATE clusters SET state_reason = ?2 WHERE id = ?1",
                    params![id.to_string(), reason],
                )?;
                let _ = began.send(());
                std::thread::sleep(hold);
                tx.commit()
            })
            .await
    });
    begun.await.expect("the transaction began");
    writing
}

/// A read does not wait for a write transaction in progress: it has a connection of its
/// own and reads what was committed before.
async fn reads_go_on_while_a_write_transaction_is_open(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    let writing = hold_a_write_transaction(
        &store,
        new.id,
        "writing",
        std::time::Duration::from_millis(1500),
    )
    .await;
    let started = std::time::Instant::now();
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1000),
        "the read waited {:?} for the write",
        started.elapsed()
    );
    assert_eq!(read.state_reason, "queued", "what was committed before");
    writing.await.expect("join").expect("write");
    let read = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.state_reason, "writing");
}

/// `disco migrate-store`: a SQLite store filled through the store's API, copied into an
/// empty PostgreSQL database, reads back the same there, row for row and through the
/// API; the target's ids go on after the copied ones; a second copy is refused.
#[tokio::test]
async fn a_sqlite_store_copied_into_postgres_reads_back_the_same_and_a_full_target_is_refused() {
    let (source, _source_dir, _) = store_on(Backend::Sqlite).await;
    let gone = deployed_then_deleted(&source, "gone").await;
    let used = deployed_then_deleted(&source, "used-before").await;
    let ready = cluster("t", &[INJECT, ("icclab.disco.name", "ready")]);
    source.insert_cluster(ready.clone()).await.expect("insert");
    for to in [
        ClusterState::Deploying,
        ClusterState::Installing,
        ClusterState::Ready,
    ] {
        assert!(
            source
                .transition(ready.id, Mover::Deploy, to, "", None)
                .await
                .expect("move")
        );
    }
    let mut user = cluster("t", &[INJECT, ("icclab.disco.name", "user")]);
    user.spec.uses = vec![ready.id];
    source
        .insert_cluster(user.clone())
        .await
        .expect("insert the user");
    let job = source.next_job(vec![]).await.expect("next").expect("a job");
    source
        .retry_job(job.id, Utc::now(), "transient")
        .await
        .expect("retry");
    let tenant = TenantId::parse("t").expect("tenant");
    let template = crate::templates::Template {
        name: crate::templates::TemplateName::parse("small").expect("name"),
        description: "a small one".into(),
        attributes: Default::default(),
    };
    source
        .insert_template(&tenant, template)
        .await
        .expect("template");
    source
        .open_session(
            "a-hash".into(),
            super::StoredSession {
                user: "demo".into(),
                sealed_token: "sealed".into(),
                expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            },
        )
        .await
        .expect("session");

    let (target, _target_db, location) = store_on(Backend::Postgres).await;
    let copied = source.copy_into(&target).await.expect("copy");
    let before = super::copy::dump(&source).await;
    for ((table, n), (dumped, rows)) in copied.iter().zip(&before) {
        assert_eq!(table, dumped);
        assert_eq!(*n, rows.len(), "{table}");
        assert!(*n > 0, "the test fills {table}");
    }
    assert_eq!(
        super::copy::dump(&target).await,
        before,
        "every row, every column"
    );

    let target = Store::connect(location).await.expect("reopen the target");
    for id in [gone, used, ready.id, user.id] {
        assert_eq!(
            target.state_of(id).await.expect("state"),
            source.state_of(id).await.expect("state")
        );
        assert_eq!(
            target.transitions(id).await.expect("history"),
            source.transitions(id).await.expect("history")
        );
        assert_eq!(
            target.reports(id, 0).await.expect("reports"),
            source.reports(id, 0).await.expect("reports")
        );
    }
    let read = target
        .cluster(None, user.id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.spec, user.spec);
    assert_eq!(
        read.keys.expose_private_key(),
        user.keys.expose_private_key()
    );
    assert_eq!(
        target.dependents(ready.id).await.expect("uses").len(),
        1,
        "what uses what"
    );
    assert_eq!(target.templates(&tenant).await.expect("templates").len(), 1);
    let job_copy = target
        .next_job(vec![])
        .await
        .expect("next")
        .expect("the job");
    assert_eq!((job_copy.id, job_copy.attempts), (job.id, 1));

    // The copied ids are taken: new rows are numbered after them.
    let later = cluster("t", &[INJECT, ("icclab.disco.name", "later")]);
    target
        .insert_cluster(later.clone())
        .await
        .expect("insert after the copy");
    assert_eq!(
        target.transitions(later.id).await.expect("history").len(),
        1
    );

    let err = source.copy_into(&target).await.expect_err("not empty");
    assert!(
        matches!(
            err,
            StoreError::TargetNotEmpty {
                table: "clusters",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not empty"), "{err}");
}

/// A write waits for a write transaction in progress, even one of another row, as it
/// does for SQLite's one writer: it lands after the transaction, never between the
/// transaction's reads and its writes.
async fn a_write_waits_for_a_write_transaction_in_progress(backend: Backend) {
    let (store, _scratch, _) = store_on(backend).await;
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    let other = cluster("t", &[INJECT, ("icclab.disco.name", "other")]);
    store.insert_cluster(other.clone()).await.expect("insert");
    let hold = std::time::Duration::from_millis(1000);
    let writing = hold_a_write_transaction(&store, new.id, "first", hold).await;
    let started = std::time::Instant::now();
    let second = store.clone();
    let id = other.id.to_string();
    let written = tokio::spawn(async move {
        second
            .call(move |conn| {
                conn.execute(
                    "UPDATE clusters SET state_reason = 'second' WHERE id = ?1",
                    params![id],
                )
            })
            .await
    });
    assert_eq!(written.await.expect("join").expect("the write"), 1);
    assert!(
        started.elapsed() >= hold / 2,
        "the write went through in {:?}, inside the transaction",
        started.elapsed()
    );
    writing.await.expect("join").expect("the transaction");
    for (id, reason) in [(new.id, "first"), (other.id, "second")] {
        let read = store.cluster(None, id).await.expect("read").expect("found");
        assert_eq!(read.state_reason, reason);
    }
}

/// The store at `location` as replica `name` on machine `host`, leasing for `lease`.
async fn replica_of(location: &super::Location, name: &str, host: &str, lease: Duration) -> Store {
    Store::connect(location.clone())
        .await
        .expect("open the store")
        .for_replica(super::Replica {
            name: name.into(),
            host: host.into(),
            lease,
        })
}

async fn a_job_is_held_by_one_replica_until_its_lease_runs_out_then_taken_over_once(
    backend: Backend,
) {
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_millis(600);
    let a = replica_of(&location, "a", "m", lease).await;
    let b = replica_of(&location, "b", "m", lease).await;
    let c = replica_of(&location, "c", "m", lease).await;
    let new = cluster("t", &[INJECT]);
    a.insert_cluster(new.clone()).await.expect("insert");
    let job = a
        .next_job(vec![])
        .await
        .expect("claim")
        .expect("the deploy");
    assert_eq!(job.taken_from, None, "a queued job is nobody's");
    assert!(
        b.next_job(vec![]).await.expect("claim").is_none(),
        "a job a lease holds is not claimed again"
    );
    assert!(
        matches!(
            b.finish_job(job.id, JobOutcome::Done, "").await,
            Err(StoreError::LeaseLost(id)) if id == job.id
        ),
        "only the holder ends a job"
    );
    // Renewed, the lease outlives its first term.
    for _ in 0..3 {
        tokio::time::sleep(lease / 3).await;
        assert_eq!(a.renew_leases().await.expect("renew"), vec![job.id]);
        assert!(b.next_job(vec![]).await.expect("claim").is_none());
    }
    // Unrenewed, it runs out: one other replica takes the job over, not two.
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let (by_b, by_c) = tokio::join!(b.next_job(vec![]), c.next_job(vec![]));
    let (taker, taken) = match (by_b.expect("b"), by_c.expect("c")) {
        (Some(taken), None) => (&b, taken),
        (None, Some(taken)) => (&c, taken),
        claims => panic!("taken over once, not {claims:?}"),
    };
    assert_eq!(taken.id, job.id);
    assert_eq!(taken.taken_from.as_deref(), Some("a"));
    // The replica that lost it learns so, and cannot end it.
    assert!(a.renew_leases().await.expect("renew").is_empty());
    assert!(matches!(
        a.finish_job(job.id, JobOutcome::Done, "").await,
        Err(StoreError::LeaseLost(_))
    ));
    taker
        .finish_job(job.id, JobOutcome::Done, "deployed")
        .await
        .expect("the taker ends it");
}

async fn replicas_claiming_at_once_claim_each_job_once(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_secs(60);
    let mut replicas = Vec::new();
    for name in ["a", "b", "c"] {
        replicas.push(replica_of(&location, name, "m", lease).await);
    }
    let clusters = 12;
    for _ in 0..clusters {
        replicas[0]
            .insert_cluster(cluster("t", &[INJECT]))
            .await
            .expect("insert");
    }
    let claiming = replicas.iter().map(|replica| async move {
        let mut mine = Vec::new();
        while let Some(job) = replica.next_job(vec![]).await.expect("claim") {
            mine.push(job.id);
        }
        mine
    });
    let claimed: Vec<Vec<i64>> = futures_util::future::join_all(claiming).await;
    let mut all: Vec<i64> = claimed.iter().flatten().copied().collect();
    all.sort_unstable();
    let total = all.len();
    all.dedup();
    assert_eq!((total, all.len()), (clusters, clusters), "{claimed:?}");
}

async fn a_local_cluster_s_jobs_are_taken_on_its_machine_only(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_secs(60);
    let here = replica_of(&location, "here", "m1", lease).await;
    let there = replica_of(&location, "there", "m2", lease).await;
    let (local, elsewhere) = (cluster("t", &[INJECT]), cluster("t", &[INJECT]));
    here.insert_cluster(local.clone()).await.expect("insert");
    here.insert_cluster(elsewhere.clone())
        .await
        .expect("insert");
    // (The test catalogue's components run on the file provider only: the claim reads
    // the provider off the row.)
    let id = local.id.to_string();
    here.call(move |conn| {
        conn.execute(
            "UPDATE clusters SET provider = 'local' WHERE id = ?1",
            params![id],
        )
    })
    .await
    .expect("a local cluster");
    // The first claim of a local cluster's job records the machine it runs on.
    let deploy = here.next_job(vec![]).await.expect("claim").expect("a job");
    assert_eq!(deploy.cluster_id, local.id);
    here.finish_job(deploy.id, JobOutcome::Done, "")
        .await
        .expect("finish");
    here.request_delete(&local.tenant, local.id)
        .await
        .expect("delete")
        .expect("found");
    let job = there.next_job(vec![]).await.expect("claim").expect("a job");
    assert_eq!(
        job.cluster_id, elsewhere.id,
        "another machine takes only what runs anywhere"
    );
    assert!(there.next_job(vec![]).await.expect("claim").is_none());
    assert!(
        there
            .next_due(vec![])
            .await
            .expect("due")
            .is_none_or(|due| due > Utc::now()),
        "nor waits for it"
    );
    let job = here
        .next_job(vec![])
        .await
        .expect("claim")
        .expect("the delete");
    assert_eq!((job.cluster_id, job.kind), (local.id, JobKind::Delete));
}

async fn released_leases_are_claimed_at_once_and_are_not_takeovers(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_secs(60);
    let a = replica_of(&location, "a", "m", lease).await;
    let b = replica_of(&location, "b", "m", lease).await;
    a.insert_cluster(cluster("t", &[INJECT]))
        .await
        .expect("insert");
    let job = a.next_job(vec![]).await.expect("claim").expect("job");
    assert_eq!(a.release_leases().await.expect("release"), 1);
    let again = b.next_job(vec![]).await.expect("claim").expect("at once");
    assert_eq!((again.id, again.taken_from), (job.id, None));
    assert_eq!(a.release_leases().await.expect("release"), 0, "not a's now");
}

async fn an_ask_recorded_on_a_job_reaches_the_attempt_that_takes_it_over(backend: Backend) {
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_secs(60);
    let a = replica_of(&location, "a", "m", lease).await;
    let b = replica_of(&location, "b", "m", lease).await;
    a.insert_cluster(cluster("t", &[INJECT]))
        .await
        .expect("insert");
    let job = a.next_job(vec![]).await.expect("claim").expect("job");
    assert_eq!(job.asked_at, None, "nothing asked yet");
    assert!(
        matches!(b.asked(job.id).await, Err(StoreError::LeaseLost(id)) if id == job.id),
        "only the holder records an ask"
    );
    let before = Utc::now();
    a.asked(job.id).await.expect("asked");
    a.release_leases().await.expect("release");
    let again = b.next_job(vec![]).await.expect("claim").expect("job");
    assert_eq!(again.id, job.id);
    let asked = again.asked_at.expect("the ask is on the job");
    assert!(
        asked >= before - chrono::Duration::seconds(1) && asked <= Utc::now(),
        "{asked} is when it was asked"
    );
}

/// The next news heard, if any within 10 s.
async fn next_news(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<super::news::News>,
) -> Option<super::news::News> {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .ok()
        .flatten()
}

async fn news_reach_the_other_replicas_and_not_the_one_that_sent_them(backend: Backend) {
    use super::news::News;
    let (_scratch, location) = scratch_on(backend).await;
    let lease = Duration::from_secs(60);
    let a = replica_of(&location, "a", "m", lease).await;
    let b = replica_of(&location, "b", "m", lease).await;
    let hear = |store: &Store| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let listening = store.listen(move |news| {
            let _ = tx.send(news);
        });
        (listening, rx)
    };
    let (listening_a, mut heard_a) = hear(&a);
    let (listening_b, mut heard_b) = hear(&b);
    if backend == Backend::Sqlite {
        assert!(
            listening_a.is_none() && listening_b.is_none(),
            "one process, nobody to tell"
        );
        return;
    }
    // A listener that connects wakes its workers first (it may have missed news).
    assert_eq!(next_news(&mut heard_a).await, Some(News::Queued));
    assert_eq!(next_news(&mut heard_b).await, Some(News::Queued));
    let id = crate::domain::ClusterId::new();
    a.changed(id);
    a.publish(News::Nudge);
    b.publish(News::Queued);
    // (Each is sent on its own, without waiting: in either order.)
    let two = [next_news(&mut heard_b).await, next_news(&mut heard_b).await];
    assert!(
        two.contains(&Some(News::Changed(id))) && two.contains(&Some(News::Nudge)),
        "{two:?}"
    );
    assert_eq!(
        next_news(&mut heard_a).await,
        Some(News::Queued),
        "b's news reaches a"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(heard_a.try_recv().is_err(), "a does not hear itself");
    assert!(heard_b.try_recv().is_err(), "b does not hear itself");
    drop(listening_a);
}

async fn dashboard_sessions_are_found_by_their_hash_until_they_expire_or_close(backend: Backend) {
    use super::StoredSession;
    let (store, _scratch, location) = store_on(backend).await;
    let session = |user: &str, expires_at| StoredSession {
        user: user.into(),
        sealed_token: format!("sealed for {user}"),
        expires_at,
    };
    let later = Some(Utc::now() + chrono::Duration::hours(1));
    store
        .open_session("h1".into(), session("demo", later))
        .await
        .expect("open");
    store
        .open_session("h2".into(), session("forever", None))
        .await
        .expect("open");
    let gone = Some(Utc::now() - chrono::Duration::seconds(1));
    store
        .open_session("h3".into(), session("expired", gone))
        .await
        .expect("open");
    // Another replica of the store finds them.
    let replica = Store::connect(location).await.expect("open again");
    let found = replica.session("h1".into()).await.expect("read");
    assert_eq!(found.map(|s| s.user), Some("demo".to_string()));
    assert!(replica.session("h2".into()).await.expect("read").is_some());
    assert!(
        replica.session("h3".into()).await.expect("read").is_none(),
        "expired"
    );
    assert!(
        replica
            .session("nope".into())
            .await
            .expect("read")
            .is_none()
    );
    replica.close_session("h1".into()).await.expect("close");
    assert!(
        store.session("h1".into()).await.expect("read").is_none(),
        "closed everywhere"
    );
    // A sign-in forgets the expired sessions.
    store
        .open_session("h4".into(), session("next", later))
        .await
        .expect("open");
    let left: i64 = store
        .read(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM dashboard_sessions",
                params![],
                |row| row.get(0),
            )
        })
        .await
        .expect("count");
    assert_eq!(left, 2, "h2 and h4");
}

on_both_backends!(
    dashboard_sessions_are_found_by_their_hash_until_they_expire_or_close,
    news_reach_the_other_replicas_and_not_the_one_that_sent_them,
    a_job_is_held_by_one_replica_until_its_lease_runs_out_then_taken_over_once,
    replicas_claiming_at_once_claim_each_job_once,
    a_local_cluster_s_jobs_are_taken_on_its_machine_only,
    released_leases_are_claimed_at_once_and_are_not_takeovers,
    an_ask_recorded_on_a_job_reaches_the_attempt_that_takes_it_over,
    a_write_waits_for_a_write_transaction_in_progress,
    the_move_that_ends_a_run_keeps_how_long_its_steps_took_the_latest_of_each_alone,
    stores_opened_at_once_migrate_the_database_once,
    reads_go_on_while_a_write_transaction_is_open,
    a_cluster_reads_back_as_stored_with_its_deploy_job_queued,
    a_staged_cluster_gets_no_job_until_deploy_is_requested_once,
    names_are_unique_per_tenant_among_live_clusters,
    a_transition_the_lifecycle_forbids_is_refused_and_changes_nothing,
    delete_queues_one_delete_however_often_asked_after_the_deploy_it_overtakes,
    a_cluster_s_jobs_wait_while_one_of_them_runs_but_other_clusters_jobs_do_not,
    only_a_writer_whose_state_it_is_changes_a_cluster_s_reason,
    a_retried_job_is_not_due_until_its_time,
    a_sole_tenant_provider_takes_no_second_tenant_while_the_first_has_live_clusters,
    a_purge_forgets_clusters_deleted_before_its_time_with_every_row_naming_them,
    reopening_the_database_keeps_everything,
);

/// A pool that waited out its timeout, and the connection it could not make, are the
/// database being unavailable; neither error shows the URL's password.
#[test]
fn a_pool_that_cannot_connect_is_unavailable() {
    let error = super::testing::pool_timeout();
    assert!(matches!(error, StoreError::Pool(_)), "{error:?}");
    assert!(error.is_unavailable(), "{error}");
    assert!(
        error
            .to_string()
            .contains("timed out waiting for connection"),
        "{error}"
    );

    let manager = super::db::Manager::Postgres(Box::new(
        super::testing::unreachable_postgres().config().clone(),
    ));
    let refused = match r2d2::ManageConnection::connect(&manager) {
        Err(error) => error,
        Ok(_) => panic!("a connection to a port where nothing listens"),
    };
    let StoreError::Postgres(client) = &refused else {
        panic!("{refused:?}")
    };
    // Told by its text alone (no SQLSTATE, not closed): see the next test.
    assert_eq!(
        client.to_string(),
        "error connecting to server",
        "{client:?}"
    );
    assert!(client.code().is_none() && !client.is_closed(), "{client:?}");
    assert!(refused.is_unavailable(), "{refused}");
    for shown in [
        error.to_string(),
        refused.to_string(),
        format!("{refused:?}"),
    ] {
        assert!(!shown.contains("s3cret-pw"), "{shown}");
    }
}

/// A server that takes the connection and closes it at once (one shutting down, a proxy
/// whose backend is gone): unavailable too.
#[test]
fn a_connection_closed_by_the_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let closer = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        drop(stream);
    });
    let config: ::postgres::Config = format!("postgres://disco@127.0.0.1:{port}/disco")
        .parse()
        .expect("config");
    let manager = super::db::Manager::Postgres(Box::new(config));
    let error = match r2d2::ManageConnection::connect(&manager) {
        Err(error) => error,
        Ok(_) => panic!("a connection the server closed"),
    };
    closer.join().expect("closer");
    // The client's kind as its text says it (a reset, or an end of the stream),
    // which `postgres_unavailable` reads: a client whose texts changed fails here.
    let StoreError::Postgres(client) = &error else {
        panic!("{error:?}")
    };
    assert!(
        ["error communicating with the server", "connection closed"]
            .contains(&client.to_string().as_str()),
        "{client:?}"
    );
    assert!(error.is_unavailable(), "{error:?}");
}

/// SQLite's file locked by another connection past the busy timeout is unavailable; a
/// constraint the query broke, or a missing row, is not.
#[test]
fn sqlite_busy_past_its_timeout_is_unavailable_and_a_broken_constraint_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("busy.db");
    let holder = rusqlite::Connection::open(&path).expect("open");
    holder
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let waiter = rusqlite::Connection::open(&path).expect("open");
    waiter
        .busy_timeout(std::time::Duration::from_millis(20))
        .expect("busy timeout");
    let busy = waiter
        .execute_batch("BEGIN IMMEDIATE")
        .expect_err("the file is locked");
    let busy = StoreError::Sqlite(busy);
    assert!(busy.is_unavailable(), "{busy:?}");

    holder.execute_batch("COMMIT").expect("commit");
    holder
        .execute_batch("INSERT INTO t VALUES (1)")
        .expect("insert");
    let taken = holder
        .execute_batch("INSERT INTO t VALUES (1)")
        .expect_err("a duplicate key");
    assert!(!StoreError::Sqlite(taken).is_unavailable());
    assert!(!StoreError::NoRow("SELECT 1".into()).is_unavailable());
}

/// On PostgreSQL: a connection the server ends (57P01, an administrator's or a
/// shutdown's) is unavailable, and so is the connection once it is closed; a query the
/// server refuses (a syntax error) is not.
#[tokio::test]
async fn a_postgres_connection_ended_by_the_server_is_unavailable_and_a_refused_query_is_not() {
    let database = super::testing::TestDatabase::create().await;
    let config = database.url.config().clone();
    tokio::task::spawn_blocking(move || {
        let mut victim = config.connect(::postgres::NoTls).expect("connect");
        let mut admin = config.connect(::postgres::NoTls).expect("connect");
        let refused = victim.batch_execute("SELEC 1").expect_err("a syntax error");
        assert!(!StoreError::Postgres(refused).is_unavailable());

        let pid: i32 = victim
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0);
        admin
            .execute("SELECT pg_terminate_backend($1, 5000)", &[&pid])
            .expect("terminate");
        let ended = victim
            .batch_execute("SELECT 1")
            .expect_err("the connection was ended");
        let ended = StoreError::Postgres(ended);
        assert!(ended.is_unavailable(), "{ended:?}");
        let closed = victim
            .batch_execute("SELECT 1")
            .expect_err("the connection is closed");
        let closed = StoreError::Postgres(closed);
        assert!(closed.is_unavailable(), "{closed:?}");
    })
    .await
    .expect("the test's queries");
}

/// Every write is counted (`Store::writes`, what kept GET answers are checked against):
/// a write call moves the count, and SQLite's reading connections refuse to write.
#[tokio::test]
async fn every_write_moves_the_count_and_sqlite_s_readers_refuse_to_write() {
    let (_scratch, location) = scratch_on(Backend::Sqlite).await;
    let store = Store::connect(location).await.expect("open");
    let before = store.writes();
    let new = cluster("t", &[INJECT]);
    store.insert_cluster(new.clone()).await.expect("insert");
    assert!(store.writes() > before, "the insert is counted");
    let counted = store.writes();
    let _ = store.cluster(None, new.id).await.expect("read");
    assert_eq!(store.writes(), counted, "a read is not");
    let id = new.id.to_string();
    let refused = store
        .read(move |conn| {
            conn.execute(
                "UPDATE clusters SET state_reason = 'behind the count' WHERE id = ?1",
                params![id],
            )
        })
        .await;
    assert!(refused.is_err(), "a reader wrote: {refused:?}");
    let found = store
        .cluster(None, new.id)
        .await
        .expect("read")
        .expect("found");
    assert_ne!(found.state_reason, "behind the count");
}
