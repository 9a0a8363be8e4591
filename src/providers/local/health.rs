//! Whether a local cluster's services are up, asked on the nodes' loopback addresses:
//! the components' health checks (a TCP connect, an HTTP status), and whether every
//! service a node started still runs: before ready (`failing_check`, `dead_service`)
//! and, once ready, for the cluster's health (`outcomes`).

use std::time::Duration;

use super::files::read_user_file;
use super::node::{Node, read_record};
use super::process::ProcessRecord;
use crate::domain::health::CheckOutcome;
use crate::frameworks::catalogue::Check;
use crate::frameworks::plan::Plan;

/// The most services of one node whose processes are checked (and shown).
const MOST_SERVICES: usize = 64;
/// How long one check may take before it counts as failing.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the components' health checks.
pub(super) struct Probes {
    http: reqwest::Client,
}

impl Probes {
    pub(super) fn new() -> Probes {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(HEALTH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Probes { http }
    }

    /// Whether one check passes on one node now.
    async fn passes(&self, node: &Node, check: &Check) -> bool {
        match check {
            Check::Tcp(port) => tokio::time::timeout(
                HEALTH_TIMEOUT,
                tokio::net::TcpStream::connect((node.address, *port)),
            )
            .await
            .is_ok_and(|connected| connected.is_ok()),
            Check::Http(http) => self
                .http
                .get(format!(
                    "http://{}:{}{}",
                    node.address, http.port, http.path
                ))
                .send()
                .await
                .is_ok_and(|response| response.status().as_u16() == http.status),
        }
    }

    /// The first failed health check, described; `None` when all pass.
    pub(super) async fn failing_check(&self, plan: &Plan, nodes: &[Node]) -> Option<String> {
        for component in &plan.components {
            for health in &component.health {
                for node in nodes.iter().filter(|n| health.node_group.includes(n.group)) {
                    if !self.passes(node, &health.check).await {
                        return Some(format!(
                            "{} on {}: {:?} not passing yet",
                            component.name, node.name, health.check
                        ));
                    }
                }
            }
        }
        None
    }

    /// Every component's checks on every node, and every service the nodes started,
    /// as they stand now (continuous health).
    pub(super) async fn outcomes(&self, plan: &Plan, nodes: &[Node]) -> Vec<CheckOutcome> {
        let mut outcomes = Vec::new();
        for node in nodes {
            for component in &plan.components {
                for health in component
                    .health
                    .iter()
                    .filter(|h| h.node_group.includes(node.group))
                {
                    let passing = self.passes(node, &health.check).await;
                    outcomes.push(CheckOutcome {
                        node: node.name.clone(),
                        component: component.name.clone(),
                        check: health.check.to_string(),
                        passing,
                        output: if passing {
                            String::new()
                        } else {
                            format!("no answer on {}", node.address)
                        },
                    });
                }
            }
            outcomes.extend(services(plan, node).await);
        }
        outcomes
    }
}

/// Whether each service a node started still runs, as `process NAME` checks of the
/// component whose step started it.
async fn services(plan: &Plan, node: &Node) -> Vec<CheckOutcome> {
    let mut outcomes = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(node.dir.join("pids")).await else {
        return outcomes;
    };
    let mut found = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_service_name(&name) {
            continue;
        }
        found.push((name, entry.path()));
    }
    found.sort();
    // The directory is the cluster's to write in: a node's services are few.
    found.truncate(MOST_SERVICES);
    for (name, path) in found {
        let record = read_user_file(&path).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&record);
        let alive = ProcessRecord::parse(&text).is_some_and(|r| r.is_alive());
        outcomes.push(CheckOutcome {
            node: node.name.clone(),
            component: component_of(plan, &name, text.split_whitespace().nth(2)),
            check: format!("process {name}"),
            passing: alive,
            output: if alive {
                String::new()
            } else {
                format!(
                    "stopped; see {}",
                    node.dir.join("logs").join(format!("{name}.log")).display()
                )
            },
        });
    }
    outcomes
}

/// The component a service belongs to: the one its record names (`disco_daemon` writes
/// the step's component), if the plan has it; else the one whose name begins the
/// service's (`dask-worker`: dask); else the plan's first.
fn component_of(plan: &Plan, service: &str, recorded: Option<&str>) -> String {
    let names = plan.component_names();
    recorded
        .and_then(|r| names.iter().find(|n| **n == r))
        .or_else(|| names.iter().find(|n| service.starts_with(**n)))
        .or(names.first())
        .map_or_else(String::new, |n| n.to_string())
}

/// A name a service may have in `pids/` (disco_daemon's are words); the directory is
/// the cluster's to write in, so anything else is not shown.
fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.ends_with(".partial")
}

/// The first service a node started that is no longer running, described.
pub(super) async fn dead_service(nodes: &[Node]) -> Option<String> {
    for node in nodes {
        let Ok(mut entries) = tokio::fs::read_dir(node.dir.join("pids")).await else {
            continue;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_service_name(&name) {
                continue;
            }
            let record = read_record(&entry.path()).await;
            if !record.is_some_and(|r| r.is_alive()) {
                let pid = record
                    .map(|r| format!(" (pid {})", r.pid))
                    .unwrap_or_default();
                return Some(format!(
                    "{name} on {}{pid} stopped; see {}",
                    node.name,
                    node.dir.join("logs").join(format!("{name}.log")).display()
                ));
            }
        }
    }
    None
}
