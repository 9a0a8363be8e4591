//! The `file` provider, the original's FileDeployer: instead of deploying, it writes what
//! would be deployed — the cluster's Heat template — to a file, and the cluster is ready
//! once the file is written. For checking requests and templates without a cloud.
//!
//! Tenants do not share files. Each has a directory of its own under `provider.file.dir`,
//! named by [`tenant_dir`] so that no tenant name can reach another's or leave the
//! directory, and a cluster's deployer path (default `<id>.yaml`) is taken inside it.
//! Within a tenant a path belongs to one live cluster: the first to deploy claims it, a
//! second one fails rather than overwrite it, and only the claimant's delete removes
//! the file. The claims, and files being written, live in `.disco/`, a name no tenant
//! directory can have.
//!
//! A template holds the components' secrets (a Jupyter token, Spark's secret): files
//! are written 0600 in directories made 0700. `stackid` is the path inside the tenant's
//! directory, never the server's own path, and neither is any reason shown to a user.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Progress, Provider, ProviderError, Suspension, Teardown};
use crate::cluster::{Cluster, Outputs};
use crate::compose::Composition;
use crate::domain::{ClusterId, ProviderKind, Resize, TenantId};

/// The provider's own files, beside the tenants' directories: a tenant directory's name
/// never starts with a dot.
const WORK_DIR: &str = ".disco";
/// How much of a tenant's name its directory shows, for whoever looks at the disk.
const SHOWN_CHARS: usize = 32;

pub struct FileProvider {
    dir: PathBuf,
}

/// Where one cluster's template goes.
struct Target {
    id: ClusterId,
    /// The path inside the tenant's directory: what `stackid` and reasons show.
    relative: String,
    file: PathBuf,
    /// Holds the id of the cluster the path belongs to.
    claim: PathBuf,
    /// The template while it is written, renamed to `file` when complete.
    writing: PathBuf,
}

/// Whose a path is.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    Nobody,
    This,
    Other(String),
}

/// The directory of `tenant`'s files: the tenant's name as far as it is plain ASCII
/// (anything else `_`, at most 32 characters), then `-` and a hash of the whole name.
/// The hash keeps names apart that the first part confuses (`a/b` and `a_b`, `Lab` and
/// `lab` on a case-blind disk aside); the first part has no `/` and no `.`, so the name
/// is one component, never `.`, `..` or hidden, and at most 65 bytes long.
pub fn tenant_dir(tenant: &TenantId) -> String {
    let shown: String = tenant
        .as_str()
        .chars()
        .take(SHOWN_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = ssh_key::HashAlg::Sha256.digest(tenant.as_str().as_bytes());
    format!("{shown}-{}", hex(&digest[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FileProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileProvider { dir: dir.into() }
    }

    /// The file a cluster is written to: its deployer path, or `<id>.yaml`, in its
    /// tenant's directory.
    pub fn path_of(&self, cluster: &Cluster) -> PathBuf {
        self.target(cluster).file
    }

    fn target(&self, cluster: &Cluster) -> Target {
        let relative = match &cluster.spec.deployer.path {
            Some(path) => path.as_str().to_string(),
            None => format!("{}.yaml", cluster.id),
        };
        let tenant = tenant_dir(&cluster.tenant);
        let work = self.dir.join(WORK_DIR);
        // The tenant directory has no '/', so tenant and path are told apart.
        let key = ssh_key::HashAlg::Sha256.digest(format!("{tenant}/{relative}").as_bytes());
        Target {
            id: cluster.id,
            file: self.dir.join(&tenant).join(&relative),
            claim: work.join("claims").join(hex(&key)),
            writing: work.join("writing").join(format!("{}.yaml", cluster.id)),
            relative,
        }
    }
}

impl Target {
    fn outputs(&self) -> Outputs {
        Outputs {
            stack_id: Some(self.relative.clone()),
            ..Outputs::default()
        }
    }

    /// A failure the user sees: about their path, not the server's.
    fn error(&self, action: &str, full: &Path, err: std::io::Error) -> ProviderError {
        tracing::warn!(cluster = %self.id, path = %full.display(), error = %err, "file provider: {action}");
        ProviderError::Permanent(format!("{action} {:?}: {err}", self.relative))
    }

    fn taken(&self, other: &str) -> ProviderError {
        ProviderError::Permanent(format!(
            "icclab.disco.deployer.path {:?} is the file of another of your clusters ({other}): \
             give another path, or delete that cluster first",
            self.relative
        ))
    }

    fn owner(&self) -> Result<Owner, ProviderError> {
        match std::fs::read_to_string(&self.claim) {
            Ok(id) if id == self.id.to_string() => Ok(Owner::This),
            Ok(id) => Ok(Owner::Other(id)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Owner::Nobody),
            Err(e) => Err(self.error("reading the claim on", &self.claim, e)),
        }
    }

    /// Makes the path this cluster's, unless another cluster has it. The claim is
    /// complete before it has its name (written aside, then linked, which fails if the
    /// name exists), so two deploys racing for one path cannot both win.
    fn claim(&self) -> Result<(), ProviderError> {
        match self.owner()? {
            Owner::This => return Ok(()),
            Owner::Other(other) => return Err(self.taken(&other)),
            Owner::Nobody => {}
        }
        let claims = self.claim.parent().unwrap_or(&self.claim);
        private_dir(claims).map_err(|e| self.error("making the claims of", claims, e))?;
        let aside = self.claim.with_extension(self.id.to_string());
        write_private(&aside, self.id.to_string().as_bytes())
            .map_err(|e| self.error("claiming", &aside, e))?;
        let linked = std::fs::hard_link(&aside, &self.claim);
        let _ = std::fs::remove_file(&aside);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => match self.owner()? {
                Owner::This => Ok(()),
                Owner::Other(other) => Err(self.taken(&other)),
                Owner::Nobody => Err(ProviderError::Transient(format!(
                    "the claim on {:?} came and went; trying again",
                    self.relative
                ))),
            },
            Err(e) => Err(self.error("claiming", &self.claim, e)),
        }
    }

    /// Writes the template, and beside it the templates it names (each slave's), as
    /// `openstack stack create -t` finds them.
    fn write(
        &self,
        template: &str,
        files: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        self.claim()?;
        if let Some(parent) = self.file.parent() {
            private_dir(parent).map_err(|e| self.error("making the directory of", parent, e))?;
            for (name, body) in files {
                let beside = parent.join(name);
                let aside = parent.join(format!(".{name}.{}", std::process::id()));
                write_private(&aside, body.as_bytes())
                    .map_err(|e| self.error("writing", &aside, e))?;
                std::fs::rename(&aside, &beside).map_err(|e| self.error("writing", &beside, e))?;
            }
        }
        let writing = self.writing.parent().unwrap_or(&self.writing);
        private_dir(writing).map_err(|e| self.error("writing", writing, e))?;
        // Written aside and renamed, so a reader never sees half a file.
        write_private(&self.writing, template.as_bytes())
            .map_err(|e| self.error("writing", &self.writing, e))?;
        std::fs::rename(&self.writing, &self.file).map_err(|e| self.error("writing", &self.file, e))
    }

    /// Whether the file is there, written by this cluster.
    fn written(&self) -> Result<bool, ProviderError> {
        Ok(self.owner()? == Owner::This && is_file(&self.file))
    }

    /// Removes the file if it is this cluster's; another's stays where it is.
    fn remove(&self) -> Result<(), ProviderError> {
        let _ = std::fs::remove_file(&self.writing);
        if self.owner()? != Owner::This {
            return Ok(());
        }
        // A directory there is some other path's (`a` of `a/b`): never this cluster's.
        if is_file(&self.file) {
            match std::fs::remove_file(&self.file) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(self.error("removing", &self.file, e)),
            }
        }
        match std::fs::remove_file(&self.claim) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error("releasing the claim on", &self.claim, e)),
        }
    }
}

fn is_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file())
}

fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `path` anew, readable by the server's user only, whatever an earlier attempt
/// left there.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

/// Runs blocking file work off the executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProviderError> + Send + 'static,
) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ProviderError::Transient(format!("file provider: {e}")))?
}

#[async_trait]
impl Provider for FileProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::File
    }

    fn runs_nodes(&self) -> bool {
        false
    }

    async fn deploy(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let target = self.target(cluster);
        let template = composition.template.clone();
        let files = composition.files.clone();
        blocking(move || {
            target.write(&template, &files)?;
            Ok(Progress::Ready(target.outputs()))
        })
        .await
    }

    fn resizes(&self) -> bool {
        true
    }

    /// The template of the resized cluster replaces the one written.
    async fn resize(
        &self,
        cluster: &Cluster,
        _resize: Resize,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        self.deploy(cluster, composition).await
    }

    /// Nothing runs: a stop has nothing to stop, and the template stays.
    async fn suspend(&self, _cluster: &Cluster) -> Result<Suspension, ProviderError> {
        Ok(Suspension::Stopped)
    }

    /// A start is ready as its deploy was: once the template is in its place.
    async fn resume(
        &self,
        cluster: &Cluster,
        _composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        self.observe(cluster).await
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let target = self.target(cluster);
        blocking(move || {
            Ok(match target.owner()? {
                Owner::Other(other) => Progress::Failed {
                    reason: target.taken(&other).to_string(),
                    outputs: Outputs::default(),
                },
                _ if target.written()? => Progress::Ready(target.outputs()),
                _ => Progress::Deploying(Outputs::default()),
            })
        })
        .await
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let target = self.target(cluster);
        blocking(move || {
            target.remove()?;
            Ok(Teardown::Gone)
        })
        .await
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let target = self.target(cluster);
        blocking(move || {
            Ok(if target.written()? {
                Teardown::InProgress
            } else {
                Teardown::Gone
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).expect("tenant")
    }

    #[test]
    fn a_tenant_directory_is_one_plain_component_of_its_own() {
        let long = "ü".repeat(255);
        let names = [
            "default", "lab", "Lab", "a/b", "a_b", "..", ".", "../etc", ".hidden", "a b", "%2e%2e",
            &long,
        ];
        let dirs: Vec<String> = names.iter().map(|n| tenant_dir(&tenant(n))).collect();
        for (name, dir) in names.iter().zip(&dirs) {
            assert!(!dir.contains('/') && !dir.contains('\0'), "{name:?}: {dir}");
            assert!(!dir.starts_with('.'), "{name:?}: {dir}");
            assert!(dir.len() <= 65, "{name:?}: {dir}");
            let path = Path::new("/d").join(dir);
            assert_eq!(path.parent(), Some(Path::new("/d")), "{name:?}: {dir}");
        }
        let mut distinct = dirs.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), dirs.len(), "{dirs:?}");
        assert!(dirs[0].starts_with("default-"), "readable: {}", dirs[0]);
        assert_eq!(
            tenant_dir(&tenant("lab")),
            dirs[1],
            "the same tenant, the same directory"
        );
    }

    #[test]
    fn a_file_is_written_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let claims = dir.path().join("claims");
        let target = |id: ClusterId, name: &str| Target {
            id,
            relative: name.to_string(),
            file: dir.path().join("t").join(name),
            claim: claims.join("key"),
            writing: dir.path().join(format!("{id}.yaml")),
        };
        let (first, second) = (ClusterId::new(), ClusterId::new());
        target(first, "x.yaml")
            .write("first", &Default::default())
            .expect("written");
        target(first, "x.yaml")
            .write("first again", &Default::default())
            .expect("a rerun finds its claim");
        let err = target(second, "x.yaml")
            .write("second", &Default::default())
            .expect_err("taken");
        assert!(err.to_string().contains(&first.to_string()), "{err}");
        assert!(
            !err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        let file = dir.path().join("t/x.yaml");
        assert_eq!(std::fs::read_to_string(&file).expect("file"), "first again");
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        target(second, "x.yaml")
            .remove()
            .expect("nothing of its own");
        assert!(file.exists(), "another cluster's delete leaves the file");
        target(first, "x.yaml").remove().expect("removed");
        assert!(!file.exists());
        target(second, "x.yaml")
            .write("second", &Default::default())
            .expect("free again");
    }
}
