//! The task tree as people read it, in DTK's layouts: the snapshot table of
//! `task-status`, and the stage blocks of `task-status -m stream`.

use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Table};

use super::{Task, TaskKind, TaskStatus};
use crate::domain::{Report, ReportStatus};

/// ASCII borders with a line under the header only, as DTK draws its tables.
const DTK_TABLE: &str = "||--+-++|    ++++++";
const RULE: &str = "============================================================";
const THIN_RULE: &str = "------------------------------------------------------------";

/// A table in DTK's layout, with "N rows in set" under it.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let count = rows.len();
    let mut table = Table::new();
    table
        .load_preset(DTK_TABLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    let noun = if count == 1 { "row" } else { "rows" };
    format!("{table}\n{count} {noun} in set\n")
}

/// `17:16:55 26/11/15`, as DTK's tables show times.
pub fn table_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S %d/%m/%y").to_string()
}

/// `2015-11-26 17:16:55 +0000`, as DTK's stream shows times.
pub fn stream_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S %z").to_string()
}

fn duration(task: &Task) -> String {
    task.duration_secs()
        .map(|secs| format!("{secs:.1}s"))
        .unwrap_or_default()
}

/// An expected duration, rounded as an estimate is read: `~0.4s`, `~42s`, `~2m10s`,
/// `~1h05m`.
pub fn approximately(secs: f64) -> String {
    let exact = secs.max(0.0);
    let secs = exact.round() as u64;
    match secs {
        _ if exact < 9.95 => format!("~{exact:.1}s"),
        0..60 => format!("~{secs}s"),
        60..3600 => format!("~{}m{:02}s", secs / 60, secs % 60),
        _ => format!("~{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The line under the snapshot of a task that runs: when it is expected to end.
pub fn expected_end(root: &Task, now: DateTime<Utc>) -> Option<String> {
    let end = root.expected_end?;
    let left = (end - now).num_milliseconds().max(0) as f64 / 1000.0;
    Some(format!(
        "Expected end: {} (in {}, from the history of the same steps)",
        table_time(end),
        approximately(left)
    ))
}

/// `task-status --all`: a row per task of the cluster's history.
pub fn history(tasks: &[Task]) -> String {
    let time = |at: Option<DateTime<Utc>>| at.map(table_time).unwrap_or_default();
    let rows = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            vec![
                (i + 1).to_string(),
                task.name.clone(),
                task.status.as_str().to_string(),
                time(task.started_at),
                time(task.ended_at),
                duration(task),
            ]
        })
        .collect();
    table(
        &["TASK", "TYPE", "STATUS", "STARTED", "ENDED", "DURATION"],
        rows,
    )
}

/// The snapshot table of `task-status`: each task not finished with what it is expected
/// to take, and under the table, for a task that runs, when it is expected to end.
pub fn snapshot(root: &Task) -> String {
    let rows = root
        .rows()
        .into_iter()
        .map(|(depth, task)| {
            let label = if task.number.is_empty() {
                task.name.clone()
            } else {
                format!("{}{} {}", "  ".repeat(depth), task.number, task.name)
            };
            let status = match task.status {
                TaskStatus::Pending => String::new(),
                other => other.as_str().to_string(),
            };
            vec![
                label,
                status,
                task.node.clone().unwrap_or_default(),
                duration(task),
                task.expected_secs.map(approximately).unwrap_or_default(),
                task.started_at.map(table_time).unwrap_or_default(),
                task.ended_at.map(table_time).unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "TASK TYPE",
            "STATUS",
            "NODE",
            "DURATION",
            "EXPECTED",
            "STARTED AT",
            "ENDED AT",
        ],
        rows,
    );
    if let Some(line) = expected_end(root, Utc::now()) {
        out.push_str(&line);
        out.push('\n');
    }
    // What failed, with its return code and the end of its output, under the table.
    for leaf in root.leaves() {
        if leaf.status != TaskStatus::Failed || leaf.command.is_none() {
            continue;
        }
        let ended = match leaf.rc {
            Some(rc) => format!("returned {rc}"),
            // The node went before the step could say (a slave given up on).
            None => "did not finish".to_string(),
        };
        out.push_str(&format!(
            "\n{} {} on {} failed: {} {ended}\n",
            leaf.number,
            leaf.name,
            leaf.node.as_deref().unwrap_or_default(),
            leaf.command.as_deref().unwrap_or_default(),
        ));
        out.push_str(&output_tails(leaf));
    }
    out
}

/// The line `task-status -m stream` starts with.
pub fn stream_start(root: &Task) -> String {
    let at = root.started_at.map(stream_time).unwrap_or_default();
    format!(
        "========================= {at} start '{}' =========================\n",
        root.name
    )
}

/// The line `task-status -m stream` ends with.
pub fn stream_end(root: &Task) -> String {
    let at = root.ended_at.map(stream_time).unwrap_or_default();
    format!(
        "========================= {at} end '{}' ({}) =========================\n",
        root.name,
        root.status.as_str()
    )
}

/// One stage (a child of the root) as `task-status -m stream` prints it once finished.
pub fn stream_stage(index: usize, stage: &Task) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(RULE.to_string());
    line(format!("STAGE {index}: {}", stage.name));
    line(format!(
        "TIME START: {}",
        stage.started_at.map(stream_time).unwrap_or_default()
    ));
    let what: Vec<String> = stage
        .children
        .iter()
        .map(|child| match child.kind {
            TaskKind::ConfigureNodegroup => format!(
                "node-group:{}/{}",
                child.node.as_deref().unwrap_or_default(),
                qualified(&stage.name)
            ),
            _ => format!(
                "{}/{}",
                child.node.as_deref().unwrap_or_default(),
                qualified(&stage.name)
            ),
        })
        .collect();
    match stage.kind {
        TaskKind::CreateNodesStage => {
            line("OPERATION: CreateNodes".to_string());
            for child in &stage.children {
                line(format!("  {}", child.node.as_deref().unwrap_or_default()));
            }
        }
        TaskKind::ActionStage if what.len() == 1 => line(format!("ACTION: {}", what[0])),
        TaskKind::ActionStage => {
            line("ACTIONS:".to_string());
            for item in &what {
                line(format!("  {item}"));
            }
        }
        _ if what.len() == 1 => line(format!("COMPONENT: {}", what[0])),
        _ => {
            line("COMPONENTS:".to_string());
            for item in &what {
                line(format!("  {item}"));
            }
        }
    }
    line(format!("STATUS: {}", stage.status.as_str()));
    line(format!("DURATION: {}", duration(stage)));
    // Actions show what they ran; other stages only what failed.
    let shown: Vec<&Task> = stage
        .leaves()
        .into_iter()
        .filter(|leaf| leaf.command.is_some() && leaf.rc.is_some())
        .filter(|leaf| stage.kind == TaskKind::ActionStage || leaf.status == TaskStatus::Failed)
        .collect();
    if !shown.is_empty() {
        line("RESULTS:".to_string());
        for (i, leaf) in shown.iter().enumerate() {
            if i > 0 {
                line("--".to_string());
            }
            line(format!(
                "NODE: {}",
                leaf.node.as_deref().unwrap_or_default()
            ));
            line(format!(
                "RUN: {} (script)",
                leaf.command.as_deref().unwrap_or_default()
            ));
            line(format!(
                "RETURN CODE: {}",
                leaf.rc.map(|rc| rc.to_string()).unwrap_or_default()
            ));
            let tails = output_tails(leaf);
            if !tails.is_empty() {
                line(tails.trim_end_matches('\n').to_string());
            }
        }
    }
    line(THIN_RULE.to_string());
    out
}

/// A step's output tails, `STDOUT:` and `STDERR:` with their lines indented.
fn output_tails(leaf: &Task) -> String {
    let mut out = String::new();
    for (label, text) in [("STDOUT", &leaf.stdout), ("STDERR", &leaf.stderr)] {
        if let Some(text) = text {
            out.push_str(&format!("{label}:\n"));
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

/// `spark install` as `spark::install`.
fn qualified(stage: &str) -> String {
    match stage.split_once(' ') {
        Some((component, phase)) => format!("{component}::{phase}"),
        None => stage.to_string(),
    }
}

/// A report as deployment log lines: the event, then the output tails indented.
pub fn log_lines(report: &Report) -> String {
    let mut out = format!(
        "{} {} {} {}",
        report.at.format("%Y-%m-%dT%H:%M:%SZ"),
        report.node,
        report.stage,
        report.status.as_str()
    );
    if report.status != ReportStatus::Executing
        && let Some(rc) = report.rc
    {
        out.push_str(&format!(" (rc {rc})"));
    }
    out.push('\n');
    for (label, text) in [("stdout", &report.output), ("stderr", &report.error)] {
        if !text.is_empty() {
            out.push_str(&format!("  {label}:\n"));
            for line in text.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}
