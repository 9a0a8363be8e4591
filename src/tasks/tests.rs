use chrono::{Duration, TimeZone, Utc};

use super::render::{snapshot, stream_stage};
use super::*;

/// spark (master: install, smoke; slaves: start) with two slaves, in `state`.
fn cluster(state: ClusterState) -> Cluster {
    let mut cluster = crate::cluster::testing::cluster(&[
        ("icclab.disco.dependencies.inject", "['spark']"),
        ("icclab.disco.components.heat.slavecount", "2"),
    ]);
    cluster.state = state;
    cluster
}

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 7, 0, 0)
        .single()
        .expect("time")
        + Duration::seconds(seconds)
}

fn transition(to: ClusterState, at: i64) -> Transition {
    Transition {
        from: None,
        to,
        reason: String::new(),
        at: t(at),
        resize: None,
        repair: None,
    }
}

fn report(at: i64, node: &str, stage: &str, status: ReportStatus, rc: Option<i64>) -> Report {
    Report {
        at: t(at),
        node: node.into(),
        stage: stage.into(),
        status,
        rc,
        output: if status == ReportStatus::Executing {
            String::new()
        } else {
            format!("{stage} output on {node}")
        },
        error: if status == ReportStatus::Failed {
            "boom: no such version".into()
        } else {
            String::new()
        },
    }
}

fn find<'a>(root: &'a Task, number: &str) -> &'a Task {
    root.rows()
        .into_iter()
        .map(|(_, task)| task)
        .find(|task| task.number == number)
        .unwrap_or_else(|| panic!("no task {number}"))
}

#[test]
fn a_staged_cluster_has_its_whole_tree_pending() {
    let cluster = cluster(ClusterState::Pending);
    let root = deploy_task(&cluster, &[transition(ClusterState::Pending, 0)], &[]);
    let layout: Vec<(usize, String, Option<String>)> = root
        .rows()
        .into_iter()
        .map(|(depth, task)| {
            (
                depth,
                format!("{} {}", task.number, task.name),
                task.node.clone(),
            )
        })
        .collect();
    let expected: Vec<(usize, String, Option<String>)> = vec![
        (0, " cluster_converge".into(), None),
        (1, "1 create_nodes_stage".into(), None),
        (2, "1.1 create_node".into(), Some("master".into())),
        (2, "1.2 create_node".into(), Some("slaves:1".into())),
        (2, "1.3 create_node".into(), Some("slaves:2".into())),
        (1, "2 spark install".into(), None),
        (2, "2.1 configure_node".into(), Some("master".into())),
        (1, "3 spark start".into(), None),
        (2, "3.1 configure_nodegroup".into(), Some("slaves".into())),
        (3, "3.1.1 configure_node".into(), Some("slaves:1".into())),
        (3, "3.1.2 configure_node".into(), Some("slaves:2".into())),
        (1, "4 spark smoke".into(), None),
        (2, "4.1 action".into(), Some("master".into())),
    ];
    assert_eq!(layout, expected);
    assert!(
        root.rows()
            .iter()
            .all(|(_, t)| t.status == TaskStatus::Pending)
    );
}

#[test]
fn init_actions_are_stages_between_the_starts_and_the_smoke_tests_on_their_groups() {
    let mut cluster = crate::cluster::testing::cluster(&[
        ("icclab.disco.dependencies.inject", "['spark']"),
        ("icclab.disco.components.heat.slavecount", "1"),
        (
            "icclab.disco.init",
            r#"[{"name":"warm","script":"echo warm"},{"name":"seed","group":"master","url":"https://example.org/s.sh","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]"#,
        ),
    ]);
    cluster.state = ClusterState::Installing;
    let transitions = [
        transition(ClusterState::Pending, 0),
        transition(ClusterState::Deploying, 1),
        transition(ClusterState::Installing, 2),
    ];
    let reports = [
        report(3, "master", "init warm", ReportStatus::Executing, None),
        report(5, "master", "init warm", ReportStatus::Failed, Some(7)),
    ];
    let root = deploy_task(&cluster, &transitions, &reports);
    let names: Vec<(String, String)> = root
        .rows()
        .into_iter()
        .skip(1)
        .map(|(_, task)| (task.number.clone(), task.name.clone()))
        .filter(|(number, _)| !number.contains('.'))
        .collect();
    let stage = |n: &str, name: &str| (n.to_string(), name.to_string());
    assert_eq!(
        names,
        [
            stage("1", "create_nodes_stage"),
            stage("2", "spark install"),
            stage("3", "spark start"),
            stage("4", "init warm"),
            stage("5", "init seed"),
            stage("6", "spark smoke"),
        ]
    );
    // warm on both groups, its master leaf from its reports; seed on the master alone.
    assert_eq!(find(&root, "4.1").name, "configure_nodegroup");
    let warm = find(&root, "4.2");
    assert_eq!(warm.node.as_deref(), Some("master"));
    assert_eq!(warm.status, TaskStatus::Failed);
    assert_eq!(warm.rc, Some(7));
    assert_eq!(warm.stderr.as_deref(), Some("boom: no such version"));
    assert_eq!(warm.command.as_deref(), Some("init/warm (inline, 9 bytes)"));
    let seed = &find(&root, "5").children;
    assert_eq!(seed.len(), 1);
    assert_eq!(seed[0].command.as_deref(), Some("https://example.org/s.sh"));
}

#[test]
fn reports_drive_the_leaves_and_the_stages_follow() {
    let cluster = cluster(ClusterState::Installing);
    let transitions = [
        transition(ClusterState::Pending, 0),
        transition(ClusterState::Deploying, 1),
        transition(ClusterState::Installing, 2),
    ];
    let reports = [
        report(3, "master", NODE_STARTED, ReportStatus::Succeeded, Some(0)),
        report(
            3,
            "slaves:1",
            NODE_STARTED,
            ReportStatus::Succeeded,
            Some(0),
        ),
        report(4, "master", "spark install", ReportStatus::Executing, None),
        report(
            9,
            "master",
            "spark install",
            ReportStatus::Succeeded,
            Some(0),
        ),
        report(10, "slaves:1", "spark start", ReportStatus::Executing, None),
    ];
    let root = deploy_task(&cluster, &transitions, &reports);
    assert_eq!(root.status, TaskStatus::Executing);
    assert_eq!(root.started_at, Some(t(1)));
    // slaves:2 has not reported yet: as far as DISCO knows it is still being made.
    let create = find(&root, "1");
    assert_eq!(create.status, TaskStatus::Executing);
    assert_eq!(find(&root, "1.1").ended_at, Some(t(3)));
    assert_eq!(find(&root, "1.3").status, TaskStatus::Executing);
    assert_eq!(find(&root, "1.3").ended_at, None);
    let install = find(&root, "2.1");
    assert_eq!(install.status, TaskStatus::Succeeded);
    assert_eq!(install.duration_secs(), Some(5.0));
    assert_eq!(install.rc, Some(0));
    assert_eq!(install.command.as_deref(), Some("spark/install.sh"));
    assert_eq!(find(&root, "2").status, TaskStatus::Succeeded);
    assert_eq!(find(&root, "3.1.1").status, TaskStatus::Executing);
    assert_eq!(find(&root, "3.1.2").status, TaskStatus::Pending);
    assert_eq!(find(&root, "3.1").status, TaskStatus::Executing);
    assert_eq!(find(&root, "3").started_at, Some(t(10)));
    assert_eq!(find(&root, "3").ended_at, None);
    assert_eq!(find(&root, "4").status, TaskStatus::Pending);
}

#[test]
fn a_failed_step_fails_its_stage_and_the_rest_is_cancelled() {
    let cluster = cluster(ClusterState::Failed);
    let transitions = [
        transition(ClusterState::Deploying, 0),
        transition(ClusterState::Installing, 1),
        transition(ClusterState::Failed, 8),
    ];
    let reports = [
        report(2, "master", "spark install", ReportStatus::Executing, None),
        report(7, "master", "spark install", ReportStatus::Failed, Some(3)),
    ];
    let root = deploy_task(&cluster, &transitions, &reports);
    assert_eq!(root.status, TaskStatus::Failed);
    assert_eq!(root.ended_at, Some(t(8)));
    assert_eq!(find(&root, "2").status, TaskStatus::Failed);
    assert_eq!(find(&root, "3.1.1").status, TaskStatus::Cancelled);
    assert_eq!(find(&root, "4").status, TaskStatus::Cancelled);

    let block = stream_stage(2, find(&root, "2"));
    for expected in [
        "STAGE 2: spark install",
        "COMPONENT: master/spark::install",
        "STATUS: failed",
        "DURATION: 5.0s",
        "RESULTS:",
        "NODE: master",
        "RUN: spark/install.sh (script)",
        "RETURN CODE: 3",
        "STDERR:\n  boom: no such version",
    ] {
        assert!(block.contains(expected), "{expected:?} not in\n{block}");
    }
    let table = snapshot(&root);
    assert!(table.contains("| failed "), "{table}");
    assert!(table.contains("13 rows in set\n"), "{table}");
    assert!(
        table.contains("2.1 configure_node on master failed: spark/install.sh returned 3\n")
            && table.contains("STDERR:\n  boom: no such version\n"),
        "{table}"
    );
}

#[test]
fn the_snapshot_is_laid_out_like_dtks() {
    let cluster = cluster(ClusterState::Ready);
    let transitions = [
        transition(ClusterState::Deploying, 0),
        transition(ClusterState::Ready, 30),
    ];
    let root = deploy_task(&cluster, &transitions, &[]);
    assert_eq!(root.status, TaskStatus::Succeeded);
    // A provider whose nodes never reported: ready means every step ran.
    assert!(
        root.leaves()
            .iter()
            .all(|l| l.status == TaskStatus::Succeeded)
    );
    let table = snapshot(&root);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("+---") && lines[0].ends_with("---+"),
        "{table}"
    );
    assert!(lines[1].starts_with("| TASK TYPE "), "{table}");
    assert!(
        lines[1].contains("| STATUS ") && lines[1].contains("| ENDED AT"),
        "{table}"
    );
    assert_eq!(lines[2], lines[0], "a rule under the header");
    assert!(
        lines[3].starts_with("| cluster_converge ") && lines[3].contains("| succeeded |"),
        "{table}"
    );
    assert!(lines[3].contains("| 30.0s "), "{table}");
    assert!(lines[3].contains("07:00:00 22/11/26"), "{table}");
    assert!(lines[4].starts_with("|   1 create_nodes_stage "), "{table}");
    assert!(
        lines[6].starts_with("|       1.2 create_node")
            || lines[5].starts_with("|     1.1 create_node"),
        "{table}"
    );
    assert_eq!(lines[lines.len() - 2], lines[0], "a closing rule");
    assert_eq!(lines[lines.len() - 1], "13 rows in set");
}

#[test]
fn tails_keep_the_end() {
    let long = format!("{}é{}", "a".repeat(OUTPUT_TAIL), "z".repeat(10));
    let kept = tail(&long);
    assert!(kept.len() <= OUTPUT_TAIL && kept.ends_with("zzzzzzzzzz"));
}

mod expected {
    use super::*;
    use crate::frameworks::catalogue::NodeGroup;
    use crate::tasks::eta::{
        Expectations, RUNS_KEPT, Sample, Shape, StageKey, expect, median, percentile, samples,
    };

    fn key(component: &str, phase: &str, group: NodeGroup) -> StageKey {
        StageKey {
            component: component.into(),
            phase: phase.into(),
            group,
        }
    }

    fn sample(key: &StageKey, flavor: &str, seconds: f64, at: i64) -> Sample {
        Sample {
            key: key.clone(),
            provider: ProviderKind::Openstack,
            shape: Shape {
                flavor: flavor.into(),
                image: "debian-12".into(),
            },
            seconds,
            at: t(at),
        }
    }

    fn shape(flavor: &str) -> Shape {
        Shape {
            flavor: flavor.into(),
            image: "debian-12".into(),
        }
    }

    #[test]
    fn expected_durations_read_as_estimates() {
        use crate::tasks::render::approximately;
        assert_eq!(approximately(0.228), "~0.2s");
        assert_eq!(approximately(9.96), "~10s");
        assert_eq!(approximately(42.4), "~42s");
        assert_eq!(approximately(130.0), "~2m10s");
        assert_eq!(approximately(3900.0), "~1h05m");
    }

    #[test]
    fn medians_and_percentiles_by_rank() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&twenty, 0.99), Some(20.0));
        assert_eq!(percentile(&twenty, 0.5), Some(10.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn a_step_is_expected_to_take_the_median_of_its_latest_runs_on_nodes_of_the_same_shape() {
        let install = key("spark", "install", NodeGroup::Master);
        let mut history = Vec::new();
        // Long ago on m1.large: slow runs, older than the latest RUNS_KEPT.
        for i in 0..5 {
            history.push(sample(&install, "m1.large", 500.0, i));
        }
        // The latest RUNS_KEPT on m1.large: 10 s, 20 s, ... the median 105 s.
        for i in 0..RUNS_KEPT as i64 {
            history.push(sample(&install, "m1.large", 10.0 * (i + 1) as f64, 100 + i));
        }
        // Faster on m1.xlarge, lately; and another provider's, which never counts.
        for i in 0..10 {
            history.push(sample(&install, "m1.xlarge", 5.0, 200 + i));
        }
        history.push(Sample {
            provider: ProviderKind::Local,
            ..sample(&install, "m1.large", 1.0, 300)
        });
        let on = |flavor: &'static str| {
            Expectations::from_history(&history, ProviderKind::Openstack, move |_| shape(flavor))
        };
        let large = on("m1.large").get(&install).expect("expected");
        assert_eq!((large.median, large.runs), (105.0, RUNS_KEPT));
        assert_eq!(large.p99, 200.0);
        assert_eq!(on("m1.xlarge").get(&install).map(|e| e.median), Some(5.0));
        // No run on m1.small: the latest RUNS_KEPT of any shape (the xlarge's ten 5 s,
        // then the large's newest ten, 110 s to 200 s).
        let any = on("m1.small").get(&install).expect("a fallback");
        assert_eq!(any.runs, RUNS_KEPT);
        assert_eq!(any.median, (5.0 + 110.0) / 2.0);
        // A step of no run at all has no expectation.
        assert_eq!(
            on("m1.large").get(&key("spark", "start", NodeGroup::Master)),
            None
        );
        assert!(
            Expectations::from_history(&history, ProviderKind::File, |_| Shape::default())
                .is_empty()
        );
    }

    /// Every step of the spark cluster, on the file provider.
    fn expectations(missing: Option<&StageKey>) -> Expectations {
        let history: Vec<Sample> = [
            (key("", "create_node", NodeGroup::Master), 2.0),
            (key("", "create_node", NodeGroup::Slaves), 3.0),
            (key("spark", "install", NodeGroup::Master), 10.0),
            (key("spark", "start", NodeGroup::Slaves), 6.0),
            (key("spark", "smoke", NodeGroup::Master), 4.0),
        ]
        .into_iter()
        .filter(|(k, _)| Some(k) != missing)
        .map(|(key, seconds)| Sample {
            key,
            provider: ProviderKind::File,
            shape: Shape::default(),
            seconds,
            at: t(-100),
        })
        .collect();
        Expectations::from_history(&history, ProviderKind::File, |_| Shape::default())
    }

    fn running() -> Task {
        let cluster = cluster(ClusterState::Installing);
        let transitions = [
            transition(ClusterState::Deploying, 1),
            transition(ClusterState::Installing, 2),
        ];
        let reports = [
            report(3, "master", NODE_STARTED, ReportStatus::Succeeded, Some(0)),
            report(
                3,
                "slaves:1",
                NODE_STARTED,
                ReportStatus::Succeeded,
                Some(0),
            ),
            report(4, "master", "spark install", ReportStatus::Executing, None),
            report(10, "slaves:1", "spark start", ReportStatus::Executing, None),
        ];
        deploy_task(&cluster, &transitions, &reports)
    }

    #[test]
    fn a_running_tree_says_what_each_stage_left_is_expected_to_take_and_when_it_ends() {
        let mut root = running();
        expect(&mut root, &expectations(None), t(12));
        let expected = |number: &str| find(&root, number).expected_secs;
        // Finished steps have their durations, not expectations.
        assert_eq!(expected("1.1"), None);
        assert_eq!(expected("1.3"), Some(3.0));
        assert_eq!(expected("2.1"), Some(10.0));
        assert_eq!(expected("3.1.1"), Some(6.0));
        assert_eq!(expected("3.1.2"), Some(6.0));
        assert_eq!(expected("4.1"), Some(4.0));
        // A stage: its slowest node (the made ones as long as they took: 2 s).
        assert_eq!(expected("1"), Some(3.0));
        assert_eq!(expected("3"), Some(6.0));
        // The task: the master's 2 s made, 10 s install and 4 s smoke.
        assert_eq!(root.expected_secs, Some(16.0));
        // At 12 s: the master has 2 s of its install left and the smoke (6 s);
        // slaves:1 4 s of its start; slaves:2, made late, its start (6 s).
        assert_eq!(root.expected_end, Some(t(18)));
        assert_eq!(find(&root, "2").expected_end, None, "the root's alone");

        // Later, past what they are expected to take, the running steps have nothing
        // left: the slowest is slaves:2, with its start (6 s) still to run.
        let mut late = running();
        expect(&mut late, &expectations(None), t(30));
        assert_eq!(late.expected_end, Some(t(30 + 6)));

        let table = snapshot(&root);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].contains("| DURATION | EXPECTED |"), "{table}");
        assert!(
            table.contains("| ~10s     |"),
            "the install's expectation: {table}"
        );
        assert!(
            table.contains("13 rows in set\nExpected end: 07:00:18 22/11/26 (in "),
            "{table}"
        );
    }

    #[test]
    fn a_step_without_history_leaves_its_stage_and_the_end_unknown_and_a_finished_task_has_none() {
        let smoke = key("spark", "smoke", NodeGroup::Master);
        let mut root = running();
        expect(&mut root, &expectations(Some(&smoke)), t(12));
        assert_eq!(find(&root, "4.1").expected_secs, None);
        assert_eq!(find(&root, "4").expected_secs, None);
        assert_eq!(find(&root, "2").expected_secs, Some(10.0));
        assert_eq!((root.expected_secs, root.expected_end), (None, None));
        assert!(!snapshot(&root).contains("Expected end"));

        let cluster = cluster(ClusterState::Ready);
        let transitions = [
            transition(ClusterState::Deploying, 0),
            transition(ClusterState::Ready, 30),
        ];
        let mut done = deploy_task(&cluster, &transitions, &[]);
        let before = done.clone();
        expect(&mut done, &expectations(None), t(40));
        assert_eq!(done, before, "nothing expected of a finished task");
    }

    #[test]
    fn a_finished_run_leaves_a_sample_of_each_step_that_succeeded_with_its_times() {
        let cluster = cluster(ClusterState::Failed);
        let transitions = [
            transition(ClusterState::Deploying, 0),
            transition(ClusterState::Installing, 1),
            transition(ClusterState::Failed, 20),
        ];
        let reports = [
            report(2, "master", NODE_STARTED, ReportStatus::Succeeded, Some(0)),
            report(2, "master", "spark install", ReportStatus::Executing, None),
            report(
                9,
                "master",
                "spark install",
                ReportStatus::Succeeded,
                Some(0),
            ),
            report(
                3,
                "slaves:1",
                NODE_STARTED,
                ReportStatus::Succeeded,
                Some(0),
            ),
            report(4, "slaves:1", "spark start", ReportStatus::Executing, None),
            report(6, "slaves:1", "spark start", ReportStatus::Failed, Some(1)),
        ];
        let root = deploy_task(&cluster, &transitions, &reports);
        let taken: Vec<(String, String, NodeGroup, f64)> = samples(&cluster, &root)
            .into_iter()
            .map(|s| (s.key.component, s.key.phase, s.key.group, s.seconds))
            .collect();
        // slaves:2 never reported: made when the provider said (installing, at 1 s),
        // as the tree shows it. slaves:1's start failed: it does not count.
        assert_eq!(
            taken,
            [
                ("".into(), "create_node".into(), NodeGroup::Master, 2.0),
                ("".into(), "create_node".into(), NodeGroup::Slaves, 3.0),
                ("".into(), "create_node".into(), NodeGroup::Slaves, 1.0),
                ("spark".into(), "install".into(), NodeGroup::Master, 7.0),
            ]
        );
    }
}

fn heat_event(
    at: i64,
    node: Option<&str>,
    resource: &str,
    kind: &str,
    status: &str,
) -> crate::cluster::heat_events::HeatEvent {
    crate::cluster::heat_events::HeatEvent {
        id: format!("{resource}-{node:?}-{status}"),
        time: t(at),
        resource: resource.into(),
        resource_type: Some(kind.into()),
        status: status.into(),
        reason: status.ends_with("FAILED").then(|| {
            "ResourceInError: Went to status ERROR due to \"No valid host was found\"".into()
        }),
        physical_id: None,
        node: node.map(str::to_string),
        stack: None,
    }
}

#[test]
fn create_node_takes_its_times_from_heats_events_and_a_failed_server_fails_it_with_heats_reason() {
    const SERVER: &str = "OS::Nova::Server";
    let mut cluster = cluster(ClusterState::Failed);
    cluster.outputs.heat_events = crate::cluster::heat_events::HeatEvents(vec![
        heat_event(
            1,
            Some("master"),
            "master_port",
            "OS::Neutron::Port",
            "CREATE_IN_PROGRESS",
        ),
        heat_event(3, Some("master"), "master", SERVER, "CREATE_IN_PROGRESS"),
        heat_event(4, Some("slaves:1"), "server", SERVER, "CREATE_IN_PROGRESS"),
        heat_event(5, Some("slaves:2"), "server", SERVER, "CREATE_IN_PROGRESS"),
        heat_event(9, Some("master"), "master", SERVER, "CREATE_COMPLETE"),
        heat_event(11, Some("slaves:2"), "server", SERVER, "CREATE_FAILED"),
        // The wait condition is the node's install, not its making.
        heat_event(
            12,
            Some("slaves:1"),
            "wait_condition",
            "OS::Heat::WaitCondition",
            "CREATE_FAILED",
        ),
    ]);
    let root = deploy_task(
        &cluster,
        &[
            transition(ClusterState::Deploying, 0),
            transition(ClusterState::Failed, 20),
        ],
        &[],
    );
    let master = find(&root, "1.1");
    assert_eq!(
        (master.status, master.duration_secs()),
        (TaskStatus::Succeeded, Some(8.0))
    );
    let first = find(&root, "1.2");
    assert_eq!(
        (first.status, first.ended_at),
        (TaskStatus::Cancelled, Some(t(20)))
    );
    let second = find(&root, "1.3");
    assert_eq!(second.status, TaskStatus::Failed);
    assert_eq!(second.duration_secs(), Some(6.0));
    assert_eq!(
        second.stderr.as_deref(),
        Some("server: ResourceInError: Went to status ERROR due to \"No valid host was found\"")
    );
    assert_eq!(find(&root, "1").status, TaskStatus::Failed);
}

#[test]
fn a_resource_heat_retried_and_made_does_not_fail_its_node_or_a_row_of_its_own() {
    const SERVER: &str = "OS::Nova::Server";
    const ROUTER: &str = "OS::Neutron::Router";
    let mut cluster = cluster(ClusterState::Ready);
    let mut events = vec![
        heat_event(1, None, "router", ROUTER, "CREATE_IN_PROGRESS"),
        heat_event(2, None, "router", ROUTER, "CREATE_FAILED"),
        heat_event(3, None, "router", ROUTER, "CREATE_IN_PROGRESS"),
        heat_event(4, None, "router", ROUTER, "CREATE_COMPLETE"),
    ];
    for node in ["master", "slaves:1", "slaves:2"] {
        let name = if node == "master" { "master" } else { "server" };
        events.extend([
            heat_event(5, Some(node), name, SERVER, "CREATE_IN_PROGRESS"),
            heat_event(6, Some(node), name, SERVER, "CREATE_FAILED"),
            // action_retry_limit: Heat deletes it and makes it again.
            heat_event(7, Some(node), name, SERVER, "DELETE_IN_PROGRESS"),
            heat_event(8, Some(node), name, SERVER, "DELETE_COMPLETE"),
            heat_event(9, Some(node), name, SERVER, "CREATE_IN_PROGRESS"),
            heat_event(12, Some(node), name, SERVER, "CREATE_COMPLETE"),
        ]);
    }
    cluster.outputs.heat_events = crate::cluster::heat_events::HeatEvents(events);
    let root = deploy_task(
        &cluster,
        &[
            transition(ClusterState::Deploying, 0),
            transition(ClusterState::Ready, 20),
        ],
        &[],
    );
    let stage = find(&root, "1");
    assert_eq!(stage.children.len(), 3, "three nodes, no row of the router");
    for number in ["1.1", "1.2", "1.3"] {
        let node = find(&root, number);
        assert_eq!(
            (node.status, node.duration_secs(), node.stderr.as_deref()),
            (TaskStatus::Succeeded, Some(7.0), None),
            "{number}"
        );
    }
}

#[test]
fn a_shared_resource_heat_failed_to_make_is_a_row_of_its_own() {
    let mut cluster = cluster(ClusterState::Failed);
    cluster.outputs.heat_events = crate::cluster::heat_events::HeatEvents(vec![
        heat_event(
            1,
            None,
            "router",
            "OS::Neutron::Router",
            "CREATE_IN_PROGRESS",
        ),
        heat_event(2, None, "router", "OS::Neutron::Router", "CREATE_FAILED"),
        heat_event(2, None, "disco-1", "OS::Heat::Stack", "CREATE_FAILED"),
    ]);
    let root = deploy_task(
        &cluster,
        &[
            transition(ClusterState::Deploying, 0),
            transition(ClusterState::Failed, 3),
        ],
        &[],
    );
    let stage = find(&root, "1");
    assert_eq!(stage.children.len(), 4, "three nodes and the router");
    let router = find(&root, "1.4");
    assert_eq!(router.name, "create_resource router");
    assert_eq!(
        (router.status, router.duration_secs()),
        (TaskStatus::Failed, Some(1.0))
    );
    assert!(
        router
            .stderr
            .as_deref()
            .unwrap()
            .starts_with("router: ResourceInError")
    );
    // The nodes Heat said nothing of are as a failed run leaves them.
    assert_eq!(find(&root, "1.1").status, TaskStatus::Cancelled);
}
