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

use super::model::{Follower, Observation};
use super::store;
use crate::messages::store::{LoggedMessage, read_after};
use crate::platform::db::{Db, Dialect};
use crate::platform::state::AppState;

pub const PROJECTION: &str = "followers";
const EVERY: Duration = Duration::from_millis(250);
/// Log rows read per pass: large, so that a follower who wrote many times in it is written
/// once (writing a follower costs more than reading a row).
pub const BATCH: i64 = 4096;

/// Only these kinds can change more than a follower's last interaction, so only their bodies
/// are read and parsed (everything else is an interaction at its time).
const KINDS_WITH_DETAILS: &[&str] = &[
    "event:subscribe",
    "event:unsubscribe",
    "event:location",
    "location",
];

/// On Postgres, log rows get their ids before their transaction commits, so a row may become
/// visible after a higher id. Rows younger than this are left for the next pass, so the
/// cursor never steps over a row still being committed. SQLite commits one writer at a time,
/// in id order, and needs no wait.
fn settle_ms(dialect: Dialect) -> i64 {
    match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1_000,
    }
}

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match project_once(&state.db, state.clock.now_ms(), BATCH).await {
                Ok(n) if n as i64 == BATCH => continue,
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
/// when there was nothing new, or another instance moved the cursor meanwhile).
pub async fn project_once(db: &Db, now: i64, batch: i64) -> Result<usize, sqlx::Error> {
    let cursor = store::cursor(db, PROJECTION).await?;
    let settle = settle_ms(db.dialect());
    let rows: Vec<LoggedMessage> = read_after(db, cursor, batch, KINDS_WITH_DETAILS)
        .await?
        .into_iter()
        .take_while(|r| settle == 0 || r.received_at < now - settle)
        .collect();
    let Some(last) = rows.last().map(|r| r.id) else {
        return Ok(0);
    };
    store::merge(db, &fold(&rows)).await?;
    if store::advance_cursor(db, PROJECTION, cursor, last).await? {
        Ok(rows.len())
    } else {
        Ok(0)
    }
}

/// The batch as partial followers, one per sender, in key order (so that concurrent writers
/// on Postgres lock rows in the same order and cannot deadlock).
fn fold(rows: &[LoggedMessage]) -> Vec<Follower> {
    let mut by_key: HashMap<(i64, &str), Follower> = HashMap::new();
    for row in rows {
        let obs = observe(&row.kind, &row.body);
        by_key
            .entry((row.account_id, row.openid.as_str()))
            .or_insert_with(|| {
                Follower::new(row.merchant_id, row.account_id, &row.openid, row.sent_at)
            })
            .merge(row.sent_at, &obs);
    }
    let mut followers: Vec<Follower> = by_key.into_values().collect();
    followers.sort_unstable_by(|a, b| (a.account_id, &a.openid).cmp(&(b.account_id, &b.openid)));
    followers
}

/// What a logged message of `kind` says about its sender.
fn observe(kind: &str, body: &str) -> Observation {
    if KINDS_WITH_DETAILS.contains(&kind) {
        observe_body(body)
    } else {
        Observation::Interaction
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(id: i64, openid: &str, kind: &str, at: i64, body: &str) -> LoggedMessage {
        LoggedMessage {
            id,
            merchant_id: 1,
            account_id: 2,
            openid: openid.to_string(),
            kind: kind.to_string(),
            sent_at: at,
            received_at: at,
            body: body.to_string(),
        }
    }

    #[test]
    fn only_kinds_with_details_are_parsed() {
        // A body that would say "unfollow" is ignored under a kind that cannot say it.
        let unfollow = "<xml><FromUserName><![CDATA[o]]></FromUserName><CreateTime>1</CreateTime>\
            <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>";
        assert_eq!(observe("text", unfollow), Observation::Interaction);
        assert_eq!(
            observe("event:unsubscribe", unfollow),
            Observation::Unfollow
        );
    }

    #[test]
    fn a_batch_folds_into_one_follower_per_sender_in_key_order() {
        let rows = vec![
            logged(1, "oB", "text", 5, ""),
            logged(2, "oA", "text", 3, ""),
            logged(3, "oB", "text", 1, ""),
        ];
        let f = fold(&rows);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].openid, "oA");
        assert_eq!((f[1].first_seen_at, f[1].last_interaction_at), (1, 5));
    }
}
