//! The words every layer shares, at the bottom of the dependency graph: identities and
//! names that parse (`ClusterId`, `TenantId`, `ClusterName`, `ComponentName`), the
//! providers (`ProviderKind`), the one scalar value (`Scalar`), the cluster's size and
//! infrastructure (`SlaveCount`, `Infrastructure`), the lifecycle's states and moves
//! (`ClusterState`, `Transition`), what a node reports (`Report`), and which characters a
//! client's text may hold and how it is quoted back (`text`).
//!
//! Nothing here depends on another module of the crate: std, serde, uuid and chrono only.

pub mod activity;
pub mod attributes;
pub mod health;
pub mod ids;
pub mod infrastructure;
pub mod lifetime;
pub mod node;
pub mod provider;
pub mod report;
pub mod resources;
pub mod scalar;
pub mod state;
pub mod text;

pub use health::{Health, HealthStatus};
pub use ids::{ClusterId, ClusterName, ComponentName, TenantId};
pub use infrastructure::{Infrastructure, SlaveBounds, SlaveCount};
pub use lifetime::{Expiry, Lifetime, LifetimePolicy, OnExpiry, Span};
pub use provider::ProviderKind;
pub use report::{Report, ReportStatus};
pub use resources::{Resource, Resources};
pub use scalar::Scalar;
pub use state::{ClusterState, Resize, Transition};
