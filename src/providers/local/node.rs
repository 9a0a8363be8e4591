//! One node of a local cluster: its directory, the environment its node script runs in,
//! starting that script, how it stands (from what it signalled, its process and its exit
//! code), and the process groups it recorded, for stopping them.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde::Deserialize;

use super::files::{
    create_private_dir, give, open_log, open_to_search, read_user_file, readable_by_group,
    write_whole,
};
use super::process::{self, ProcessRecord, processes_of, signal_each};
use super::{Isolation, io_error};
use crate::config::LocalProviderSettings;
use crate::domain::ClusterId;
use crate::frameworks::catalogue::NodeGroup;
use crate::providers::ProviderError;

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

/// The subdirectories of a node's that its script writes in: the cluster user's.
const USER_DIRS: [&str; 5] = ["home", "logs", "tmp", "pids", "signal"];
/// What the node script signals (its wait condition), as `disco_local_signal` writes it.
const SIGNAL_FILE: &str = "signal/signal.json";

/// What a node's scripts run in: the cluster, the directory its nodes share, the
/// provider's settings, and the cluster's user when it has one.
#[derive(Clone, Copy)]
pub(super) struct Around<'a> {
    pub(super) cluster: ClusterId,
    pub(super) shared: &'a Path,
    pub(super) settings: &'a LocalProviderSettings,
    pub(super) isolation: Option<&'a Isolation>,
}

/// Ends a process group when dropped.
struct GroupGuard(Option<nix::unistd::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
        }
    }
}

/// Which script a node starts: its own (a deploy's, a start's), or a repair's, beside
/// the services that still run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Run {
    Node,
    Repair,
}

/// A node of a local cluster.
#[derive(Debug, Clone)]
pub(super) struct Node {
    /// As the node script and the task tree name it: `master`, `slaves:1`, ...
    pub(super) name: String,
    pub(super) group: NodeGroup,
    /// Slave index from 0 (Heat's `%index%`).
    pub(super) index: u16,
    pub(super) address: Ipv4Addr,
    pub(super) dir: PathBuf,
}

/// The wait condition data a node script signals.
#[derive(Debug, Deserialize)]
struct Signalled {
    status: String,
    #[serde(default)]
    reason: String,
}

/// Where a node's script stands.
pub(super) enum Script {
    /// No start of it is recorded.
    NotStarted,
    Running,
    /// It signalled success.
    Succeeded,
    /// It signalled failure, or ended without signalling: why, for the cluster's reason.
    Failed(String),
}

impl Node {
    /// Starts the node's script, unless an earlier attempt did. `shared` is the directory
    /// the cluster's nodes share. With `isolation`, the script runs as the cluster's
    /// user: the node's directory stays root's (the script, its record and exit code are
    /// DISCO's), and only its `home`, `logs`, `tmp`, `pids` and `signal` are the user's.
    pub(super) async fn start(
        &self,
        around: &Around<'_>,
        script: &str,
        run: Run,
    ) -> Result<(), ProviderError> {
        let Around {
            cluster,
            shared,
            isolation,
            ..
        } = *around;
        let record_path = self.dir.join("script");
        if tokio::fs::try_exists(&record_path).await.unwrap_or(false) {
            return Ok(());
        }
        // A start cut short before its record was written leaves a script nobody
        // watches: stop it before starting another. Not at a repair: the node's other
        // services run on (its old script was ended by `forget_script`).
        if run == Run::Node {
            let id = cluster.to_string();
            let dir = self.dir.clone();
            let strays = tokio::task::spawn_blocking(move || processes_of(&id, Some(&dir)))
                .await
                .unwrap_or_default();
            if !strays.is_empty() {
                tracing::warn!(node = %self.name, count = strays.len(), "stopping the processes of a start that was cut short");
                signal_each(&strays, Signal::SIGKILL);
            }
        }
        create_private_dir(&self.dir).await?;
        for sub in USER_DIRS {
            create_private_dir(&self.dir.join(sub)).await?;
        }
        create_private_dir(shared).await?;
        if let Some(isolation) = isolation {
            open_to_search(&self.dir).await?;
            for sub in USER_DIRS {
                give(&self.dir.join(sub), isolation.account).await?;
            }
            give(shared, isolation.account).await?;
        }
        let _ = tokio::fs::remove_file(self.dir.join(SIGNAL_FILE)).await;
        let _ = tokio::fs::remove_file(self.dir.join("exit")).await;
        let script_path = self.dir.join("node.sh");
        write_whole(&script_path, script.as_bytes()).await?;
        if let Some(isolation) = isolation {
            readable_by_group(&script_path, isolation.account).await?;
        }

        let log_path = self.dir.join("logs/node-script.log");
        let log = open_log(&log_path)?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_error("opening", &log_path, e))?;
        let mut command = self.command(around, &script_path);
        command.stdout(log).stderr(log_err);
        let mut child = command.spawn().map_err(|e| {
            ProviderError::Permanent(format!("starting bash for {}: {e}", self.name))
        })?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or(0);
        let record = ProcessRecord::of(pid).unwrap_or(ProcessRecord { pid, start_time: 0 });
        write_whole(&record_path, record.render().as_bytes()).await?;
        let exit_path = self.dir.join("exit");
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                let code = status
                    .code()
                    .map_or_else(|| "killed".to_string(), |c| c.to_string());
                let _ = write_whole(&exit_path, code.as_bytes()).await;
            }
        });
        tracing::info!(node = %self.name, address = %self.address, pid, "node script started");
        Ok(())
    }

    /// bash on `script`, in the node's environment (and as the cluster's user, with
    /// isolation), in a process group of its own, reading nothing.
    fn command(&self, around: &Around<'_>, script: &Path) -> tokio::process::Command {
        let Around {
            cluster,
            shared,
            settings,
            isolation,
        } = *around;
        let home = self.dir.join("home");
        let mut command = bash_as_node(&NodeEnvironment {
            cluster,
            node: &self.name,
            node_dir: &self.dir,
            address: self.address,
            shared,
            home: &home,
            logs: &self.dir.join("logs"),
            tmp: &self.dir.join("tmp"),
            settings,
        });
        command.arg(script);
        match isolation {
            Some(isolation) => {
                // std drops the supplementary groups with the user.
                command
                    .uid(isolation.account.uid.as_raw())
                    .gid(isolation.account.gid.as_raw())
                    .env("DISCO_VENV_BUILDER", &isolation.builder_status);
            }
            None => {
                if let Some(cache) = pip_cache() {
                    command.env("PIP_CACHE_DIR", cache);
                }
            }
        }
        command
    }

    /// Runs `script` (a slave's decommission steps) on the node to its end, within
    /// `within`: its output goes to `logs/NAME.log`. Errs with the end of that log when
    /// it fails or overruns.
    pub(super) async fn run_to_end(
        &self,
        around: &Around<'_>,
        name: &str,
        script: &str,
        within: std::time::Duration,
    ) -> Result<(), ProviderError> {
        let script_path = self.dir.join(format!("{name}.sh"));
        write_whole(&script_path, script.as_bytes()).await?;
        if let Some(isolation) = around.isolation {
            readable_by_group(&script_path, isolation.account).await?;
        }
        let log_path = self.dir.join("logs").join(format!("{name}.log"));
        let log = open_log(&log_path)?;
        let log_err = log
            .try_clone()
            .map_err(|e| io_error("opening", &log_path, e))?;
        let mut command = self.command(around, &script_path);
        command.stdout(log).stderr(log_err).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| {
            ProviderError::Permanent(format!("starting bash for {}: {e}", self.name))
        })?;
        let ended = tokio::time::timeout(within, child.wait()).await;
        let tail = || async {
            let text = read_user_file(&log_path).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(5)..].join(" | ")
        };
        match ended {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(ProviderError::Permanent(format!(
                "{}: {name} failed ({status}): {}",
                self.name,
                tail().await
            ))),
            Ok(Err(e)) => Err(ProviderError::Transient(format!(
                "{}: waiting for {name}: {e}",
                self.name
            ))),
            Err(_) => Err(ProviderError::Permanent(format!(
                "{}: {name} did not end within {} s: {}",
                self.name,
                within.as_secs(),
                tail().await
            ))),
        }
    }

    /// Runs `script` as the node (as `run_to_end` does) and gives its standard output, at
    /// most `MOST_OUTPUT` bytes; its errors go to `logs/NAME.log`.
    pub(super) async fn run_for_output(
        &self,
        around: &Around<'_>,
        name: &str,
        script: &str,
        within: std::time::Duration,
    ) -> Result<String, ProviderError> {
        use tokio::io::AsyncReadExt as _;
        const MOST_OUTPUT: u64 = 64 * 1024;
        let script_path = self.dir.join(format!("{name}.sh"));
        write_whole(&script_path, script.as_bytes()).await?;
        if let Some(isolation) = around.isolation {
            readable_by_group(&script_path, isolation.account).await?;
        }
        let log_path = self.dir.join("logs").join(format!("{name}.log"));
        let log = open_log(&log_path)?;
        let mut command = self.command(around, &script_path);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            // The cluster user's own site-packages are not DISCO's to import.
            .env("PYTHONNOUSERSITE", "1")
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| {
            ProviderError::Permanent(format!("starting bash for {}: {e}", self.name))
        })?;
        // Its process group (its own: `command`), ended whatever comes of it, so that
        // nothing it started outlives it (a child holding the pipe open, say).
        let group = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .map(nix::unistd::Pid::from_raw);
        let _ended = GroupGuard(group);
        let Some(stdout) = child.stdout.take() else {
            return Err(ProviderError::Transient(format!(
                "{}: no output of {name}",
                self.name
            )));
        };
        let run = async {
            let mut out = Vec::new();
            stdout.take(MOST_OUTPUT).read_to_end(&mut out).await?;
            child.wait().await.map(|_| out)
        };
        match tokio::time::timeout(within, run).await {
            Ok(Ok(out)) => Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(Err(e)) => Err(ProviderError::Transient(format!(
                "{}: running {name}: {e}",
                self.name
            ))),
            Err(_) => Err(ProviderError::Transient(format!(
                "{}: {name} did not end within {} s",
                self.name,
                within.as_secs()
            ))),
        }
    }

    /// Where the node's script stands: what it signalled, else whether it still runs.
    pub(super) async fn script(&self) -> Script {
        match read_user_file(&self.dir.join(SIGNAL_FILE)).await {
            Some(data) => match serde_json::from_slice::<Signalled>(&data) {
                Ok(signal) if signal.status == "SUCCESS" => Script::Succeeded,
                Ok(signal) => Script::Failed(signal.reason),
                Err(e) => Script::Failed(format!(
                    "{}: its node script signalled something unreadable: {e}",
                    self.name
                )),
            },
            None => match read_record(&self.dir.join("script")).await {
                None => Script::NotStarted,
                Some(script) if script.is_alive() => Script::Running,
                Some(_) => {
                    let exit = tokio::fs::read_to_string(self.dir.join("exit"))
                        .await
                        .map(|code| format!(" (exit code {})", code.trim()))
                        .unwrap_or_default();
                    Script::Failed(format!(
                        "{}: its node script ended without finishing{exit}; see {}",
                        self.name,
                        self.dir.join("logs").display()
                    ))
                }
            },
        }
    }
}

impl Node {
    /// Ends the node's script if it still runs and forgets it ran, leaving its services
    /// alone: the node can run another script (a repair's).
    pub(super) async fn forget_script(&self) -> Result<(), ProviderError> {
        if let Some(script) = read_record(&self.dir.join("script")).await {
            script.signal_group(Signal::SIGKILL);
        }
        for file in ["script", "exit", SIGNAL_FILE] {
            remove_if_there(&self.dir.join(file)).await?;
        }
        Ok(())
    }
}

/// What DISCO records in a slave's directory when it gives the slave up (it failed while
/// `minslaves` still held): why. DISCO's, not the cluster user's.
const LOST_FILE: &str = "lost";

/// Why the slave in `node_dir` was given up on, if it was.
pub(super) async fn lost(node_dir: &Path) -> Option<String> {
    tokio::fs::read_to_string(node_dir.join(LOST_FILE))
        .await
        .ok()
}

/// Records that the slave in `node_dir` is given up on, and why: from now on it is kept
/// out of the cluster (not checked, not started again, not decommissioned).
pub(super) async fn give_up(node_dir: &Path, reason: &str) -> Result<(), ProviderError> {
    write_whole(&node_dir.join(LOST_FILE), reason.as_bytes()).await
}

/// Forgets what ran on a stopped node: its script's record, exit code and signal, and
/// the services' records. Its software, configuration and data stay.
pub(super) async fn forget_runs(node_dir: &Path) -> Result<(), ProviderError> {
    for file in ["script", "exit", SIGNAL_FILE] {
        remove_if_there(&node_dir.join(file)).await?;
    }
    if let Ok(mut entries) = tokio::fs::read_dir(node_dir.join("pids")).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            remove_if_there(&entry.path()).await?;
        }
    }
    Ok(())
}

/// Removes a file (a link itself, never what it points to); nothing when it is absent.
async fn remove_if_there(path: &Path) -> Result<(), ProviderError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("removing", path, e)),
    }
}

/// The process groups recorded in a node's directory: its script and the services it
/// started.
pub(super) async fn process_groups(node_dir: &Path) -> Vec<ProcessRecord> {
    let mut groups = Vec::new();
    groups.extend(read_record(&node_dir.join("script")).await);
    if let Ok(mut entries) = tokio::fs::read_dir(node_dir.join("pids")).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            groups.extend(read_record(&entry.path()).await);
        }
    }
    groups
}

/// A process record file (`PID START_TIME`); `None` when absent or unreadable. The
/// `pids` directory is the cluster's to write: a link there is not followed.
pub(super) async fn read_record(path: &Path) -> Option<ProcessRecord> {
    let data = read_user_file(path).await?;
    ProcessRecord::parse(std::str::from_utf8(&data).ok()?)
}

/// The environment a script runs in as a node: its cluster, its name and directories,
/// its address and the provider's settings.
pub(super) struct NodeEnvironment<'a> {
    pub(super) cluster: ClusterId,
    pub(super) node: &'a str,
    pub(super) node_dir: &'a Path,
    pub(super) address: Ipv4Addr,
    pub(super) shared: &'a Path,
    pub(super) home: &'a Path,
    pub(super) logs: &'a Path,
    pub(super) tmp: &'a Path,
    pub(super) settings: &'a LocalProviderSettings,
}

/// bash (its arguments are the caller's) with nothing of the server's environment but
/// `PASSED_VARIABLES`, the node's variables, the cluster's mark, and no proxy for
/// loopback; in the node's home, in a process group of its own, reading nothing, and
/// left running when dropped.
pub(super) fn bash_as_node(node: &NodeEnvironment<'_>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("bash");
    command
        .current_dir(node.home)
        .env_clear()
        .envs(
            PASSED_VARIABLES
                .iter()
                .filter_map(|name| std::env::var_os(name).map(|value| (*name, value))),
        )
        .env("HOME", node.home)
        .env("TMPDIR", node.tmp)
        .env(process::CLUSTER_VARIABLE, node.cluster.to_string())
        .env("DISCO_NODE", node.node)
        .env("DISCO_NODE_DIR", node.node_dir)
        .env("DISCO_NODE_ADDRESS", node.address.to_string())
        .env("DISCO_SHARED_DIR", node.shared)
        .env("DISCO_HOME", node.home)
        .env("DISCO_LOG_DIR", node.logs)
        .env("DISCO_VENV_DIR", &node.settings.venv_dir)
        .env("DISCO_PYTHON", &node.settings.python)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    without_proxy_for_loopback(&mut command);
    command
}

/// Reports and checks go to loopback addresses: never through a proxy.
fn without_proxy_for_loopback(command: &mut tokio::process::Command) {
    let no_proxy = match std::env::var("no_proxy").or_else(|_| std::env::var("NO_PROXY")) {
        Ok(list) if !list.is_empty() => format!("{list},127.0.0.0/8,localhost"),
        _ => "127.0.0.0/8,localhost".to_string(),
    };
    command
        .env("no_proxy", &no_proxy)
        .env("NO_PROXY", &no_proxy);
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
