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
//! none is left; and `DISCO_NODE_DIR`, which tells this server's clusters from another's
//! when the watcher looks (with the directories and the claims) for what outlived its
//! cluster.
//!
//! Here are the provider and the cluster as a whole (its block, progress, teardown);
//! `node` starts one node's script and reads where it stands, `health` runs the
//! components' checks and notices stopped services.

pub mod addresses;
mod builder;
mod files;
mod health;
mod node;
pub mod process;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nix::sys::signal::Signal;

use self::addresses::{Allocation, BLOCK_SLAVES, Claims};
use self::builder::Building;
use self::files::{create_private_dir, open_to_search, write_whole};
use self::health::{Probes, dead_service};
use self::node::{Around, Node, Script};
use self::process::{ProcessRecord, processes_of, processes_owned_by, signal_each};
use self::users::Account;
use super::{Inadmissible, Liveness, Progress, Provider, ProviderError, Suspension, Teardown};
use crate::cluster::{Cluster, LostSlave, Outputs};
use crate::compose::Composition;
use crate::compose::heat::web_ui_keys;
use crate::compose::script::{MASTER_ADDRESS, SLAVE_INDEX, WC_NOTIFY};
use crate::config::LocalProviderSettings;
use crate::domain::activity::ComponentActivity;
use crate::domain::health::{CheckOutcome, RepairTarget};
use crate::domain::node::slave_name;
use crate::domain::{ClusterId, ProviderKind, Resize};
use crate::frameworks::catalogue::NodeGroup;
use crate::frameworks::plan::Plan;

/// What a node script's wait condition call becomes: a function of the local library.
const LOCAL_SIGNAL: &str = "disco_local_signal";
/// The longest the activity steps may take: each watcher round waits for them.
const ACTIVITY_WITHIN: Duration = Duration::from_secs(15);
/// The longest a leaving slave's decommission steps may take.
const DECOMMISSION_WITHIN: u64 = 900;
/// How long after SIGKILL the processes have to be gone before a delete is retried.
const KILL_WAIT: Duration = Duration::from_secs(5);

pub struct LocalProvider {
    settings: LocalProviderSettings,
    claims: Claims,
    probes: Probes,
    /// Held while a deploy claims a block or starts nodes, so two attempts at one cluster
    /// never both start it.
    starting: tokio::sync::Mutex<()>,
    /// Set when each cluster runs as a user of its own: the builder of the virtual
    /// environments, made at the first deploy.
    builder: Option<tokio::sync::OnceCell<Account>>,
}

/// How a cluster that runs as a user of its own is started.
pub(super) struct Isolation {
    pub(super) account: Account,
    /// Where the builder of its virtual environments says how it went.
    pub(super) builder_status: PathBuf,
}

fn io_error(action: &str, path: &Path, err: std::io::Error) -> ProviderError {
    ProviderError::Permanent(format!("{action} {}: {err}", path.display()))
}

impl LocalProvider {
    /// The provider, as `settings.run_as` says. Clusters that run as users of their own
    /// need root, and a way from `/` to their directories and to the environments that
    /// other users may take: the data directory, when it holds the clusters' directory,
    /// is opened to search (mode 0711; what it holds stays private), and any other
    /// directory on the way that is closed is an error naming it.
    pub fn new(
        settings: LocalProviderSettings,
        data_dir: &Path,
    ) -> Result<LocalProvider, ProviderError> {
        let builder = if settings.cluster_users() {
            if !nix::unistd::geteuid().is_root() {
                return Err(ProviderError::Permanent(
                    "provider.local.run_as = \"cluster-users\" needs DISCO to run as root \
                     (it makes a user per cluster)"
                        .to_string(),
                ));
            }
            std::fs::create_dir_all(&settings.dir)
                .map_err(|e| io_error("creating", &settings.dir, e))?;
            std::fs::create_dir_all(&settings.venv_dir)
                .map_err(|e| io_error("creating", &settings.venv_dir, e))?;
            if settings.dir.starts_with(data_dir) {
                set_mode(data_dir, 0o711)?;
            }
            set_mode(&settings.dir, 0o711)?;
            reachable("provider.local.dir", &settings.dir)?;
            reachable("provider.local.venv_dir", &settings.venv_dir)?;
            Some(tokio::sync::OnceCell::new())
        } else {
            None
        };
        Ok(LocalProvider {
            claims: Claims::new(&settings.claims_dir),
            settings,
            probes: Probes::new(),
            starting: tokio::sync::Mutex::new(()),
            builder,
        })
    }

    /// Whether each cluster runs as a user of its own.
    pub fn runs_cluster_users(&self) -> bool {
        self.builder.is_some()
    }

    /// Starts every node's script (`master` on the master, `slaves` on each slave, the
    /// placeholders filled in), unless an earlier attempt did; with `only`, a repair's:
    /// on the nodes it names, their earlier script forgotten, running the steps of the
    /// components it names alone: under the lock, with the
    /// cluster's block, and as its user when clusters have users of their own.
    async fn start_nodes(
        &self,
        cluster: &Cluster,
        composition: &Composition,
        master_script: &str,
        slave_script: &str,
        only: Option<&[RepairTarget]>,
    ) -> Result<(), ProviderError> {
        let _starting = self.starting.lock().await;
        let allocation = self.allocation(cluster).await?;
        let master = allocation.master().to_string();
        let shared = self.cluster_dir(cluster.id).join("shared");
        let isolation = match &self.builder {
            Some(builder) => Some(
                self.isolate(builder, cluster, composition, &allocation)
                    .await?,
            ),
            None => None,
        };
        let around = Around {
            cluster: cluster.id,
            shared: &shared,
            settings: &self.settings,
            isolation: isolation.as_ref(),
        };
        for node in self.nodes(cluster, &allocation) {
            let only = match only {
                None => None,
                Some(targets) => match targets.iter().find(|t| t.node == node.name) {
                    Some(target) => Some(target.components.join(" ")),
                    None => continue,
                },
            };
            let script = match node.group {
                NodeGroup::Master => master_script.to_string(),
                NodeGroup::Slaves => slave_script.replace(SLAVE_INDEX, &node.index.to_string()),
            };
            let mut script = script
                .replace(MASTER_ADDRESS, &master)
                .replace(WC_NOTIFY, LOCAL_SIGNAL);
            let run = match only {
                Some(components) => {
                    // Component names are words (`ComponentName`): nothing to quote.
                    script = script.replacen(
                        "#!/bin/bash\n",
                        &format!("#!/bin/bash\nexport DISCO_ONLY_COMPONENTS='{components}'\n"),
                        1,
                    );
                    node.forget_script().await?;
                    node::Run::Repair
                }
                None => node::Run::Node,
            };
            node.start(&around, &script, run).await?;
        }
        Ok(())
    }

    /// Decommissions and removes the slaves a scale-in lets go: `resize.to + 1` to
    /// `resize.from`, the highest first. A slave already gone (an earlier attempt) is
    /// skipped; one whose decommission fails stops the scale-in with the reason.
    async fn remove_slaves(
        &self,
        cluster: &Cluster,
        resize: Resize,
        composition: &Composition,
    ) -> Result<(), ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Err(ProviderError::Permanent(format!(
                "the cluster's directory {} is gone",
                self.cluster_dir(cluster.id).display()
            )));
        };
        let dir = self.cluster_dir(cluster.id);
        let shared = dir.join("shared");
        let isolation = match &self.builder {
            Some(builder) => {
                let _starting = self.starting.lock().await;
                Some(
                    self.isolate(builder, cluster, composition, &allocation)
                        .await?,
                )
            }
            None => None,
        };
        let master = allocation.master().to_string();
        let within = Duration::from_secs(DECOMMISSION_WITHIN);
        for index in (resize.to..resize.from).rev() {
            let node = Node {
                name: slave_name(index),
                group: NodeGroup::Slaves,
                index,
                address: allocation.slave(index),
                dir: dir.join("nodes").join(format!("slave-{}", index + 1)),
            };
            if !tokio::fs::try_exists(&node.dir).await.unwrap_or(false) {
                continue;
            }
            // A slave given up on holds nothing of the cluster's: it only goes.
            let serves = node::lost(&node.dir).await.is_none();
            if let Some(script) = composition.decommission_script.as_ref().filter(|_| serves) {
                let script = script
                    .replace(SLAVE_INDEX, &index.to_string())
                    .replace(MASTER_ADDRESS, &master)
                    .replace(WC_NOTIFY, LOCAL_SIGNAL);
                tracing::info!(cluster = %cluster.id, node = %node.name, "decommissioning");
                let around = Around {
                    cluster: cluster.id,
                    shared: &shared,
                    settings: &self.settings,
                    isolation: isolation.as_ref(),
                };
                node.run_to_end(&around, "decommission", &script, within)
                    .await?;
            }
            self.stop_node(cluster.id, &node.dir).await?;
            match tokio::fs::remove_dir_all(&node.dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing", &node.dir, e)),
            }
            tracing::info!(cluster = %cluster.id, node = %node.name, "slave removed");
        }
        Ok(())
    }

    /// Stops the processes of one node: SIGTERM to its recorded groups and to every
    /// process marked with its directory, SIGKILL after the grace period.
    async fn stop_node(&self, id: ClusterId, node_dir: &Path) -> Result<(), ProviderError> {
        let account = match self.builder {
            Some(_) => users::find_cluster_user(id).await?,
            None => None,
        };
        let mut groups = node::process_groups(node_dir).await;
        if let Some(account) = account {
            groups.retain(|group| group.owner() == Some(account.uid.as_raw()));
        }
        let (lookup, dir) = (id.to_string(), node_dir.to_path_buf());
        self.end_processes(&groups, move || processes_of(&lookup, Some(&dir)))
            .await
            .map_err(|left| {
                ProviderError::Transient(format!(
                    "{} processes of {} survived SIGKILL",
                    left.len(),
                    node_dir.display()
                ))
            })
    }

    /// Makes what a cluster running as a user of its own needs before its nodes start:
    /// the user, its directories open to search, and the builder of its environments.
    async fn isolate(
        &self,
        builder: &tokio::sync::OnceCell<Account>,
        cluster: &Cluster,
        composition: &Composition,
        allocation: &Allocation,
    ) -> Result<Isolation, ProviderError> {
        let builder = *builder
            .get_or_try_init(|| builder::prepare_venv_dir(&self.settings))
            .await?;
        let account = users::ensure_cluster_user(cluster.id).await?;
        let dir = self.cluster_dir(cluster.id);
        create_private_dir(&dir.join("nodes")).await?;
        open_to_search(&dir).await?;
        open_to_search(&dir.join("nodes")).await?;
        builder::start(
            cluster.id,
            &dir,
            &composition.install_scripts,
            allocation.master(),
            &self.settings,
            builder,
            account,
        )
        .await?;
        Ok(Isolation {
            account,
            builder_status: builder::status_dir(&dir),
        })
    }

    /// The directory of a cluster.
    pub fn cluster_dir(&self, id: ClusterId) -> PathBuf {
        self.settings.dir.join(id.to_string())
    }

    /// Every node of the cluster's plan, the slaves given up on too.
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
                name: slave_name(index),
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

    /// The cluster's directory and its nodes' addresses (not those of the slaves given
    /// up on); the master's address is both its external and its private one, as every
    /// node is on the loopback.
    fn outputs(&self, cluster: &Cluster, allocation: &Allocation, lost: &[LostSlave]) -> Outputs {
        let master = allocation.master();
        Outputs {
            stack_id: Some(self.cluster_dir(cluster.id).display().to_string()),
            external_ip: Some(master.to_string()),
            master_private_ip: Some(master.to_string()),
            slave_ips: (0..cluster.plan.slave_count())
                .filter(|index| !lost.iter().any(|slave| slave.node == slave_name(*index)))
                .map(|index| allocation.slave(index).to_string())
                .collect(),
            web_uis: web_ui_keys(&cluster.plan)
                .into_iter()
                .map(|(key, _, ui)| (key, format!("http://{master}:{}{}", ui.port, ui.path)))
                .collect(),
            lost_slaves: Some(lost.to_vec()),
            ..Outputs::default()
        }
    }

    /// The cluster's nodes that serve it, and the slaves given up on (with why).
    async fn serving_nodes(
        &self,
        cluster: &Cluster,
        allocation: &Allocation,
    ) -> (Vec<Node>, Vec<LostSlave>) {
        let mut serving = Vec::new();
        let mut lost = Vec::new();
        for node in self.nodes(cluster, allocation) {
            match node::lost(&node.dir).await {
                Some(reason) => lost.push(LostSlave {
                    node: node.name,
                    reason,
                }),
                None => serving.push(node),
            }
        }
        (serving, lost)
    }

    /// Where the deployment stands, from the nodes' signals, their scripts' and
    /// services' processes, and the health checks. A slave whose script failed is given
    /// up on (stopped, and kept out of the cluster) when `minslaves` allows it.
    async fn progress(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Ok(Progress::Deploying(Outputs::default()));
        };
        let (mut nodes, mut lost) = self.serving_nodes(cluster, &allocation).await;
        let mut running = false;
        let mut failing = Vec::new();
        for node in &nodes {
            match node.script().await {
                Script::Succeeded => {}
                Script::Running => running = true,
                Script::NotStarted => {
                    return Ok(Progress::Deploying(self.outputs(
                        cluster,
                        &allocation,
                        &lost,
                    )));
                }
                Script::Failed(reason) if node.group == NodeGroup::Slaves => {
                    failing.push((node.clone(), reason));
                }
                Script::Failed(reason) => {
                    let outputs = self.outputs(cluster, &allocation, &lost);
                    return Ok(Progress::Failed { reason, outputs });
                }
            }
        }
        if !failing.is_empty() {
            let mut all = lost.clone();
            all.extend(failing.iter().map(|(node, reason)| LostSlave {
                node: node.name.clone(),
                reason: reason.clone(),
            }));
            if let Some(reason) = cluster.refuse_losses(&all) {
                let outputs = self.outputs(cluster, &allocation, &lost);
                return Ok(Progress::Failed { reason, outputs });
            }
            for (node, reason) in failing {
                tracing::warn!(cluster = %cluster.id, node = %node.name, %reason, "a slave failed: stopping it, the cluster goes on without it");
                self.stop_node(cluster.id, &node.dir).await?;
                node::give_up(&node.dir, &reason).await?;
                nodes.retain(|serving| serving.name != node.name);
                lost.push(LostSlave {
                    node: node.name,
                    reason,
                });
            }
        }
        let outputs = self.outputs(cluster, &allocation, &lost);
        let failed = |reason: String| Progress::Failed {
            reason,
            outputs: outputs.clone(),
        };
        if running {
            // Nodes wait for the environments; a builder that ended without a word
            // would keep them waiting. (One that failed, they report themselves.)
            if self.builder.is_some()
                && let Some(Building::Vanished(reason)) =
                    builder::building(&self.cluster_dir(cluster.id)).await
            {
                return Ok(failed(reason));
            }
            return Ok(Progress::Installing(outputs));
        }
        if let Some(reason) = dead_service(&nodes).await {
            return Ok(failed(reason));
        }
        match self.probes.failing_check(&cluster.plan, &nodes).await {
            None => Ok(Progress::Ready(outputs)),
            Some(pending) => {
                tracing::debug!(cluster = %cluster.id, "{pending}");
                Ok(Progress::Installing(outputs))
            }
        }
    }

    /// Stops every process of the cluster: SIGTERM to the process groups its nodes
    /// recorded and to every process marked with the cluster, SIGKILL to what is left
    /// after the grace period. Errs when something survives SIGKILL.
    async fn stop_all(&self, id: ClusterId) -> Result<(), ProviderError> {
        let mut groups = recorded_groups(&self.cluster_dir(id)).await;
        // A cluster's user writes its records: with users, a group is stopped only if
        // its leader is the cluster's (or the builder's), and every process of the
        // cluster's user is the cluster's.
        let account = match self.builder {
            Some(_) => users::find_cluster_user(id).await?,
            None => None,
        };
        if let Some(account) = account {
            let builder = self
                .builder
                .as_ref()
                .and_then(|cell| cell.get())
                .map(|b| b.uid.as_raw());
            groups.retain(|group| {
                group
                    .owner()
                    .is_some_and(|uid| uid == account.uid.as_raw() || Some(uid) == builder)
            });
        }
        let lookup = id.to_string();
        let left = self
            .end_processes(&groups, move || {
                let mut left = processes_of(&lookup, None);
                if let Some(account) = account {
                    left.extend(processes_owned_by(account.uid.as_raw()));
                    left.dedup_by_key(|p| p.pid);
                }
                left
            })
            .await;
        match left {
            Ok(()) => Ok(()),
            Err(left) => Err(ProviderError::Transient(format!(
                "{} processes of the cluster survived SIGKILL: {}",
                left.len(),
                left.iter()
                    .map(|p| p.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// SIGTERM to the process groups and to the processes `find` finds, again until
    /// none is left, SIGKILL after the grace period; what survived SIGKILL, if anything.
    async fn end_processes(
        &self,
        groups: &[ProcessRecord],
        find: impl Fn() -> Vec<ProcessRecord> + Clone + Send + 'static,
    ) -> Result<(), Vec<ProcessRecord>> {
        let grace = Duration::from_secs(self.settings.stop_grace_secs);
        let started = Instant::now();
        let mut signal = Signal::SIGTERM;
        loop {
            for group in groups {
                group.signal_group(signal);
            }
            let left = tokio::task::spawn_blocking(find.clone())
                .await
                .unwrap_or_default();
            if left.is_empty() && !groups.iter().any(ProcessRecord::is_alive) {
                return Ok(());
            }
            signal_each(&left, signal);
            if started.elapsed() > grace + KILL_WAIT {
                return Err(left);
            }
            if started.elapsed() > grace && signal == Signal::SIGTERM {
                tracing::warn!(
                    count = left.len(),
                    "processes still running after the grace period: SIGKILL"
                );
                signal = Signal::SIGKILL;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Removes everything of the cluster, knowing only its id: stops its processes, then
    /// removes its directory and gives back its block. Under the lock deploys start
    /// nodes with, so that no start is half done meanwhile.
    async fn teardown(&self, id: ClusterId) -> Result<(), ProviderError> {
        let _starting = self.starting.lock().await;
        self.stop_all(id).await?;
        // Its user goes before its directory: while the user is there, so is the
        // directory, where the watcher finds what is left.
        if nix::unistd::geteuid().is_root()
            && let Some(account) = users::find_cluster_user(id).await?
        {
            users::remove_leftovers(account).await?;
            users::remove_cluster_user(id).await?;
        }
        let dir = self.cluster_dir(id);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // A last file written as the processes went (a script's exit code): the
            // next attempt removes it.
            Err(e) => {
                return Err(ProviderError::Transient(format!(
                    "removing {}: {e}",
                    dir.display()
                )));
            }
        }
        let claims = self.claims.clone();
        tokio::task::spawn_blocking(move || claims.release(&dir))
            .await
            .map_err(|e| ProviderError::Transient(format!("giving back the addresses: {e}")))
    }
}

impl LocalProvider {
    /// Runs `script` on the cluster's master as its user, for its standard output;
    /// `None` when the cluster has no addresses (any more).
    async fn run_on_master(
        &self,
        cluster: &Cluster,
        composition: &Composition,
        name: &str,
        script: &str,
        within: Duration,
    ) -> Result<Option<String>, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Ok(None);
        };
        let isolation = match &self.builder {
            Some(builder) => {
                let _starting = self.starting.lock().await;
                Some(
                    self.isolate(builder, cluster, composition, &allocation)
                        .await?,
                )
            }
            None => None,
        };
        let shared = self.cluster_dir(cluster.id).join("shared");
        let around = Around {
            cluster: cluster.id,
            shared: &shared,
            settings: &self.settings,
            isolation: isolation.as_ref(),
        };
        let Some(master) = self.nodes(cluster, &allocation).into_iter().next() else {
            return Ok(None);
        };
        let script = script
            .replace(MASTER_ADDRESS, &allocation.master().to_string())
            .replace(WC_NOTIFY, LOCAL_SIGNAL);
        let output = master
            .run_for_output(&around, name, &script, within)
            .await?;
        Ok(Some(output))
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

    fn summary(&self) -> String {
        let runs_as = if self.builder.is_some() {
            "each cluster as a system user of its own"
        } else if self.settings.allow_shared_user {
            "every cluster as DISCO's own user, for any tenant (the operator allowed it: \
             tenants' clusters can read each other's secrets)"
        } else {
            "every cluster as DISCO's own user, so for one tenant only"
        };
        format!("the local provider: processes on this machine's loopback addresses, {runs_as}")
    }

    fn sole_tenant(&self) -> Option<&'static str> {
        (self.builder.is_none() && !self.settings.allow_shared_user).then_some(
            "the local provider here runs every cluster as DISCO's own user (DISCO does \
             not run as root), where one tenant's clusters could read another's secrets and \
             DISCO's database: it takes the clusters of one tenant, and another tenant has \
             local clusters (an operator may allow more with provider.local.allow_shared_user)",
        )
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
        self.start_nodes(
            cluster,
            composition,
            &composition.master_script,
            &composition.slave_script,
            None,
        )
        .await?;
        self.observe(cluster).await
    }

    fn resizes(&self) -> bool {
        true
    }

    fn decommissions(&self) -> bool {
        true
    }

    fn stops(&self) -> bool {
        true
    }

    /// Out: the new slaves start on the next addresses of the cluster's block, with the
    /// same node script (the nodes there already are skipped). In: each leaving slave,
    /// the highest-numbered first, runs its decommission steps, then its processes end
    /// and its directory goes. Either way, ready once every node passes its checks.
    async fn resize(
        &self,
        cluster: &Cluster,
        resize: Resize,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        if resize.to >= resize.from {
            self.start_nodes(
                cluster,
                composition,
                &composition.master_script,
                &composition.slave_script,
                None,
            )
            .await?;
        } else {
            self.remove_slaves(cluster, resize, composition).await?;
        }
        self.observe(cluster).await
    }

    /// Ends every process of the cluster, then forgets its nodes' scripts and services
    /// (not their files): a start runs them again. Its directory, block, user and
    /// secrets stay.
    async fn suspend(&self, cluster: &Cluster) -> Result<Suspension, ProviderError> {
        let _starting = self.starting.lock().await;
        self.stop_all(cluster.id).await?;
        let nodes = self.cluster_dir(cluster.id).join("nodes");
        if let Ok(mut entries) = tokio::fs::read_dir(&nodes).await {
            while let Ok(Some(node)) = entries.next_entry().await {
                // A slave given up on stays so: a start does not run it again.
                if node::lost(&node.path()).await.is_none() {
                    node::forget_runs(&node.path()).await?;
                }
            }
        }
        Ok(Suspension::Stopped)
    }

    /// Runs the components' start and smoke steps again on every node, on the same
    /// addresses, as the same user.
    async fn resume(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let [master, slaves] = composition.restart_scripts.as_slice() else {
            return Err(ProviderError::Permanent(
                "the composition has no restart scripts for the local provider".to_string(),
            ));
        };
        if self.read_allocation(cluster.id).await.is_none() {
            return Err(ProviderError::Permanent(format!(
                "the cluster's directory {} is gone: it cannot start again",
                self.cluster_dir(cluster.id).display()
            )));
        }
        self.start_nodes(cluster, composition, master, slaves, None)
            .await?;
        self.observe(cluster).await
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let progress = self.progress(cluster).await?;
        if matches!(progress, Progress::Failed { .. }) {
            // A failed local cluster keeps its directory and logs until deleted, but
            // nothing of it runs on: no node waits for a master that will never come.
            self.stop_all(cluster.id).await?;
        }
        Ok(progress)
    }

    async fn stop(&self, cluster: &Cluster) -> Result<(), ProviderError> {
        self.stop_all(cluster.id).await
    }

    /// Everything goes, as at a delete: its processes, user, directory and block.
    async fn release(&self, cluster: &Cluster) -> Result<bool, ProviderError> {
        self.teardown(cluster.id).await.map(|()| true)
    }

    async fn check(&self, cluster: &Cluster) -> Result<Liveness, ProviderError> {
        if self.read_allocation(cluster.id).await.is_none() {
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
        }
        // A service that stopped is the cluster's health, not its end: `probe`.
        Ok(Liveness::Running)
    }

    async fn probe(&self, cluster: &Cluster) -> Result<Vec<CheckOutcome>, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Ok(Vec::new());
        };
        let (nodes, _) = self.serving_nodes(cluster, &allocation).await;
        Ok(self.probes.outcomes(&cluster.plan, &nodes).await)
    }

    fn repairs(&self) -> bool {
        true
    }

    /// The new slaves of a cancelled scale-out stop, and are given up on: the resize back
    /// removes them without their decommission steps.
    async fn abandon_slaves(&self, cluster: &Cluster, back: Resize) -> Result<(), ProviderError> {
        let dir = self.cluster_dir(cluster.id).join("nodes");
        for index in back.to..back.from {
            let node_dir = dir.join(format!("slave-{}", index + 1));
            if !tokio::fs::try_exists(&node_dir).await.unwrap_or(false) {
                continue;
            }
            self.stop_node(cluster.id, &node_dir).await?;
            node::give_up(&node_dir, "its scale was cancelled").await?;
        }
        Ok(())
    }

    /// The components' activity steps, run on the master as the cluster's user. A
    /// component whose step fails or answers nonsense counts as busy: a cluster is never
    /// ended because DISCO could not tell.
    async fn activity(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Option<Vec<ComponentActivity>>, ProviderError> {
        let Some(script) = &composition.activity_script else {
            return Ok(None);
        };
        let Some(output) = self
            .run_on_master(cluster, composition, "activity", script, ACTIVITY_WITHIN)
            .await?
        else {
            return Ok(None);
        };
        let components = cluster.plan.component_names();
        let mut answers = Vec::new();
        for line in output.lines() {
            let Some((component, answer)) = line.split_once('\t') else {
                continue;
            };
            if !components.contains(&component) {
                continue;
            }
            answers.push(ComponentActivity::from_answer(component, answer));
        }
        Ok(Some(answers).filter(|a| !a.is_empty()))
    }

    /// The files of the cluster's shared directory its outputs are read from, as the
    /// cluster's user reads them (a step cannot make DISCO read what the cluster's user
    /// may not: a link is not followed), each at most `LONGEST_VALUE` bytes.
    async fn read_shared(
        &self,
        cluster: &Cluster,
        composition: &Composition,
        files: &[String],
    ) -> Result<std::collections::BTreeMap<String, String>, ProviderError> {
        use base64::Engine as _;
        use std::fmt::Write as _;
        if files.is_empty() {
            return Ok(Default::default());
        }
        let mut script = String::from("#!/bin/bash\nset -u\ncd \"$DISCO_SHARED_DIR\" || exit 0\n");
        for (index, file) in files.iter().enumerate() {
            let quoted = format!("'{}'", file.replace('\'', r"'\''"));
            let _ = writeln!(
                script,
                "if [ -f {quoted} ] && [ ! -L {quoted} ]; then printf '{index}\\t'; head -c {} -- {quoted} | base64 -w0; echo; fi",
                crate::frameworks::catalogue::LONGEST_VALUE
            );
        }
        let Some(output) = self
            .run_on_master(cluster, composition, "outputs", &script, ACTIVITY_WITHIN)
            .await?
        else {
            return Ok(Default::default());
        };
        let mut read = std::collections::BTreeMap::new();
        for line in output.lines() {
            let Some((index, encoded)) = line.split_once('\t') else {
                continue;
            };
            let (Some(file), Ok(bytes)) = (
                index.parse::<usize>().ok().and_then(|i| files.get(i)),
                base64::engine::general_purpose::STANDARD.decode(encoded),
            ) else {
                continue;
            };
            read.insert(file.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(read)
    }

    /// The start and smoke steps of the targets' components run again on their nodes,
    /// as their cluster's user, on the same addresses; an earlier attempt's script is
    /// ended first (the steps start their services anew, so running them twice is
    /// harmless).
    async fn repair(
        &self,
        cluster: &Cluster,
        targets: &[RepairTarget],
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let [master, slaves] = composition.restart_scripts.as_slice() else {
            return Err(ProviderError::Permanent(
                "the composition has no restart scripts for the local provider".to_string(),
            ));
        };
        self.start_nodes(cluster, composition, master, slaves, Some(targets))
            .await?;
        self.observe_repair(cluster, targets).await
    }

    /// Ready once each target node's script succeeded and the targets' checks pass;
    /// failed when a target node's script failed. Other nodes are not looked at.
    async fn observe_repair(
        &self,
        cluster: &Cluster,
        targets: &[RepairTarget],
    ) -> Result<Progress, ProviderError> {
        let Some(allocation) = self.read_allocation(cluster.id).await else {
            return Err(ProviderError::Permanent(format!(
                "the cluster's directory {} is gone",
                self.cluster_dir(cluster.id).display()
            )));
        };
        let (nodes, lost) = self.serving_nodes(cluster, &allocation).await;
        let outputs = self.outputs(cluster, &allocation, &lost);
        let repaired: Vec<Node> = nodes
            .into_iter()
            .filter(|n| targets.iter().any(|t| t.node == n.name))
            .collect();
        for node in &repaired {
            match node.script().await {
                Script::Succeeded => {}
                Script::Running | Script::NotStarted => return Ok(Progress::Installing(outputs)),
                Script::Failed(reason) => return Ok(Progress::Failed { reason, outputs }),
            }
        }
        let still_failing = self
            .probes
            .outcomes(&cluster.plan, &repaired)
            .await
            .into_iter()
            .find(|o| {
                !o.passing
                    && targets
                        .iter()
                        .any(|t| t.node == o.node && t.components.contains(&o.component))
            });
        Ok(match still_failing {
            None => Progress::Ready(outputs),
            Some(_) => Progress::Installing(outputs),
        })
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        self.teardown(cluster.id).await?;
        Ok(Teardown::Gone)
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        self.delete(cluster).await
    }

    /// The clusters with a directory here, a block claimed in the name of one, or a
    /// process whose node directory is here: never another server's.
    async fn holdings(&self) -> Result<Vec<ClusterId>, ProviderError> {
        let dir = self.settings.dir.clone();
        let claims = self.claims.clone();
        let names = tokio::task::spawn_blocking(move || {
            let mut names = process::clusters_running_under(&dir);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                names.extend(
                    entries
                        .flatten()
                        .map(|entry| entry.file_name().to_string_lossy().into_owned()),
                );
            }
            names.extend(
                claims
                    .owners()
                    .into_iter()
                    .filter(|owner| owner.parent() == Some(dir.as_path()))
                    .filter_map(|owner| Some(owner.file_name()?.to_string_lossy().into_owned())),
            );
            names
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("listing the local clusters: {e}")))?;
        Ok(names.iter().filter_map(|name| name.parse().ok()).collect())
    }

    async fn remove_holdings(&self, id: ClusterId) -> Result<(), ProviderError> {
        self.teardown(id).await
    }
}

/// The process groups every node of the cluster in `cluster_dir` recorded: its node
/// script and the services it started.
async fn recorded_groups(cluster_dir: &Path) -> Vec<ProcessRecord> {
    let mut groups: Vec<ProcessRecord> = builder::record(cluster_dir).await.into_iter().collect();
    if let Ok(mut nodes) = tokio::fs::read_dir(cluster_dir.join("nodes")).await {
        while let Ok(Some(node)) = nodes.next_entry().await {
            groups.extend(node::process_groups(&node.path()).await);
        }
    }
    groups
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ProviderError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("setting the mode of", path, e))
}

/// Errs, naming the setting, when a user other than this one cannot pass through every
/// directory from `/` to `path`.
fn reachable(setting: &str, path: &Path) -> Result<(), ProviderError> {
    use std::os::unix::fs::PermissionsExt as _;
    for dir in path.ancestors() {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(ProviderError::Permanent(format!(
                "{setting} {}: clusters run as users of their own (provider.local.run_as), \
                 and they cannot pass through {} (mode {:o}): choose a directory they can \
                 reach (e.g. under /var/lib or /var/cache), or make {} searchable (chmod o+x)",
                path.display(),
                dir.display(),
                meta.permissions().mode() & 0o7777,
                dir.display()
            )));
        }
    }
    Ok(())
}
