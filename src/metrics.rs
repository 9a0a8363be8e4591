//! What the service counts for Prometheus (`GET /metrics`): the metric families, held per
//! store (one per running service, so that tests' services each count their own), and
//! their rendering in Prometheus' text format.
//!
//! Counters and histograms are observed where things happen (a request answered, a run
//! ended, a provider's error); gauges of what is stored (clusters, queued jobs) are read
//! from the store at scrape time, with one GROUP BY each, never by loading clusters.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Seconds, for requests: from a millisecond to ten seconds.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Seconds, for deploys and their stages: from a second to two hours.
const RUN_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];

/// The metric families, registered once in their own registry.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Jobs this process runs now, by kind.
    pub jobs_running: IntGaugeVec,
    /// Set at scrape time from the store.
    pub jobs_queued: IntGaugeVec,
    /// Set at scrape time from the store.
    pub clusters: IntGaugeVec,
    pub deploy_duration: HistogramVec,
    pub stage_duration: HistogramVec,
    pub provider_errors: IntCounterVec,
    pub lease_takeovers: IntCounter,
    /// How far scrapes have read the store's finished steps and deploys.
    pub marks: tokio::sync::Mutex<crate::store::census::HighMarks>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // The names and labels are constants: a failure is a bug the first test finds.
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let family = IntCounterVec::new(Opts::new(name, help), labels).expect(name);
            registry.register(Box::new(family.clone())).expect(name);
            family
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let family = IntGaugeVec::new(Opts::new(name, help), labels).expect(name);
            registry.register(Box::new(family.clone())).expect(name);
            family
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            let family = HistogramVec::new(opts, labels).expect(name);
            registry.register(Box::new(family.clone())).expect(name);
            family
        };
        let lease_takeovers = IntCounter::new(
            "disco_job_lease_takeovers_total",
            "Jobs this replica took over from a replica whose lease ran out",
        )
        .expect("lease takeovers");
        registry
            .register(Box::new(lease_takeovers.clone()))
            .expect("lease takeovers");
        Metrics {
            http_requests: counter(
                "disco_http_requests_total",
                "HTTP requests answered, by method, route pattern and status",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                "disco_http_request_duration_seconds",
                "How long HTTP requests took to answer (to the start of the body), by method and route pattern",
                &["method", "route"],
                REQUEST_BUCKETS,
            ),
            jobs_running: gauge(
                "disco_jobs_running",
                "Jobs this process is running, by kind",
                &["kind"],
            ),
            jobs_queued: gauge(
                "disco_jobs_queued",
                "Jobs queued in the store (due or waiting to retry, running ones included), by kind",
                &["kind"],
            ),
            clusters: gauge(
                "disco_clusters",
                "Clusters in the store, by state and provider (deleted ones until purged)",
                &["state", "provider"],
            ),
            deploy_duration: histogram(
                "disco_deploy_duration_seconds",
                "How long deploys took, from deploying to ready or failed, by provider and outcome",
                &["provider", "outcome"],
                RUN_BUCKETS,
            ),
            stage_duration: histogram(
                "disco_stage_duration_seconds",
                "How long each finished step of a run took, by provider, component (nodes: creating the nodes) and phase",
                &["provider", "component", "phase"],
                RUN_BUCKETS,
            ),
            provider_errors: counter(
                "disco_provider_errors_total",
                "Errors providers answered jobs with, by provider and kind (transient: retried; permanent: the job failed)",
                &["provider", "kind"],
            ),
            lease_takeovers,
            marks: tokio::sync::Mutex::default(),
            registry,
        }
    }

    /// Every family in Prometheus' text format (version 0.0.4).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The content type of `Metrics::render`'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn every_family_renders_with_its_help_once_observed() {
        let metrics = Metrics::new();
        metrics
            .http_requests
            .with_label_values(&["GET", "/disco/{id}", "200"])
            .inc();
        metrics
            .provider_errors
            .with_label_values(&["openstack", "transient"])
            .inc_by(2);
        let text = metrics.render().expect("renders");
        assert!(text.contains("# TYPE disco_http_requests_total counter"));
        assert!(text.contains(
            "disco_http_requests_total{method=\"GET\",route=\"/disco/{id}\",status=\"200\"} 1"
        ));
        assert!(
            text.contains(
                "disco_provider_errors_total{kind=\"transient\",provider=\"openstack\"} 2"
            )
        );
        assert!(text.contains("disco_job_lease_takeovers_total 0"));
    }
}
