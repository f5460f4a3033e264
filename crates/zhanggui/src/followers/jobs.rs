//! The followers projection: reads the message log in id order and folds every message into
//! its sender's follower row. Runs in every instance.
//!
//! Every follower rule is a merge by timestamp (model.rs), so folding a batch into partial
//! followers and joining those into the stored rows in SQL (store::merge) gives the same rows
//! as folding message by message, whatever the order and however often a message is seen.
//! That is what keeps this cheap for the callback: the batch is read outside any write
//! transaction, followers are never read back, and each write is one autocommit statement
//! that holds SQLite's write lock for well under a millisecond, so the log writer never
//! queues behind the projector. Re-applying a batch (after a crash, or when two instances
//! project the same rows) changes nothing; the cursor moves forward by compare-and-set.

use std::collections::HashMap;
use std::time::Duration;

use wechat::Message;
use wechat::message::Event;

use super::model::{Follower, Observation, bucket_end};
use super::store;
use crate::messages::LogTap;
use crate::messages::store::{self as log, LoggedMessage, SenderSummary};
use crate::platform::db::{Db, Script};
use crate::platform::state::AppState;

pub const PROJECTION: &str = "followers";
const EVERY: Duration = Duration::from_millis(250);
/// Log rows read per pass: large, so that a follower who wrote many times in it is written
/// once (writing a follower costs more than reading a row). The rows themselves stay in the
/// database: it sums them up per sender.
pub const BATCH: i64 = 16_384;

/// Only these kinds can change more than a follower's first and last interaction, so only
/// their rows are read and their bodies parsed.
const KINDS_WITH_DETAILS: &[&str] = &[
    "event:subscribe",
    "event:unsubscribe",
    "event:location",
    "location",
];

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let step = project_once(&state.db, state.log.tap(), BATCH);
            match state.log.in_turn(PROJECTION, step).await {
                Ok(p) if p.more => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "followers projection failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Folds the next `batch` settled log rows into followers; returns how many rows it read (0
/// when there was nothing new, or another instance moved the cursor meanwhile) and whether
/// there is more to read right away. New rows come from `tap` when it holds them.
pub async fn project_once(
    db: &Db,
    tap: Option<&LogTap>,
    batch: i64,
) -> Result<Projected, sqlx::Error> {
    let cursor = log::cursor(db, PROJECTION).await?;
    let settled = log::settled(db).await?;
    let Some(range) = log::next_range(db, cursor, batch, settled).await? else {
        return Ok(Projected::default());
    };
    let stretch = log::Stretch::new(db, tap, PROJECTION, range);
    let senders = stretch.senders(KINDS_WITH_DETAILS).await?;
    // Most ranges hold only messages and clicks: no second read of the range for them.
    let details = if senders.iter().any(|s| s.of_kinds) {
        stretch.of_kinds(KINDS_WITH_DETAILS).await?
    } else {
        vec![]
    };
    store::merge(db, &fold(senders, details)).await?;
    let moved = log::advance_cursor(db, PROJECTION, cursor, range.upto).await?;
    Ok(Projected {
        upto: moved.then_some(range.upto),
        more: moved && range.full,
    })
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Projected {
    /// The last log id now folded in, if the pass moved the cursor.
    pub upto: Option<i64>,
    /// The pass stopped at its limit: there is more to read now.
    pub more: bool,
}

/// The range as partial followers: each sender's first and last message, then the
/// observations of the messages that say more, in log order. Returned in key order, so that
/// concurrent writers on Postgres lock rows in the same order and cannot deadlock.
fn fold(senders: Vec<SenderSummary>, details: Vec<LoggedMessage>) -> Vec<Follower> {
    // foldhash, not SipHash (~300 instructions a callback, thirty-second round): the
    // openids come from WeChat (signed), not from whoever sends requests.
    let mut by_key: HashMap<(i64, String), Follower, foldhash::fast::RandomState> = senders
        .into_iter()
        .map(|s| {
            let mut f = Follower::new(s.merchant_id, s.account_id, &s.openid, s.first_at);
            f.merge(s.last_at, &Observation::Interaction);
            f.saw_log_rows(s.first_id, s.last_id);
            ((s.account_id, s.openid), f)
        })
        .collect();
    for d in details {
        if let Some(f) = by_key.get_mut(&(d.account_id, d.openid)) {
            f.merge(d.sent_at, &observe_body(&d.body));
        }
    }
    let mut followers: Vec<Follower> = by_key.into_values().collect();
    followers.sort_unstable_by(|a, b| (a.account_id, &a.openid).cmp(&(b.account_id, &b.openid)));
    followers
}

/// What a logged message says about its sender. A body that no longer parses (it parsed
/// when it was logged) still counts as an interaction.
pub fn observe_body(body: &str) -> Observation {
    let Ok(msg) = Message::parse(body) else {
        return Observation::Interaction;
    };
    match msg.event() {
        Some(Event::Subscribe { .. }) => Observation::Follow {
            scene: msg.event().and_then(|e| e.qr_scene()).map(str::to_string),
        },
        Some(Event::Unsubscribe) => Observation::Unfollow,
        Some(Event::Location {
            latitude,
            longitude,
            ..
        }) => Observation::Location {
            latitude: *latitude,
            longitude: *longitude,
        },
        _ => match &msg.body {
            wechat::MessageBody::Location(l) => Observation::Location {
                latitude: l.latitude,
                longitude: l.longitude,
            },
            _ => Observation::Interaction,
        },
    }
}

// ---- the per-follower index of the log (follower_log: the timeline of 粉丝详情) ----

pub const LOG_INDEX: &str = "follower_log";
/// Log rows indexed per statement, at most; a pass also ends at its bucket's end, so that
/// under load each statement fills one bucket of `model::LOG_BUCKET_IDS` ids alone. The
/// statement holds SQLite's write lock while it runs, and cannot give the core back
/// meanwhile (`platform::db`). At 2,048 rows a statement kept the callbacks' core ~2 ms in
/// one piece, the longest of the background's stretches (`perf sched`, BENCHMARKS.md,
/// callback, twenty-third round); at 1,024 about half that, and less again since the rows
/// come sorted into a bucket of their own (twenty-fourth round).
pub const LOG_INDEX_BATCH: i64 = 1_024;
/// The pause between two statements of an index pass that has more to do. Back to back, a
/// pass's statements were one burst of SQLite work on the callbacks' core that every
/// callback in flight waited out; with the pause the runtime's thread gets the core between
/// them, and the callbacks' p99 was lower in four pairs of four, throughput unchanged within
/// the noise (BENCHMARKS.md, callback, eighth round). Catching up on 1,000,000 rows takes
/// ~2 s longer.
const PAUSE_BETWEEN_STATEMENTS: Duration = Duration::from_millis(4);
/// How far behind the newest committed row the index may be and still pause between its
/// statements. With the pause a pass of 1,024 rows comes at most every ~10 ms on a saturated
/// core: ~90,000 rows a second, less than a fast machine's callbacks write, so the index fell
/// further and further behind under load. Past the tap's ~29,000 rows it read the log back
/// from the database, more slowly again, and ended runs 150,000–390,000 rows (seconds)
/// behind (BENCHMARKS.md, callback, twenty-eighth round). Further behind than this, its
/// statements follow each other after a yield (every callback ready then runs first), so
/// the index takes what share of the core it needs: at most 0.34 s behind the log at
/// saturation in 16 of 18 sampled cases, where it was up to 0.75 s with the pause alone.
/// In the two others a stall of 0.6–1 s set every projection back; in one of them the
/// index, out of the tap, did not catch up (twenty-ninth round): the tap now keeps the rows
/// a projection has yet to read (tap.rs, thirtieth round).
const PAUSED_WITHIN_ROWS: i64 = 8 * super::model::LOG_BUCKET_IDS;
/// The statements one turn at the log takes while the index is further behind than
/// `PAUSED_WITHIN_ROWS`. A turn comes after every other stream waiting for one (checkpoints
/// every 25 ms, the projections' passes), so at a statement a turn the index made about as
/// many turns a second as a saturated core wrote buckets: at 52,000 callbacks a second 53
/// turns, and once set back it stayed 1.4–2.3 s behind for seconds (BENCHMARKS.md, callback,
/// thirty-fourth round). Its statements still come one at a time between the callbacks (a
/// yield between them): a longer turn only keeps the other streams waiting, as a checkpoint's
/// does.
pub const STATEMENTS_A_TURN_BEHIND: usize = 4;

/// Indexes the log under each sender until the task is aborted; beside `run` in every
/// instance. The timeline reads what it has not reached yet from the log itself
/// (store::timeline), so its pace only decides how much of the log that read scans.
pub async fn run_log_index(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Where this task's last pass left the cursor; read again after a pass that did not
    // move it (another instance did, or a rebuild reset it).
    let mut cursor = None;
    loop {
        tick.tick().await;
        loop {
            let step = index_turn(&state.db, state.log.tap(), cursor);
            let pass = state.log.in_turn(LOG_INDEX, step).await;
            cursor = pass.as_ref().ok().and_then(|p| p.upto);
            match pass {
                Ok(p) if p.more => match pause_after(state.log.tap(), p.upto) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => tokio::task::yield_now().await,
                },
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "follower log index failed; will retry");
                    break;
                }
            }
        }
    }
}

/// The pause before the index's next statement, once a pass reached `upto`: none when the
/// tap's newest row is more than `PAUSED_WITHIN_ROWS` ahead. Without a tap (PostgreSQL,
/// whose statements run in its own processes) always the pause.
fn pause_after(tap: Option<&LogTap>, upto: Option<i64>) -> Option<Duration> {
    let behind = match (tap.and_then(LogTap::newest_id), upto) {
        (Some(newest), Some(upto)) => newest - upto,
        _ => 0,
    };
    (behind <= PAUSED_WITHIN_ROWS).then_some(PAUSE_BETWEEN_STATEMENTS)
}

/// One turn of the index at the log: a statement of `LOG_INDEX_BATCH` rows from
/// `known_cursor` ([`index_after`]), then more while the index is further behind the tap
/// than `PAUSED_WITHIN_ROWS`, up to `STATEMENTS_A_TURN_BEHIND`, the callbacks ready running
/// between two of them. The last statement's outcome, its `upto` where the cursor now is.
pub async fn index_turn(
    db: &Db,
    tap: Option<&LogTap>,
    known_cursor: Option<i64>,
) -> Result<Projected, sqlx::Error> {
    let mut cursor = known_cursor;
    let mut statements = 0;
    loop {
        let pass = index_after(db, tap, LOG_INDEX_BATCH, cursor).await?;
        statements += 1;
        let far_behind = pause_after(tap, pass.upto).is_none();
        if !(pass.more && far_behind) || statements == STATEMENTS_A_TURN_BEHIND {
            return Ok(pass);
        }
        cursor = pass.upto;
        tokio::task::yield_now().await;
    }
}

/// Indexes the next `batch` settled log rows: one idempotent statement and the cursor's
/// move by compare-and-set, in one transaction (a pass that loses the cursor writes
/// nothing). One write instead of two: each write is a turn at SQLite's lock that the log's
/// committer may have to wait for.
pub async fn index_once(
    db: &Db,
    tap: Option<&LogTap>,
    batch: i64,
) -> Result<Projected, sqlx::Error> {
    index_after(db, tap, batch, None).await
}

/// [`index_once`] from `known_cursor`, where the last pass left the cursor, when there is
/// one: under load this projection makes ~90 passes a second, and each query it spares
/// (the cursor's, and `MAX(id)` when the tap knows the span is full) is a hand-off to one
/// of sqlx's threads and back, which a pass on a busy core waits for
/// (BENCHMARKS.md, callback, twenty-eighth round). A cursor someone else has moved since
/// makes the pass's compare-and-set fail: it writes nothing, and `upto` is `None`.
pub async fn index_after(
    db: &Db,
    tap: Option<&LogTap>,
    batch: i64,
    known_cursor: Option<i64>,
) -> Result<Projected, sqlx::Error> {
    let cursor = match known_cursor {
        Some(cursor) => cursor,
        None => log::cursor(db, LOG_INDEX).await?,
    };
    // Only where no row waits to settle (SQLite, the one backend with a tap).
    let settled = log::settled(db).await?;
    let known_span = tap
        .filter(|_| settled == log::Settled::Everything)
        .and_then(|t| t.full_span(cursor, batch));
    let range = match known_span {
        Some(span) => span,
        None => match log::next_range(db, cursor, batch, settled).await? {
            Some(range) => range,
            None => return Ok(Projected::default()),
        },
    };
    let range = range.ending_by(bucket_end(range.after_id + 1));
    let mut script = Script::new();
    match log::Stretch::new(db, tap, LOG_INDEX, range).tapped() {
        Some(rows) => store::index_tapped_rows(
            &mut script,
            range,
            rows.iter()
                .map(|t| (t.row.account_id, t.row.openid.as_str(), t.id)),
        ),
        None => store::index_log_range(&mut script, range.after_id, range.upto),
    }
    let moved = log::commit_pass(db, script, LOG_INDEX, cursor, range.upto).await?;
    Ok(Projected {
        upto: moved.then_some(range.upto),
        more: moved && range.full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(openid: &str, first_at: i64, last_at: i64) -> SenderSummary {
        SenderSummary {
            merchant_id: 1,
            account_id: 2,
            openid: openid.to_string(),
            first_at,
            last_at,
            first_id: first_at,
            last_id: last_at,
            of_kinds: false,
        }
    }

    #[test]
    fn senders_and_details_fold_into_one_follower_each_in_key_order() {
        let unfollow = "<xml><ToUserName><![CDATA[gh_t]]></ToUserName>\
            <FromUserName><![CDATA[oB]]></FromUserName><CreateTime>3</CreateTime>\
            <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>";
        let details = vec![LoggedMessage {
            id: 9,
            account_id: 2,
            openid: "oB".to_string(),
            kind: "event:unsubscribe".to_string(),
            sent_at: 3_000,
            body: unfollow.to_string(),
        }];
        let f = fold(
            vec![sender("oB", 1_000, 5_000), sender("oA", 3_000, 3_000)],
            details,
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].openid, "oA");
        assert_eq!(
            (f[1].first_seen_at, f[1].last_interaction_at),
            (1_000, 5_000)
        );
        assert_eq!(f[1].unsubscribed_at, Some(3_000));
    }

    fn tap_upto(newest: i64) -> LogTap {
        let tap = LogTap::new();
        tap.publish((newest - 9..=newest).map(crate::messages::tap::tests::tapped));
        tap
    }

    #[test]
    fn the_index_pauses_between_statements_unless_far_behind_the_tap() {
        let tap = tap_upto(100_000);
        let pause = Some(PAUSE_BETWEEN_STATEMENTS);
        assert_eq!(
            pause_after(Some(&tap), Some(100_000 - PAUSED_WITHIN_ROWS)),
            pause
        );
        assert_eq!(
            pause_after(Some(&tap), Some(99_999 - PAUSED_WITHIN_ROWS)),
            None
        );
        assert_eq!(pause_after(Some(&tap), Some(1_024)), None);
        // Without a tap, or without knowing where the pass ended, as before.
        assert_eq!(pause_after(None, Some(1_024)), pause);
        assert_eq!(pause_after(Some(&tap), None), pause);
        assert_eq!(pause_after(Some(&LogTap::new()), Some(1_024)), pause);
    }
}
