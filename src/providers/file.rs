//! The `file` provider, the original's FileDeployer: instead of deploying, it writes what
//! would be deployed — the cluster's Heat template — to a file, and the cluster is ready
//! once the file is written. For checking requests and templates without a cloud.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Progress, Provider, ProviderError, Teardown};
use crate::cluster::{Cluster, Outputs};
use crate::compose::Composition;
use crate::domain::ProviderKind;

pub struct FileProvider {
    dir: PathBuf,
}

impl FileProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileProvider { dir: dir.into() }
    }

    /// The file a cluster is written to: its deployer path, or `<id>.yaml`.
    pub fn path_of(&self, cluster: &Cluster) -> PathBuf {
        match &cluster.spec.deployer.path {
            Some(path) => path.under(&self.dir),
            None => self.dir.join(format!("{}.yaml", cluster.id)),
        }
    }

    fn outputs(&self, path: &Path) -> Outputs {
        Outputs {
            stack_id: Some(path.display().to_string()),
            ..Outputs::default()
        }
    }
}

fn io_error(action: &str, path: &Path, err: std::io::Error) -> ProviderError {
    ProviderError::Permanent(format!("{action} {}: {err}", path.display()))
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
        let path = self.path_of(cluster);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("creating", parent, e))?;
        }
        // Write beside and rename, so a reader never sees half a file.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, &composition.template)
            .await
            .map_err(|e| io_error("writing", &partial, e))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| io_error("renaming to", &path, e))?;
        Ok(Progress::Ready(self.outputs(&path)))
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let path = self.path_of(cluster);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            Ok(Progress::Ready(self.outputs(&path)))
        } else {
            Ok(Progress::Deploying(Outputs::default()))
        }
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let path = self.path_of(cluster);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(Teardown::Gone),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Teardown::Gone),
            Err(e) => Err(io_error("removing", &path, e)),
        }
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        let gone = !tokio::fs::try_exists(self.path_of(cluster))
            .await
            .unwrap_or(true);
        Ok(if gone {
            Teardown::Gone
        } else {
            Teardown::InProgress
        })
    }
}
