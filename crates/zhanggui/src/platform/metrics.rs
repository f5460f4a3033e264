//! Prometheus metrics: request counts and latencies by route, job queue depth, database pool.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::state::AppState;

/// Every request's duration, by method and route.
pub const REQUEST_SECONDS: &str = "zhanggui_http_request_duration_seconds";

/// The bounds of every `*_seconds` histogram's buckets, in nanoseconds ([`Latency`] counts
/// in these).
const LATENCY_BUCKET_NANOS: [u64; 14] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// [`LATENCY_BUCKET_NANOS`] in seconds, as the recorder takes them.
const LATENCY_BUCKETS: [f64; LATENCY_BUCKET_NANOS.len()] = {
    let mut seconds = [0.0; LATENCY_BUCKET_NANOS.len()];
    let mut i = 0;
    while i < seconds.len() {
        seconds[i] = LATENCY_BUCKET_NANOS[i] as f64 / 1e9;
        i += 1;
    }
    seconds
};

/// A latency histogram kept in atomics, with the buckets of every `*_seconds` series, for
/// series recorded on every callback. The recorder's own histogram stores each sample with
/// a time read for it, under an epoch pin, until an upkeep folds it in: ~0.1 µs a callback
/// (BENCHMARKS.md, callback, twenty-eighth round). Recording here is two atomic adds.
/// `/metrics` shows these series within the recorder's family of the same name
/// ([`with_latencies`]).
pub struct Latency {
    name: &'static str,
    /// `key="value",…`, as the series' labels are written.
    labels: String,
    /// Samples per bucket, not cumulative; the last counts those above every bound.
    counts: [AtomicU64; LATENCY_BUCKET_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Latency {
    pub fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKET_NANOS.partition_point(|&bound| bound < nanos);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The series' lines in Prometheus' text format, buckets cumulative as it wants them.
    fn write(&self, out: &mut String) {
        let (name, labels) = (self.name, &self.labels);
        let mut below = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            below += count.load(Ordering::Relaxed);
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {below}");
        }
        let seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {seconds}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {below}");
    }
}

/// Every [`Latency`] of the process, in the order they were first asked for.
fn latencies() -> &'static Mutex<Vec<Arc<Latency>>> {
    static ALL: OnceLock<Mutex<Vec<Arc<Latency>>>> = OnceLock::new();
    ALL.get_or_init(Mutex::default)
}

/// The [`Latency`] series `name` with `labels`: the one already made if there is one (the
/// apps of one process share it, as they share the recorder).
pub fn latency(name: &'static str, labels: &[(&str, &str)]) -> Arc<Latency> {
    let mut written = String::new();
    for (i, (key, value)) in labels.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let value = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(written, "{comma}{key}=\"{value}\"");
    }
    let mut all = latencies().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = all.iter().find(|l| l.name == name && l.labels == written) {
        return known.clone();
    }
    let made = Arc::new(Latency {
        name,
        labels: written,
        counts: Default::default(),
        sum_nanos: AtomicU64::new(0),
    });
    all.push(made.clone());
    made
}

/// `rendered` (the recorder's text) with every [`Latency`]'s series added to its family:
/// after the family's last line when the recorder has one of that name (a name's series
/// must stand together, under one `# TYPE`), else as a family of its own at the end.
pub fn with_latencies(mut rendered: String) -> String {
    let all = latencies()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut names: Vec<&'static str> = Vec::new();
    for latency in &all {
        if !names.contains(&latency.name) {
            names.push(latency.name);
        }
    }
    for name in names {
        let mut lines = String::new();
        for series in all.iter().filter(|l| l.name == name) {
            series.write(&mut lines);
        }
        let type_line = format!("# TYPE {name} histogram\n");
        match rendered.find(&type_line) {
            Some(at) => {
                let family = at + type_line.len();
                let end = family_end(&rendered, family);
                rendered.insert_str(end, &lines);
            }
            None => {
                if !rendered.is_empty() && !rendered.ends_with("\n\n") {
                    rendered.push('\n');
                }
                rendered.push_str(&type_line);
                rendered.push_str(&lines);
                rendered.push('\n');
            }
        }
    }
    rendered
}

/// Where the family whose sample lines start at `from` ends: at the first line that is
/// empty or a comment, or at the end of the text.
fn family_end(text: &str, from: usize) -> usize {
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        if line.trim_end().is_empty() || line.starts_with('#') {
            return at;
        }
        at += line.len();
    }
    at
}

/// The process-wide recorder (the `metrics` facade has one global recorder; tests that start
/// several apps in one process share it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), &LATENCY_BUCKETS)
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
/// without end (BENCHMARKS.md, callback, twenty-eighth round). A second's samples are few
/// (a sample a commit of the log, a job's, a console request's; the callbacks' durations
/// go to [`Latency`]), so they are folded in place.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
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
    metrics::histogram!(REQUEST_SECONDS, &labels[..2]).record(started.elapsed().as_secs_f64());
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
    let now = state.clock.now_ms();
    if let Err(e) = crate::messages::record_projection_gauges(&state.db, state.log.tap(), now).await
    {
        tracing::warn!(error = %e, "projection lags unavailable for /metrics");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        with_latencies(state.metrics.render()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_bounds_are_the_recorders_buckets() {
        let seconds: Vec<f64> = LATENCY_BUCKET_NANOS
            .iter()
            .map(|&n| n as f64 / 1e9)
            .collect();
        assert_eq!(seconds, LATENCY_BUCKETS);
    }

    #[test]
    fn latencies_count_into_cumulative_buckets_bounds_included() {
        let series = latency("test_latency_buckets_seconds", &[("path", "a\"b")]);
        for micros in [100, 500, 501, 2_000, 20_000_000] {
            series.record(Duration::from_micros(micros));
        }
        let mut lines = String::new();
        series.write(&mut lines);
        let value = |le: &str| {
            let prefix =
                format!("test_latency_buckets_seconds_bucket{{path=\"a\\\"b\",le=\"{le}\"}} ");
            lines
                .lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no bucket {le} in {lines}"))
                .to_string()
        };
        assert_eq!(value("0.0005"), "2");
        assert_eq!(value("0.001"), "3");
        assert_eq!(value("0.0025"), "4");
        assert_eq!(value("10"), "4");
        assert_eq!(value("+Inf"), "5");
        assert!(lines.contains("test_latency_buckets_seconds_count{path=\"a\\\"b\"} 5\n"));
        assert!(lines.contains("test_latency_buckets_seconds_sum{path=\"a\\\"b\"} 20.003101\n"));
        assert!(Arc::ptr_eq(
            &series,
            &latency("test_latency_buckets_seconds", &[("path", "a\"b")])
        ));
    }

    #[test]
    fn latencies_join_the_recorders_family_of_their_name_or_make_their_own() {
        let joined = latency("test_joined_seconds", &[("route", "/wx")]);
        let alone = latency("test_alone_seconds", &[("route", "/wx")]);
        // Another series of the first name, made after the second name's.
        let joined_too = latency("test_joined_seconds", &[("route", "/wy")]);
        joined.record(Duration::from_millis(3));
        alone.record(Duration::from_millis(3));
        joined_too.record(Duration::from_millis(3));
        let recorder = "# TYPE a_total counter\na_total 1\n\n\
                        # TYPE test_joined_seconds histogram\n\
                        test_joined_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1\n\
                        test_joined_seconds_sum{route=\"/x\"} 1\n\
                        test_joined_seconds_count{route=\"/x\"} 1\n\n\
                        # TYPE z_total counter\nz_total 2\n\n";
        let out = with_latencies(recorder.to_string());
        // One family per name, its series together.
        for name in ["test_joined_seconds", "test_alone_seconds"] {
            let type_line = format!("# TYPE {name} histogram");
            assert_eq!(out.matches(&type_line).count(), 1, "{out}");
            let family: Vec<&str> = out
                .split("\n\n")
                .filter(|block| block.contains(&type_line))
                .collect();
            assert_eq!(family.len(), 1, "{out}");
            let samples = out.lines().filter(|l| l.starts_with(name)).count();
            let in_family = family[0].lines().filter(|l| l.starts_with(name)).count();
            assert_eq!(samples, in_family, "{out}");
        }
        for series in ["route=\"/wx\"", "route=\"/wy\""] {
            let count = format!("test_joined_seconds_count{{{series}}} 1\n");
            assert_eq!(out.matches(&count).count(), 1, "{out}");
        }
        assert!(out.contains("test_joined_seconds_count{route=\"/x\"} 1\n"));
        assert!(out.contains("# TYPE z_total counter\nz_total 2\n"));
        assert!(out.contains("test_alone_seconds_bucket{route=\"/wx\",le=\"0.005\"} 1\n"));
    }
}
