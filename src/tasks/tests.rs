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
