//! What a node reports about one stage of its script: the task tree is made of these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a step went, as a node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Executing,
    Succeeded,
    Failed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Executing => "executing",
            ReportStatus::Succeeded => "succeeded",
            ReportStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        [
            ReportStatus::Executing,
            ReportStatus::Succeeded,
            ReportStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// One report of a node: a stage (`spark install`, `node started`, `node ready`) that
/// started or ended. `at` is when DISCO received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub at: DateTime<Utc>,
    pub node: String,
    pub stage: String,
    pub status: ReportStatus,
    pub rc: Option<i64>,
    pub output: String,
    pub error: String,
}
