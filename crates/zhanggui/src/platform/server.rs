//! Starting and stopping one instance: database, migrations, job workers, HTTP listener.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::config::Config;
use super::db::{ConnectOptions, Db};
use super::jobs::{JobRegistry, WorkerConfig, WorkerHandle, Workers};
use super::state::AppState;

/// A running instance.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: WorkerHandle,
    /// Housekeeping and the projections of the message log: they run until aborted.
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// The job handlers of every capability.
pub fn job_registry() -> JobRegistry {
    JobRegistry::new()
}

/// The jobs every instance runs, added to `registry`: they need the application's state.
fn with_product_jobs(mut registry: JobRegistry, state: &AppState) -> JobRegistry {
    let late = state.clone();
    registry.register(crate::messages::late::JOB_KIND, move |ctx| {
        crate::messages::late::run(late.clone(), ctx)
    });
    let tags = state.clone();
    registry.register(crate::tags::jobs::PUSH_KIND, move |ctx| {
        crate::tags::jobs::run_push(tags.clone(), ctx)
    });
    let bulk = state.clone();
    registry.register(crate::tags::jobs::BULK_KIND, move |ctx| {
        crate::tags::jobs::run_bulk(bulk.clone(), ctx)
    });
    let sync = state.clone();
    registry.register(crate::followers::sync::jobs::JOB_KIND, move |ctx| {
        crate::followers::sync::jobs::run(sync.clone(), ctx)
    });
    registry.register(
        crate::followers::csv::IMPORT_JOB,
        crate::followers::csv::run_import,
    );
    let follow_ups = state.clone();
    registry.register(crate::replies::jobs::FOLLOW_UP_KIND, move |ctx| {
        crate::replies::jobs::send_follow_up(follow_ups.clone(), ctx)
    });
    let flows = state.clone();
    registry.register(crate::flows::jobs::APPLY_KIND, move |ctx| {
        crate::flows::jobs::apply_answer(flows.clone(), ctx)
    });
    let remarks = state.clone();
    registry.register(crate::followers::csv::PUSH_REMARK_JOB, move |ctx| {
        crate::followers::csv::push_remark(remarks.clone(), ctx)
    });
    registry
}

pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(
        &config.database_url,
        ConnectOptions {
            max_connections: config.max_db_connections,
        },
    )
    .await?;
    db.migrate().await?;
    Ok(db)
}

/// Serves `state` on `listener` with `registry`'s jobs until [`Running::stop`].
pub async fn start(
    mut state: AppState,
    listener: TcpListener,
    registry: JobRegistry,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let registry = with_product_jobs(registry, &state);
    let workers = Workers::start(
        state.db.clone(),
        registry,
        state.clock.clone(),
        WorkerConfig {
            workers: state.config.workers,
            instance_id: format!("{}-{}", hostname(), super::jobs::default_instance_id()),
            ..WorkerConfig::default()
        },
    );
    state.jobs = workers.waker();
    let background = vec![
        tokio::spawn(housekeeping(state.clone())),
        tokio::spawn(super::metrics::upkeep(state.metrics.clone())),
        tokio::spawn(crate::followers::jobs::run(state.clone())),
        tokio::spawn(crate::channels::jobs::run(state.clone())),
        tokio::spawn(crate::menus::jobs::run(state.clone())),
        tokio::spawn(crate::followers::jobs::run_log_index(state.clone())),
        tokio::spawn(crate::replies::jobs::run(state.clone())),
        tokio::spawn(crate::replies::hits::run(state.clone())),
    ];
    let app = super::web::Service::new(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        super::http1::serve(listener, app, async {
            let _ = rx.await;
        })
        .await;
        Ok(())
    });
    Ok(Running {
        addr,
        state,
        shutdown: tx,
        server,
        workers,
        background,
    })
}

impl Running {
    /// Stops taking requests, lets running requests and jobs finish, then returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        for task in &self.background {
            task.abort();
        }
        if let Err(e) = self.server.await {
            tracing::warn!(error = %e, "server task ended abnormally");
        }
        self.workers.shutdown().await;
    }

    /// Waits for Ctrl-C or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// How often expired sessions are deleted. Expired sessions are already refused at once; this
/// only keeps the table small. Every instance may do it: the delete is idempotent.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tick.tick().await;
        let now = state.clock.now_ms();
        match super::auth::store::purge_expired_sessions(&state.db, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions purged"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired sessions"),
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "zhanggui".to_string())
}

/// The async runtime: where the process may use one core only (`taskset`, a cgroup's CPU
/// set, a machine of one vCPU), a single thread that runs everything; else tokio's
/// multi-threaded one. On one core the multi-threaded runtime still runs two threads, its
/// worker and the main thread that drives the server's top task, and hands work between
/// them through its shared queues: with the current-thread scheduler the callback's p99 was
/// lower in 6 of 7 pairs and under 5 ms in 5 (BENCHMARKS.md, callback, nineteenth round).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    if one_core {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}
