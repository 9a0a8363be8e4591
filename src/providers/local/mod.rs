//! The `local` provider: a cluster on this machine, with no cloud. Each node is a group
//! of processes bound to a loopback address of its own (see `addresses`), running the
//! same composed node script a VM would run, with the components' local steps (PyPI
//! instead of apt, background processes instead of systemd units).
//!
//! A cluster's directory, under `[provider.local] dir`:
//!
//! ```text
//! <cluster id>/allocation.json        its loopback block
//! <cluster id>/shared/                shared by its nodes (where a cloud cluster has HDFS)
//! <cluster id>/nodes/<node>/node.sh   the node script, placeholders filled in
//!                          /script    "PID START_TIME" of the running node script
//!                          /exit      its exit code, once it ended
//!                          /signal.json  what the script signalled (the wait condition)
//!                          /pids/NAME "PID START_TIME" of each service it started
//!                          /home /logs /tmp
//! ```
//!
//! Every process of a cluster carries `DISCO_CLUSTER_ID` in its environment, so a
//! delete finds them all through `/proc`, not only the recorded ones, and checks that
//! none is left.

pub mod addresses;
pub mod process;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nix::sys::signal::Signal;
use serde::Deserialize;

use self::addresses::{Allocation, BLOCK_SLAVES, Claims};
use self::process::{ProcessRecord, processes_of, signal_each};
use super::{Inadmissible, Liveness, Progress, Provider, ProviderError, Teardown};
use crate::cluster::{Cluster, Outputs};
use crate::compose::Composition;
use crate::compose::script::{MASTER_ADDRESS, SLAVE_INDEX, WC_NOTIFY};
use crate::config::LocalProviderSettings;
use crate::domain::{ClusterId, ProviderKind};
use crate::frameworks::catalogue::{Check, NodeGroup};
use crate::frameworks::plan::Plan;

/// What a node script's wait condition call becomes: a function of the local library.
const LOCAL_SIGNAL: &str = "disco_local_signal";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long after SIGKILL the processes have to be gone before a delete is retried.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Variables of the server's environment a node script gets; no others (the server's
/// own may hold OpenStack credentials).
const PASSED_VARIABLES: &[&str] = &[
    "PATH",
    "LANG",
    "JAVA_HOME",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
];

pub struct LocalProvider {
    settings: LocalProviderSettings,
    claims: Claims,
    http: reqwest::Client,
    /// Held while a deploy claims a block or starts nodes, so two attempts at one cluster
    /// never both start it.
    starting: tokio::sync::Mutex<()>,
}

/// A node of a local cluster.
#[derive(Debug, Clone)]
struct Node {
    /// As the node script and the task tree name it: `master`, `slaves:1`, ...
    name: String,
    group: NodeGroup,
    /// Slave index from 0 (Heat's `%index%`).
    index: u16,
    address: Ipv4Addr,
    dir: PathBuf,
}

/// The wait condition data a node script signals.
#[derive(Debug, Deserialize)]
struct Signalled {
    status: String,
    #[serde(default)]
    reason: String,
}

fn io_error(action: &str, path: &Path, err: std::io::Error) -> ProviderError {
    ProviderError::Permanent(format!("{action} {}: {err}", path.display()))
}

impl LocalProvider {
    pub fn new(settings: LocalProviderSettings) -> LocalProvider {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(HEALTH_TIMEOUT)
            .build()
            .unwrap_or_default();
        LocalProvider {
            claims: Claims::new(&settings.claims_dir),
            settings,
            http,
            starting: tokio::sync::Mutex::new(()),
        }
    }

    /// The directory of a cluster.
    pub fn cluster_dir(&self, id: ClusterId) -> PathBuf {
        self.settings.dir.join(id.to_string())
    }

    fn nodes(&self, cluster: &Cluster, allocation: &Allocation) -> Vec<Node> {
        let dir = self.cluster_dir(cluster.id).join("nodes");
        let mut nodes = vec![Node {
            name: "master".to_string(),
            group: NodeGroup::Master,
            index: 0,
            address: allocation.master(),
            dir: dir.join("master"),
        }];
        for index in 0..cluster.plan.slave_count() {
            nodes.push(Node {
                name: format!("slaves:{}", index + 1),
                group: NodeGroup::Slaves,
                index,
                address: allocation.slave(index),
                dir: dir.join(format!("slave-{}", index + 1)),
            });
        }
        nodes
    }

    async fn read_allocation(&self, id: ClusterId) -> Option<Allocation> {
        let path = self.cluster_dir(id).join("allocation.json");
        let text = tokio::fs::read(&path).await.ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The cluster's block: the one an earlier attempt claimed, or a new one.
    async fn allocation(&self, cluster: &Cluster) -> Result<Allocation, ProviderError> {
        if let Some(allocation) = self.read_allocation(cluster.id).await {
            return Ok(allocation);
        }
        let dir = self.cluster_dir(cluster.id);
        create_private_dir(&dir).await?;
        let claims = self.claims.clone();
        let owner = dir.clone();
        let allocation = tokio::task::spawn_blocking(move || claims.claim(&owner))
            .await
            .map_err(|e| ProviderError::Transient(format!("claiming addresses: {e}")))?
            .map_err(|e| ProviderError::Permanent(e.to_string()))?;
        let path = dir.join("allocation.json");
        let text = serde_json::to_vec(&allocation).unwrap_or_default();
        write_whole(&path, &text).await?;
        Ok(allocation)
    }

    /// Starts a node's script, unless an earlier attempt did.
    async fn start_node(
        &self,
        cluster: &Cluster,
        node: &Node,
        script: &str,
    ) -> Result<(), ProviderError> {
        let record_path = node.dir.join("script");
        if tokio::fs::try_exists(&record_path).await.unwrap_or(false) {
            return Ok(());
        }
        // A start cut short before its record was written leaves a script nobody
        // watches: stop it before starting another.
        let id = cluster.id.to_string();
        let name = node.name.clone();
        let strays = tokio::task::spawn_blocking(move || processes_of(&id, Some(&name)))
            .await
            .unwrap_or_default();
        if !strays.is_empty() {
            tracing::warn!(node = %node.name, count = strays.len(), "stopping the processes of a start that was cut short");
            signal_each(&strays, Signal::SIGKILL);
        }
        for sub in ["home", "logs", "tmp", "pids"] {
            create_private_dir(&node.dir.join(sub)).await?;
        }
        let _ = tokio::fs::remove_file(node.dir.join("signal.json")).await;
        let _ = tokio::fs::remove_file(node.dir.join("exit")).await;
        let script_path = node.dir.join("node.sh");
        write_whole(&script_path, script.as_bytes()).await?;
        let shared = self.cluster_dir(cluster.id).join("shared");
        create_private_dir(&shared).await?;

        let log_path = node.dir.join("logs/node-script.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io_error("opening", &log_path, e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_error("opening", &log_path, e))?;
        let mut command = tokio::process::Command::new("bash");
        command
            .arg(&script_path)
            .current_dir(node.dir.join("home"))
            .env_clear()
            .envs(
                PASSED_VARIABLES
                    .iter()
                    .filter_map(|name| std::env::var_os(name).map(|value| (*name, value))),
            )
            .env("HOME", node.dir.join("home"))
            .env("TMPDIR", node.dir.join("tmp"))
            .env(process::CLUSTER_VARIABLE, cluster.id.to_string())
            .env("DISCO_NODE", &node.name)
            .env("DISCO_NODE_DIR", &node.dir)
            .env("DISCO_NODE_ADDRESS", node.address.to_string())
            .env("DISCO_SHARED_DIR", &shared)
            .env("DISCO_HOME", node.dir.join("home"))
            .env("DISCO_LOG_DIR", node.dir.join("logs"))
            .env("DISCO_VENV_DIR", &self.settings.venv_dir)
            .env("DISCO_PYTHON", &self.settings.python)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cache) = pip_cache() {
            command.env("PIP_CACHE_DIR", cache);
        }
        // Reports and checks go to loopback addresses: never through a proxy.
        let no_proxy = match std::env::var("no_proxy").or_else(|_| std::env::var("NO_PROXY")) {
            Ok(list) if !list.is_empty() => format!("{list},127.0.0.0/8,localhost"),
            _ => "127.0.0.0/8,localhost".to_string(),
        };
        command
            .env("no_proxy", &no_proxy)
            .env("NO_PROXY", &no_proxy);
        let mut child = command.spawn().map_err(|e| {
            ProviderError::Permanent(format!("starting bash for {}: {e}", node.name))
        })?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or(0);
        let record = ProcessRecord::of(pid).unwrap_or(ProcessRecord { pid, start_time: 0 });
        write_whole(&record_path, record.render().as_bytes()).await?;
        let exit_path = node.dir.join("exit");
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                let code = status
                    .code()
                    .map_or_else(|| "killed".to_string(), |c| c.to_string());
                let _ = tokio::fs::write(exit_path, code).await;
            }
        });
        tracing::info!(node = %node.name, address = %node.address, pid, "node script started");
        Ok(())
    }

    fn outputs(&self, cluster: &Cluster, allocation: &Allocation) -> Outputs {
        Outputs {
            stack_id: Some(self.cluster_dir(cluster.id).display().to_string()),
            external_ip: Some(allocation.master().to_string()),
            ..Outputs::default()
        }
    }

    /// Where the deployment stands, from the nodes' signals, their scripts' and
    /// services' processes, and the health checks.
    async fn progress(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Ok(Progress::Deploying(Outputs::default()));
        };
        let outputs = self.outputs(cluster, &allocation);
        let failed = |reason: String| Progress::Failed {
            reason,
            outputs: outputs.clone(),
        };
        let nodes = self.nodes(cluster, &allocation);
        let mut running = false;
        for node in &nodes {
            match tokio::fs::read(node.dir.join("signal.json")).await {
                Ok(data) => match serde_json::from_slice::<Signalled>(&data) {
                    Ok(signal) if signal.status == "SUCCESS" => {}
                    Ok(signal) => return Ok(failed(signal.reason)),
                    Err(e) => {
                        return Ok(failed(format!(
                            "{}: its node script signalled something unreadable: {e}",
                            node.name
                        )));
                    }
                },
                Err(_) => {
                    let script = read_record(&node.dir.join("script")).await;
                    if script.is_some_and(|s| s.is_alive()) {
                        running = true;
                    } else if script.is_none() {
                        return Ok(Progress::Deploying(outputs));
                    } else {
                        let exit = tokio::fs::read_to_string(node.dir.join("exit"))
                            .await
                            .map(|code| format!(" (exit code {})", code.trim()))
                            .unwrap_or_default();
                        return Ok(failed(format!(
                            "{}: its node script ended without finishing{exit}; see {}",
                            node.name,
                            node.dir.join("logs").display()
                        )));
                    }
                }
            }
        }
        if running {
            return Ok(Progress::Installing(outputs));
        }
        if let Some(reason) = dead_service(&nodes).await {
            return Ok(failed(reason));
        }
        match self.failing_check(&cluster.plan, &nodes).await {
            None => Ok(Progress::Ready(outputs)),
            Some(pending) => {
                tracing::debug!(cluster = %cluster.id, "{pending}");
                Ok(Progress::Installing(outputs))
            }
        }
    }

    /// The first failed health check, described; `None` when all pass.
    async fn failing_check(&self, plan: &Plan, nodes: &[Node]) -> Option<String> {
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

    /// Stops every process of the cluster: SIGTERM to the recorded process groups and to
    /// every process marked with the cluster, SIGKILL to what is left after the grace
    /// period. Errs when something survives SIGKILL.
    async fn stop_all(&self, cluster: &Cluster) -> Result<(), ProviderError> {
        let id = cluster.id.to_string();
        let groups = match self.read_allocation(cluster.id).await {
            Some(allocation) => recorded_groups(&self.nodes(cluster, &allocation)).await,
            None => Vec::new(),
        };
        let grace = Duration::from_secs(self.settings.stop_grace_secs);
        let started = Instant::now();
        let mut signal = Signal::SIGTERM;
        loop {
            for group in &groups {
                group.signal_group(signal);
            }
            let lookup = id.clone();
            let left = tokio::task::spawn_blocking(move || processes_of(&lookup, None))
                .await
                .unwrap_or_default();
            let groups_left = groups.iter().any(ProcessRecord::is_alive);
            if left.is_empty() && !groups_left {
                return Ok(());
            }
            signal_each(&left, signal);
            if started.elapsed() > grace + KILL_WAIT {
                return Err(ProviderError::Transient(format!(
                    "{} processes of the cluster survived SIGKILL: {}",
                    left.len(),
                    left.iter()
                        .map(|p| p.pid.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if started.elapsed() > grace && signal == Signal::SIGTERM {
                tracing::warn!(cluster = %cluster.id, count = left.len(), "processes still running after the grace period: SIGKILL");
                signal = Signal::SIGKILL;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Local
    }

    /// A look is a few file reads and a /proc lookup.
    fn first_poll(&self) -> Duration {
        Duration::from_millis(100)
    }

    fn admits(&self, plan: &Plan) -> Result<(), Inadmissible> {
        let most = self.settings.max_slaves.min(BLOCK_SLAVES);
        if plan.slave_count() > most {
            return Err(Inadmissible {
                attribute: crate::domain::attributes::SLAVE_COUNT,
                reason: format!(
                    "the local provider runs at most {most} slaves on this machine \
                     (provider.local.max_slaves), got {}",
                    plan.slave_count()
                ),
            });
        }
        Ok(())
    }

    async fn deploy(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        {
            let _starting = self.starting.lock().await;
            let allocation = self.allocation(cluster).await?;
            let master = allocation.master().to_string();
            for node in self.nodes(cluster, &allocation) {
                let script = match node.group {
                    NodeGroup::Master => composition.master_script.clone(),
                    NodeGroup::Slaves => composition
                        .slave_script
                        .replace(SLAVE_INDEX, &node.index.to_string()),
                };
                let script = script
                    .replace(MASTER_ADDRESS, &master)
                    .replace(WC_NOTIFY, LOCAL_SIGNAL);
                self.start_node(cluster, &node, &script).await?;
            }
        }
        self.observe(cluster).await
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let progress = self.progress(cluster).await?;
        if matches!(progress, Progress::Failed { .. }) {
            // A failed local cluster keeps its directory and logs until deleted, but
            // nothing of it runs on: no node waits for a master that will never come.
            self.stop_all(cluster).await?;
        }
        Ok(progress)
    }

    async fn stop(&self, cluster: &Cluster) -> Result<(), ProviderError> {
        self.stop_all(cluster).await
    }

    async fn check(&self, cluster: &Cluster) -> Result<Liveness, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            let dir = self.cluster_dir(cluster.id);
            // Only a directory that is really gone means the cluster is; a read that
            // failed otherwise (out of file descriptors...) says nothing.
            return match tokio::fs::try_exists(dir.join("allocation.json")).await {
                Ok(false) => Ok(Liveness::Stopped(format!(
                    "its directory {} is gone",
                    dir.display()
                ))),
                _ => Err(ProviderError::Transient(format!(
                    "cannot read {}",
                    dir.join("allocation.json").display()
                ))),
            };
        };
        let nodes = self.nodes(cluster, &allocation);
        match dead_service(&nodes).await {
            None => Ok(Liveness::Running),
            Some(reason) => {
                // Nothing of a stopped cluster is left running unwatched.
                self.stop_all(cluster).await?;
                Ok(Liveness::Stopped(format!(
                    "{reason}; its other processes were stopped"
                )))
            }
        }
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let _starting = self.starting.lock().await;
        self.stop_all(cluster).await?;
        let dir = self.cluster_dir(cluster.id);
        if let Some(allocation) = self.read_allocation(cluster.id).await {
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // A last file written as the processes went (a script's exit code):
                // the next attempt removes it.
                Err(e) => {
                    return Err(ProviderError::Transient(format!(
                        "removing {}: {e}",
                        dir.display()
                    )));
                }
            }
            self.claims.release(&allocation, &dir);
        } else if tokio::fs::try_exists(&dir).await.unwrap_or(false) {
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(|e| io_error("removing", &dir, e))?;
        }
        Ok(Teardown::Gone)
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        self.delete(cluster).await
    }
}

/// The first service a node started that is no longer running, described.
async fn dead_service(nodes: &[Node]) -> Option<String> {
    for node in nodes {
        let Ok(mut entries) = tokio::fs::read_dir(node.dir.join("pids")).await else {
            continue;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
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

/// The process groups recorded for the nodes: node scripts and the services they started.
async fn recorded_groups(nodes: &[Node]) -> Vec<ProcessRecord> {
    let mut groups = Vec::new();
    for node in nodes {
        groups.extend(read_record(&node.dir.join("script")).await);
        if let Ok(mut entries) = tokio::fs::read_dir(node.dir.join("pids")).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                groups.extend(read_record(&entry.path()).await);
            }
        }
    }
    groups
}

async fn read_record(path: &Path) -> Option<ProcessRecord> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    ProcessRecord::parse(&text)
}

/// A directory only this user can enter (node directories hold secrets: the script,
/// tokens).
async fn create_private_dir(path: &Path) -> Result<(), ProviderError> {
    use std::os::unix::fs::PermissionsExt as _;
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| io_error("creating", path, e))?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .await
        .map_err(|e| io_error("protecting", path, e))
}

/// Writes beside and renames, so a reader never sees half a file.
async fn write_whole(path: &Path, contents: &[u8]) -> Result<(), ProviderError> {
    let partial = path.with_extension("partial");
    tokio::fs::write(&partial, contents)
        .await
        .map_err(|e| io_error("writing", &partial, e))?;
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|e| io_error("renaming to", path, e))
}

/// pip's cache of the server's user, so that node scripts (whose HOME is their node's)
/// share it.
fn pip_cache() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PIP_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("pip"))
}
