//! Tasks: what a deploy is doing, stage by stage, as DTK's `task-status` shows it. The
//! tree is made on demand from three things the store keeps: the cluster's plan (which
//! stages, on which nodes), its state transitions (when the deploy started, when it
//! ended) and the reports its nodes sent (when each step started and ended, its return
//! code and the tail of its output).
//!
//! ```text
//! cluster_converge
//!   1 create_nodes_stage          1.1 create_node master, 1.2 create_node slaves:1 ...
//!   2 spark install               2.1 configure_nodegroup slaves (2.1.1 configure_node
//!                                 slaves:1 ...), 2.2 configure_node master
//!   ...
//!   n spark smoke                 n.1 action master
//! ```

pub mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::domain::{ClusterState, Report, ReportStatus, Transition};
use crate::frameworks::catalogue::{NodeGroup, Phase};

/// The longest output tail a report keeps, in bytes.
pub const OUTPUT_TAIL: usize = 4000;

/// The stage a node reports first, as its script starts.
pub const NODE_STARTED: &str = "node started";
/// The stage a node reports last, once every step succeeded.
pub const NODE_READY: &str = "node ready";

/// The last `OUTPUT_TAIL` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str) -> String {
    if text.len() <= OUTPUT_TAIL {
        return text.to_string();
    }
    let mut start = text.len() - OUTPUT_TAIL;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Executing,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Executing => "executing",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// What a row of the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    ClusterConverge,
    CreateNodesStage,
    CreateNode,
    /// A component step (install, configure, start) on every node that has it.
    Stage,
    /// A smoke test.
    ActionStage,
    ConfigureNodegroup,
    ConfigureNode,
    Action,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::ClusterConverge => "cluster_converge",
            TaskKind::CreateNodesStage => "create_nodes_stage",
            TaskKind::CreateNode => "create_node",
            TaskKind::Stage => "stage",
            TaskKind::ActionStage => "action_stage",
            TaskKind::ConfigureNodegroup => "configure_nodegroup",
            TaskKind::ConfigureNode => "configure_node",
            TaskKind::Action => "action",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `""` for the root, then `1`, `1.2`, `3.1.1`.
    pub number: String,
    pub kind: TaskKind,
    /// What the task type column shows: the kind, or a stage's name (`spark install`).
    pub name: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Leaves of component stages: the step's script, its return code and output tails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rc: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Task>,
}

impl Task {
    fn new(number: String, kind: TaskKind, name: &str, node: Option<String>) -> Task {
        Task {
            number,
            kind,
            name: name.to_string(),
            status: TaskStatus::Pending,
            node,
            started_at: None,
            ended_at: None,
            command: None,
            rc: None,
            stdout: None,
            stderr: None,
            children: Vec::new(),
        }
    }

    /// Seconds from start to end, once both are known.
    pub fn duration_secs(&self) -> Option<f64> {
        let (start, end) = (self.started_at?, self.ended_at?);
        Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
    }

    /// Every row, depth first, with its depth.
    pub fn rows(&self) -> Vec<(usize, &Task)> {
        let mut rows = Vec::new();
        fn walk<'a>(task: &'a Task, depth: usize, rows: &mut Vec<(usize, &'a Task)>) {
            rows.push((depth, task));
            for child in &task.children {
                walk(child, depth + 1, rows);
            }
        }
        walk(self, 0, &mut rows);
        rows
    }

    /// The leaves under this task (itself when it has no children).
    pub fn leaves(&self) -> Vec<&Task> {
        if self.children.is_empty() {
            return vec![self];
        }
        self.children.iter().flat_map(Task::leaves).collect()
    }

    /// Status and times from the children.
    fn aggregate(&mut self) {
        if self.children.is_empty() {
            return;
        }
        for child in &mut self.children {
            child.aggregate();
        }
        let statuses: Vec<TaskStatus> = self.children.iter().map(|c| c.status).collect();
        let all = |s: TaskStatus| statuses.iter().all(|x| *x == s);
        let any = |s: TaskStatus| statuses.contains(&s);
        self.status = if any(TaskStatus::Failed) {
            TaskStatus::Failed
        } else if all(TaskStatus::Succeeded) {
            TaskStatus::Succeeded
        } else if all(TaskStatus::Pending) {
            TaskStatus::Pending
        } else if any(TaskStatus::Executing) || any(TaskStatus::Pending) {
            TaskStatus::Executing
        } else {
            TaskStatus::Cancelled
        };
        self.started_at = self.children.iter().filter_map(|c| c.started_at).min();
        self.ended_at = if self.status.is_finished() {
            self.children.iter().filter_map(|c| c.ended_at).max()
        } else {
            None
        };
    }
}

/// How the deploy as a whole stands, from the cluster's history.
struct Run {
    started: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    status: TaskStatus,
    /// When the nodes existed, for providers whose nodes do not report.
    nodes_created: Option<DateTime<Utc>>,
}

fn run_of(cluster: &Cluster, transitions: &[Transition]) -> Run {
    let started = transitions
        .iter()
        .find(|t| t.to == ClusterState::Deploying)
        .map(|t| t.at);
    let after_start = |state: ClusterState| {
        transitions
            .iter()
            .filter(|t| started.is_some_and(|s| t.at >= s))
            .find(|t| t.to == state)
            .map(|t| t.at)
    };
    let ready = after_start(ClusterState::Ready);
    let failed = after_start(ClusterState::Failed);
    let (status, ended) = match (started, ready, failed) {
        (None, _, _) => (TaskStatus::Pending, None),
        (Some(_), Some(at), _) => (TaskStatus::Succeeded, Some(at)),
        (Some(_), None, Some(at)) => (TaskStatus::Failed, Some(at)),
        (Some(_), None, None) if cluster.state.is_deploying() => (TaskStatus::Executing, None),
        (Some(_), None, None) => (TaskStatus::Cancelled, transitions.last().map(|t| t.at)),
    };
    Run {
        started,
        ended,
        status,
        nodes_created: after_start(ClusterState::Installing),
    }
}

/// The deploy task of a cluster.
pub fn deploy_task(cluster: &Cluster, transitions: &[Transition], reports: &[Report]) -> Task {
    let plan = &cluster.plan;
    let run = run_of(cluster, transitions);
    let nodes = plan.node_names();

    // The latest report of each (node, stage), and each node's first.
    let mut latest: BTreeMap<(&str, &str), Vec<&Report>> = BTreeMap::new();
    let mut first_seen: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for report in reports {
        latest
            .entry((report.node.as_str(), report.stage.as_str()))
            .or_default()
            .push(report);
        first_seen.entry(report.node.as_str()).or_insert(report.at);
    }

    let mut root = Task::new(
        String::new(),
        TaskKind::ClusterConverge,
        "cluster_converge",
        None,
    );
    let mut create = Task::new(
        "1".into(),
        TaskKind::CreateNodesStage,
        "create_nodes_stage",
        None,
    );
    for (i, node) in nodes.iter().enumerate() {
        let mut task = Task::new(
            format!("1.{}", i + 1),
            TaskKind::CreateNode,
            "create_node",
            Some(node.clone()),
        );
        task.started_at = run.started;
        // A node exists once it reports. Until the deploy ends, one that has not is
        // still being made; after, the time its provider said the nodes existed is the
        // best there is (nodes that cannot reach DISCO never report).
        let created = first_seen.get(node.as_str()).copied().or(match run.status {
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled => run.nodes_created,
            _ => None,
        });
        match (run.started, created, run.status) {
            (None, _, _) => {}
            (Some(_), Some(at), _) => {
                task.status = TaskStatus::Succeeded;
                task.ended_at = Some(at);
            }
            // Ready without a word from the node: it was made, when is not known.
            (Some(_), None, TaskStatus::Succeeded) => task.status = TaskStatus::Succeeded,
            (Some(_), None, TaskStatus::Failed | TaskStatus::Cancelled) => {
                task.status = TaskStatus::Cancelled
            }
            (Some(_), None, _) => task.status = TaskStatus::Executing,
        }
        create.children.push(task);
    }
    root.children.push(create);

    // Stages in the order the nodes run them: each component's install, configure and
    // start in component order, then the smoke tests.
    let mut stages: Vec<(&str, Phase)> = Vec::new();
    for smoke in [false, true] {
        for component in &plan.components {
            for phase in Phase::ALL {
                if (phase == Phase::Smoke) == smoke
                    && component.steps.iter().any(|s| s.phase == phase)
                {
                    stages.push((component.name.as_str(), phase));
                }
            }
        }
    }
    for (component_name, phase) in stages {
        let Some(component) = plan.components.iter().find(|c| c.name == component_name) else {
            continue;
        };
        let number = (root.children.len() + 1).to_string();
        let stage_name = format!("{component_name} {phase}");
        let kind = if phase == Phase::Smoke {
            TaskKind::ActionStage
        } else {
            TaskKind::Stage
        };
        let mut stage = Task::new(number.clone(), kind, &stage_name, None);
        let leaf_kind = if phase == Phase::Smoke {
            TaskKind::Action
        } else {
            TaskKind::ConfigureNode
        };
        let script = |group: NodeGroup| {
            component
                .steps
                .iter()
                .find(|s| s.group == group && s.phase == phase)
                .map(|s| format!("{component_name}/{}", s.script))
        };
        let leaf = |number: String, node: &str, command: Option<String>| {
            let mut task = Task::new(
                number,
                leaf_kind,
                leaf_kind.as_str(),
                Some(node.to_string()),
            );
            task.command = command;
            let history = latest.get(&(node, stage_name.as_str()));
            if let Some(started) =
                history.and_then(|h| h.iter().rev().find(|r| r.status == ReportStatus::Executing))
            {
                task.started_at = Some(started.at);
                task.status = TaskStatus::Executing;
            }
            if let Some(last) = history.and_then(|h| h.last())
                && last.status != ReportStatus::Executing
            {
                task.status = match last.status {
                    ReportStatus::Failed => TaskStatus::Failed,
                    _ => TaskStatus::Succeeded,
                };
                task.ended_at = Some(last.at);
                task.started_at = task.started_at.or(Some(last.at));
                task.rc = last.rc;
                task.stdout = Some(last.output.clone()).filter(|s| !s.is_empty());
                task.stderr = Some(last.error.clone()).filter(|s| !s.is_empty());
            }
            // A finished deploy settles what its nodes never reported: ready means every
            // step ran; otherwise what did not finish was cut short.
            if !task.status.is_finished() {
                match run.status {
                    TaskStatus::Succeeded => task.status = TaskStatus::Succeeded,
                    TaskStatus::Failed | TaskStatus::Cancelled => {
                        task.status = TaskStatus::Cancelled
                    }
                    _ => {}
                }
            }
            task
        };
        let slaves_script = script(NodeGroup::Slaves);
        if slaves_script.is_some() && plan.slave_count() > 0 {
            let group_number = format!("{number}.{}", stage.children.len() + 1);
            let mut group = Task::new(
                group_number.clone(),
                TaskKind::ConfigureNodegroup,
                "configure_nodegroup",
                Some("slaves".to_string()),
            );
            for (i, node) in nodes.iter().skip(1).enumerate() {
                group.children.push(leaf(
                    format!("{group_number}.{}", i + 1),
                    node,
                    slaves_script.clone(),
                ));
            }
            stage.children.push(group);
        }
        if let Some(master_script) = script(NodeGroup::Master) {
            let leaf_number = format!("{number}.{}", stage.children.len() + 1);
            stage
                .children
                .push(leaf(leaf_number, "master", Some(master_script)));
        }
        if !stage.children.is_empty() {
            root.children.push(stage);
        }
    }
    root.aggregate();
    // The root is the deploy itself, whatever its stages say.
    root.status = run.status;
    root.started_at = run.started;
    root.ended_at = run.ended;
    root
}

#[cfg(test)]
mod tests;
