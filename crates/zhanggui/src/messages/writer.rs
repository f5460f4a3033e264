//! Group commit for the message log: callbacks hand their rows to one committer task, which
//! writes everything queued since its last commit in a single transaction and answers each
//! caller when that transaction is durable. Many concurrent callbacks thus share one commit
//! (perf-notes.md: batches of ~30 rows instead of a transaction each).

use tokio::sync::{mpsc, oneshot};

use super::store::{self, LogRow, Logged};
use crate::platform::db::Db;

/// The most rows one transaction takes; more wait for the next.
const MAX_BATCH: usize = 256;
/// Callbacks waiting for a commit beyond this are told to back off (WeChat retries).
const QUEUE_DEPTH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the message log is not accepting writes (shutting down)")]
    Closed,
    #[error("the message log could not be written: {0}")]
    Database(String),
}

struct Pending {
    row: LogRow,
    done: oneshot::Sender<Result<Logged, LogError>>,
}

/// A handle to this instance's committer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LogWriter {
    queue: mpsc::Sender<Pending>,
}

impl LogWriter {
    /// Starts the committer on the current runtime. It ends when every handle is dropped.
    pub fn start(db: Db) -> LogWriter {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(commit_loop(db, rx));
        LogWriter { queue }
    }

    /// Appends one row and waits until it is committed (or found to be a duplicate).
    pub async fn append(&self, row: LogRow) -> Result<Logged, LogError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Pending { row, done })
            .await
            .map_err(|_| LogError::Closed)?;
        wait.await.map_err(|_| LogError::Closed)?
    }
}

async fn commit_loop(db: Db, mut rx: mpsc::Receiver<Pending>) {
    let mut rows: Vec<LogRow> = Vec::with_capacity(MAX_BATCH);
    let mut waiting: Vec<oneshot::Sender<Result<Logged, LogError>>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        take(first, &mut rows, &mut waiting);
        while rows.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => take(p, &mut rows, &mut waiting),
                Err(_) => break,
            }
        }
        metrics::histogram!("zhanggui_message_log_batch_rows").record(rows.len() as f64);
        match store::append_batch(&db, &rows).await {
            Ok(results) => {
                for (done, r) in waiting.drain(..).zip(results) {
                    let _ = done.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, rows = rows.len(), "message log commit failed");
                for done in waiting.drain(..) {
                    let _ = done.send(Err(LogError::Database(e.to_string())));
                }
            }
        }
        rows.clear();
    }
}

fn take(
    p: Pending,
    rows: &mut Vec<LogRow>,
    waiting: &mut Vec<oneshot::Sender<Result<Logged, LogError>>>,
) {
    rows.push(p.row);
    waiting.push(p.done);
}
