//! Whether a local cluster's services are up, asked on the nodes' loopback addresses:
//! the components' health checks (a TCP connect, an HTTP status), and whether every
//! service a node started still runs.

use std::time::Duration;

use super::node::{Node, read_record};
use crate::frameworks::catalogue::Check;
use crate::frameworks::plan::Plan;

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

    /// The first failed health check, described; `None` when all pass.
    pub(super) async fn failing_check(&self, plan: &Plan, nodes: &[Node]) -> Option<String> {
        for component in &plan.components {
            for health in &component.health {
                for node in nodes.iter().filter(|n| health.node_group.includes(n.group)) {
                    let passed = match &health.check {
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
                    };
                    if !passed {
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
}

/// The first service a node started that is no longer running, described.
pub(super) async fn dead_service(nodes: &[Node]) -> Option<String> {
    for node in nodes {
        let Ok(mut entries) = tokio::fs::read_dir(node.dir.join("pids")).await else {
            continue;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            // The directory is the cluster's to write in: a name that is no service's
            // (disco_daemon's are words) does not go into the cluster's reason.
            let plain = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !plain || name.ends_with(".partial") {
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
