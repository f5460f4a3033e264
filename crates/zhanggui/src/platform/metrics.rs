//! Prometheus metrics: request counts and latencies by route, job queue depth, database pool.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::state::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (the `metrics` facade has one global recorder; tests that start
/// several apps in one process share it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // A recorder may already be installed by an embedding program; then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// How often the histograms' recorded samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Folds the histograms' samples into their buckets, every [`UPKEEP_EVERY`]. The recorder
/// keeps every sample it is given until a scrape of `/metrics` or an upkeep drains it
/// (`metrics-exporter-prometheus` runs upkeep itself only when it serves its own listener):
/// before this, a server nobody scraped held ~16 bytes for every request it had answered,
/// without end (BENCHMARKS.md, callback, twenty-eighth round). The fold runs on a blocking
/// thread, so the callbacks are not held up by it.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let handle = handle.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || handle.run_upkeep()).await {
            tracing::warn!(error = %e, "metrics upkeep failed");
        }
    }
}

/// Counts and times every request by its route template (never the raw path, which would let
/// clients create unbounded label values).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("zhanggui_http_requests_total", &labels).increment(1);
    metrics::histogram!("zhanggui_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`: the recorder's series plus gauges read at scrape time.
pub async fn render(State(state): State<AppState>) -> Response {
    let (size, idle) = state.db.pool_usage();
    metrics::gauge!("zhanggui_db_pool_connections").set(f64::from(size));
    metrics::gauge!("zhanggui_db_pool_idle_connections").set(idle as f64);
    if let Err(e) = crate::platform::jobs::record_queue_gauges(&state.db).await {
        tracing::warn!(error = %e, "job counts unavailable for /metrics");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
