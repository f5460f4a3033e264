//! The WAL's checkpoints while the log's committer writes a SQLite file, and how the WAL is
//! made to start over under a load that never pauses.
//!
//! The committer's own connection never checkpoints (it would do so on the runtime's thread,
//! inside a commit); a task here runs them through the pool, on sqlx's threads, in the log's
//! background turn.
//!
//! **Why the WAL must be made to start over.** SQLite writes a WAL from its start again only
//! when a write transaction begins with every frame already copied into the database file
//! (and no reader still in the WAL). A committer that commits back to back never begins one
//! then: every checkpoint ends after its next commit added frames. Under a load that
//! saturates the server the WAL then grew by steps for as long as the load lasted (121 MB in
//! 45 s, 1.9 GB when pool commits stopped checkpointing too; BENCHMARKS.md, callback,
//! thirty-fourth round), and the file never shrinks. So, past [`WalLimit::frames`], the
//! committer holds its next commit while one checkpoint copies everything, and that commit
//! starts the WAL over. The hold is bounded ([`WalLimit::hold`]): a checkpoint slowed by the
//! disk, or unable to copy past a reader, lets the commit go and the WAL grows a while more.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, oneshot};

use crate::platform::db::{Checkpointed, Db};

/// How often the WAL is checkpointed while the log is being written. A checkpoint copies
/// everything committed since the last one in one go, which nothing can interrupt, on a
/// thread that shares the callbacks' core: at 100 ms that was ~1,000 pages, a few
/// milliseconds every callback in flight waited out. At 25 ms the same pages go in four
/// pieces: p99 lower in 7 of 8 pairs, the same CPU a callback, more `fsync`s (~60 a second
/// under load, none at rest) (BENCHMARKS.md, callback, eighteenth round).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);
/// How long writes made through the pool alone (the console, jobs, projections after the
/// callbacks stopped) wait in the WAL before a checkpoint copies them back; a pool
/// connection's commit checkpoints by itself only past 32 MiB (`platform::db`'s
/// `AUTO_CHECKPOINT_PAGES`).
const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(1);
/// After a try at starting the WAL over, how long the committer commits freely before the
/// next, unless the WAL is seen to have started over. A try may not take: a reader was in
/// the WAL, or the checkpoint outlasted the hold. Each try that did not take doubles the
/// wait, up to `START_OVER_RETRY_AT_MOST`: on a disk whose `fsync`s take longer than the
/// hold, every try holds the callbacks that long for nothing, and a try a second would be
/// a stall of 50 ms a second.
const START_OVER_RETRY_AFTER: Duration = Duration::from_secs(1);
const START_OVER_RETRY_AT_MOST: Duration = Duration::from_secs(32);

/// When the committer holds a commit so that the WAL starts over.
#[derive(Clone, Copy, Debug)]
pub struct WalLimit {
    /// The WAL's frames (a page and 24 bytes each) past which it is made to start over.
    pub frames: i64,
    /// The longest the committer holds its commit for that, and so the longest the callbacks
    /// then wait beyond their commit.
    pub hold: Duration,
}

impl Default for WalLimit {
    /// 16,384 frames: ~64 MiB, two or three seconds of the log's writes at saturation, so
    /// the hold (a checkpoint of ~25 ms of commits and its `fsync`s: 1–8 ms measured,
    /// BENCHMARKS.md, callback, thirty-fifth round) comes that rarely at most.
    fn default() -> WalLimit {
        WalLimit {
            frames: 16_384,
            hold: Duration::from_millis(50),
        }
    }
}

/// The committer's side of a checkpoint that starts the WAL over: asked for by the
/// checkpoints' task, taken by the committer before a commit.
#[derive(Debug, Default)]
pub(super) struct CommitHold {
    /// Looked at before every commit; the lock is taken only when it is set.
    asked: AtomicBool,
    handshake: Mutex<Option<Handshake>>,
}

#[derive(Debug)]
struct Handshake {
    /// Told when the committer holds its commit.
    holding: oneshot::Sender<()>,
    /// Dropped once the checkpoint is done.
    copied: oneshot::Receiver<()>,
}

impl CommitHold {
    /// For the committer, before each commit: when a checkpoint asked it to hold, tells the
    /// checkpoint it holds and gives what ends once the checkpoint is done.
    pub(super) fn take(&self) -> Option<oneshot::Receiver<()>> {
        if !self.asked.load(Ordering::Acquire) {
            return None;
        }
        let mut slot = self.handshake.lock().ok()?;
        self.asked.store(false, Ordering::Release);
        let Handshake { holding, copied } = slot.take()?;
        // Sent under the lock: the checkpoint, once it finds the slot empty, knows this is sent.
        holding.send(()).ok()?;
        Some(copied)
    }

    fn ask(&self, handshake: Handshake) {
        if let Ok(mut slot) = self.handshake.lock() {
            *slot = Some(handshake);
            self.asked.store(true, Ordering::Release);
        }
    }

    /// Takes the request back; false when the committer took it first.
    fn withdraw(&self) -> bool {
        let Ok(mut slot) = self.handshake.lock() else {
            return true;
        };
        self.asked.store(false, Ordering::Release);
        slot.take().is_some()
    }
}

/// Holds the committer's commit for up to `limit.hold` while `copied` is pending: the
/// checkpoint that lets the WAL start over at the next commit.
pub(super) async fn hold_commit(copied: oneshot::Receiver<()>, limit: WalLimit) {
    let started = Instant::now();
    let _ = tokio::time::timeout(limit.hold, copied).await;
    metrics::histogram!("zhanggui_message_log_commit_hold_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// Checkpoints the WAL through the pool while the log writer lives: every `CHECKPOINT_EVERY`
/// when the log has committed since the last checkpoint, and at least every
/// `CHECKPOINT_AT_LEAST_EVERY` for what the pool wrote; past `limit.frames`, with the
/// committer's next commit held.
pub(super) async fn run(
    db: Db,
    committed: Weak<AtomicU64>,
    turns: Arc<Semaphore>,
    hold: Arc<CommitHold>,
    limit: WalLimit,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut last = Instant::now();
    let mut tries = StartOverTries::new(limit, Instant::now());
    loop {
        tick.tick().await;
        let Some(count) = committed.upgrade() else {
            return;
        };
        let now = count.load(Ordering::Relaxed);
        drop(count);
        if now == seen && last.elapsed() < CHECKPOINT_AT_LEAST_EVERY {
            continue;
        }
        seen = now;
        let Ok(_turn) = turns.clone().acquire_owned().await else {
            return;
        };
        let started = Instant::now();
        last = started;
        let done = if tries.due(started) {
            with_the_commit_held(&db, &hold).await
        } else {
            db.checkpoint().await
        };
        match done {
            Ok(Some(Checkpointed { frames, .. })) => {
                tries.found(frames, started);
                metrics::gauge!("zhanggui_sqlite_wal_frames").set(frames as f64);
            }
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry"),
        }
        super::writer::record_turn("checkpoint", started);
    }
}

/// When to try starting the WAL over, from what the checkpoints find.
#[derive(Debug)]
struct StartOverTries {
    limit: i64,
    /// The WAL's frames at the last checkpoint.
    frames: i64,
    next: Instant,
    retry_after: Duration,
}

impl StartOverTries {
    fn new(limit: WalLimit, now: Instant) -> StartOverTries {
        StartOverTries {
            limit: limit.frames,
            frames: 0,
            next: now,
            retry_after: START_OVER_RETRY_AFTER,
        }
    }

    /// Whether the checkpoint starting `now` should hold the committer; if so, it counts
    /// as a try, and the next waits longer unless the WAL is seen to start over meanwhile.
    fn due(&mut self, now: Instant) -> bool {
        if self.frames < self.limit || now < self.next {
            return false;
        }
        self.next = now + self.retry_after;
        self.retry_after = (self.retry_after * 2).min(START_OVER_RETRY_AT_MOST);
        true
    }

    /// A checkpoint started at `at` found the WAL holding `frames`. Fewer than before: it
    /// started over (a try took, or a pool connection's write began with it all copied),
    /// and the next time it is past the limit, a try comes at once.
    fn found(&mut self, frames: i64, at: Instant) {
        if frames < self.frames {
            self.next = at;
            self.retry_after = START_OVER_RETRY_AFTER;
        }
        self.frames = frames;
    }
}

/// One checkpoint while the committer holds its next commit, so that it copies every frame
/// and that commit starts the WAL over. A committer with nothing to commit does not take
/// the request within a tick; the checkpoint then runs alone, which copies everything too.
async fn with_the_commit_held(
    db: &Db,
    hold: &CommitHold,
) -> Result<Option<Checkpointed>, sqlx::Error> {
    let (holding, mut held) = oneshot::channel();
    let (copied, done) = oneshot::channel();
    hold.ask(Handshake {
        holding,
        copied: done,
    });
    let taken = match tokio::time::timeout(CHECKPOINT_EVERY, &mut held).await {
        Ok(answer) => answer.is_ok(),
        Err(_) => !hold.withdraw() && held.await.is_ok(),
    };
    if taken {
        metrics::counter!("zhanggui_message_log_commit_holds_total").increment(1);
    }
    let result = db.checkpoint().await;
    drop(copied);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: WalLimit = WalLimit {
        frames: 100,
        hold: Duration::from_millis(50),
    };

    #[test]
    fn a_try_comes_once_past_the_limit_and_at_once_again_after_the_wal_started_over() {
        let t0 = Instant::now();
        let mut tries = StartOverTries::new(LIMIT, t0);
        tries.found(99, t0);
        assert!(!tries.due(t0), "under the limit");
        tries.found(100, t0);
        assert!(tries.due(t0));
        let later = t0 + Duration::from_millis(25);
        tries.found(3, later);
        tries.found(150, later);
        assert!(tries.due(later), "it started over in between: no wait");
    }

    #[test]
    fn tries_that_do_not_take_come_ever_more_seldom_up_to_a_bound() {
        let t0 = Instant::now();
        let mut tries = StartOverTries::new(LIMIT, t0);
        tries.found(200, t0);
        let mut at = t0;
        let mut gaps = vec![];
        let mut last_try = t0;
        assert!(tries.due(at));
        while gaps.len() < 8 {
            at += Duration::from_millis(25);
            tries.found(200 + gaps.len() as i64, at);
            if tries.due(at) {
                gaps.push((at - last_try).as_millis().div_ceil(1000));
                last_try = at;
            }
        }
        assert_eq!(gaps, [1, 2, 4, 8, 16, 32, 32, 32]);
    }
}
