//! A task drawn as a timeline: a bar per stage and node on one time axis, from the
//! task's start. Finished steps span their start to their end; the running one its
//! start to now, with what it is expected to take still drawn lighter after; steps to
//! come follow their node's last at their expected length (hatched), as a node runs its
//! steps one after another; failed ones are red, with their output a click away.
//!
//! Made here, on the server, from the task tree with its expectations: positions are
//! numbers (percentages of the axis) the template writes into style attributes, which
//! the pages' policy allows (`style-src 'unsafe-inline'`); no script draws anything.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::tasks::{Task, TaskStatus};

/// The narrowest a bar is drawn, in percent of the axis, so that a step of no time
/// still shows.
const THINNEST: f64 = 0.6;

/// The timeline of the cluster's latest task.
#[derive(Debug, Serialize)]
pub(crate) struct Timeline {
    /// The cluster's id: the fragment's address and the nodes' logs are under it.
    id: String,
    /// `cluster_converge executing`, and when it is expected to end or how long it took.
    summary: String,
    /// The page fetches it again every few seconds while it runs, so that the running
    /// bar grows between the task's changes.
    running: bool,
    /// The axis' marks.
    ticks: Vec<Tick>,
    /// Where now is on the axis, while the task runs.
    now: Option<f64>,
    rows: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct Tick {
    left: f64,
    label: String,
    /// The last mark is drawn leftwards of its place, so that it stays on the axis.
    last: bool,
}

/// One step: a stage on a node.
#[derive(Debug, Serialize)]
struct Row {
    /// `2 dask install`
    stage: String,
    node: String,
    status: &'static str,
    /// The bar, in percent of the axis; none for a step with no times and no
    /// expectation (one that ran where nodes do not report, or one never run before).
    bar: Option<Bar>,
    /// `5.0s`, `3.2s so far, ~12s expected`, `~12s expected`.
    time: String,
    failure: Option<Failure>,
}

#[derive(Debug, Serialize)]
struct Bar {
    left: f64,
    width: f64,
    /// A running step's expected rest, drawn after it.
    rest: Option<Extent>,
}

#[derive(Debug, PartialEq, Serialize)]
struct Extent {
    left: f64,
    width: f64,
}

/// What a failed step said.
#[derive(Debug, Serialize)]
struct Failure {
    /// `returned 3`, or `did not finish`.
    ended: String,
    /// The end of its error output, else of its output.
    output: String,
}

/// A span as the timeline labels it: `5.0s`, `2m05s`, `1h05m`.
fn span(secs: f64) -> String {
    let whole = secs.max(0.0).round() as u64;
    match whole {
        0..60 => format!("{:.1}s", secs.max(0.0)),
        60..3600 => format!("{}m{:02}s", whole / 60, whole % 60),
        _ => format!("{}h{:02}m", whole / 3600, whole % 3600 / 60),
    }
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn after(at: DateTime<Utc>, secs: f64) -> DateTime<Utc> {
    at + chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

/// Where a step is drawn, in time.
struct Placed {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Until when a running step is expected to run.
    expected_end: Option<DateTime<Utc>>,
}

impl Timeline {
    /// The timeline of `root` (with its expectations) for the cluster `id`, at `now`.
    pub(crate) fn of(id: String, root: &Task, now: DateTime<Utc>) -> Timeline {
        let running = root.status == TaskStatus::Executing;
        let origin = root.started_at.unwrap_or(now);
        // Where each node is: the end of its last step, done or expected.
        let mut cursor: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        let mut steps: Vec<(String, &Task, Option<Placed>)> = Vec::new();
        for stage in &root.children {
            let stage_name = format!("{} {}", stage.number, stage.name);
            for leaf in stage.leaves() {
                let node = leaf.node.clone().unwrap_or_default();
                let at = cursor.entry(node).or_insert(origin);
                let placed = match (leaf.status, leaf.started_at, leaf.ended_at) {
                    (_, Some(start), Some(end)) => Some(Placed {
                        start,
                        end,
                        expected_end: None,
                    }),
                    (TaskStatus::Executing, Some(start), None) => Some(Placed {
                        start,
                        end: now.max(start),
                        expected_end: leaf.expected_secs.map(|e| after(start, e)),
                    }),
                    (TaskStatus::Pending, _, _) => leaf.expected_secs.map(|e| {
                        let start = if running { (*at).max(now) } else { *at };
                        Placed {
                            start,
                            end: after(start, e),
                            expected_end: None,
                        }
                    }),
                    _ => None,
                };
                if let Some(placed) = &placed {
                    *at = (*at)
                        .max(placed.end)
                        .max(placed.expected_end.unwrap_or(*at));
                }
                steps.push((stage_name.clone(), leaf, placed));
            }
        }
        let mut end = root.ended_at.unwrap_or(origin);
        if running {
            end = end.max(now);
        }
        for (_, _, placed) in &steps {
            if let Some(p) = placed {
                end = end.max(p.end).max(p.expected_end.unwrap_or(p.end));
            }
        }
        let total = secs_between(origin, end).max(1.0);
        let percent =
            |at: DateTime<Utc>| (secs_between(origin, at) / total * 100.0).clamp(0.0, 100.0);
        let rounded = |value: f64| (value * 100.0).round() / 100.0;
        let rows = steps
            .into_iter()
            .map(|(stage, leaf, placed)| {
                let bar = placed.as_ref().map(|p| {
                    let left = percent(p.start);
                    let right = percent(p.end);
                    let width = (right - left).max(THINNEST).min(100.0 - left);
                    Bar {
                        left: rounded(left),
                        width: rounded(width),
                        rest: p.expected_end.filter(|e| *e > p.end).map(|e| Extent {
                            left: rounded(left + width),
                            width: rounded((percent(e) - left - width).max(0.0)),
                        }),
                    }
                });
                Row {
                    stage,
                    node: leaf.node.clone().unwrap_or_default(),
                    status: leaf.status.as_str(),
                    bar,
                    time: time_of(leaf, now),
                    failure: (leaf.status == TaskStatus::Failed).then(|| failure_of(leaf)),
                }
            })
            .collect();
        let ticks = [0.0, 0.5, 1.0]
            .into_iter()
            .map(|fraction| Tick {
                left: fraction * 100.0,
                label: if fraction == 0.0 {
                    "0s".to_string()
                } else {
                    span(total * fraction)
                },
                last: fraction == 1.0,
            })
            .collect();
        Timeline {
            id,
            summary: summary_of(root, now),
            running,
            ticks,
            now: running.then(|| rounded(percent(now))),
            rows,
        }
    }
}

fn time_of(leaf: &Task, now: DateTime<Utc>) -> String {
    let expected = leaf
        .expected_secs
        .map(|e| format!("{} expected", crate::tasks::render::approximately(e)));
    match (leaf.status, leaf.duration_secs(), leaf.started_at) {
        (TaskStatus::Failed, Some(secs), _) => format!("failed after {}", span(secs)),
        (TaskStatus::Failed, None, _) => "failed".to_string(),
        (_, Some(secs), _) => span(secs),
        (TaskStatus::Executing, None, Some(start)) => {
            let ran = format!("{} so far", span(secs_between(start, now)));
            match expected {
                Some(expected) => format!("{ran}, {expected}"),
                None => ran,
            }
        }
        (TaskStatus::Pending, _, _) => {
            expected.unwrap_or_else(|| "pending, never run before".to_string())
        }
        (TaskStatus::Cancelled, _, Some(_)) => "cut short".to_string(),
        (TaskStatus::Cancelled, _, None) => "did not run".to_string(),
        (status, _, _) => status.as_str().to_string(),
    }
}

fn failure_of(leaf: &Task) -> Failure {
    let output = [&leaf.stderr, &leaf.stdout]
        .into_iter()
        .flatten()
        .find(|text| !text.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "(no output)".to_string());
    Failure {
        ended: match leaf.rc {
            Some(rc) => format!("returned {rc}"),
            None => "did not finish".to_string(),
        },
        output,
    }
}

fn summary_of(root: &Task, now: DateTime<Utc>) -> String {
    let what = format!("{} {}", root.name, root.status.as_str());
    match (root.status, root.duration_secs(), root.expected_end) {
        (TaskStatus::Executing, _, Some(end)) => format!(
            "{what}: expected to end at {} (in {})",
            end.format("%H:%M:%S UTC"),
            crate::tasks::render::approximately(secs_between(now, end))
        ),
        (TaskStatus::Executing, _, None) => {
            format!("{what}: no expected end (some of its steps never ran before)")
        }
        (TaskStatus::Pending, _, _) => match root.expected_secs {
            Some(secs) => format!(
                "{what}: expected to take {}",
                crate::tasks::render::approximately(secs)
            ),
            None => what,
        },
        (_, Some(secs), _) => format!("{what} in {}", span(secs)),
        _ => what,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::tasks::TaskKind;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 7, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::seconds(secs)
    }

    fn task(number: &str, kind: TaskKind, node: Option<&str>) -> Task {
        serde_json::from_value(serde_json::json!({
            "number": number,
            "kind": kind,
            "name": kind.as_str(),
            "status": "pending",
            "node": node,
        }))
        .expect("a task")
    }

    /// Made on master and slaves:1 (0-2 s, 0-3 s); the install ran 2-6 s on the master,
    /// the slave's failed 3-4 s; the start runs on the master since 6 s, expected 8 s.
    fn tree() -> Task {
        let mut root = task("", TaskKind::ClusterConverge, None);
        root.status = TaskStatus::Executing;
        root.started_at = Some(t(0));
        let mut create = task("1", TaskKind::CreateNodesStage, None);
        for (i, (node, end)) in [("master", 2), ("slaves:1", 3)].into_iter().enumerate() {
            let mut leaf = task(&format!("1.{}", i + 1), TaskKind::CreateNode, Some(node));
            leaf.status = TaskStatus::Succeeded;
            leaf.started_at = Some(t(0));
            leaf.ended_at = Some(t(end));
            create.children.push(leaf);
        }
        let mut install = task("2", TaskKind::Stage, None);
        install.name = "dask install".into();
        let mut master = task("2.1", TaskKind::ConfigureNode, Some("master"));
        master.status = TaskStatus::Succeeded;
        master.started_at = Some(t(2));
        master.ended_at = Some(t(6));
        let mut slave = task("2.2", TaskKind::ConfigureNode, Some("slaves:1"));
        slave.status = TaskStatus::Failed;
        slave.started_at = Some(t(3));
        slave.ended_at = Some(t(4));
        slave.rc = Some(3);
        slave.stderr = Some("pip: no such version".into());
        install.children = vec![master, slave];
        let mut start = task("3", TaskKind::Stage, None);
        start.name = "dask start".into();
        let mut running = task("3.1", TaskKind::ConfigureNode, Some("master"));
        running.status = TaskStatus::Executing;
        running.started_at = Some(t(6));
        running.expected_secs = Some(8.0);
        start.children = vec![running];
        let mut smoke = task("4", TaskKind::ActionStage, None);
        smoke.name = "dask smoke".into();
        let mut next = task("4.1", TaskKind::Action, Some("master"));
        next.expected_secs = Some(6.0);
        smoke.children = vec![next];
        root.children = vec![create, install, start, smoke];
        root.expected_end = Some(t(20));
        root
    }

    #[test]
    fn each_step_is_a_bar_on_one_axis_the_running_one_to_now_and_the_next_at_its_expected_length() {
        let timeline = Timeline::of("id".into(), &tree(), t(10));
        // Stage, node, and the bar's left, width and expected rest.
        type Drawn<'a> = (&'a str, &'a str, Option<(f64, f64, Option<f64>)>);
        let bars: Vec<Drawn> = timeline
            .rows
            .iter()
            .map(|r| {
                (
                    r.stage.as_str(),
                    r.node.as_str(),
                    r.bar
                        .as_ref()
                        .map(|b| (b.left, b.width, b.rest.as_ref().map(|r| r.width))),
                )
            })
            .collect();
        // The axis: 0 to 20 s, where the smoke is expected to end (the start, expected
        // till 14 s, then 6 s).
        assert_eq!(
            bars,
            [
                ("1 create_nodes_stage", "master", Some((0.0, 10.0, None))),
                ("1 create_nodes_stage", "slaves:1", Some((0.0, 15.0, None))),
                ("2 dask install", "master", Some((10.0, 20.0, None))),
                ("2 dask install", "slaves:1", Some((15.0, 5.0, None))),
                ("3 dask start", "master", Some((30.0, 20.0, Some(20.0)))),
                ("4 dask smoke", "master", Some((70.0, 30.0, None))),
            ]
        );
        assert_eq!(timeline.now, Some(50.0));
        let rest = timeline.rows[4].bar.as_ref().and_then(|b| b.rest.as_ref());
        assert_eq!(
            rest,
            Some(&Extent {
                left: 50.0,
                width: 20.0
            }),
            "after the running bar"
        );
        let times: Vec<&str> = timeline.rows.iter().map(|r| r.time.as_str()).collect();
        assert_eq!(
            times,
            [
                "2.0s",
                "3.0s",
                "4.0s",
                "failed after 1.0s",
                "4.0s so far, ~8.0s expected",
                "~6.0s expected"
            ]
        );
        let failure = timeline.rows[3].failure.as_ref().expect("its output");
        assert_eq!(
            (failure.ended.as_str(), failure.output.as_str()),
            ("returned 3", "pip: no such version")
        );
        assert_eq!(
            timeline.summary,
            "cluster_converge executing: expected to end at 07:00:20 UTC (in ~10s)"
        );
        let labels: Vec<&str> = timeline.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0s", "10.0s", "20.0s"]);
    }

    #[test]
    fn a_finished_task_spans_its_start_to_its_end_and_labels_its_duration() {
        let mut root = tree();
        root.status = TaskStatus::Failed;
        root.ended_at = Some(t(8));
        root.expected_end = None;
        for stage in &mut root.children[2..] {
            for leaf in &mut stage.children {
                leaf.status = TaskStatus::Cancelled;
                leaf.expected_secs = None;
            }
        }
        let timeline = Timeline::of("id".into(), &root, t(100));
        assert!(!timeline.running && timeline.now.is_none());
        assert_eq!(timeline.summary, "cluster_converge failed in 8.0s");
        assert_eq!(timeline.rows.len(), 6, "a row per stage and node");
        assert!(timeline.rows[4].bar.is_none() && timeline.rows[4].time == "cut short");
        assert_eq!(timeline.rows[5].time, "did not run");
        let install = timeline.rows[2].bar.as_ref().expect("a bar");
        assert_eq!((install.left, install.width), (25.0, 50.0));
    }

    #[test]
    fn spans_read_as_seconds_minutes_or_hours() {
        assert_eq!(span(4.04), "4.0s");
        assert_eq!(span(125.0), "2m05s");
        assert_eq!(span(3900.0), "1h05m");
    }
}
