//! Benchmark-only (the `bench-provider` feature, never in a release): the file provider
//! whose deploys take a set time, so that a benchmark can hold a thousand clusters in
//! flight without a cloud (`benches/creates.py`). A deploy writes its template at once,
//! as the file provider's does, and is ready once `DISCO_BENCH_DEPLOY_SECS` have passed
//! since the cluster was created; anything else is the file provider's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Progress, Provider, ProviderError, Teardown};
use crate::cluster::Cluster;
use crate::compose::Composition;
use crate::domain::ProviderKind;

/// The variable that sets how long a deploy takes; without it the provider is not used.
pub const DEPLOY_SECS: &str = "DISCO_BENCH_DEPLOY_SECS";

pub struct Timed {
    inner: Arc<dyn Provider>,
    deploy: Duration,
}

impl Timed {
    /// The file provider `inner` with deploys of `DISCO_BENCH_DEPLOY_SECS`, when it is set.
    pub fn from_env(inner: Arc<dyn Provider>) -> Option<Timed> {
        let secs: u64 = std::env::var(DEPLOY_SECS).ok()?.parse().ok()?;
        tracing::warn!(
            deploy_secs = secs,
            "benchmark build: file deploys take a set time"
        );
        Some(Timed {
            inner,
            deploy: Duration::from_secs(secs),
        })
    }

    /// `progress`, still deploying until the set time has passed since the create.
    fn held(&self, cluster: &Cluster, progress: Progress) -> Progress {
        let since = (chrono::Utc::now() - cluster.created_at)
            .to_std()
            .unwrap_or_default();
        match progress {
            Progress::Ready(outputs) if since < self.deploy => Progress::Deploying(outputs),
            other => other,
        }
    }
}

#[async_trait]
impl Provider for Timed {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    fn runs_nodes(&self) -> bool {
        self.inner.runs_nodes()
    }

    fn summary(&self) -> String {
        format!(
            "{} (benchmark build: deploys take {:?})",
            self.inner.summary(),
            self.deploy
        )
    }

    async fn deploy(
        &self,
        cluster: &Cluster,
        composition: &Composition,
    ) -> Result<Progress, ProviderError> {
        let progress = self.inner.deploy(cluster, composition).await?;
        Ok(self.held(cluster, progress))
    }

    async fn observe(&self, cluster: &Cluster) -> Result<Progress, ProviderError> {
        let progress = self.inner.observe(cluster).await?;
        Ok(self.held(cluster, progress))
    }

    async fn delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        self.inner.delete(cluster).await
    }

    async fn observe_delete(&self, cluster: &Cluster) -> Result<Teardown, ProviderError> {
        self.inner.observe_delete(cluster).await
    }
}
