//! What every handler can reach. Holds nothing one instance needs from another: all shared
//! state lives in the database.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use super::clock::Clock;
use super::config::Config;
use super::db::Db;
use super::jobs::JobWaker;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// Outbound HTTP (the WeChat API), with timeouts.
    pub http: reqwest::Client,
    pub metrics: PrometheusHandle,
    /// Wakes this instance's job workers after an enqueue.
    pub jobs: JobWaker,
}

impl AppState {
    pub fn new(db: Db, config: Config, clock: Clock) -> AppState {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        AppState {
            db,
            config: Arc::new(config),
            clock,
            http,
            metrics: super::metrics::handle(),
            jobs: JobWaker::default(),
        }
    }
}
