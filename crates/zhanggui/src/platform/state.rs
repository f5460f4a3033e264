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
    /// The group committer of the message log.
    pub log: crate::messages::LogWriter,
    /// This process's handles on the shared WeChat access tokens.
    pub tokens: Arc<crate::accounts::tokens::TokenCaches>,
    /// The accounts the callback serves, cached briefly.
    pub callbacks: Arc<crate::messages::directory::Directory>,
    /// The modules that answer messages (member card, wheel, booking …).
    pub modules: crate::messages::modules::Modules,
}

impl AppState {
    pub fn new(db: Db, config: Config, clock: Clock) -> AppState {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let log = crate::messages::LogWriter::start(db.clone());
        let callbacks = Arc::new(crate::messages::directory::Directory::new(
            &config.public_url,
        ));
        AppState {
            db,
            config: Arc::new(config),
            clock,
            http,
            metrics: super::metrics::handle(),
            jobs: JobWaker::default(),
            log,
            callbacks,
            tokens: Arc::default(),
            modules: Default::default(),
        }
    }
}
