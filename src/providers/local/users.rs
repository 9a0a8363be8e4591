//! System users of local clusters. When DISCO runs as root (`run_as = "cluster-users"`),
//! each cluster runs as a user of its own, `disco-` and the first 16 hex digits of its
//! id, with a group of the same name; it is made at the cluster's first deploy and
//! removed with the cluster. The account's comment names the whole id, which is how the
//! watcher finds the users of clusters that are gone. The components' virtual
//! environments are made by one more system user, [`BUILDER`], so that no cluster can
//! change what another runs.

use std::path::Path;

use nix::unistd::{Gid, Uid, User};

use crate::domain::ClusterId;
use crate::providers::ProviderError;

/// The user that makes the virtual environments every cluster reads.
pub const BUILDER: &str = "disco-venvs";
const BUILDER_COMMENT: &str = "DISCO virtual environments";
const CLUSTER_COMMENT: &str = "DISCO cluster ";

/// `useradd` and `userdel` take a lock on /etc/passwd and give up when it is held:
/// this server's calls go one at a time, and retry when another program holds it.
static ACCOUNTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Their exit code for "cannot lock /etc/passwd".
const LOCKED: i32 = 10;

/// A system user and its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: Uid,
    pub gid: Gid,
}

/// The user name of a cluster.
pub fn cluster_user(id: ClusterId) -> String {
    let hex = id.to_string().replace('-', "");
    format!("disco-{}", &hex[..16])
}

/// The cluster's user, made if it does not exist.
pub async fn ensure_cluster_user(id: ClusterId) -> Result<Account, ProviderError> {
    ensure(&cluster_user(id), &format!("{CLUSTER_COMMENT}{id}")).await
}

/// The builder of virtual environments, made if it does not exist.
pub async fn ensure_builder() -> Result<Account, ProviderError> {
    ensure(BUILDER, BUILDER_COMMENT).await
}

/// The cluster's user, if it exists.
pub async fn find_cluster_user(id: ClusterId) -> Result<Option<Account>, ProviderError> {
    let name = cluster_user(id);
    let comment = format!("{CLUSTER_COMMENT}{id}");
    Ok(lookup(&name).await?.and_then(|user| {
        (user.gecos.to_string_lossy() == comment).then_some(Account {
            uid: user.uid,
            gid: user.gid,
        })
    }))
}

/// Removes the cluster's user and its group; nothing when there is none.
pub async fn remove_cluster_user(id: ClusterId) -> Result<(), ProviderError> {
    if find_cluster_user(id).await?.is_none() {
        return Ok(());
    }
    let name = cluster_user(id);
    let (code, output) = account_command("userdel", &[&name]).await?;
    match code {
        // 6: there is no such user (another server removed it meanwhile).
        0 | 6 => Ok(()),
        _ => Err(ProviderError::Transient(format!(
            "removing the cluster's user {name}: userdel: {output}"
        ))),
    }
}

/// The clusters that have a user on this machine, from /etc/passwd.
pub fn clusters_with_users() -> Vec<ClusterId> {
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return Vec::new();
    };
    passwd
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let id: ClusterId = fields.get(4)?.strip_prefix(CLUSTER_COMMENT)?.parse().ok()?;
            (fields.first() == Some(&cluster_user(id).as_str())).then_some(id)
        })
        .collect()
}

/// Removes what the user left where every user may write (/tmp, /var/tmp, /dev/shm),
/// before its id is given back: a later user given the same id would own it.
pub async fn remove_leftovers(account: Account) -> Result<(), ProviderError> {
    let places: Vec<&str> = ["/tmp", "/var/tmp", "/dev/shm"]
        .into_iter()
        .filter(|place| Path::new(place).is_dir())
        .collect();
    if places.is_empty() {
        return Ok(());
    }
    let output = tokio::process::Command::new("find")
        .args(&places)
        .args(["-xdev", "-uid", &account.uid.to_string(), "-delete"])
        .output()
        .await
        .map_err(|e| ProviderError::Transient(format!("running find: {e}")))?;
    if !output.status.success() {
        // What could not be removed is said; the user goes anyway.
        tracing::warn!(
            uid = %account.uid,
            error = %String::from_utf8_lossy(&output.stderr).chars().take(400).collect::<String>(),
            "some files of a cluster's user outside its directory could not be removed"
        );
    }
    Ok(())
}

async fn ensure(name: &str, comment: &str) -> Result<Account, ProviderError> {
    let owned = |user: User| -> Result<Account, ProviderError> {
        if user.gecos.to_string_lossy() == comment {
            Ok(Account {
                uid: user.uid,
                gid: user.gid,
            })
        } else {
            Err(ProviderError::Permanent(format!(
                "the user {name} exists and is not DISCO's (its comment is {:?}, not {comment:?})",
                user.gecos.to_string_lossy()
            )))
        }
    };
    if let Some(user) = lookup(name).await? {
        return owned(user);
    }
    let (code, output) = account_command(
        "useradd",
        &[
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            comment,
            name,
        ],
    )
    .await?;
    // 9: it exists (made meanwhile by another server).
    if code != 0 && code != 9 {
        return Err(ProviderError::Transient(format!(
            "making the user {name}: useradd: {output}"
        )));
    }
    match lookup(name).await? {
        Some(user) => owned(user),
        None => Err(ProviderError::Transient(format!(
            "the user {name} was made but cannot be found"
        ))),
    }
}

async fn lookup(name: &str) -> Result<Option<User>, ProviderError> {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || User::from_name(&name))
        .await
        .map_err(|e| ProviderError::Transient(format!("looking up a user: {e}")))?
        .map_err(|e| ProviderError::Transient(format!("looking up a user: {e}")))
}

/// Runs `useradd` or `userdel`, retrying while /etc/passwd is locked: the exit code and
/// what it said.
async fn account_command(program: &str, args: &[&str]) -> Result<(i32, String), ProviderError> {
    let _one_at_a_time = ACCOUNTS.lock().await;
    let mut attempt = 0;
    loop {
        let output = tokio::process::Command::new(program)
            .args(args)
            .output()
            .await
            .map_err(|e| ProviderError::Permanent(format!("running {program}: {e}")))?;
        let code = output.status.code().unwrap_or(-1);
        attempt += 1;
        if code == LOCKED && attempt < 20 {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            continue;
        }
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Ok((code, said.chars().take(400).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_s_user_name_fits_and_is_its_own() {
        let id: ClusterId = "0f6f3a7e-9c1d-4b2a-8e5f-123456789abc".parse().expect("id");
        assert_eq!(cluster_user(id), "disco-0f6f3a7e9c1d4b2a");
        // useradd takes at most 32 characters.
        assert!(cluster_user(id).len() <= 32);
        let other: ClusterId = "0f6f3a7e-9c1d-4b2b-8e5f-123456789abc".parse().expect("id");
        assert_ne!(cluster_user(id), cluster_user(other));
    }
}
