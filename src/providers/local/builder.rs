//! The builder of virtual environments, for clusters that run as users of their own.
//! The environments are shared by every cluster on the machine, so no cluster's user may
//! write them: the system user `disco-venvs` owns them, and before a cluster's nodes need
//! them it runs the cluster's install steps alone (`compose::script::Part::Install`: no
//! report token, no secret parameters) in a scratch directory of its own. The nodes'
//! install steps, as the cluster's user, then wait for the environments to be complete
//! (`disco_venv` in the local node library) and only read them.
//!
//! In the cluster's directory:
//!
//! ```text
//! builder/            root's, mode 0711
//!        /master.sh   the install steps of each node group (group disco-venvs, 0640)
//!        /slaves.sh
//!        /record      "PID START_TIME" of the builder's run
//!        /status/     the builder's, group the cluster's (2750): its log, and its exit
//!                     code once it ended, which the nodes read
//!        /work/       the builder's alone: HOME, TMPDIR and the scratch node
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::files::{create_private_dir, open_to_search, own, read_user_file, write_whole};
use super::node::{NodeEnvironment, bash_as_node, read_record};
use super::process::ProcessRecord;
use super::users::Account;
use super::{io_error, users};
use crate::compose::script::{MASTER_ADDRESS, SLAVE_INDEX, WC_NOTIFY};
use crate::config::LocalProviderSettings;
use crate::domain::ClusterId;
use crate::providers::ProviderError;

/// Runs each script given, in order, stopping at the first that fails; the output goes
/// to the status directory's log and the exit code to its `exit`.
const RUNNER: &str = r#"umask 027
status=$1
shift
exec >>"$status/log" 2>&1
mkdir -p "$DISCO_NODE_DIR" "$DISCO_SHARED_DIR" "$DISCO_HOME" "$DISCO_LOG_DIR"
code=0
for steps in "$@"; do
  echo "== $steps"
  bash "$steps" || { code=$?; break; }
done
if [ "$code" -ne 0 ]; then
  # The steps' own logs are the builder's alone: the end of what they said on stderr.
  for err in "$DISCO_LOG_DIR"/*.err; do
    [ -s "$err" ] || continue
    echo "-- ${err##*/}:"
    tail -n 20 "$err"
  done
fi
printf '%s\n' "$code" >"$status/exit.partial" && mv -f "$status/exit.partial" "$status/exit"
exit "$code"
"#;

/// Where a cluster's builder stands.
pub(super) enum Building {
    Running,
    Done,
    /// It failed: the nodes waiting for it fail with the end of its log.
    Failed,
    /// It ended without saying how (the machine went down): nodes would wait for ever.
    Vanished(String),
}

/// The builder's directory in a cluster's.
pub(super) fn dir(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("builder")
}

/// Where the builder writes its log and exit code, which the nodes read.
pub(super) fn status_dir(cluster_dir: &Path) -> PathBuf {
    dir(cluster_dir).join("status")
}

/// Makes the environments' directory the builder's (once per server: what a server that
/// ran as root without cluster users made there is given to the builder too).
pub(super) async fn prepare_venv_dir(
    settings: &LocalProviderSettings,
) -> Result<Account, ProviderError> {
    let builder = users::ensure_builder().await?;
    let venvs = &settings.venv_dir;
    tokio::fs::create_dir_all(venvs.join(".pip-cache"))
        .await
        .map_err(|e| io_error("creating", venvs, e))?;
    let owner = format!("{}:{}", builder.uid, builder.gid);
    let output = tokio::process::Command::new("chown")
        .args(["-R", "--from=0", &owner])
        .arg(venvs)
        .output()
        .await
        .map_err(|e| ProviderError::Permanent(format!("running chown: {e}")))?;
    if !output.status.success() {
        return Err(ProviderError::Permanent(format!(
            "giving {} to {}: {}",
            venvs.display(),
            users::BUILDER,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    use std::os::unix::fs::PermissionsExt as _;
    for (path, mode) in [(venvs.clone(), 0o755), (venvs.join(".pip-cache"), 0o700)] {
        tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .await
            .map_err(|e| io_error("setting the mode of", &path, e))?;
    }
    Ok(builder)
}

/// Starts the builder on the cluster's install steps, unless an earlier attempt did.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start(
    cluster: ClusterId,
    cluster_dir: &Path,
    scripts: &[String],
    master: Ipv4Addr,
    settings: &LocalProviderSettings,
    builder: Account,
    cluster_account: Account,
) -> Result<(), ProviderError> {
    let dir = dir(cluster_dir);
    let record_path = dir.join("record");
    if tokio::fs::try_exists(&record_path).await.unwrap_or(false) {
        return Ok(());
    }
    let (status, work) = (dir.join("status"), dir.join("work"));
    for path in [&dir, &status, &work] {
        create_private_dir(path).await?;
    }
    open_to_search(&dir).await?;
    own(
        &work,
        Some(builder.uid.as_raw()),
        Some(builder.gid.as_raw()),
        0o700,
    )
    .await?;
    own(
        &status,
        Some(builder.uid.as_raw()),
        Some(cluster_account.gid.as_raw()),
        // Set-group-ID: the log and exit code the builder writes are the cluster's
        // group's to read.
        0o2750,
    )
    .await?;
    let _ = tokio::fs::remove_file(status.join("exit")).await;
    let mut paths = Vec::new();
    for (name, script) in ["master", "slaves"].iter().zip(scripts) {
        let script = script
            .replace(MASTER_ADDRESS, &master.to_string())
            .replace(SLAVE_INDEX, "0")
            .replace(WC_NOTIFY, "true");
        let path = dir.join(format!("{name}.sh"));
        write_whole(&path, script.as_bytes()).await?;
        own(&path, None, Some(builder.gid.as_raw()), 0o640).await?;
        paths.push(path);
    }
    let node = work.join("node");
    // The builder works as a scratch node: HOME, TMPDIR and its working directory are
    // `work` itself, the node's directories under it.
    let home = work.join("home");
    let mut command = bash_as_node(&NodeEnvironment {
        cluster,
        node: "builder",
        node_dir: &node,
        address: master,
        shared: &work.join("shared"),
        home: &home,
        logs: &work.join("logs"),
        tmp: &work,
        settings,
    });
    command
        .arg("-c")
        .arg(RUNNER)
        .arg("disco-builder")
        .arg(&status)
        .args(&paths)
        .current_dir(&work)
        .env("HOME", &work)
        .env("PIP_CACHE_DIR", settings.venv_dir.join(".pip-cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .uid(builder.uid.as_raw())
        .gid(builder.gid.as_raw());
    let mut child = command
        .spawn()
        .map_err(|e| ProviderError::Permanent(format!("starting the builder: {e}")))?;
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .unwrap_or(0);
    let record = ProcessRecord::of(pid).unwrap_or(ProcessRecord { pid, start_time: 0 });
    write_whole(&record_path, record.render().as_bytes()).await?;
    // Reaps it; the runner writes its own exit code, so a restart of the server loses
    // nothing.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    tracing::info!(%cluster, pid, "builder of virtual environments started");
    Ok(())
}

/// Where the cluster's builder stands; `None` when it was never started.
pub(super) async fn building(cluster_dir: &Path) -> Option<Building> {
    let dir = dir(cluster_dir);
    let record = read_record(&dir.join("record")).await?;
    let exit = read_user_file(&dir.join("status/exit")).await;
    Some(match exit {
        Some(code) if String::from_utf8_lossy(&code).trim() == "0" => Building::Done,
        Some(_) => Building::Failed,
        None if record.is_alive() => Building::Running,
        None => Building::Vanished(format!(
            "DISCO's builder of virtual environments ended without finishing; see {}",
            dir.join("status/log").display()
        )),
    })
}

/// The builder's record, for stopping it with the cluster.
pub(super) async fn record(cluster_dir: &Path) -> Option<ProcessRecord> {
    read_record(&dir(cluster_dir).join("record")).await
}
